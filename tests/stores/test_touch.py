"""The opt-in touch (Auth.js ``session.updateAge``): the rule, the encodings, SQLite end to end."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from sessiongate.errors import ConfigurationError
from sessiongate.stores import CachedStore, SQLiteStore
from sessiongate.stores.touch import (
    SyncTouchingStore,
    TouchingStore,
    UpdateAge,
    encode_like,
    touching,
)

from .helpers import NOW, NOW_TS, PRISMA_DDL, make_prisma_sqlite, naive_utc

DAY = 86400
NOW_MS = int(NOW_TS * 1000)


# ------------------------------------------------------------------------------ the rule


def test_due_exactly_when_auth_core_updates():
    policy = UpdateAge()  # Auth.js defaults: 30 days, 1 day
    # due when expires - maxAge + updateAge <= now, i.e. last extended at least a day ago
    last_extended = NOW_MS - DAY * 1000
    assert policy.is_due(last_extended + 30 * DAY * 1000, NOW_MS)
    assert not policy.is_due(last_extended + 30 * DAY * 1000 + 1, NOW_MS)
    assert policy.new_expires_ms(NOW_MS) == NOW_MS + 30 * DAY * 1000


def test_custom_ages_and_timedelta(app_db):
    touched = make(app_db[0], Clock(NOW_TS), max_age=timedelta(hours=2), update_age=300)
    assert (touched.policy.max_age, touched.policy.update_age) == (7200, 300)
    asyncio.run(touched.aclose())


@pytest.mark.parametrize(
    ("max_age", "update_age"),
    [(DAY, 0), (DAY, DAY), (DAY, 2 * DAY), (0, 0), (float("inf"), DAY), (DAY, -1), (DAY, True)],
)
def test_update_age_that_would_touch_every_request_or_never_is_refused(max_age, update_age):
    with pytest.raises(ConfigurationError):
        UpdateAge(max_age, update_age)


# ------------------------------------------------------------------------------ encodings

NEW_MS = 1_893_456_000_123  # 2030-01-01T00:00:00.123Z


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)),
        (
            datetime(2026, 1, 1, 5, tzinfo=timezone(timedelta(hours=5))),
            datetime(2030, 1, 1, 0, 0, 0, 123000, tzinfo=UTC),
        ),
        (datetime(2026, 1, 1), datetime(2030, 1, 1, 0, 0, 0, 123000)),  # naive: UTC wall time
        ("2026-05-31T12:00:00.000+00:00", "2030-01-01T00:00:00.123+00:00"),  # Prisma 7 SQLite
        ("2026-05-31 12:00:00.000", "2030-01-01 00:00:00.123"),  # naive text
        ("2026-05-31T12:00:00Z", "2030-01-01T00:00:00Z"),
        ("2026-05-31T12:00:00.123456Z", "2030-01-01T00:00:00.123000Z"),
        ("2026-05-31 12:00", "2030-01-01 00:00"),
        ("2026-05-31T12:00:00.5+0000", "2030-01-01T00:00:00.1+0000"),
        (1_780_228_800_000, NEW_MS),  # integer milliseconds (Drizzle timestamp_ms, Prisma 6)
        (1_780_228_800, NEW_MS // 1000),  # integer seconds (Drizzle mode "timestamp")
        ("1780228800000", str(NEW_MS)),  # TypeORM: decimal text of milliseconds
    ],
)
def test_new_expiry_is_written_like_the_stored_one(stored, written):
    assert encode_like(stored, NEW_MS) == written
    assert type(encode_like(stored, NEW_MS)) is type(written)


def test_epoch_s_mapping_writes_seconds_even_for_a_large_number():
    assert encode_like(1_780_228_800_000, NEW_MS, unit_seconds=True) == NEW_MS // 1000


@pytest.mark.parametrize("stored", [True, None, b"\x00", "yesterday", object()])
def test_unknown_representations_are_not_written(stored):
    with pytest.raises(ValueError):
        encode_like(stored, NEW_MS)


# ------------------------------------------------------------------------------ configuration


def test_read_only_sqlite_is_refused_with_the_fix(tmp_path: Path):
    path = tmp_path / "ro.db"
    make_prisma_sqlite(path).close()
    store = SQLiteStore(path)  # read_only=True by default
    try:
        with pytest.raises(ConfigurationError, match="read_only=False"):
            touching(store)  # type: ignore[arg-type]
    finally:
        asyncio.run(store.aclose())


def test_cached_store_and_better_auth_are_refused(tmp_path: Path):
    path = tmp_path / "ba.db"
    make_prisma_sqlite(path).close()
    store = SQLiteStore(path, schema="better-auth", read_only=False)
    try:
        with pytest.raises(ConfigurationError, match="before any CachedStore"):
            touching(CachedStore(store))  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="Better Auth"):
            touching(store)
    finally:
        asyncio.run(store.aclose())


# ------------------------------------------------------------------------------ SQLite


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app_db(tmp_path: Path):
    """The Prisma-shaped test database with an UPDATE log (a trigger counts real writes)."""
    path = tmp_path / "app.db"
    conn = make_prisma_sqlite(path)
    conn.executescript(
        """
        CREATE TABLE touch_log (token TEXT, old TEXT, new TEXT);
        CREATE TRIGGER log_touch AFTER UPDATE OF expires ON "Session"
        BEGIN INSERT INTO touch_log VALUES (new."sessionToken", old.expires, new.expires); END;
        """
    )
    conn.commit()
    yield path, conn
    conn.close()


def set_expires(conn: sqlite3.Connection, token: str, value: object) -> None:
    conn.execute('UPDATE "Session" SET expires = ? WHERE "sessionToken" = ?', (value, token))
    conn.execute("DELETE FROM touch_log")
    conn.commit()


def writes(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    return conn.execute("SELECT * FROM touch_log").fetchall()


def make(path: Path, clock: Clock, **options: object) -> TouchingStore:
    return touching(SQLiteStore(path, read_only=False), clock=clock, **options)  # type: ignore[arg-type]


def test_due_session_is_extended_once_in_the_stored_format(app_db):
    path, conn = app_db
    # last extended 2 days ago: expires = now - 2 days + 30 days
    stored = naive_utc(NOW + timedelta(days=28))
    set_expires(conn, "tok-valid", stored)
    clock = Clock(NOW_TS)
    store = make(path, clock)

    async def main():
        try:
            first = await store.load("tok-valid")
            second = await store.load("tok-valid")
            return first, second
        finally:
            await store.aclose()

    first, second = asyncio.run(main())
    new = NOW + timedelta(days=30)
    assert first.expires == new
    assert second.expires == new  # read back from the row, no second write
    assert writes(conn) == [("tok-valid", stored, naive_utc(new))]
    assert store.touches == 1


def test_session_not_yet_due_is_not_written(app_db):
    path, conn = app_db
    stored = naive_utc(NOW + timedelta(days=29, hours=1))  # extended 23 h ago
    set_expires(conn, "tok-valid", stored)
    store = make(path, Clock(NOW_TS))
    record = asyncio.run(_load_and_close(store, "tok-valid"))
    assert record.expires == NOW + timedelta(days=29, hours=1)
    assert writes(conn) == []


def test_expired_session_is_never_extended(app_db):
    path, conn = app_db
    store = make(path, Clock(NOW_TS))
    record = asyncio.run(_load_and_close(store, "tok-expired"))
    assert record.is_expired(NOW_TS)
    assert writes(conn) == []


def test_unknown_token_writes_nothing(app_db):
    path, conn = app_db
    assert asyncio.run(_load_and_close(make(path, Clock(NOW_TS)), "nope")) is None
    assert writes(conn) == []


def test_integer_milliseconds_stay_integer_milliseconds(tmp_path: Path):
    path = tmp_path / "drizzle.db"
    conn = sqlite3.connect(path)
    conn.executescript(PRISMA_DDL.replace("expires TEXT NOT NULL", "expires INTEGER NOT NULL"))
    conn.execute("INSERT INTO User (id) VALUES ('u1')")
    stored = int((NOW + timedelta(days=20)).timestamp() * 1000)
    conn.execute("INSERT INTO Session VALUES ('tok', 'u1', ?)", (stored,))
    conn.commit()
    record = asyncio.run(_load_and_close(make(path, Clock(NOW_TS)), "tok"))
    new = int((NOW + timedelta(days=30)).timestamp() * 1000)
    assert record.expires_at * 1000 == new
    assert conn.execute("SELECT typeof(expires), expires FROM Session").fetchone() == (
        "integer",
        new,
    )
    conn.close()


def test_concurrent_requests_share_one_update(app_db):
    path, conn = app_db
    set_expires(conn, "tok-valid", naive_utc(NOW + timedelta(days=10)))
    store = make(path, Clock(NOW_TS))

    async def main():
        try:
            return await asyncio.gather(*(store.load("tok-valid") for _ in range(20)))
        finally:
            await store.aclose()

    records = asyncio.run(main())
    assert {r.expires for r in records} == {NOW + timedelta(days=30)}
    assert len(writes(conn)) == 1


def test_two_processes_crossing_the_threshold_write_once(app_db):
    """Two stores (two replicas) that both read the due row: the second finds it extended."""
    path, conn = app_db
    set_expires(conn, "tok-valid", naive_utc(NOW + timedelta(days=10)))
    first, second = make(path, Clock(NOW_TS)), make(path, Clock(NOW_TS + 1))
    stale = asyncio.run(first.store.load("tok-valid"))  # both read the due row ...
    assert stale is not None
    asyncio.run(_load_and_close(first, "tok-valid"))  # ... the first extends it ...
    decide, written = second._decide(int((NOW_TS + 1) * 1000))
    assert second.store.update_expiry_sync("tok-valid", decide) is False  # ... the second: no
    assert written == []
    assert len(writes(conn)) == 1
    asyncio.run(second.aclose())


def test_failed_touch_keeps_the_session_and_backs_off(app_db, caplog):
    path, conn = app_db
    set_expires(conn, "tok-valid", naive_utc(NOW + timedelta(days=10)))
    conn.executescript(
        """
        CREATE TRIGGER refuse BEFORE UPDATE ON "Session"
        BEGIN SELECT RAISE(ABORT, 'read-only replica'); END;
        """
    )
    store = make(path, Clock(NOW_TS))
    calls = []
    original = store.store.update_expiry_sync  # type: ignore[attr-defined]

    def counting(token, decide):
        calls.append(token)
        return original(token, decide)

    store.store.update_expiry_sync = counting  # type: ignore[attr-defined]

    async def main():
        try:
            return [await store.load("tok-valid") for _ in range(3)]
        finally:
            await store.aclose()

    with caplog.at_level(logging.WARNING, logger="sessiongate"):
        records = asyncio.run(main())
    assert all(r.expires == NOW + timedelta(days=10) for r in records)  # still valid, unchanged
    assert len(calls) == 1  # not retried on every request
    assert "session touch failed (ProviderUnavailableError)" in caplog.text
    assert "tok-valid" not in caplog.text


def test_sync_callers_touch_in_their_own_thread(app_db):
    path, conn = app_db
    set_expires(conn, "tok-valid", naive_utc(NOW + timedelta(days=10)))
    store = make(path, Clock(NOW_TS))
    assert isinstance(store, SyncTouchingStore)  # SQLite answers from the calling thread
    record = store.load_sync("tok-valid")
    asyncio.run(store.aclose())
    assert record.expires == NOW + timedelta(days=30)
    assert len(writes(conn)) == 1


async def _load_and_close(store: TouchingStore, token: str):
    try:
        return await store.load(token)
    finally:
        await store.aclose()


def test_behind_the_authenticators_cache_only_misses_are_checked(app_db):
    """CachedStore(touching(...)): a cached session is served without a check; the next miss
    after the threshold extends it once."""
    path, conn = app_db
    set_expires(conn, "tok-valid", naive_utc(NOW + timedelta(days=29, hours=12)))
    clock = Clock(NOW_TS)
    ticks = Clock(0.0)  # the cache's monotonic clock
    cached = CachedStore(make(path, clock), ttl=60, monotonic=ticks)

    async def main():
        try:
            first = await cached.load("tok-valid")  # a miss, not due (extended 12 h ago)
            clock.now += 13 * 3600  # now due, but the cached record is served
            ticks.now += 30
            hit = await cached.load("tok-valid")
            ticks.now += 31  # the entry expired: a miss, and the session is extended
            miss = await cached.load("tok-valid")
            return first, hit, miss
        finally:
            await cached.aclose()

    first, hit, miss = asyncio.run(main())
    assert first is hit
    assert writes(conn) == [
        (
            "tok-valid",
            naive_utc(NOW + timedelta(days=29, hours=12)),
            naive_utc(NOW + timedelta(days=30, hours=13)),
        )
    ]
    assert miss.expires == NOW + timedelta(days=30, hours=13)
    assert cached.queries == 2


def test_database_session_through_the_gate_extends_once_sync_and_async(app_db):
    """The opt-in as documented: DatabaseSession(touching(SQLiteStore(..., read_only=False)))."""
    from sessiongate import DatabaseSession, SessionGate

    path, conn = app_db
    set_expires(conn, "tok-valid", naive_utc(NOW + timedelta(days=10)))
    clock = Clock(NOW_TS)
    auth = DatabaseSession(make(path, clock), cache_ttl=0, negative_cache_ttl=0)
    gate = SessionGate(auth, clock=clock)
    headers = {"cookie": "authjs.session-token=tok-valid"}
    try:
        blocking = gate.authenticate_sync(headers)  # WSGI: in the calling thread
        awaited = asyncio.run(gate.authenticate(headers))
    finally:
        asyncio.run(auth.aclose())
    new = (NOW + timedelta(days=30)).timestamp()
    assert blocking.user.expires_at == awaited.user.expires_at == new
    assert len(writes(conn)) == 1
