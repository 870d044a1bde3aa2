"""Find the session tables in a live database and say which mapping reads them (``db inspect``).

``sessiongate db inspect --database-url URL`` connects (read-only), lists the tables and columns
it may see, finds the tables that hold sessions and prints the schema preset that reads them,
or a ready-to-paste :class:`~sessiongate.stores.schema.SchemaMapping` when no preset does
(renamed tables, a column a preset expects that is missing, another PostgreSQL schema).

Nothing is guessed silently:

* a **session table** is a table with exactly one column of each role: the token
  (``sessionToken``, ``session_token`` or ``token``), the user id (``userId`` or ``user_id``)
  and the expiry (``expires``, ``expiresAt`` or ``expires_at``): every naming the presets know,
  singular or plural, camelCase or snake_case, found under any table name;
* its **user table** is the one its user-id column references (a foreign key), or, without a
  foreign key (Prisma's ``relationMode = "prisma"``), the table named like it with ``user``
  for ``session`` (``sessions`` -> ``users``); the report says which of the two it was;
* the **expiry format** comes from one stored value when the table has rows (ISO text or a
  native timestamp, integer milliseconds, integer seconds, decimal text of milliseconds), else
  from the column type, with a note saying what was assumed;
* several session tables (two schemas, an old and a new layout) are **ambiguous**: each is
  listed and none is chosen (``--db-schema`` / ``--session-table`` pick one); no session table
  is **not found**: the tables that look like one are listed with the columns they lack.

The exit status is 0 when exactly one mapping was found, 1 when none or several, 2 when the
database could not be read. The matching (:func:`match_catalog`) is pure; the readers for
PostgreSQL (``information_schema`` and ``pg_constraint``), MySQL/MariaDB (``information_schema``
of the URL's database) and SQLite (``PRAGMA``) only collect the catalog and one sample value
per candidate expiry column.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import quote

from ..errors import ConfigurationError, ProviderUnavailableError
from .schema import PRESETS, ExpiresFormat, SchemaMapping, quote_identifier
from .timestamps import UNIT_BOUNDARY, parse_iso_timestamp
from .urls import MySQLURL, SQLiteURL, parse_database_url, parse_postgres_url

__all__ = [
    "Catalog",
    "Found",
    "Inspection",
    "TableInfo",
    "inspect_database",
    "match_catalog",
]

Dialect = Literal["postgresql", "mysql", "sqlite"]

TOKEN_COLUMNS = ("sessionToken", "session_token", "token")
USER_ID_COLUMNS = ("userId", "user_id")
EXPIRES_COLUMNS = ("expires", "expiresAt", "expires_at")
_ROLES = (("token", TOKEN_COLUMNS), ("user id", USER_ID_COLUMNS), ("expiry", EXPIRES_COLUMNS))
_USER_COLUMNS = (
    ("user_name", ("name",)),
    ("user_email", ("email",)),
    ("user_image", ("image",)),
    ("user_email_verified", ("emailVerified", "email_verified")),
)
_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")
_MAX_LISTED_TABLES = 30


@dataclass(frozen=True, slots=True)
class TableInfo:
    """One table (or view) as the catalog describes it.

    Attributes:
        schema: its PostgreSQL schema; ``None`` on SQLite.
        name: the table name, exactly as stored (case matters on PostgreSQL).
        columns: column name -> declared type, lower-cased (``timestamp with time zone``).
        references: column -> ``(schema, table, column)`` it references (single-column
            foreign keys only).
    """

    schema: str | None
    name: str
    columns: Mapping[str, str]
    references: Mapping[str, tuple[str | None, str, str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``"schema"."table"`` (or ``"table"``) for messages."""
        quoted = f'"{self.name}"'
        return quoted if self.schema is None else f'"{self.schema}".{quoted}'


