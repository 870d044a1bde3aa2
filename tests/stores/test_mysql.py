"""MySQL/MariaDB store on a real MariaDB: presets with the DDL the JS side creates, faults, load.

The throwaway server (scripts/mariadb.sh) runs with the time zone +05:00 on purpose: naive
``DATETIME`` values must come back as the UTC wall time they hold, and ``TIMESTAMP`` values as
the JS drivers read them, never shifted by five hours.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncmy
import pytest
from asyncmy.constants import CLIENT

from sessiongate._sync import BackgroundLoop
from sessiongate.errors import (
    ConfigurationError,
    ExpiredTokenError,
    ProviderUnavailableError,
    SessionNotFoundError,
)
from sessiongate.gate import SessionGate
from sessiongate.sessions import DatabaseSession
from sessiongate.stores import PRESETS, open_store
from sessiongate.stores.mysql import MySQLStore
from sessiongate.stores.urls import parse_mysql_url

from .helpers import creds

pytestmark = pytest.mark.mysql

FUTURE = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
PAST = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)


def naive(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


# ------------------------------------------------------------------------------ helpers


async def _connect(url: str, database: str | None = None) -> asyncmy.Connection:
    target = parse_mysql_url(url)
    return await asyncmy.connect(
        host=target.host,
        port=target.port,
        user=target.user,
        password=target.password,
        database=database or target.database,
        autocommit=True,
        client_flag=CLIENT.MULTI_STATEMENTS,
    )


async def _execute(url: str, sql: str, database: str | None = None) -> None:
    conn = await _connect(url, database)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(sql)
            while await cursor.nextset():
                pass
    finally:
        conn.close()


def execute(url: str, sql: str, database: str | None = None) -> None:
    asyncio.run(_execute(url, sql, database))


def with_database(url: str, database: str, query: str = "") -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, query, ""))


def mysql_control(command: str) -> str:
    control = os.environ.get("SESSIONGATE_TEST_MYSQL_CONTROL")
    assert control
    result = subprocess.run(
        [control, *command.split()], capture_output=True, text=True, timeout=120, check=False
    )
    if not command.startswith("status") and result.returncode != 0:
        raise RuntimeError(f"mysql control {command} failed: {result.stderr.strip()}")
    return result.stdout.strip()


@pytest.fixture
def mysql_db(mysql_url: str) -> Iterator[str]:
    """A database of its own for one test; yields its URL."""
    name = "sg_" + uuid.uuid4().hex[:12]
    execute(mysql_url, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield with_database(mysql_url, name)
    finally:
        if mysql_control_available():
            mysql_control("start")
        execute(mysql_url, f"DROP DATABASE IF EXISTS `{name}`")


def mysql_control_available() -> bool:
    return bool(os.environ.get("SESSIONGATE_TEST_MYSQL_CONTROL"))


# DDL as each creator writes it on MySQL, and how it stores the two sessions.
CASES = {
    # Prisma's MySQL migration of the Auth.js schema: DATETIME(3), VARCHAR(191)
    "authjs-prisma": (
        """
        CREATE TABLE `User` (`id` VARCHAR(191) NOT NULL, `name` VARCHAR(191) NULL,
          `email` VARCHAR(191) NOT NULL, `emailVerified` DATETIME(3) NULL,
          `image` VARCHAR(191) NULL,
          `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
          `updatedAt` DATETIME(3) NOT NULL, role VARCHAR(32) NULL, permissions JSON NULL,
          UNIQUE INDEX `User_email_key`(`email`), PRIMARY KEY (`id`))
          DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
        CREATE TABLE `Session` (`sessionToken` VARCHAR(191) NOT NULL,
          `userId` VARCHAR(191) NOT NULL, `expires` DATETIME(3) NOT NULL,
          `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
          `updatedAt` DATETIME(3) NOT NULL,
          UNIQUE INDEX `Session_sessionToken_key`(`sessionToken`))
          DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
        ALTER TABLE `Session` ADD CONSTRAINT `Session_userId_fkey` FOREIGN KEY (`userId`)
          REFERENCES `User`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
        INSERT INTO `User` (id, name, email, emailVerified, updatedAt, role, permissions)
          VALUES ('cuid1', 'Ada', 'ada@example.com', '2026-01-02 03:04:05.678', NOW(3),
                  'admin', '["read","write"]');
        INSERT INTO `Session` (sessionToken, userId, expires, updatedAt) VALUES
          ('tok-valid', 'cuid1', '{future}', NOW(3)), ('tok-expired', 'cuid1', '{past}', NOW(3));
        """,
        "cuid1",
    ),
    "authjs-prisma-v4": (
        """
        CREATE TABLE `User` (id VARCHAR(191) PRIMARY KEY, name VARCHAR(191), email VARCHAR(191)
          UNIQUE, emailVerified DATETIME(3), image VARCHAR(191), role VARCHAR(32),
          permissions JSON);
        CREATE TABLE `Session` (id VARCHAR(191) PRIMARY KEY,
          sessionToken VARCHAR(191) NOT NULL UNIQUE, userId VARCHAR(191) NOT NULL,
          expires DATETIME(3) NOT NULL, FOREIGN KEY (userId) REFERENCES `User`(id));
        INSERT INTO `User` (id, name, email, role, permissions)
          VALUES ('cuid1', 'Ada', 'ada@example.com', 'admin', '["read","write"]');
        INSERT INTO `Session` VALUES ('s1', 'tok-valid', 'cuid1', '{future}'),
          ('s2', 'tok-expired', 'cuid1', '{past}');
        """,
        "cuid1",
    ),
    # @auth/drizzle-adapter's MySQL tables (lib/mysql.js): TIMESTAMP columns
    "authjs-drizzle": (
        """
        CREATE TABLE `user` (id VARCHAR(255) PRIMARY KEY, name VARCHAR(255),
          email VARCHAR(255) UNIQUE, emailVerified TIMESTAMP(3) NULL, image VARCHAR(255),
          role VARCHAR(32), permissions JSON);
        CREATE TABLE `session` (sessionToken VARCHAR(255) PRIMARY KEY,
          userId VARCHAR(255) NOT NULL, expires TIMESTAMP NOT NULL,
          FOREIGN KEY (userId) REFERENCES `user`(id) ON DELETE CASCADE);
        INSERT INTO `user` (id, name, email, role, permissions)
          VALUES ('b3f1c2d4-uuid', 'Ada', 'ada@example.com', 'admin', '["read","write"]');
        INSERT INTO `session` VALUES ('tok-valid', 'b3f1c2d4-uuid', '{future}'),
          ('tok-expired', 'b3f1c2d4-uuid', '{past}');
        """,
        "b3f1c2d4-uuid",
    ),
    # Better Auth's Kysely migrations on MySQL: varchar(36) ids, timestamp(3), boolean
    "better-auth": (
        """
        CREATE TABLE `user` (id VARCHAR(36) PRIMARY KEY, name TEXT NOT NULL,
          email VARCHAR(255) NOT NULL UNIQUE, emailVerified BOOLEAN NOT NULL, image TEXT,
          createdAt TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
          updatedAt TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), role TEXT,
          permissions JSON);
        CREATE TABLE `session` (id VARCHAR(36) PRIMARY KEY, expiresAt TIMESTAMP(3) NOT NULL,
          token VARCHAR(255) NOT NULL UNIQUE,
          createdAt TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
          updatedAt TIMESTAMP(3) NOT NULL, ipAddress TEXT, userAgent TEXT,
          userId VARCHAR(36) NOT NULL REFERENCES `user`(id) ON DELETE CASCADE);
        INSERT INTO `user` (id, name, email, emailVerified, role, permissions)
          VALUES ('u32charsxxxxxxxxxxxxxxxxxxxxxxxx', 'Ada', 'ada@example.com', true, 'admin',
                  '["read","write"]');
        INSERT INTO `session` (id, expiresAt, token, updatedAt, userId) VALUES
          ('s1', '{future}', 'tok-valid', NOW(3), 'u32charsxxxxxxxxxxxxxxxxxxxxxxxx'),
          ('s2', '{past}', 'tok-expired', NOW(3), 'u32charsxxxxxxxxxxxxxxxxxxxxxxxx');
        """,
        "u32charsxxxxxxxxxxxxxxxxxxxxxxxx",
    ),
    "better-auth-snake": (
        """
        CREATE TABLE `user` (id VARCHAR(36) PRIMARY KEY, name TEXT NOT NULL,
          email VARCHAR(255) NOT NULL UNIQUE, email_verified BOOLEAN NOT NULL DEFAULT false,
          image TEXT, role TEXT, permissions JSON);
        CREATE TABLE `session` (id VARCHAR(36) PRIMARY KEY, expires_at TIMESTAMP(3) NOT NULL,
          token VARCHAR(255) NOT NULL UNIQUE, user_id VARCHAR(36) NOT NULL);
        INSERT INTO `user` (id, name, email, role, permissions)
          VALUES ('u1', 'Ada', 'ada@example.com', 'admin', '["read","write"]');
        INSERT INTO `session` VALUES ('s1', '{future}', 'tok-valid', 'u1'),
          ('s2', '{past}', 'tok-expired', 'u1');
        """,
        "u1",
    ),
}


def setup_case(url: str, preset: str) -> str:
    ddl, user_id = CASES[preset]
    execute(url, ddl.replace("{future}", naive(FUTURE)).replace("{past}", naive(PAST)))
    return user_id


def mapping(preset: str):
    # MariaDB's JSON is LONGTEXT: the JSON column is named, as on SQLite
    return PRESETS[preset].with_extra(["role", "permissions"], json_columns=["permissions"])


def authenticator(url: str, schema, **store_options) -> DatabaseSession:
    options = {"timeout": 2.0, **store_options}
    return DatabaseSession(
        MySQLStore(url, schema=schema, **options), cache_ttl=0, negative_cache_ttl=0
    )


# ------------------------------------------------------------------------------ presets


@pytest.mark.parametrize("preset", sorted(CASES))
def test_presets_on_real_tables(mysql_db, preset):
    user_id = setup_case(mysql_db, preset)
    auth = authenticator(mysql_db, mapping(preset))

    async def main():
        try:
            now = time.time()
            ok = await auth.authenticate(creds({"authjs.session-token": "tok-valid"}), now)
            assert ok.claims["sub"] == user_id
            assert ok.claims["email"] == "ada@example.com"
            assert ok.claims["role"] == "admin"
            assert ok.claims["permissions"] == ["read", "write"]
            # naive columns are UTC wall time: no shift by the server's +05:00
            assert ok.expires_at == FUTURE.timestamp()
            with pytest.raises(ExpiredTokenError):
                await auth.authenticate(creds({"authjs.session-token": "tok-expired"}), now)
            with pytest.raises(SessionNotFoundError):
                await auth.authenticate(creds({"authjs.session-token": "tok-none"}), now)
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_boolean_and_datetime_user_columns_arrive_typed(mysql_db):
    setup_case(mysql_db, "better-auth")
    store = MySQLStore(mysql_db, schema="better-auth")

    async def main():
        try:
            record = await store.load("tok-valid")
            assert record is not None
            assert record.user["emailVerified"] is True  # TINYINT(1), as Better Auth reads it
        finally:
            await store.aclose()

    asyncio.run(main())
    execute(mysql_db, "DROP TABLE `session`; DROP TABLE `user`;")
    setup_case(mysql_db, "authjs-prisma")
    store = MySQLStore(mysql_db, schema="authjs-prisma")

    async def prisma():
        try:
            record = await store.load("tok-valid")
            assert record is not None
            assert record.user["emailVerified"] == "2026-01-02T03:04:05.678000Z"
        finally:
            await store.aclose()

    asyncio.run(prisma())


def test_hostile_tokens_are_bind_parameters(mysql_db):
    setup_case(mysql_db, "authjs-prisma")
    store = MySQLStore(mysql_db, schema="authjs-prisma")

    async def main():
        try:
            for token in ("x' OR '1'='1", "\\' OR 1=1 -- ", "tok-valid' -- ", "%", "tok-%"):
                assert await store.load(token) is None
            assert await store.load("tok-valid") is not None
        finally:
            await store.aclose()

    asyncio.run(main())


def test_mapping_db_schema_reads_another_database(mysql_db, mysql_url):
    setup_case(mysql_db, "authjs-prisma")
    database = urlsplit(mysql_db).path.lstrip("/")
    schema = replace(mapping("authjs-prisma"), db_schema=database)
    auth = authenticator(mysql_url, schema)  # the URL names sessiongate_test

    async def main():
        try:
            ok = await auth.authenticate(creds({"authjs.session-token": "tok-valid"}), time.time())
            assert ok.claims["sub"] == "cuid1"
        finally:
            await auth.aclose()

    asyncio.run(main())


# --------------------------------------------------------------------------------- URLs


def test_prisma_url_with_parameters_opens_a_mysql_store(mysql_db):
    """Prisma's DATABASE_URL as written: pool and TLS parameters read, the rest ignored."""
    setup_case(mysql_db, "authjs-prisma")
    url = mysql_db + "?connection_limit=3&pool_timeout=10&connect_timeout=5&socket_timeout=3"
    store = open_store(url, schema=mapping("authjs-prisma"))
    assert isinstance(store, MySQLStore)
    assert (store.max_size, store.connect_timeout) == (3, 5.0)
    auth = DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0)

    async def main():
        try:
            ok = await auth.authenticate(creds({"authjs.session-token": "tok-valid"}), time.time())
            assert ok.claims["sub"] == "cuid1"
            assert ok.expires_at == FUTURE.timestamp()
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_mysql2_url_with_camel_case_parameters(mysql_db):
    """Drizzle's ``drizzle(process.env.DATABASE_URL)`` (mysql2): camelCase, milliseconds."""
    setup_case(mysql_db, "authjs-drizzle")
    url = mysql_db + "?connectionLimit=2&connectTimeout=4000&timezone=Z&dateStrings=true"
    store = open_store(url, schema=mapping("authjs-drizzle"))
    assert isinstance(store, MySQLStore)
    assert (store.max_size, store.connect_timeout) == (2, 4.0)

    async def main():
        try:
            record = await store.load("tok-valid")
            assert record is not None and record.user_id == "b3f1c2d4-uuid"
        finally:
            await store.aclose()

    asyncio.run(main())


