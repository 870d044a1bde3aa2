"""PostgreSQL store on a real server: presets with the DDL the JS side creates, faults, load."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sessiongate.errors import (
    ConfigurationError,
    ExpiredTokenError,
    ProviderUnavailableError,
    SessionNotFoundError,
)
from sessiongate.gate import SessionGate
from sessiongate.sessions import DatabaseSession
from sessiongate.stores import PRESETS, open_store
from sessiongate.stores.postgres import PostgresStore

from .helpers import creds
from .pg import execute, pg_control

pytestmark = pytest.mark.postgres

FUTURE = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
PAST = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)


def naive(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


# DDL as each creator writes it (SPEC 4.3 / 5.4), and how it stores the two sessions.
CASES = {
    "authjs-prisma": (
        """
        CREATE TABLE "User" (id TEXT PRIMARY KEY, name TEXT, email TEXT UNIQUE,
          "emailVerified" TIMESTAMP(3), image TEXT,
          "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
          "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
          role TEXT, permissions TEXT[]);
        CREATE TABLE "Session" ("sessionToken" TEXT NOT NULL UNIQUE, "userId" TEXT NOT NULL
          REFERENCES "User"(id) ON DELETE CASCADE, expires TIMESTAMP(3) NOT NULL,
          "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
          "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
        INSERT INTO "User" (id, name, email, role, permissions)
          VALUES ('cuid1', 'Ada', 'ada@example.com', 'admin', ARRAY['read','write']);
        INSERT INTO "Session" ("sessionToken", "userId", expires) VALUES
          ('tok-valid', 'cuid1', '{future}'), ('tok-expired', 'cuid1', '{past}');
        """,
        "cuid1",
        "naive",
    ),
    "authjs-prisma-v4": (
        """
        CREATE TABLE "User" (id TEXT PRIMARY KEY, name TEXT, email TEXT UNIQUE,
          "emailVerified" TIMESTAMP(3), image TEXT, role TEXT, permissions TEXT[]);
        CREATE TABLE "Session" (id TEXT PRIMARY KEY, "sessionToken" TEXT NOT NULL UNIQUE,
          "userId" TEXT NOT NULL REFERENCES "User"(id), expires TIMESTAMP(3) NOT NULL);
        INSERT INTO "User" (id, name, email, role, permissions)
          VALUES ('cuid1', 'Ada', 'ada@example.com', 'admin', ARRAY['read','write']);
        INSERT INTO "Session" (id, "sessionToken", "userId", expires) VALUES
          ('s1', 'tok-valid', 'cuid1', '{future}'), ('s2', 'tok-expired', 'cuid1', '{past}');
        """,
        "cuid1",
        "naive",
    ),
    "authjs-pg": (
        """
        CREATE TABLE users (id SERIAL PRIMARY KEY, name VARCHAR(255), email VARCHAR(255) UNIQUE,
          "emailVerified" TIMESTAMPTZ, image TEXT, role TEXT, permissions JSONB);
        CREATE TABLE sessions (id SERIAL PRIMARY KEY, "userId" INTEGER NOT NULL REFERENCES users
          ON DELETE CASCADE, expires TIMESTAMPTZ NOT NULL,
          "sessionToken" VARCHAR(255) UNIQUE NOT NULL);
        INSERT INTO users (name, email, role, permissions)
          VALUES ('Ada', 'ada@example.com', 'admin', '["read","write"]');
        INSERT INTO sessions ("userId", expires, "sessionToken") VALUES
          (1, '{future}+00', 'tok-valid'), (1, '{past}+00', 'tok-expired');
        """,
        "1",
        "aware",
    ),
    "authjs-drizzle": (
        """
        CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT, email TEXT UNIQUE,
          "emailVerified" TIMESTAMP, image TEXT, role TEXT, permissions TEXT[]);
        CREATE TABLE "session" ("sessionToken" TEXT PRIMARY KEY, "userId" TEXT NOT NULL
          REFERENCES "user"(id) ON DELETE CASCADE, expires TIMESTAMP NOT NULL);
        INSERT INTO "user" (id, name, email, role, permissions)
          VALUES ('b3f1c2d4-uuid', 'Ada', 'ada@example.com', 'admin', ARRAY['read','write']);
        INSERT INTO "session" VALUES ('tok-valid', 'b3f1c2d4-uuid', '{future}'),
          ('tok-expired', 'b3f1c2d4-uuid', '{past}');
        """,
        "b3f1c2d4-uuid",
        "naive",
    ),
    "authjs-typeorm": (
        """
        CREATE TABLE users (id UUID PRIMARY KEY, name VARCHAR, email VARCHAR UNIQUE,
          "emailVerified" VARCHAR, image VARCHAR, role VARCHAR, permissions JSON);
        CREATE TABLE sessions (id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
          "sessionToken" VARCHAR UNIQUE NOT NULL, "userId" UUID NOT NULL REFERENCES users(id),
          expires VARCHAR NOT NULL);
        INSERT INTO users (id, name, email, role, permissions) VALUES
          ('6f0c1a2e-0000-4000-8000-000000000001', 'Ada', 'ada@example.com', 'admin',
           '["read","write"]');
        INSERT INTO sessions ("sessionToken", "userId", expires) VALUES
          ('tok-valid', '6f0c1a2e-0000-4000-8000-000000000001', '{future_ms}'),
          ('tok-expired', '6f0c1a2e-0000-4000-8000-000000000001', '{past_ms}');
        """,
        "6f0c1a2e-0000-4000-8000-000000000001",
        "ms",
    ),
    "better-auth": (
        """
        CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE,
          "emailVerified" BOOLEAN NOT NULL DEFAULT false, image TEXT,
          "createdAt" TIMESTAMPTZ NOT NULL DEFAULT now(),
          "updatedAt" TIMESTAMPTZ NOT NULL DEFAULT now(), role TEXT, permissions TEXT[]);
        CREATE TABLE "session" (id TEXT PRIMARY KEY, "expiresAt" TIMESTAMPTZ NOT NULL,
          token TEXT NOT NULL UNIQUE, "createdAt" TIMESTAMPTZ NOT NULL DEFAULT now(),
          "updatedAt" TIMESTAMPTZ NOT NULL, "ipAddress" TEXT, "userAgent" TEXT,
          "userId" TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE);
        INSERT INTO "user" (id, name, email, role, permissions)
          VALUES ('u32charsxxxxxxxxxxxxxxxxxxxxxxxx', 'Ada', 'ada@example.com', 'admin',
                  ARRAY['read','write']);
        INSERT INTO "session" (id, "expiresAt", token, "updatedAt", "userId") VALUES
          ('s1', '{future}+00', 'tok-valid', now(), 'u32charsxxxxxxxxxxxxxxxxxxxxxxxx'),
          ('s2', '{past}+00', 'tok-expired', now(), 'u32charsxxxxxxxxxxxxxxxxxxxxxxxx');
        """,
        "u32charsxxxxxxxxxxxxxxxxxxxxxxxx",
        "aware",
    ),
    "better-auth-snake": (
        """
        CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE,
          email_verified BOOLEAN NOT NULL DEFAULT false, image TEXT, role TEXT,
          permissions TEXT[]);
        CREATE TABLE "session" (id TEXT PRIMARY KEY, expires_at TIMESTAMP NOT NULL,
          token TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL REFERENCES "user"(id));
        INSERT INTO "user" (id, name, email, role, permissions)
          VALUES ('u1', 'Ada', 'ada@example.com', 'admin', ARRAY['read','write']);
        INSERT INTO "session" VALUES ('s1', '{future}', 'tok-valid', 'u1'),
          ('s2', '{past}', 'tok-expired', 'u1');
        """,
        "u1",
        "naive",
    ),
}


def setup_case(dsn: str, schema: str, preset: str) -> str:
    ddl, user_id, _ = CASES[preset]
    ddl = (
        ddl.replace("{future}", naive(FUTURE))
        .replace("{past}", naive(PAST))
        .replace("{future_ms}", str(int(FUTURE.timestamp() * 1000)))
        .replace("{past_ms}", str(int(PAST.timestamp() * 1000)))
    )
    execute(dsn, f'SET search_path TO "{schema}"; {ddl}')
    return user_id


def mapping(preset: str, schema: str):
    return replace(PRESETS[preset], db_schema=schema).with_extra(["role", "permissions"])


def authenticator(dsn: str, schema, **store_options) -> DatabaseSession:
    options = {"timeout": 2.0, **store_options}
    return DatabaseSession(
        PostgresStore(dsn, schema=schema, **options), cache_ttl=0, negative_cache_ttl=0
    )


@pytest.mark.parametrize("preset", sorted(CASES))
def test_presets_on_real_tables(postgres_dsn, pg_schema, preset):
    user_id = setup_case(postgres_dsn, pg_schema, preset)
    auth = authenticator(postgres_dsn, mapping(preset, pg_schema))

    async def main():
        try:
            now = time.time()
            ok = await auth.authenticate(creds({"authjs.session-token": "tok-valid"}), now)
            assert ok.claims["sub"] == user_id
            assert ok.claims["email"] == "ada@example.com"
            assert ok.claims["role"] == "admin"
            assert ok.claims["permissions"] == ["read", "write"]
            # naive columns are UTC wall time: no shift by the server or client time zone
            assert ok.expires_at == FUTURE.timestamp()
            with pytest.raises(ExpiredTokenError):
                await auth.authenticate(creds({"authjs.session-token": "tok-expired"}), now)
            with pytest.raises(SessionNotFoundError):
                await auth.authenticate(creds({"authjs.session-token": "tok-none"}), now)
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_naive_timestamps_ignore_session_time_zone(postgres_dsn, pg_schema):
    setup_case(postgres_dsn, pg_schema, "authjs-prisma")
    auth = authenticator(
        postgres_dsn,
        mapping("authjs-prisma", pg_schema),
        server_settings={"TimeZone": "America/New_York"},
    )

    async def main():
        try:
            ok = await auth.authenticate(creds({"authjs.session-token": "tok-valid"}), time.time())
            assert ok.expires_at == FUTURE.timestamp()
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_prisma_url_schema_parameter_reads_a_non_public_schema(postgres_dsn, pg_schema):
    """Prisma's DATABASE_URL as written: ``?schema=`` picks the schema, pool parameters too."""
    setup_case(postgres_dsn, pg_schema, "authjs-prisma")
    url = (
        f"{postgres_dsn}?schema={pg_schema}&connection_limit=3&pool_timeout=10"
        "&connect_timeout=5&sslmode=disable"
    )
    store = open_store(url, schema=PRESETS["authjs-prisma"].with_extra(["role", "permissions"]))
    assert isinstance(store, PostgresStore)
    assert (store.max_size, store.connect_timeout) == (3, 5.0)
    assert store.schema.db_schema == pg_schema
    auth = DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0)

    async def main():
        try:
            now = time.time()
            ok = await auth.authenticate(creds({"authjs.session-token": "tok-valid"}), now)
            assert ok.claims["sub"] == "cuid1"
            assert ok.claims["role"] == "admin"
            assert ok.expires_at == FUTURE.timestamp()
            with pytest.raises(ExpiredTokenError):
                await auth.authenticate(creds({"authjs.session-token": "tok-expired"}), now)
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_server_refusing_a_url_parameter_is_a_connection_error_not_a_schema_one(
    postgres_dsn, pg_schema
):
    setup_case(postgres_dsn, pg_schema, "authjs-prisma")
    # asyncpg sends parameters it does not know to the server, which refuses this one
    store = PostgresStore(
        f"{postgres_dsn}?sessiongate_no_such_setting=1", schema=mapping("authjs-prisma", pg_schema)
    )
    auth = DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0)
    with pytest.raises(ProviderUnavailableError) as info:
        asyncio.run(auth.authenticate(creds({"authjs.session-token": "x"}), time.time()))
    assert "refused the connection" in info.value.message
    assert "schema mapping" not in info.value.message
    asyncio.run(auth.aclose())


