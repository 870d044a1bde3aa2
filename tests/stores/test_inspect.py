"""``sessiongate db inspect``: the matcher (pure), SQLite, PostgreSQL and MySQL, the CLI."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sessiongate.cli import main
from sessiongate.stores import PRESETS, SchemaMapping, SQLiteStore
from sessiongate.stores.catalog import Catalog, TableInfo, match_catalog
from sessiongate.stores.inspect import inspect_database

from .helpers import NOW, PRISMA_DDL, make_prisma_sqlite
from .pg import execute
from .test_mysql import CASES as MYSQL_CASES
from .test_mysql import mysql_db  # noqa: F401 - a fixture
from .test_mysql import setup_case as mysql_setup_case
from .test_postgres import CASES, setup_case

EXPIRY_SAMPLE = {
    "timestamp": datetime(2030, 1, 1, tzinfo=UTC),
    "epoch_ms": "1893456000000",
    "epoch_s": 1893456000,
}
TYPES = {"timestamp": "timestamp with time zone", "epoch_ms": "text", "epoch_s": "integer"}


def tables_of(mapping: SchemaMapping, *, schema: str | None = "public", fk: bool = True):
    """The session and user tables a mapping reads, as a catalog would list them."""
    schema = mapping.db_schema or schema
    session_columns = {
        mapping.session_token: "text",
        mapping.session_user_id: "text",
        mapping.session_expires: TYPES[mapping.expires_format],
    }
    if mapping.name == "authjs-prisma-v4":
        session_columns["id"] = "text"
    user_columns = {mapping.user_id: "text"}
    for column in (
        mapping.user_name,
        mapping.user_email,
        mapping.user_image,
        mapping.user_email_verified,
    ):
        if column is not None:
            user_columns[column] = "text"
    references = {mapping.session_user_id: (schema, mapping.user_table, mapping.user_id)}
    return (
        TableInfo(schema, mapping.session_table, session_columns, references if fk else {}),
        TableInfo(schema, mapping.user_table, user_columns),
    )


def catalog(*tables: TableInfo, dialect="postgresql", default_schema="public") -> Catalog:
    return Catalog(dialect, tables, default_schema=default_schema, searched="test tables")


def sample_for(mapping: SchemaMapping):
    return {
        (mapping.db_schema or "public", mapping.session_table): EXPIRY_SAMPLE[
            mapping.expires_format
        ]
    }


# ------------------------------------------------------------------------------ pure matcher


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_recognised_from_its_own_tables(name):
    mapping = PRESETS[name]
    result = match_catalog(catalog(*tables_of(mapping)), sample_for(mapping))
    assert result.ok, result.render()
    assert result.found[0].preset == name
    assert result.found[0].mapping is mapping
    assert result.exit_code == 0
    assert f"SESSIONGATE_SCHEMA={name}" in result.render()


def test_prisma_v4_and_current_prisma_told_apart_by_the_session_id_column():
    current = match_catalog(catalog(*tables_of(PRESETS["authjs-prisma"])), {})
    v4 = match_catalog(catalog(*tables_of(PRESETS["authjs-prisma-v4"])), {})
    assert (current.found[0].preset, v4.found[0].preset) == ("authjs-prisma", "authjs-prisma-v4")


def test_supabase_tables_outside_the_default_schema_are_the_supabase_preset():
    session, user = tables_of(PRESETS["authjs-pg"], schema="next_auth")
    result = match_catalog(catalog(session, user), {})
    assert result.found[0].preset == "authjs-supabase"
    # the same tables in another schema: a mapping naming that schema, ready to paste
    session, user = tables_of(PRESETS["authjs-pg"], schema="tenant_a")
    found = match_catalog(catalog(session, user), {}).found[0]
    assert found.preset is None
    assert found.mapping.db_schema == "tenant_a"
    assert "db_schema='tenant_a'" in found.python()


def test_url_schema_needs_no_db_schema_in_the_mapping():
    session, user = tables_of(PRESETS["better-auth"], schema="app")
    cat = Catalog("postgresql", (session, user), default_schema="public", url_schema="app")
    assert match_catalog(cat, {}).found[0].preset == "better-auth"


def test_renamed_tables_found_through_the_foreign_key_print_a_mapping():
    renamed = SchemaMapping.for_better_auth(session_model="auth_session", user_model="member")
    result = match_catalog(catalog(*tables_of(renamed)), sample_for(renamed))
    assert result.ok
    found = result.found[0]
    assert found.preset is None
    code = found.python()
    assert code.startswith(
        "from sessiongate.stores import SchemaMapping\n\nschema = SchemaMapping("
    )
    namespace: dict[str, object] = {}
    exec(code, namespace)  # the report's own code, ready to paste
    assert namespace["schema"].same_tables(found.mapping)  # type: ignore[attr-defined]
    assert namespace["schema"].select_sql("$1") == renamed.select_sql("$1")  # type: ignore[attr-defined]
    assert "no preset reads these tables; paste this mapping" in result.render()


def test_without_a_foreign_key_the_user_table_is_named_like_the_session_table_and_said_so():
    session, user = tables_of(PRESETS["better-auth-plural"], fk=False)
    result = match_catalog(catalog(session, user), {})
    assert result.found[0].preset == "better-auth-plural"
    assert any("chosen by its name" in note for note in result.found[0].notes)


def test_a_user_table_without_an_image_column_is_read_without_it():
    session, user = tables_of(PRESETS["authjs-drizzle"])
    user = TableInfo(
        user.schema, user.name, {k: v for k, v in user.columns.items() if k != "image"}
    )
    found = match_catalog(catalog(session, user), {}).found[0]
    assert found.preset is None
    assert found.mapping.user_image is None
    assert 'u."image"' not in found.mapping.select_sql("$1")
    assert any("no image column" in note for note in found.notes)


def test_two_layouts_are_ambiguous_and_none_is_chosen():
    old = tables_of(PRESETS["better-auth"])
    new = tables_of(PRESETS["better-auth-plural"])
    result = match_catalog(catalog(*old, *new), {})
    assert not result.ok
    assert result.exit_code == 1
    report = result.render()
    assert "ambiguous: 2 session tables found; none is chosen" in report
    assert "preset better-auth\n" in report + "\n" and "preset better-auth-plural" in report
    picked = match_catalog(catalog(*old, *new), {}, session_table="sessions")
    assert picked.ok
    assert picked.found[0].preset == "better-auth-plural"


def test_a_session_table_without_an_expiry_column_is_not_found_and_says_what_is_missing():
    session = TableInfo(
        "public", "session", {"token": "text", "userId": "text", "valid_until": "timestamp"}
    )
    result = match_catalog(catalog(session, TableInfo("public", "user", {"id": "text"})), {})
    assert not result.found
    assert result.exit_code == 1
    report = result.render()
    assert "not found: no session table in test tables." in report
    assert '"public"."session": no expiry column (expires, expiresAt, expires_at)' in report
    assert "it has token, userId" in report
    assert 'tables seen: "public"."session", "public"."user"' in report


def test_two_token_columns_are_refused_not_picked():
    session = TableInfo(
        "public",
        "session",
        {"token": "text", "sessionToken": "text", "userId": "text", "expires": "timestamp"},
    )
    result = match_catalog(catalog(session, TableInfo("public", "user", {"id": "text"})), {})
    assert not result.found
    assert "several token columns (sessionToken, token)" in result.render()


def test_a_missing_user_table_is_named():
    session, _ = tables_of(PRESETS["better-auth"], fk=False)
    result = match_catalog(catalog(session), {})
    assert not result.found
    assert 'no foreign key on userId and no user table named "user"' in result.render()


@pytest.mark.parametrize(
    ("column_type", "sample", "expected", "note"),
    [
        ("integer", 1893456000, "epoch_s", False),
        ("integer", 1893456000000, "timestamp", False),
        ("text", "1893456000000", "epoch_ms", False),
        ("text", "2030-01-01T00:00:00.000+00:00", "timestamp", False),
        ("integer", None, "timestamp", True),  # empty: milliseconds assumed, and said
        ("text", None, "epoch_ms", True),
        ("timestamp without time zone", None, "timestamp", False),
    ],
)
def test_expiry_format_comes_from_a_stored_value_else_the_type(column_type, sample, expected, note):
    session = TableInfo(
        "public",
        "session",
        {"sessionToken": "text", "userId": "text", "expires": column_type},
        {"userId": ("public", "user", "id")},
    )
    user = TableInfo("public", "user", {"id": "text", "name": "text"})
    found = match_catalog(catalog(session, user), {("public", "session"): sample}).found[0]
    assert found.mapping.expires_format == expected
    assert any("assumed" in n for n in found.notes) is note


def test_json_report():
    result = match_catalog(catalog(*tables_of(PRESETS["better-auth"])), {})
    report = result.as_json()
    assert report["ok"] is True
    assert report["found"][0]["preset"] == "better-auth"
    assert report["found"][0]["python"] == 'schema = "better-auth"'
    json.dumps(report)


# ------------------------------------------------------------------------------ SQLite


def test_sqlite_prisma_file_is_the_prisma_preset_and_the_store_reads_it(tmp_path: Path):
    db = tmp_path / "dev.db"
    make_prisma_sqlite(db).close()
    result = inspect_database(f"file:{db}")
    assert result.ok, result.render()
    assert result.found[0].preset == "authjs-prisma"
    store = SQLiteStore(db, schema=result.found[0].mapping)
    try:
        record = store.load_sync("tok-valid")
    finally:
        import asyncio

        asyncio.run(store.aclose())
    assert record is not None
    assert record.user_id == "u1"


def test_sqlite_drizzle_seconds_are_found_from_a_row(tmp_path: Path):
    db = tmp_path / "drizzle.db"
    conn = sqlite3.connect(db)
    conn.executescript(
        """
        CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT, email TEXT, "emailVerified" INTEGER,
                             image TEXT);
        CREATE TABLE "session" ("sessionToken" TEXT PRIMARY KEY,
                                "userId" TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
                                expires INTEGER NOT NULL);
        """
    )
    conn.execute("INSERT INTO user VALUES ('u1', 'Ada', 'ada@example.com', NULL, NULL)")
    seconds = int((NOW + timedelta(days=30)).timestamp())
    conn.execute("INSERT INTO session VALUES ('tok', 'u1', ?)", (seconds,))
    conn.commit()
    conn.close()
    found = inspect_database(str(db)).found[0]
    assert found.preset is None  # authjs-drizzle reads milliseconds; this file holds seconds
    assert found.mapping.expires_format == "epoch_s"
    store = SQLiteStore(db, schema=found.mapping)
    try:
        record = store.load_sync("tok")
    finally:
        import asyncio

        asyncio.run(store.aclose())
    assert record is not None
    assert record.expires_at == seconds


def test_sqlite_inspection_never_writes_and_never_creates(tmp_path: Path):
    db = tmp_path / "dev.db"
    make_prisma_sqlite(db).close()
    before = db.read_bytes()
    inspect_database(str(db))
    assert db.read_bytes() == before
    out = io.StringIO()
    assert main(["db", "inspect", "--database-url", str(tmp_path / "nope.db")], stdout=out) == 2
    assert "does not exist" in out.getvalue()
    assert not (tmp_path / "nope.db").exists()


# ------------------------------------------------------------------------------ CLI


def test_cli_prints_the_preset_and_exits_0(tmp_path: Path):
    db = tmp_path / "dev.db"
    make_prisma_sqlite(db).close()
    out = io.StringIO()
    assert main(["db", "inspect", "--database-url", f"file:{db}"], stdout=out) == 0
    text = out.getvalue()
    assert text.startswith(f"sessiongate db inspect: sqlite, the SQLite file {db}\n")
    assert 'found: session table "Session" (sessionToken, userId, expires)' in text
    assert "preset: authjs-prisma\n" in text


def test_cli_reads_database_url_from_the_environment(tmp_path: Path, monkeypatch):
    db = tmp_path / "dev.db"
    make_prisma_sqlite(db).close()
    monkeypatch.setenv("DATABASE_URL", f"file:{db}")
    out = io.StringIO()
    assert main(["db", "inspect", "--json"], stdout=out) == 0
    assert json.loads(out.getvalue())["found"][0]["preset"] == "authjs-prisma"


def test_cli_not_found_exits_1_naming_what_is_missing(tmp_path: Path):
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.executescript(PRISMA_DDL.replace('"sessionToken"', '"sessionKey"'))
    conn.close()
    out = io.StringIO()
    assert main(["db", "inspect", "--database-url", str(db)], stdout=out) == 1
    text = out.getvalue()
    assert '"Session": no token column (sessionToken, session_token, token)' in text


def test_cli_usage_errors_exit_2(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    out = io.StringIO()
    assert main(["db", "inspect"], stdout=out) == 2
    assert "pass --database-url" in out.getvalue()
    out = io.StringIO()
    url = "mysql://reader:hunter2-secret@127.0.0.1:1/app"
    assert main(["db", "inspect", "--database-url", url], stdout=out) == 2
    assert "cannot connect to the database" in out.getvalue()
    assert "hunter2" not in out.getvalue()
    out = io.StringIO()
    assert main(["db", "inspect", "--database-url", "mongodb://x/y"], stdout=out) == 2


# ------------------------------------------------------------------------------ PostgreSQL


@pytest.mark.postgres
def test_postgres_pg_adapter_schema_is_the_pg_preset(postgres_dsn: str, pg_schema: str):
    ddl = (Path(__file__).parents[1] / "interop" / "db" / "pg-adapter-schema.sql").read_text()
    execute(postgres_dsn, f'SET search_path TO "{pg_schema}"; {ddl}')
    result = inspect_database(postgres_dsn, db_schema=pg_schema)
    assert result.ok, result.render()
    found = result.found[0]
    # a temporary schema is not the default one: the pg-adapter columns, with db_schema set
    assert found.mapping.same_tables(
        SchemaMapping(**{**_fields(PRESETS["authjs-pg"]), "db_schema": pg_schema})
    )
    # with the schema in the URL (Prisma's ?schema=), the preset itself reads it
    by_url = inspect_database(f"{postgres_dsn}?schema={pg_schema}")
    assert by_url.found[0].preset == "authjs-pg"


def test_postgres_unreachable_is_exit_2_without_the_password():
    out = io.StringIO()
    url = "postgresql://reader:hunter2-secret@127.0.0.1:1/app"
    assert main(["db", "inspect", "--database-url", url], stdout=out) == 2
    assert "cannot connect to the database" in out.getvalue()
    assert "hunter2" not in out.getvalue()


def _fields(mapping: SchemaMapping) -> dict[str, object]:
    from dataclasses import fields

    return {f.name: getattr(mapping, f.name) for f in fields(mapping) if f.init}


@pytest.mark.postgres
@pytest.mark.parametrize("preset", sorted(CASES))
def test_postgres_tables_as_each_creator_writes_them_are_their_preset(
    postgres_dsn: str, pg_schema: str, preset: str
):
    setup_case(postgres_dsn, pg_schema, preset)
    result = inspect_database(f"{postgres_dsn}?schema={pg_schema}")
    assert result.ok, result.render()
    assert result.found[0].preset == preset


def test_a_table_named_like_sessions_with_renamed_columns_is_listed():
    renamed = TableInfo("public", "auth_session", {"session_key": "text", "owner_id": "text"})
    other = TableInfo("public", "verification", {"identifier": "text", "token": "text"})
    report = match_catalog(catalog(renamed, other), {}).render()
    assert '"public"."auth_session": no token column' in report
    assert "it has none of them" in report
    assert '"public"."verification":' not in report  # a token alone is not a session table


@pytest.mark.mysql
@pytest.mark.parametrize("preset", sorted(MYSQL_CASES))
def test_mysql_tables_as_each_creator_writes_them_are_their_preset(
    mysql_db: str,  # noqa: F811 - the imported fixture
    preset: str,
):
    mysql_setup_case(mysql_db, preset)
    result = inspect_database(mysql_db)
    assert result.ok, result.render()
    assert result.found[0].preset == preset
    assert result.catalog.searched.startswith('database "sg_')


@pytest.mark.mysql
def test_mysql_url_without_a_database_and_db_schema_are_usage_errors(mysql_url: str):
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(mysql_url)
    out = io.StringIO()
    bare = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    assert main(["db", "inspect", "--database-url", bare], stdout=out) == 2
    assert "names no database" in out.getvalue()
    out = io.StringIO()
    args = ["db", "inspect", "--database-url", mysql_url, "--db-schema", "x"]
    assert main(args, stdout=out) == 2