def test_tls_required_by_the_url_against_a_server_without_tls_is_503_not_plaintext(mysql_db):
    setup_case(mysql_db, "authjs-prisma")
    for query in ("sslaccept=strict", 'ssl={"rejectUnauthorized":true}', "ssl-mode=REQUIRED"):
        store = open_store(f"{mysql_db}?{query}", schema="authjs-prisma")

        async def main(store=store):
            try:
                with pytest.raises(ProviderUnavailableError):
                    await store.load("tok-valid")
            finally:
                await store.aclose()

        asyncio.run(main())


def test_wrong_password_is_a_refused_connection_not_a_schema_error(mysql_db):
    parts = urlsplit(mysql_db)
    wrong = urlunsplit(
        (parts.scheme, f"sessiongate:wrong@{parts.hostname}:{parts.port}", parts.path, "", "")
    )
    auth = authenticator(wrong, "authjs-prisma")
    with pytest.raises(ProviderUnavailableError) as info:
        asyncio.run(auth.authenticate(creds({"authjs.session-token": "x"}), time.time()))
    assert "refused the connection" in info.value.message
    assert "schema mapping" not in info.value.message
    assert "wrong" not in info.value.message
    asyncio.run(auth.aclose())


# ------------------------------------------------------------------------------- faults


def test_missing_table_is_503_naming_the_schema_mapping(mysql_db):
    auth = authenticator(mysql_db, "better-auth")
    with pytest.raises(ProviderUnavailableError) as info:
        asyncio.run(auth.authenticate(creds({"authjs.session-token": "x"}), time.time()))
    assert info.value.status_code == 503
    assert "schema mapping" in info.value.message
    asyncio.run(auth.aclose())