def test_missing_table_is_503(postgres_dsn, pg_schema):
    auth = authenticator(postgres_dsn, mapping("better-auth", pg_schema))
    with pytest.raises(ProviderUnavailableError) as info:
        asyncio.run(auth.authenticate(creds({"authjs.session-token": "x"}), time.time()))
    assert info.value.status_code == 503
    asyncio.run(auth.aclose())


def test_unreachable_database_is_503_fast():
    # nothing listens on port 1 of loopback
    auth = authenticator("postgresql://nobody@127.0.0.1:1/none", "authjs-prisma")
    started = time.monotonic()
    with pytest.raises(ProviderUnavailableError):
        asyncio.run(auth.authenticate(creds({"authjs.session-token": "x"}), time.time()))
    assert time.monotonic() - started < 2.5
    asyncio.run(auth.aclose())


def test_bad_configuration():
    with pytest.raises(ConfigurationError):
        PostgresStore("mysql://x", schema="authjs-prisma")
    with pytest.raises(ConfigurationError):
        PostgresStore("postgresql://x", min_size=5, max_size=2)
    with pytest.raises(ConfigurationError):
        PostgresStore("postgresql://x", timeout=0)


def test_hanging_query_times_out_as_503_then_recovers(postgres_dsn, pg_schema):
    import asyncpg

    setup_case(postgres_dsn, pg_schema, "authjs-prisma")
    auth = authenticator(postgres_dsn, mapping("authjs-prisma", pg_schema), timeout=0.5)
    cookie = creds({"authjs.session-token": "tok-valid"})

    async def main():
        locker = await asyncpg.connect(postgres_dsn)
        try:
            tx = locker.transaction()
            await tx.start()
            await locker.execute(f'LOCK TABLE "{pg_schema}"."Session" IN ACCESS EXCLUSIVE MODE')
            started = time.monotonic()
            with pytest.raises(ProviderUnavailableError, match="in time"):
                await auth.authenticate(cookie, time.time())
            assert time.monotonic() - started < 1.5
            await tx.rollback()
            ok = await auth.authenticate(cookie, time.time())
            assert ok.claims["sub"] == "cuid1"
        finally:
            await locker.close()
            await auth.aclose()

    asyncio.run(main())