@dataclass(frozen=True, slots=True)
class Catalog:
    """What the database showed: its tables, and where the search looked.

    Attributes:
        dialect: ``postgresql`` or ``sqlite``.
        tables: every table and view searched.
        default_schema: the schema unqualified names resolve to (PostgreSQL's
            ``current_schema()``): a mapping for a table there needs no ``db_schema``.
        url_schema: the schema the database URL names (Prisma's ``?schema=``): the store
            takes it from the URL, so the mapping leaves ``db_schema`` unset for it too.
        searched: a description of where the search looked, for messages.
    """

    dialect: Dialect
    tables: tuple[TableInfo, ...]
    default_schema: str | None = None
    url_schema: str | None = None
    searched: str = ""

    def table(self, schema: str | None, name: str) -> TableInfo | None:
        """The table with this schema and name, if it was searched."""
        for table in self.tables:
            if table.schema == schema and table.name == name:
                return table
        return None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A session table and its user table, before the expiry format is known."""

    session: TableInfo
    user: TableInfo
    token: str
    user_id: str
    expires: str
    referenced_id: str
    linked_by: Literal["foreign key", "name"]


@dataclass(frozen=True, slots=True)
class Found:
    """One session table and the mapping that reads it.

    Attributes:
        mapping: the mapping (a preset's, or a custom one).
        preset: the preset name when one reads exactly these tables the same way.
        session_table / user_table: where they were found, for messages.
        notes: what was assumed or is worth knowing (each one sentence).
    """

    mapping: SchemaMapping
    preset: str | None
    session_table: str
    user_table: str
    notes: tuple[str, ...] = ()

    def python(self) -> str:
        """Ready-to-paste Python for this mapping."""
        if self.preset is not None:
            return f'schema = "{self.preset}"'
        return (
            "from sessiongate.stores import SchemaMapping\n\nschema = " + self.mapping.as_python()
        )


@dataclass(frozen=True, slots=True)
class Inspection:
    """The outcome of one inspection.

    Attributes:
        found: every session table found with its mapping (exactly one when :attr:`ok`).
        missing: one sentence per table that looks like a session table but is not one, naming
            what it lacks.
        catalog: what was searched.
    """

    found: tuple[Found, ...]
    missing: tuple[str, ...]
    catalog: Catalog

    @property
    def ok(self) -> bool:
        """Exactly one mapping: nothing to choose."""
        return len(self.found) == 1

    @property
    def exit_code(self) -> int:
        """0 for one mapping, 1 for none or several."""
        return 0 if self.ok else 1

    def render(self) -> str:
        """The report ``sessiongate db inspect`` prints."""
        catalog = self.catalog
        lines = [f"sessiongate db inspect: {catalog.dialect}, {catalog.searched}"]
        if self.ok:
            found = self.found[0]
            lines.append(_describe(found))
            if found.preset is not None:
                lines += [
                    f"preset: {found.preset}",
                    f"  SESSIONGATE_SCHEMA={found.preset}   (serve --schema {found.preset}; "
                    f'Python: schema="{found.preset}")',
                ]
            else:
                lines += ["no preset reads these tables; paste this mapping:", ""]
                lines += ["  " + line if line else "" for line in found.python().splitlines()]
                lines.append("")
            lines += [f"note: {note}" for note in found.notes]
            return "\n".join(lines) + "\n"
        if self.found:
            lines.append(
                f"ambiguous: {len(self.found)} session tables found; none is chosen. Pick one "
                "with --db-schema or --session-table:"
            )
            for found in self.found:
                lines.append(
                    f"  - {found.session_table} with {found.user_table}: "
                    + (f"preset {found.preset}" if found.preset else "a custom SchemaMapping")
                )
            return "\n".join(lines) + "\n"
        lines.append(f"not found: no session table in {catalog.searched}.")
        lines += [f"  - {sentence}" for sentence in self.missing]
        names = [t.label for t in catalog.tables]
        if names:
            shown = ", ".join(names[:_MAX_LISTED_TABLES])
            more = len(names) - _MAX_LISTED_TABLES
            lines.append(f"tables seen: {shown}" + (f" (and {more} more)" if more > 0 else ""))
        else:
            lines.append("tables seen: none (does this role have access to them?)")
        lines.append(
            "A session table has a token column (sessionToken, session_token or token), a "
            "user id column (userId or user_id) and an expiry column (expires, expiresAt or "
            "expires_at); for other names write a SchemaMapping by hand."
        )
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict[str, Any]:
        """The report as JSON (``--json``)."""
        return {
            "ok": self.ok,
            "dialect": self.catalog.dialect,
            "searched": self.catalog.searched,
            "found": [
                {
                    "preset": f.preset,
                    "session_table": f.session_table,
                    "user_table": f.user_table,
                    "python": f.python(),
                    "notes": list(f.notes),
                }
                for f in self.found
            ],
            "missing": list(self.missing),
        }


def _describe(found: Found) -> str:
    m = found.mapping
    return (
        f"found: session table {found.session_table} ({m.session_token}, "
        f"{m.session_user_id}, {m.session_expires}) with user table {found.user_table} "
        f"({m.user_id})"
    )


# ---------------------------------------------------------------------------------- matching


def _one_of(table: TableInfo, names: Sequence[str]) -> tuple[str | None, list[str]]:
    present = [n for n in names if n in table.columns]
    return (present[0] if len(present) == 1 else None), present


def _partner_name(name: str) -> str | None:
    """``sessions`` -> ``users``, ``Session`` -> ``User``, ``auth_session`` -> ``auth_user``."""
    for session, user in (("session", "user"), ("Session", "User"), ("SESSION", "USER")):
        at = name.rfind(session)
        if at >= 0:
            return name[:at] + user + name[at + len(session) :]
    return None


def _looks_like_session_table(table: TableInfo) -> bool:
    """Named like one, or holding a token and a user id (worth saying what else it lacks)."""
    if "session" in table.name.lower():
        return True
    return all(any(c in table.columns for c in names) for _, names in _ROLES[:2])


def find_candidates(catalog: Catalog) -> tuple[list[Candidate], list[str]]:
    """The session tables of ``catalog`` with their user tables, and the near misses."""
    candidates: list[Candidate] = []
    missing: list[str] = []
    for table in catalog.tables:
        picked: dict[str, str] = {}
        problems: list[str] = []
        for role, names in _ROLES:
            column, present = _one_of(table, names)
            if column is not None:
                picked[role] = column
            elif present:
                problems.append(f"several {role} columns ({', '.join(present)})")
            else:
                problems.append(f"no {role} column ({', '.join(names)})")
        if problems:
            if _looks_like_session_table(table):
                has = ", ".join(picked.values()) if picked else "none of them"
                missing.append(f"{table.label}: {'; '.join(problems)}; it has {has}")
            continue
        user_id_column = picked["user id"]
        reference = table.references.get(user_id_column)
        if reference is not None:
            user = catalog.table(reference[0], reference[1])
            if user is None:
                missing.append(
                    f"{table.label}: {user_id_column} references "
                    f'"{reference[1]}", a table this inspection cannot read'
                )
                continue
            referenced, linked_by = reference[2], "foreign key"
        else:
            partner = _partner_name(table.name)
            user = None if partner is None else catalog.table(table.schema, partner)
            if user is None:
                named = f'"{partner}"' if partner else "like it"
                missing.append(
                    f"{table.label}: no foreign key on {user_id_column} and no user table "
                    f"named {named}"
                )
                continue
            referenced, linked_by = "id", "name"
        if referenced not in user.columns:
            missing.append(f"{user.label}: no {referenced} column for {table.label}")
            continue
        candidates.append(
            Candidate(
                table,
                user,
                picked["token"],
                user_id_column,
                picked["expiry"],
                referenced,
                linked_by,  # type: ignore[arg-type]
            )
        )
    return candidates, missing


_TIMESTAMP_TYPES = re.compile(r"timestamp|datetime|date|time")
_INTEGER_TYPES = re.compile(r"int|numeric|decimal|real|double|float")


def expires_format(
    column_type: str, sample: object, dialect: Dialect
) -> tuple[ExpiresFormat, str | None]:
    """The expiry format for a column of ``column_type`` holding ``sample`` (``None``: no rows),
    and a note when it had to be assumed."""
    if isinstance(sample, bool):
        sample = None
    if isinstance(sample, (datetime, date)):
        return "timestamp", None
    if isinstance(sample, (int, float)):
        return ("timestamp", None) if sample >= UNIT_BOUNDARY else ("epoch_s", None)
    if isinstance(sample, (bytes, bytearray)):
        sample = bytes(sample).decode("ascii", "replace")
    if isinstance(sample, str):
        text = sample.strip()
        if re.fullmatch(r"-?\d{1,20}(?:\.\d{1,9})?", text):
            return ("epoch_ms", None) if float(text) >= UNIT_BOUNDARY else ("epoch_s", None)
        if parse_iso_timestamp(text) is not None:
            return "timestamp", None
        return "timestamp", f"the expiry column holds text sessiongate cannot read: {text[:40]!r}"
    # no rows: the column type decides
    if dialect != "sqlite" and _TIMESTAMP_TYPES.search(column_type):
        return "timestamp", None
    if _INTEGER_TYPES.search(column_type):
        return "timestamp", (
            "the session table is empty and its expiry column is a number: milliseconds "
            "assumed (Drizzle's timestamp_ms, Prisma); if the app stores seconds (Drizzle "
            'mode "timestamp") use expires_format="epoch_s"'
        )
    if dialect != "sqlite":
        return "epoch_ms", (
            f"the session table is empty and its expiry column is {column_type}: epoch "
            "milliseconds as text assumed (TypeORM); ISO-8601 text reads as well"
        )
    return "timestamp", (
        "the session table is empty: the expiry is read as ISO-8601 text or integer "
        'milliseconds; if the app stores seconds use expires_format="epoch_s"'
    )


def _db_schema(catalog: Catalog, table: TableInfo) -> str | None:
    if table.schema is None or table.schema in (catalog.default_schema, catalog.url_schema):
        return None
    return table.schema


def _preset_for(mapping: SchemaMapping, session: TableInfo) -> str | None:
    names = [name for name, preset in PRESETS.items() if mapping.same_tables(preset)]
    if {"authjs-prisma", "authjs-prisma-v4"} <= set(names):
        # the same query reads both; the v4-era schema is the one with an id column
        names.remove("authjs-prisma" if "id" in session.columns else "authjs-prisma-v4")
    return names[0] if names else None


def conclude(
    catalog: Catalog, candidate: Candidate, sample: object, *, label: str | None = None
) -> Found:
    """The mapping for one candidate, given one stored expiry value (``None``: no rows)."""
    session, user = candidate.session, candidate.user
    fmt, note = expires_format(session.columns[candidate.expires], sample, catalog.dialect)
    notes = [note] if note else []
    user_columns: dict[str, str | None] = {}
    for argument, names in _USER_COLUMNS:
        column, present = _one_of(user, names)
        if column is None and present:
            column = present[0]
            notes.append(f"{user.label} has {' and '.join(present)}; {column} is read")
        user_columns[argument] = column
    absent = [names[0] for argument, names in _USER_COLUMNS if user_columns[argument] is None]
    if absent:
        notes.append(f"{user.label} has no {', '.join(absent)} column: not read")
    if candidate.linked_by == "name":
        notes.append(
            f"{user.label} was chosen by its name: {session.label} has no foreign key on "
            f"{candidate.user_id}"
        )
    if user.schema != session.schema:
        notes.append(f"the user table is in another schema ({user.schema}) than the sessions")
    mapping = SchemaMapping(
        session_table=session.name,
        user_table=user.name,
        session_token=candidate.token,
        session_user_id=candidate.user_id,
        session_expires=candidate.expires,
        user_id=candidate.referenced_id,
        user_name=user_columns["user_name"],
        user_email=user_columns["user_email"],
        user_image=user_columns["user_image"],
        user_email_verified=user_columns["user_email_verified"],
        expires_format=fmt,
        db_schema=_db_schema(catalog, session),
        name=label or "inspected",
    )
    preset = _preset_for(mapping, session) if user.schema == session.schema else None
    if preset is not None:
        mapping = PRESETS[preset]
    return Found(mapping, preset, session.label, user.label, tuple(notes))


def match_catalog(
    catalog: Catalog,
    samples: Mapping[tuple[str | None, str], object],
    *,
    session_table: str | None = None,
) -> Inspection:
    """Pure: the inspection of ``catalog``, with one stored expiry value per session table.

    ``samples`` maps ``(schema, table)`` of each candidate session table to one non-null value
    of its expiry column (absent or ``None``: the table has no rows). ``session_table`` keeps
    only the session tables of that name.
    """
    candidates, missing = find_candidates(catalog)
    if session_table is not None:
        candidates = [c for c in candidates if c.session.name == session_table]
        if not candidates:
            missing.insert(0, f'no session table named "{session_table}" was found')
    found = tuple(
        conclude(catalog, c, samples.get((c.session.schema, c.session.name))) for c in candidates
    )
    return Inspection(found, tuple(missing), catalog)


# ---------------------------------------------------------------------------------- readers


def _sample_sql(table: TableInfo, column: str, *, qualify: bool, backticks: bool = False) -> str:
    name = quote_identifier(table.name)
    if qualify and table.schema is not None:
        name = quote_identifier(table.schema) + "." + name
    col = quote_identifier(column)
    # identifiers validated and quoted; nothing from outside is interpolated
    sql = f"SELECT {col} FROM {name} WHERE {col} IS NOT NULL LIMIT 1"  # noqa: S608
    # quote_identifier admits no quote character inside a name: every '"' is a delimiter
    return sql.replace('"', "`") if backticks else sql


def _valid_identifier(name: str) -> bool:
    try:
        quote_identifier(name)
    except ConfigurationError:
        return False
    return True


def _inspect_sqlite(target: SQLiteURL, session_table: str | None) -> Inspection:
    from .sqlite import _missing_file

    if not os.path.isfile(target.path):
        raise _missing_file(target)
    try:
        conn = sqlite3.connect(f"file:{quote(target.path)}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise ProviderUnavailableError(
            f"cannot open the SQLite file ({type(exc).__name__})"
        ) from None
    try:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        tables = []
        for name in names:
            if not _valid_identifier(name):
                continue  # a name no mapping could quote (spaces, dots...)
            quoted = quote_identifier(name)
            columns = {
                row[1]: str(row[2] or "").lower()
                for row in conn.execute(f"PRAGMA table_info({quoted})")
            }
            references = {
                row[3]: (None, row[2], row[4] or "id")
                for row in conn.execute(f"PRAGMA foreign_key_list({quoted})")
                if row[1] == 0  # the first (and for these tables only) column of the key
            }
            tables.append(TableInfo(None, name, columns, references))
        catalog = Catalog("sqlite", tuple(tables), searched=f"the SQLite file {target.path}")
        samples: dict[tuple[str | None, str], object] = {}
        for candidate in find_candidates(catalog)[0]:
            row = conn.execute(
                _sample_sql(candidate.session, candidate.expires, qualify=False)
            ).fetchone()
            samples[(None, candidate.session.name)] = None if row is None else row[0]
    except sqlite3.Error as exc:
        raise ProviderUnavailableError(
            f"cannot read the SQLite catalog ({type(exc).__name__})"
        ) from None
    finally:
        conn.close()
    return match_catalog(catalog, samples, session_table=session_table)


_PG_COLUMNS = """
SELECT c.table_schema, c.table_name, c.column_name, c.data_type
FROM information_schema.columns AS c
JOIN information_schema.tables AS t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE t.table_type IN ('BASE TABLE', 'VIEW')
  AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
  AND c.table_schema NOT LIKE 'pg\\_%'
  AND ($1::text IS NULL OR c.table_schema = $1)
ORDER BY c.table_schema, c.table_name, c.ordinal_position
"""
_PG_FOREIGN_KEYS = """
SELECT ns.nspname, cl.relname, att.attname, fns.nspname, fcl.relname, fatt.attname
FROM pg_constraint AS con
JOIN pg_class AS cl ON cl.oid = con.conrelid
JOIN pg_namespace AS ns ON ns.oid = cl.relnamespace
JOIN pg_class AS fcl ON fcl.oid = con.confrelid
JOIN pg_namespace AS fns ON fns.oid = fcl.relnamespace
JOIN pg_attribute AS att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1]
JOIN pg_attribute AS fatt ON fatt.attrelid = con.confrelid AND fatt.attnum = con.confkey[1]
WHERE con.contype = 'f' AND cardinality(con.conkey) = 1
  AND ($1::text IS NULL OR ns.nspname = $1)
