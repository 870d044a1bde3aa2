"""Auth.js sessions written into SQLite by the real Prisma client and the real Drizzle adapter.

The most common development set-up of a Next.js tutorial: ``DATABASE_URL="file:./dev.db"``,
the ``authjs-prisma`` preset. ``db/sqlite_orm.mjs`` runs the real ``@auth/prisma-adapter`` on a
Prisma 7 client generated at test time (``prisma generate``, both driver adapters, both
``timestampFormat`` values: ISO-8601 text by default, integer milliseconds as Prisma's native
SQLite connector wrote them) and the real ``@auth/drizzle-adapter`` on Drizzle (better-sqlite3
and libSQL; ``timestamp_ms`` as in the Auth.js schema, and ``timestamp`` seconds). Node runs in
the test's folder with the same relative URL that sessiongate is then given, so both sides must
agree on the file, and sessiongate must read exactly the rows the JS side wrote.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sessiongate.errors import ExpiredTokenError, ProviderUnavailableError, SessionNotFoundError
from sessiongate.gate import SessionGate
from sessiongate.sessions import DatabaseSession
from sessiongate.stores import PRESETS, open_store

pytestmark = pytest.mark.node

INTEROP_DIR = Path(__file__).resolve().parent
DB_DIR = INTEROP_DIR / "db"
DRIVER = DB_DIR / "sqlite_orm.mjs"
SQLITE_DIR = DB_DIR / "sqlite"
PRISMA_CLI = INTEROP_DIR / "node_modules" / "prisma" / "build" / "index.js"

DAY_MS = 86_400_000


def call(node_bin: str, op: str, **params: Any) -> Any:
    """One op of db/sqlite_orm.mjs in a fresh Node process."""
    proc = subprocess.run(
        [node_bin, str(DRIVER)],
        input=json.dumps({"op": op, **params}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin", "NODE_ENV": "test"},
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, f"{op}: no answer (exit {proc.returncode}): {proc.stderr[-2000:]}"
    answer = json.loads(lines[-1])
    assert answer["ok"], f"{op}: {answer['error']}"
    return answer["result"]


@pytest.fixture(scope="session")
def prisma_client(node_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real Prisma client, generated once from db/sqlite/schema.prisma (offline)."""
    folder = tmp_path_factory.mktemp("prisma-client")
    shutil.copy(SQLITE_DIR / "schema.prisma", folder / "schema.prisma")
    # the generator finds @prisma/client from the schema's folder, as in a project
    (folder / "node_modules").symlink_to(INTEROP_DIR / "node_modules", target_is_directory=True)
    false = shutil.which("false")
    assert false is not None
    proc = subprocess.run(
        [node_bin, str(PRISMA_CLI), "generate", "--schema", str(folder / "schema.prisma")],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(folder),
            "CI": "1",
            "PRISMA_HIDE_UPDATE_MESSAGE": "1",
            "CHECKPOINT_DISABLE": "1",
            # Prisma's CLI insists on a schema-engine binary before every command and would
            # download it; `generate` never runs it, so point it at one that only fails.
            "PRISMA_SCHEMA_ENGINE_BINARY": false,
        },
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    client = folder / "generated"
    assert (client / "index.js").is_file()
    return client


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The Next.js project folder: both Node and sessiongate run in it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def make_tables(path: Path, ddl: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.executescript((SQLITE_DIR / ddl).read_text())
    conn.close()


def stored(path: Path, table: str, token: str, token_column: str = "sessionToken") -> Any:
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            f'SELECT expires, typeof(expires) FROM "{table}" WHERE "{token_column}" = ?',
            (token,),
        ).fetchone()
    conn.close()
    return row


def gate_for(url: str, schema: Any) -> tuple[SessionGate, DatabaseSession]:
    auth = DatabaseSession(open_store(url, schema=schema), cache_ttl=0, negative_cache_ttl=0)
    return SessionGate(auth), auth


def now_ms() -> int:
    return int(time.time() * 1000)