def test_unreachable_database_is_503_fast():
    # nothing listens on port 1 of loopback
    auth = authenticator("mysql://nobody@127.0.0.1:1/none", "authjs-prisma")
    started = time.monotonic()
    with pytest.raises(ProviderUnavailableError):
        asyncio.run(auth.authenticate(creds({"authjs.session-token": "x"}), time.time()))
    assert time.monotonic() - started < 2.5
    asyncio.run(auth.aclose())


def test_bad_configuration():
    with pytest.raises(ConfigurationError):
        MySQLStore("postgresql://x", schema="authjs-prisma")
    with pytest.raises(ConfigurationError):
        MySQLStore("mysql://u@h/db", min_size=5, max_size=2)
    with pytest.raises(ConfigurationError):
        MySQLStore("mysql://u@h/db", timeout=0)
    with pytest.raises(ConfigurationError):
        MySQLStore("mysql://u@h/db", ssl=True)  # type: ignore[arg-type]


async def _lock_session_table(url: str) -> asyncmy.Connection:
    """Hold a write lock on ``Session`` (LOCK TABLES): readers wait on the metadata lock."""
    locker = await _connect(url)
    async with locker.cursor() as cursor:
        await cursor.execute("LOCK TABLES `Session` WRITE")
    return locker


def test_hanging_query_times_out_as_503_then_recovers(mysql_db):
    setup_case(mysql_db, "authjs-prisma")
    auth = authenticator(mysql_db, mapping("authjs-prisma"), timeout=0.5)
    cookie = creds({"authjs.session-token": "tok-valid"})

    async def main():
        locker = await _lock_session_table(mysql_db)
        try:
            started = time.monotonic()
            with pytest.raises(ProviderUnavailableError, match="in time"):
                await auth.authenticate(cookie, time.time())
            assert time.monotonic() - started < 1.5
            async with locker.cursor() as cursor:
                await cursor.execute("UNLOCK TABLES")
            ok = await auth.authenticate(cookie, time.time())
            assert ok.claims["sub"] == "cuid1"
        finally:
            locker.close()
            await auth.aclose()

    asyncio.run(main())