"""


def _tables_from_rows(
    columns: Iterable[Sequence[Any]], foreign_keys: Iterable[Sequence[Any]]
) -> tuple[TableInfo, ...]:
    found: dict[tuple[str | None, str], dict[str, str]] = {}
    for schema, table, column, data_type in columns:
        found.setdefault((schema, table), {})[column] = str(data_type).lower()
    references: dict[tuple[str | None, str], dict[str, tuple[str | None, str, str]]] = {}
    for schema, table, column, ref_schema, ref_table, ref_column in foreign_keys:
        references.setdefault((schema, table), {})[column] = (ref_schema, ref_table, ref_column)
    return tuple(
        TableInfo(schema, table, cols, references.get((schema, table), {}))
        for (schema, table), cols in found.items()
        if (schema is None or _valid_identifier(schema)) and _valid_identifier(table)
    )


async def _inspect_postgres(
    url: str, db_schema: str | None, session_table: str | None, timeout: float
) -> Inspection:
    import asyncpg  # type: ignore[import-untyped]

    target = parse_postgres_url(url)
    only = db_schema or target.db_schema
    try:
        conn = await asyncpg.connect(target.dsn, timeout=timeout)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise ProviderUnavailableError(
            f"cannot connect to the database ({type(exc).__name__}; check the URL and its "
            "credentials)"
        ) from None
    try:
        async with asyncio.timeout(timeout):
            current = await conn.fetchval("SELECT current_schema()")
            tables = _tables_from_rows(
                await conn.fetch(_PG_COLUMNS, only), await conn.fetch(_PG_FOREIGN_KEYS, only)
            )
            if only is not None:
                searched = f'schema "{only}"'
            else:
                schemas = sorted({t.schema for t in tables if t.schema is not None})
                listed = ", ".join(f'"{s}"' for s in schemas)
                searched = f"schemas {listed}" if schemas else "every schema this role can read"
            catalog = Catalog(
                "postgresql",
                tables,
                default_schema=current,
                url_schema=target.db_schema,
                searched=searched,
            )
            samples: dict[tuple[str | None, str], object] = {}
            for candidate in find_candidates(catalog)[0]:
                samples[(candidate.session.schema, candidate.session.name)] = await conn.fetchval(
                    _sample_sql(candidate.session, candidate.expires, qualify=True)
                )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise ProviderUnavailableError(
            f"cannot read the database catalog ({type(exc).__name__})"
        ) from None
    finally:
        await conn.close()
    return match_catalog(catalog, samples, session_table=session_table)


_MYSQL_COLUMNS = """
SELECT table_name, column_name, data_type FROM information_schema.columns
WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position
"""
_MYSQL_FOREIGN_KEYS = """
SELECT table_name, column_name, referenced_table_schema, referenced_table_name,
       referenced_column_name
