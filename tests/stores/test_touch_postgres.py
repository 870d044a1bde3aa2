"""The opt-in touch on a real PostgreSQL: each preset's column type, replicas, refused writes."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime

import pytest

from sessiongate.errors import ProviderUnavailableError
from sessiongate.stores.postgres import PostgresStore
from sessiongate.stores.touch import touching

from .pg import execute
from .test_postgres import FUTURE, mapping, setup_case

pytestmark = pytest.mark.postgres

DAY = 86400
TABLES = {  # preset -> (session table, token column, expires column)
    "authjs-prisma": ('"Session"', '"sessionToken"', "expires"),
    "authjs-prisma-v4": ('"Session"', '"sessionToken"', "expires"),
    "authjs-pg": ("sessions", '"sessionToken"', "expires"),
    "authjs-drizzle": ('"session"', '"sessionToken"', "expires"),
    "authjs-typeorm": ("sessions", '"sessionToken"', "expires"),
}


async def fetch(dsn: str, sql: str):
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


def stored(dsn: str, schema: str, preset: str, token: str = "tok-valid"):
    table, token_col, expires = TABLES[preset]
    rows = asyncio.run(
        fetch(dsn, f"SELECT {expires} FROM \"{schema}\".{table} WHERE {token_col} = '{token}'")
    )
    return rows[0][0]


def add_update_log(dsn: str, schema: str, preset: str) -> None:
    table, _, _ = TABLES[preset]
    execute(
        dsn,
        f"""
        SET search_path TO "{schema}";
        CREATE TABLE touch_log (at timestamptz DEFAULT clock_timestamp());
        CREATE FUNCTION log_touch() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN INSERT INTO "{schema}".touch_log DEFAULT VALUES; RETURN NEW; END $$;
        CREATE TRIGGER log_touch AFTER UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION log_touch();
        """,
    )


def update_count(dsn: str, schema: str) -> int:
    return asyncio.run(fetch(dsn, f'SELECT count(*) FROM "{schema}".touch_log'))[0][0]


@pytest.mark.parametrize("preset", sorted(TABLES))
def test_due_session_is_extended_in_the_column_type_of_each_preset(postgres_dsn, pg_schema, preset):
    setup_case(postgres_dsn, pg_schema, preset)
    add_update_log(postgres_dsn, pg_schema, preset)
    before = stored(postgres_dsn, pg_schema, preset)
    now = time.time()
    store = touching(
        PostgresStore(postgres_dsn, schema=mapping(preset, pg_schema)), clock=lambda: now
    )

    async def main():
        try:
            return await store.load("tok-valid"), await store.load("tok-valid")
        finally:
            await store.aclose()

    first, second = asyncio.run(main())  # FUTURE (now + 7 days) is due under the defaults
    new_ms = int(now * 1000) + 30 * DAY * 1000
    assert int(first.expires_at * 1000) == new_ms
    assert second.expires_at == first.expires_at
    assert update_count(postgres_dsn, pg_schema) == 1
    after = stored(postgres_dsn, pg_schema, preset)
    assert type(after) is type(before)  # the same representation the adapter wrote
    if isinstance(after, datetime):
        assert (after.tzinfo is None) == (before.tzinfo is None)
        aware = after if after.tzinfo else after.replace(tzinfo=UTC)
        assert int(aware.timestamp() * 1000) == new_ms
    else:
        assert after == str(new_ms)  # TypeORM: decimal text of milliseconds


def test_not_due_and_expired_sessions_are_not_written(postgres_dsn, pg_schema):
    setup_case(postgres_dsn, pg_schema, "authjs-pg")
    add_update_log(postgres_dsn, pg_schema, "authjs-pg")
    # max_age 8 days, update_age 2 days: a session expiring in 7 days was extended 1 day ago
    store = touching(
        PostgresStore(postgres_dsn, schema=mapping("authjs-pg", pg_schema)),
        max_age=8 * DAY,
        update_age=2 * DAY,
    )

    async def main():
        try:
            return await store.load("tok-valid"), await store.load("tok-expired")
        finally:
            await store.aclose()

    valid, expired = asyncio.run(main())
    assert valid.expires_at == FUTURE.timestamp()
    assert expired.is_expired(time.time())
    assert update_count(postgres_dsn, pg_schema) == 0


def test_replicas_crossing_the_threshold_together_write_once(postgres_dsn, pg_schema):
    """Four stores (four replicas), each with its own pool, touch the same due session at once:
    the row lock and the re-check make it one UPDATE."""
    setup_case(postgres_dsn, pg_schema, "authjs-prisma")
    add_update_log(postgres_dsn, pg_schema, "authjs-prisma")
    now = time.time()
    stores = [
        touching(
            PostgresStore(postgres_dsn, schema=mapping("authjs-prisma", pg_schema)),
            clock=lambda: now,
        )
        for _ in range(4)
    ]

    async def main():
        try:
            return await asyncio.gather(*(s.load("tok-valid") for s in stores for _ in range(5)))
        finally:
            for s in stores:
                await s.aclose()

    records = asyncio.run(main())
    new = (int(now * 1000) + 30 * DAY * 1000) / 1000
    # each request sees the new expiry, or FUTURE when it read the row before the touch
    assert {r.expires_at for r in records} <= {new, FUTURE.timestamp()}
    assert update_count(postgres_dsn, pg_schema) == 1
    assert sum(s.touches for s in stores) == 1


def test_a_role_that_may_not_update_keeps_sessions_valid(postgres_dsn, pg_schema, caplog):
    setup_case(postgres_dsn, pg_schema, "authjs-pg")
    role = "sg_reader_" + uuid.uuid4().hex[:8]
    execute(
        postgres_dsn,
        f'CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA "{pg_schema}" TO {role}; '
        f'GRANT SELECT ON ALL TABLES IN SCHEMA "{pg_schema}" TO {role}',
    )
    try:
        dsn = postgres_dsn.replace("postgres@", f"{role}@", 1)
        store = touching(PostgresStore(dsn, schema=mapping("authjs-pg", pg_schema)))
        calls = []
        update = store.store.update_expiry  # type: ignore[attr-defined]

        async def counting(token, decide):
            calls.append(1)
            return await update(token, decide)

        store.store.update_expiry = counting  # type: ignore[attr-defined]

        async def main():
            try:
                return [await store.load("tok-valid") for _ in range(3)]
            finally:
                await store.aclose()

        with caplog.at_level(logging.WARNING, logger="sessiongate"):
            records = asyncio.run(main())
        assert all(r.expires_at == FUTURE.timestamp() for r in records)
        assert len(calls) == 1
        assert "session touch failed (ProviderUnavailableError)" in caplog.text
    finally:
        execute(
            postgres_dsn,
            f'REVOKE ALL ON ALL TABLES IN SCHEMA "{pg_schema}" FROM {role}; '
            f'REVOKE USAGE ON SCHEMA "{pg_schema}" FROM {role}; DROP ROLE {role}',
        )


def test_update_expiry_faults_are_503(postgres_dsn):
    store = PostgresStore(
        postgres_dsn.rsplit(":", 1)[0] + ":1/nope", schema="authjs-pg", timeout=0.5
    )

    async def main():
        try:
            await store.update_expiry("tok", lambda stored: stored)
        finally:
            await store.aclose()

    with pytest.raises(ProviderUnavailableError):
        asyncio.run(main())