def test_pool_exhaustion_is_503_not_a_queue(postgres_dsn, pg_schema):
    import asyncpg

    setup_case(postgres_dsn, pg_schema, "authjs-prisma")
    auth = authenticator(postgres_dsn, mapping("authjs-prisma", pg_schema), timeout=0.5, max_size=1)

    async def main():
        locker = await asyncpg.connect(postgres_dsn)
        try:
            tx = locker.transaction()
            await tx.start()
            await locker.execute(f'LOCK TABLE "{pg_schema}"."Session" IN ACCESS EXCLUSIVE MODE')
            results = await asyncio.gather(
                auth.authenticate(creds({"authjs.session-token": "tok-valid"}), 0),
                auth.authenticate(creds({"authjs.session-token": "tok-other"}), 0),
                return_exceptions=True,
            )
            assert all(isinstance(r, ProviderUnavailableError) for r in results)
            assert any("pool exhausted" in str(r) for r in results)
            await tx.rollback()
        finally:
            await locker.close()
            await auth.aclose()

    asyncio.run(main())


def test_many_concurrent_requests_one_query_per_token(postgres_dsn, pg_schema):
    execute(
        postgres_dsn,
        f"""SET search_path TO "{pg_schema}";
        {CASES["authjs-prisma"][0].split("INSERT")[0]}
        INSERT INTO "User" (id, email) VALUES ('u', 'u@example.com');
        INSERT INTO "Session" ("sessionToken", "userId", expires)
          SELECT 'tok-' || i, 'u', '{naive(FUTURE)}' FROM generate_series(1, 100) AS i;
        """,
    )
    # timeout: the test counts queries; a loaded CI machine must not turn a slow pool into 503s
    store = PostgresStore(
        postgres_dsn, schema=mapping("authjs-prisma", pg_schema), max_size=4, timeout=60.0
    )
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
            assert all(r.claims["sub"] == "u" for r in results)
            assert auth.store.queries == 100
            assert store.pool_stats()["size"] <= 4
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_blocking_gate_on_postgres(postgres_dsn, pg_schema):
    setup_case(postgres_dsn, pg_schema, "better-auth")
    auth = authenticator(postgres_dsn, mapping("better-auth", pg_schema))
    gate = SessionGate(auth)
    try:
        user = gate.authenticate_sync({"authorization": "Bearer tok-valid"}).user
        assert user.id == "u32charsxxxxxxxxxxxxxxxxxxxxxxxx"
        with pytest.raises(SessionNotFoundError):
            gate.authenticate_sync({"authorization": "Bearer tok-nope"})
    finally:
        asyncio.run(auth.aclose())