def check_round_trip(
    node_bin: str,
    params: dict[str, Any],
    *,
    url: str,
    schema: Any,
    table: str,
    stored_type: str,
    precision_ms: int = 1,
) -> None:
    """Create a live and an expired session with the JS adapter; sessiongate must agree."""
    live_ms = now_ms() + 30 * DAY_MS + 123
    expired_ms = now_ms() - 60_000
    created = call(
        node_bin,
        "create",
        name="Ada",
        email="ada@example.com",
        image="https://img/ada.png",
        expiresAt=[live_ms, expired_ms],
        **params,
    )
    live, expired = created["sessions"]
    value, kind = stored(Path.cwd() / "dev.db", table, live["sessionToken"])
    assert kind == stored_type, (value, kind)
    gate, auth = gate_for(url, schema)

    async def main() -> None:
        try:
            for header in (
                {"cookie": f"authjs.session-token={live['sessionToken']}"},
                {"cookie": f"__Secure-next-auth.session-token={live['sessionToken']}"},
                {"authorization": f"Bearer {live['sessionToken']}"},
            ):
                user = (await gate.authenticate(header)).user
                assert user.id == created["userId"]
                assert user.email == "ada@example.com"
                assert user.name == "Ada"
                assert user.source == "database"
            # the instant the JS side wrote, to its storage precision
            assert user.expires_at == pytest.approx(live["expires"] / 1000, abs=1e-6)
            assert abs(user.expires_at * 1000 - live_ms) < precision_ms
            expired_cookie = f"authjs.session-token={expired['sessionToken']}"
            with pytest.raises(ExpiredTokenError):
                await gate.authenticate({"cookie": expired_cookie})

            # the adapter agrees on what it wrote
            found = call(node_bin, "getSessionAndUser", sessionToken=live["sessionToken"], **params)
            assert found["userId"] == user.id
            assert found["expires"] / 1000 == pytest.approx(user.expires_at, abs=1e-6)

            # Auth.js extends the session (updateAge): the new expiry is read
            later_ms = live_ms + DAY_MS
            call(
                node_bin,
                "updateSession",
                sessionToken=live["sessionToken"],
                expiresAt=later_ms,
                **params,
            )
            user = (
                await gate.authenticate({"authorization": f"Bearer {live['sessionToken']}"})
            ).user
            assert abs(user.expires_at * 1000 - later_ms) < precision_ms

            # sign-out: the adapter deletes the row
            call(node_bin, "deleteSession", sessionToken=live["sessionToken"], **params)
            with pytest.raises(SessionNotFoundError):
                await gate.authenticate({"cookie": f"authjs.session-token={live['sessionToken']}"})
        finally:
            await auth.aclose()

    asyncio.run(main())


# ------------------------------------------------------------------------------------ Prisma


@pytest.mark.parametrize(
    ("adapter", "timestamp_format", "stored_type"),
    [
        ("better-sqlite3", "iso8601", "text"),  # Prisma 7's default
        ("better-sqlite3", "unixepoch-ms", "integer"),  # Prisma's native SQLite connector
        ("libsql", "iso8601", "text"),
        ("libsql", "unixepoch-ms", "integer"),
    ],
)
def test_prisma_sqlite_sessions_verify_with_the_default_preset_and_url(
    node_bin, prisma_client, app_dir, adapter, timestamp_format, stored_type
):
    url = "file:./dev.db"  # the Prisma/Next.js tutorial DATABASE_URL, relative to the app
    make_tables(app_dir / "dev.db", "prisma-tables.sql")
    params = {
        "cwd": str(app_dir),
        "url": url,
        "orm": "prisma",
        "client": str(prisma_client),
        "adapter": adapter,
        "timestampFormat": timestamp_format,
    }
    check_round_trip(
        node_bin, params, url=url, schema="authjs-prisma", table="Session", stored_type=stored_type
    )
    assert sorted(p.name for p in app_dir.iterdir()) == ["dev.db"]  # no stray file anywhere