FROM information_schema.key_column_usage
WHERE table_schema = DATABASE() AND referenced_table_name IS NOT NULL
"""


async def _inspect_mysql(target: MySQLURL, session_table: str | None, timeout: float) -> Inspection:
    import asyncmy

    from .mysql import _tls_context

    if not target.database:
        raise ConfigurationError("the MySQL URL names no database (mysql://…/DATABASE)")
    try:
        async with asyncio.timeout(timeout):
            conn = await asyncmy.connect(
                host=target.host,
                port=target.port,
                user=target.user,
                password=target.password,
                db=target.database,
                unix_socket=target.unix_socket,
                ssl=_tls_context(target),
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=timeout,
            )
    except (OSError, TimeoutError, asyncmy.errors.Error) as exc:
        raise ProviderUnavailableError(
            f"cannot connect to the database ({type(exc).__name__}; check the URL and its "
            "credentials)"
        ) from None
    try:
        async with asyncio.timeout(timeout), conn.cursor() as cursor:
            await cursor.execute(_MYSQL_COLUMNS)
            column_rows = [(None, *row) for row in await cursor.fetchall()]
            await cursor.execute(_MYSQL_FOREIGN_KEYS)
            key_rows = [
                (None, table, column, None if ref_db == target.database else ref_db, ref, ref_col)
                for table, column, ref_db, ref, ref_col in await cursor.fetchall()
            ]
            catalog = Catalog(
                "mysql",
                _tables_from_rows(column_rows, key_rows),
                searched=f'database "{target.database}"',
            )
            samples: dict[tuple[str | None, str], object] = {}
            for candidate in find_candidates(catalog)[0]:
                await cursor.execute(
                    _sample_sql(candidate.session, candidate.expires, qualify=False, backticks=True)
                )
                row = await cursor.fetchone()
                samples[(None, candidate.session.name)] = None if row is None else row[0]
    except (OSError, TimeoutError, asyncmy.errors.Error) as exc:
        raise ProviderUnavailableError(
            f"cannot read the database catalog ({type(exc).__name__})"
        ) from None
    finally:
        conn.close()
    return match_catalog(catalog, samples, session_table=session_table)


def inspect_database(
    url: str,
    *,
    db_schema: str | None = None,
    session_table: str | None = None,
    timeout: float = 10.0,
) -> Inspection:
    """Connect to the database at ``url`` (as the JS app writes it) and inspect it.

    Args:
        url: ``postgresql://…`` (Prisma's ``?schema=`` restricts the search to that schema),
            ``mysql://…/database`` (that database) or an SQLite file (``file:./dev.db``...).
        db_schema: search only this PostgreSQL schema (default: every schema the role reads).
        session_table: keep only session tables of this name (to pick one of several).
        timeout: seconds for connecting and reading the catalog.

    Raises:
        ConfigurationError: an unsupported URL, or a MySQL URL without a database.
        ProviderUnavailableError: the database could not be reached or read.
    """
    if db_schema is not None:
        quote_identifier(db_schema)
    target = parse_database_url(url)
    if isinstance(target, SQLiteURL):
        if db_schema is not None:
            raise ConfigurationError("--db-schema is for PostgreSQL; SQLite has one schema")
        return _inspect_sqlite(target, session_table)
    if isinstance(target, MySQLURL):
        if db_schema is not None:
            raise ConfigurationError(
                "--db-schema is for PostgreSQL; name the MySQL database in the URL"
            )
        return asyncio.run(_inspect_mysql(target, session_table, timeout))
    return asyncio.run(_inspect_postgres(url, db_schema, session_table, timeout))


def run_inspect(
    database_url: str | None,
    *,
    db_schema: str | None,
    session_table: str | None,
    as_json: bool,
    write: Callable[[str], object],
) -> int:
    """``sessiongate db inspect``: print the report, return the exit status (0, 1 or 2)."""
    url = database_url or os.environ.get("DATABASE_URL")
    if not url:
        write("sessiongate db inspect: pass --database-url (or set DATABASE_URL)\n")
        return 2
    try:
        inspection = inspect_database(url, db_schema=db_schema, session_table=session_table)
    except (ConfigurationError, ProviderUnavailableError) as err:
        write(f"sessiongate db inspect: {err.message}\n")
        return 2
    if as_json:
        write(json.dumps(inspection.as_json(), indent=2) + "\n")
    else:
        write(inspection.render())
    return inspection.exit_code