def test_same_store_serves_two_event_loops(postgres_dsn, pg_schema):
    setup_case(postgres_dsn, pg_schema, "authjs-pg")
    auth = authenticator(postgres_dsn, mapping("authjs-pg", pg_schema))
    gate = SessionGate(auth)
    headers = {"cookie": "authjs.session-token=tok-valid"}

    async def on_app_loop():
        return (await gate.authenticate(headers)).user

    assert asyncio.run(on_app_loop()).id == "1"  # a pool on this loop
    assert gate.authenticate_sync(headers).user.id == "1"  # another on the background loop
    asyncio.run(auth.aclose())


@pytest.fixture
def pg_controllable(postgres_dsn):
    if not os.environ.get("SESSIONGATE_TEST_PG_CONTROL"):
        from conftest import missing

        missing("SESSIONGATE_TEST_PG_CONTROL (scripts/test.sh provides it)")
    yield postgres_dsn
    pg_control("start")  # never leave the server down for later tests


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_database_stopped_mid_run_is_503_then_recovers(pg_controllable, pg_schema, mode):
    dsn = pg_controllable
    setup_case(dsn, pg_schema, "authjs-prisma")
    auth = authenticator(dsn, mapping("authjs-prisma", pg_schema), timeout=1.0, max_size=3)
    cookie = creds({"authjs.session-token": "tok-valid"})

    async def lookup():
        return await auth.authenticate(cookie, time.time())

    async def main():
        try:
            # warm the pool so it holds connections the restart will kill
            await asyncio.gather(*(lookup() for _ in range(3)))
            # the test server runs with fsync/synchronous_commit off: flush before a crash stop
            await asyncio.to_thread(execute, dsn, "CHECKPOINT")
            pg_control(f"stop {mode}")
            for _ in range(3):
                with pytest.raises(ProviderUnavailableError) as info:
                    await lookup()
                assert info.value.status_code == 503
            pg_control("start")
            ok = await lookup()
            assert ok.claims["sub"] == "cuid1"
            # and stays healthy: every pooled connection works again
            results = await asyncio.gather(*(lookup() for _ in range(10)))
            assert all(r.claims["sub"] == "cuid1" for r in results)
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_restart_between_requests_is_invisible(pg_controllable, pg_schema):
    dsn = pg_controllable
    setup_case(dsn, pg_schema, "authjs-prisma")
    auth = authenticator(dsn, mapping("authjs-prisma", pg_schema), timeout=2.0, max_size=3)
    cookie = creds({"authjs.session-token": "tok-valid"})

    async def main():
        try:
            await asyncio.gather(*(auth.authenticate(cookie, time.time()) for _ in range(3)))
            pg_control("restart")
            # the pooled connections are dead; the lookup retries on fresh ones
            results = await asyncio.gather(
                *(auth.authenticate(cookie, time.time()) for _ in range(5))
            )
            assert all(r.claims["sub"] == "cuid1" for r in results)
        finally:
            await auth.aclose()

    asyncio.run(main())