def test_hung_query_is_stopped_server_side_too(mysql_db):
    """The server's own deadline ends the abandoned statement: no thread left waiting."""
    setup_case(mysql_db, "authjs-prisma")
    auth = authenticator(mysql_db, mapping("authjs-prisma"), timeout=0.5)
    marker = "sg-" + uuid.uuid4().hex[:8]

    async def waiting() -> int:
        conn = await _connect(mysql_db)
        try:
            async with conn.cursor() as cursor:
                await cursor.execute(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                    "WHERE INFO LIKE %s AND INFO NOT LIKE %s",
                    ("%FROM `Session`%", "%PROCESSLIST%"),
                )
                (count,) = await cursor.fetchone()
                return int(count)
        finally:
            conn.close()

    async def main():
        locker = await _lock_session_table(mysql_db)
        try:
            with pytest.raises(ProviderUnavailableError):
                await auth.authenticate(creds({"authjs.session-token": marker}), time.time())
            assert await waiting() >= 1  # still queued behind the lock right after
            await asyncio.sleep(1.5)  # timeout + 0.5 s of server grace, plus margin
            assert await waiting() == 0
        finally:
            locker.close()
            await auth.aclose()

    asyncio.run(main())


def test_pool_exhaustion_is_503_not_a_queue(mysql_db):
    setup_case(mysql_db, "authjs-prisma")
    auth = authenticator(mysql_db, mapping("authjs-prisma"), timeout=0.5, max_size=1)

    async def main():
        locker = await _lock_session_table(mysql_db)
        try:
            results = await asyncio.gather(
                auth.authenticate(creds({"authjs.session-token": "tok-valid"}), 0),
                auth.authenticate(creds({"authjs.session-token": "tok-other"}), 0),
                return_exceptions=True,
            )
            assert all(isinstance(r, ProviderUnavailableError) for r in results), results
            assert any("pool exhausted" in str(r) for r in results)
        finally:
            locker.close()
            await auth.aclose()

    asyncio.run(main())


