"""Sessions written into MariaDB by the real Prisma client, the real Drizzle adapter and real
Better Auth; sessiongate reads them through :class:`MySQLStore` with the same URL.

``db/mysql/mysql_orm.mjs`` runs the real ``@auth/prisma-adapter`` on a Prisma 7 client generated
at test time (``prisma generate``, offline) over ``@prisma/adapter-mariadb``, the real
``@auth/drizzle-adapter`` on ``drizzle-orm/mysql2``, and better-auth 1.7.25 with a mysql2 pool
(its Kysely adapter, its own migrations). The throwaway server runs at +05:00: Prisma's naive
``DATETIME(3)`` and the ``TIMESTAMP`` columns of Drizzle and Better Auth must mean, here, the
instant the JS side wrote and reads back.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncmy
import pytest
from asyncmy.constants import CLIENT

from sessiongate.errors import ExpiredTokenError, SessionNotFoundError
from sessiongate.gate import SessionGate
from sessiongate.sessions import BetterAuthSession, DatabaseSession
from sessiongate.stores import open_store
from sessiongate.stores.mysql import MySQLStore
from sessiongate.stores.urls import parse_mysql_url

pytestmark = [pytest.mark.node, pytest.mark.mysql]

INTEROP_DIR = Path(__file__).resolve().parent
MYSQL_DIR = INTEROP_DIR / "db" / "mysql"
DRIVER = MYSQL_DIR / "mysql_orm.mjs"
NODE_MODULES = MYSQL_DIR / "node_modules"
PRISMA_CLI = NODE_MODULES / "prisma" / "build" / "index.js"

DAY_MS = 86_400_000
SECRET = "interop-better-auth-secret-0123456789"


def call(node_bin: str, op: str, **params: Any) -> Any:
    """One op of db/mysql/mysql_orm.mjs in a fresh Node process."""
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


async def _execute(url: str, sql: str) -> None:
    target = parse_mysql_url(url)
    conn = await asyncmy.connect(
        host=target.host,
        port=target.port,
        user=target.user,
        password=target.password,
        database=target.database,
        autocommit=True,
        client_flag=CLIENT.MULTI_STATEMENTS,
    )
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(sql)
            while await cursor.nextset():
                pass
    finally:
        conn.close()


def execute(url: str, sql: str) -> None:
    asyncio.run(_execute(url, sql))


@pytest.fixture(scope="session")
def mysql_node(node_bin: str) -> str:
    if not (NODE_MODULES / "mysql2").is_dir():
        from conftest import missing

        missing("npm packages for the MySQL interop tests (npm ci --prefix tests/interop/db/mysql)")
    return node_bin


@pytest.fixture
def database(mysql_url: str) -> Iterator[str]:
    """A database of its own for one test; yields its URL, as the app's DATABASE_URL."""
    name = "sgi_" + uuid.uuid4().hex[:12]
    execute(mysql_url, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    parts = urlsplit(mysql_url)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
    finally:
        execute(mysql_url, f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(scope="session")
def prisma_client(mysql_node: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real Prisma client, generated once from db/mysql/schema.prisma (offline)."""
    folder = tmp_path_factory.mktemp("prisma-mysql-client")
    shutil.copy(MYSQL_DIR / "schema.prisma", folder / "schema.prisma")
    (folder / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    false = shutil.which("false")
    assert false is not None
    proc = subprocess.run(
        [mysql_node, str(PRISMA_CLI), "generate", "--schema", str(folder / "schema.prisma")],
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
            # `generate` never runs the schema engine; without this the CLI would download it
            "PRISMA_SCHEMA_ENGINE_BINARY": false,
        },
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    client = folder / "generated"
    assert (client / "index.js").is_file()
    return client


def now_ms() -> int:
    return int(time.time() * 1000)


def check_round_trip(node_bin: str, params: dict[str, Any], *, url: str, schema: str) -> None:
    """A live and an expired session written by the JS adapter; sessiongate must agree."""
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
    store = open_store(url, schema=schema)
    assert isinstance(store, MySQLStore)
    auth = DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0)
    gate = SessionGate(auth)

    async def main() -> None:
        try:
            for header in (
                {"cookie": f"authjs.session-token={live['sessionToken']}"},
                {"cookie": f"__Secure-next-auth.session-token={live['sessionToken']}"},
                {"authorization": f"Bearer {live['sessionToken']}"},
            ):
                user = (await gate.authenticate(header)).user
                assert user.id == created["userId"]
                assert (user.email, user.name) == ("ada@example.com", "Ada")
                assert user.source == "database"
            # the instant the JS side wrote (TIMESTAMP without fsp keeps whole seconds)
            assert abs(user.expires_at * 1000 - live["expires"]) < 1000
            expired_cookie = f"authjs.session-token={expired['sessionToken']}"
            with pytest.raises(ExpiredTokenError):
                await gate.authenticate({"cookie": expired_cookie})

            # the adapter reads back the same instant from the row
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
            assert abs(user.expires_at * 1000 - later_ms) < 1000

            # sign-out: the adapter deletes the row
            call(node_bin, "deleteSession", sessionToken=live["sessionToken"], **params)
            with pytest.raises(SessionNotFoundError):
                await gate.authenticate({"cookie": f"authjs.session-token={live['sessionToken']}"})
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_prisma_mariadb_adapter_sessions_verify_with_the_same_url(
    mysql_node, prisma_client, database
):
    execute(database, (MYSQL_DIR / "prisma-tables.sql").read_text())
    params = {"url": database, "orm": "prisma", "client": str(prisma_client)}
    check_round_trip(mysql_node, params, url=database, schema="authjs-prisma")


def test_drizzle_mysql2_sessions_verify_with_the_same_url(mysql_node, database):
    execute(database, (MYSQL_DIR / "drizzle-tables.sql").read_text())
    params = {"url": database, "orm": "drizzle"}
    check_round_trip(mysql_node, params, url=database, schema="authjs-drizzle")


# ------------------------------------------------------------------------------ Better Auth


def test_better_auth_on_mysql_signup_cookie_and_bearer_verify(mysql_node, database):
    signed_up = call(
        mysql_node,
        "ba.signup",
        url=database,
        secret=SECRET,
        email="ada@example.com",
        password="correct horse battery staple",
        name="Ada",
    )
    assert signed_up["status"] == 200
    jar: SimpleCookie = SimpleCookie()
    for header in signed_up["setCookie"]:
        jar.load(header)
    cookie = jar["better-auth.session_token"].value  # as sent: percent-encoded
    headers = {"cookie": f"better-auth.session_token={cookie}"}
    store = open_store(database, schema="better-auth")
    auth = BetterAuthSession(secret=SECRET, store=store, cache_ttl=0, negative_cache_ttl=0)
    gate = SessionGate(auth)

    async def main() -> None:
        try:
            by_cookie = (await gate.authenticate(headers)).user
            by_bearer = (
                await gate.authenticate({"authorization": f"Bearer {signed_up['setAuthToken']}"})
            ).user
            for user in (by_cookie, by_bearer):
                assert user.id == signed_up["userId"]
                assert (user.email, user.name) == ("ada@example.com", "Ada")
                assert user.source == "better-auth"
            # Better Auth reads the same expiry from its TIMESTAMP(3) column
            session = call(
                mysql_node, "ba.getSession", url=database, secret=SECRET, headers=headers
            )
            assert session["userId"] == signed_up["userId"]
            assert session["expiresAt"] / 1000 == pytest.approx(by_cookie.expires_at, abs=1e-6)
            assert abs(by_cookie.expires_at - (time.time() + 7 * 86400)) < 120

            # expired in the database: refused here (Better Auth deletes it on its next read).
            # UTC wall time, as the JS drivers write it: NOW() would be the server's +05:00
            assert signed_up["token"].isalnum()  # generateId(32): safe to inline below
            await _execute(
                database,
                "UPDATE `session` SET `expiresAt` = UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE "
                f"WHERE `token` = '{signed_up['token']}'",
            )
            with pytest.raises(ExpiredTokenError):
                await gate.authenticate(headers)
            await _execute(
                database,
                "UPDATE `session` SET `expiresAt` = UTC_TIMESTAMP(3) + INTERVAL 1 DAY "
                f"WHERE `token` = '{signed_up['token']}'",
            )
            assert ((await gate.authenticate(headers)).user).id == signed_up["userId"]

            # sign-out through Better Auth deletes the row: refused here too
            signed_out = call(
                mysql_node, "ba.signOut", url=database, secret=SECRET, headers=headers
            )
            assert signed_out["status"] == 200
            with pytest.raises(SessionNotFoundError):
                await gate.authenticate(headers)
        finally:
            await auth.aclose()

    asyncio.run(main())