def test_prisma_upgrade_leaves_integer_and_text_rows_side_by_side(node_bin, prisma_client, app_dir):
    """A database written by Prisma 6 (integers), then by Prisma 7 (text): both rows verify."""
    url = "file:./dev.db"
    make_tables(app_dir / "dev.db", "prisma-tables.sql")
    common = {"cwd": str(app_dir), "url": url, "orm": "prisma", "client": str(prisma_client)}
    expires_ms = now_ms() + DAY_MS
    old = call(
        node_bin,
        "create",
        email="old@example.com",
        expiresAt=[expires_ms],
        adapter="better-sqlite3",
        timestampFormat="unixepoch-ms",
        **common,
    )
    new = call(
        node_bin,
        "create",
        email="new@example.com",
        expiresAt=[expires_ms],
        adapter="better-sqlite3",
        timestampFormat="iso8601",
        **common,
    )
    old_token = old["sessions"][0]["sessionToken"]
    new_token = new["sessions"][0]["sessionToken"]
    assert stored(app_dir / "dev.db", "Session", old_token)[1] == "integer"
    assert stored(app_dir / "dev.db", "Session", new_token)[1] == "text"
    gate, auth = gate_for(url, "authjs-prisma")

    async def main() -> None:
        try:
            for token, created in ((old_token, old), (new_token, new)):
                user = (await gate.authenticate({"cookie": f"authjs.session-token={token}"})).user
                assert user.id == created["userId"]
                assert user.expires_at == expires_ms / 1000
        finally:
            await auth.aclose()

    asyncio.run(main())


# ----------------------------------------------------------------------------------- Drizzle


@pytest.mark.parametrize(
    ("driver", "url"),
    [
        ("better-sqlite3", "dev.db"),  # drizzle(new Database("dev.db")): a plain path
        ("libsql", "file:dev.db"),  # drizzle-orm/libsql: a file: URL
    ],
)
def test_drizzle_timestamp_ms_sessions_verify(node_bin, app_dir, driver, url):
    make_tables(app_dir / "dev.db", "drizzle-tables.sql")
    params = {"cwd": str(app_dir), "url": url, "orm": "drizzle", "driver": driver}
    check_round_trip(
        node_bin, params, url=url, schema="authjs-drizzle", table="session", stored_type="integer"
    )


def test_drizzle_seconds_sessions_verify_with_epoch_s(node_bin, app_dir):
    url = "file:./dev.db"
    make_tables(app_dir / "dev.db", "drizzle-tables.sql")
    params = {
        "cwd": str(app_dir),
        "url": url,
        "orm": "drizzle",
        "driver": "libsql",
        "mode": "timestamp",
    }
    seconds = replace(PRESETS["authjs-drizzle"], expires_format="epoch_s")
    check_round_trip(
        node_bin,
        params,
        url=url,
        schema=seconds,
        table="session",
        stored_type="integer",
        precision_ms=1000,  # Drizzle's "timestamp" mode drops the milliseconds
    )


def test_drizzle_seconds_read_as_milliseconds_is_503_not_a_1970_expiry(node_bin, app_dir):
    """The wrong unit in the mapping must not quietly log everyone out (or in)."""
    url = "./dev.db"  # better-sqlite3 takes a path
    make_tables(app_dir / "dev.db", "drizzle-tables.sql")
    created = call(
        node_bin,
        "create",
        cwd=str(app_dir),
        url=url,
        orm="drizzle",
        driver="better-sqlite3",
        mode="timestamp",
        email="ada@example.com",
        expiresAt=[now_ms() + DAY_MS],
    )
    token = created["sessions"][0]["sessionToken"]
    gate, auth = gate_for(url, "authjs-drizzle")

    async def main() -> None:
        try:
            with pytest.raises(ProviderUnavailableError) as info:
                await gate.authenticate({"cookie": f"authjs.session-token={token}"})
            assert "epoch_s" in info.value.message
        finally:
            await auth.aclose()

    asyncio.run(main())