def test_many_concurrent_requests_one_query_per_token(mysql_db):
    setup_case(mysql_db, "authjs-prisma")
    rows = ", ".join(f"('tok-{i}', 'cuid1', '{naive(FUTURE)}', NOW(3))" for i in range(1, 101))
    execute(
        mysql_db, f"INSERT INTO `Session` (sessionToken, userId, expires, updatedAt) VALUES {rows}"
    )
    # timeout: the test counts queries; a loaded CI machine must not turn a slow pool into 503s
    store = MySQLStore(mysql_db, schema=mapping("authjs-prisma"), max_size=4, timeout=60.0)
    auth = DatabaseSession(store, cache_ttl=30)

    async def main():
        try:
            tokens = [f"tok-{1 + i % 100}" for i in range(2000)]
            results = await asyncio.gather(
                *(
                    auth.authenticate(creds({"authjs.session-token": t}), time.time())
                    for t in tokens
                )
            )
            assert all(r.claims["sub"] == "cuid1" for r in results)
            assert auth.store.queries == 100
            assert store.pool_stats()["size"] <= 4
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_sync_gate_on_mysql_runs_on_the_sessions_background_loop(mysql_db):
    setup_case(mysql_db, "better-auth")
    store = MySQLStore(mysql_db, schema=mapping("better-auth"))
    assert not hasattr(store, "load_sync")  # no blocking driver: never "asked in this thread"
    seen: list[str] = []
    load = store.load

    async def spy(token: str):
        seen.append(threading.current_thread().name)
        return await load(token)

    store.load = spy  # type: ignore[method-assign]
    loop = BackgroundLoop(name="mysql-sync-test-loop")
    gate = SessionGate(
        DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0, background_loop=loop)
    )
    try:
        user = gate.authenticate_sync({"authorization": "Bearer tok-valid"}).user
        assert user.id == "u32charsxxxxxxxxxxxxxxxxxxxxxxxx"
        with pytest.raises(SessionNotFoundError):
            gate.authenticate_sync({"authorization": "Bearer tok-nope"})

        async def on_app_loop():
            return (await gate.authenticate({"authorization": "Bearer tok-valid"})).user

        assert asyncio.run(on_app_loop()).id == "u32charsxxxxxxxxxxxxxxxxxxxxxxxx"
        # the blocking lookups ran on the loop the session was given, not a process-wide one
        assert seen[:2] == ["mysql-sync-test-loop", "mysql-sync-test-loop"]
    finally:
        loop.run(store.aclose(), timeout=10)  # its pool lives on that loop
        loop.close()


@pytest.fixture
def mysql_controllable(mysql_db):
    if not mysql_control_available():
        from conftest import missing

        missing("SESSIONGATE_TEST_MYSQL_CONTROL (scripts/test.sh provides it)")
    yield mysql_db
    mysql_control("start")  # never leave the server down for later tests


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_database_stopped_mid_run_is_503_then_recovers(mysql_controllable, mode):
    url = mysql_controllable
    setup_case(url, "authjs-prisma")
    auth = authenticator(url, mapping("authjs-prisma"), timeout=1.0, max_size=3)
    cookie = creds({"authjs.session-token": "tok-valid"})

    async def lookup():
        return await auth.authenticate(cookie, time.time())

    async def main():
        try:
            # warm the pool so it holds connections the stop will kill
            await asyncio.gather(*(lookup() for _ in range(3)))
            await asyncio.to_thread(mysql_control, f"stop {mode}")
            for _ in range(3):
                with pytest.raises(ProviderUnavailableError) as info:
                    await lookup()
                assert info.value.status_code == 503
            await asyncio.to_thread(mysql_control, "start")
            ok = await lookup()
            assert ok.claims["sub"] == "cuid1"
            # and stays healthy: every pooled connection works again
            results = await asyncio.gather(*(lookup() for _ in range(10)))
            assert all(r.claims["sub"] == "cuid1" for r in results)
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_restart_between_requests_is_invisible(mysql_controllable):
    url = mysql_controllable
    setup_case(url, "authjs-prisma")
    auth = authenticator(url, mapping("authjs-prisma"), timeout=2.0, max_size=3)
    cookie = creds({"authjs.session-token": "tok-valid"})

    async def main():
        try:
            await asyncio.gather(*(auth.authenticate(cookie, time.time()) for _ in range(3)))
            await asyncio.to_thread(mysql_control, "restart")
            # the pooled connections are dead; the lookup retries on fresh ones
            results = await asyncio.gather(
                *(auth.authenticate(cookie, time.time()) for _ in range(5))
            )
            assert all(r.claims["sub"] == "cuid1" for r in results)
        finally:
            await auth.aclose()

    asyncio.run(main())
