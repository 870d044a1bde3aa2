"""Revocation and invalidation on real servers: PostgreSQL LISTEN/NOTIFY, Redis pub/sub and
keyspace notifications, the CLI, and the listener's reconnection."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sessiongate._sync import BackgroundLoop
from sessiongate.cli import main as cli_main
from sessiongate.errors import ProviderUnavailableError, SessionRevokedError
from sessiongate.revocation import RevocationMirror, revoke_token, revoke_user, unrevoke
from sessiongate.revocation.postgres import PostgresRevocations
from sessiongate.revocation.redis import RedisRevocations
from sessiongate.stores.cache import CachedStore
from sessiongate.stores.notify import PostgresListener
from sessiongate.stores.notify_sql import install_sql
from sessiongate.stores.postgres import PostgresStore
from sessiongate.stores.redis import RedisStore
from sessiongate.stores.redis_layouts import BetterAuthRedisLayout
from sessiongate.stores.redis_notify import RedisListener, enable_keyspace_notifications
from stores.pg import execute
from stores.redis_util import better_auth_value, redis_control, sync_client, unique_prefix

TABLES = """
CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT, email TEXT, image TEXT,
  "emailVerified" BOOLEAN NOT NULL DEFAULT false);
CREATE TABLE "session" (id TEXT PRIMARY KEY, token TEXT NOT NULL UNIQUE,
  "userId" TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  "expiresAt" TIMESTAMPTZ NOT NULL, "createdAt" TIMESTAMPTZ NOT NULL DEFAULT now());
INSERT INTO "user" (id, name, email) VALUES ('u1', 'Ada', 'ada@x.io'), ('u2', 'Bob', 'b@x.io');
INSERT INTO "session" (id, token, "userId", "expiresAt") VALUES
  ('s1', 'tok-1', 'u1', now() + interval '1 day'),
  ('s2', 'tok-2', 'u2', now() + interval '1 day');
"""


def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> float:
    """Wait until ``predicate()``; returns the seconds it took (fails after ``timeout``)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)
    return time.monotonic() - start


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli_main(list(argv), stdout=out)
    return code, out.getvalue()


@pytest.fixture
def loop() -> Iterator[BackgroundLoop]:
    background = BackgroundLoop("test-listener")
    try:
        yield background
    finally:
        background.close()


@pytest.fixture
def pg(postgres_dsn: str) -> Iterator[str]:
    """A schema with Better Auth-like tables and the notify SQL installed by the CLI."""
    name = "sg_" + uuid.uuid4().hex[:12]
    execute(postgres_dsn, f'CREATE SCHEMA "{name}"')
    execute(postgres_dsn, f'SET search_path TO "{name}"; {TABLES}')
    url = f"{postgres_dsn}?schema={name}"
    try:
        for _ in range(2):  # idempotent
            code, text = cli(
                "db", "install-notify", "--database-url", url, "--schema", "better-auth", "--apply"
            )
            assert code == 0, text
            assert "installed" in text
        yield url
    finally:
        execute(postgres_dsn, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_install_notify_prints_idempotent_sql_without_apply(postgres_dsn: str) -> None:
    code, text = cli(
        "db", "install-notify", "--database-url", postgres_dsn, "--schema", "authjs-prisma"
    )
    assert code == 0
    assert text.startswith("BEGIN;")
    assert 'AFTER DELETE ON "Session"' in text
    assert 'CREATE TABLE IF NOT EXISTS "sessiongate_revocation"' in text
    assert "sessionToken" not in text.split("pg_notify")[1].split("$$")[0]  # no token sent
    assert install_sql("authjs-pg", db_schema="auth").count('"auth"."sessions"') == 4


@pytest.mark.postgres
def test_postgres_notify_reaches_caches_and_mirror(pg: str, loop: BackgroundLoop) -> None:
    store = CachedStore(PostgresStore(pg, schema="better-auth"), ttl=60)
    listener = PostgresListener(pg, background_loop=loop, ping_interval=0.2)
    listener.subscribe_cache(store)
    mirror = RevocationMirror(PostgresRevocations(pg))
    listener.subscribe(mirror)
    mirror.listener = listener
    listener.start()
    assert listener.wait_connected_sync(10)
    assert mirror.loaded

    async def load(token: str) -> Any:
        return await store.load(token)

    assert loop.run(load("tok-1")) is not None
    assert loop.run(load("tok-2")) is not None
    queries = store.queries
    assert loop.run(load("tok-1")) is not None
    assert store.queries == queries  # served from the cache

    # the JS side deletes a session row: this process forgets it well under a second
    execute(
        pg.split("?")[0], f'DELETE FROM "{pg.split("=")[-1]}"."session" WHERE token = \'tok-1\''
    )
    took = eventually(lambda: store.is_missing(store.get_cached("tok-1")))
    assert took < 1.0
    assert loop.run(load("tok-1")) is None
    assert not store.is_missing(store.get_cached("tok-2"))  # other users' sessions stay

    # the revocation CLI writes a record: the mirror learns it through NOTIFY
    code, text = cli("revoke", "--user", "u2", "--database-url", pg)
    assert code == 0, text
    eventually(lambda: "u2" in mirror.records.users)
    with pytest.raises(SessionRevokedError):
        mirror.check({"sub": "u2", "iat": time.time() - 60})
    code, _ = cli("revoke", "--user", "u2", "--database-url", pg, "--remove")
    assert code == 0
    eventually(lambda: "u2" not in mirror.records.users)

    # the listener's connection is killed: caches cleared, reconnected, mirror reloaded
    loads = mirror.loads
    assert loop.run(load("tok-2")) is not None
    execute(
        pg.split("?")[0],
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'sessiongate-listener'",
    )
    eventually(lambda: store.is_missing(store.get_cached("tok-2")))
    eventually(lambda: listener.connections >= 2 and listener.connected)
    assert mirror.loads > loads
    loop.run(listener.aclose())
    loop.run(store.aclose())


@pytest.mark.postgres
def test_postgres_revocation_api_and_unreachable_store(pg: str) -> None:
    backend = PostgresRevocations(pg)

    async def run() -> None:
        assert await backend.installed()
        before = int(time.time()) - 100
        await revoke_user(backend, "u1", before=before, retention=3600)
        await revoke_user(backend, "u1", before=before - 50, retention=3600)  # the later wins
        await revoke_token(backend, "jti-1", expires=time.time() + 60)
        await revoke_token(backend, "jti-old", expires=time.time() - 60)  # already useless
        records = {(r.kind, r.subject): r for r in await backend.load()}
        assert records[("user", "u1")].before_ms == before * 1000
        assert ("jti", "jti-1") in records
        assert ("jti", "jti-old") not in records
        assert await unrevoke(backend, "jti", "jti-1")
        down = PostgresRevocations("postgresql://postgres@127.0.0.1:1/none", timeout=0.5)
        with pytest.raises(ProviderUnavailableError):
            await down.load()

    asyncio.run(run())


def test_revocation_table_missing_is_503_with_a_hint(postgres_dsn: str) -> None:
    backend = PostgresRevocations(f"{postgres_dsn}?schema=sg_missing_{uuid.uuid4().hex[:6]}")

    async def run() -> None:
        with pytest.raises(ProviderUnavailableError) as caught:
            await backend.load()
        assert "install-notify" in caught.value.message

    asyncio.run(run())


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    prefix = unique_prefix()
    yield prefix
    client = sync_client(redis_url)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_redis_revocation_and_keyspace_invalidation(
    redis_url: str, redis_prefix: str, loop: BackgroundLoop
) -> None:
    code, text = cli("db", "install-notify", "--redis-url", redis_url, "--apply")
    assert code == 0, text
    layout = BetterAuthRedisLayout(prefix=redis_prefix)
    client = sync_client(redis_url)
    client.set(redis_prefix + "tokA", better_auth_value("tokA", "u1"))
    client.set(redis_prefix + "tokB", better_auth_value("tokB", "u2"))
    store = CachedStore(RedisStore(redis_url, layout=layout), ttl=60)
    backend = RedisRevocations(redis_url, prefix=redis_prefix)
    listener = RedisListener(
        redis_url,
        layouts=[layout],
        revocation_channel=backend.channel,
        background_loop=loop,
        ping_interval=0.2,
    )
    listener.subscribe_cache(store)
    mirror = RevocationMirror(backend)
    listener.subscribe(mirror)
    listener.start()
    assert listener.wait_connected_sync(10)
    assert listener.keyspace_enabled is True

    async def load(token: str) -> Any:
        return await store.load(token)

    assert loop.run(load("tokA")) is not None
    assert loop.run(load("tokB")) is not None
    client.delete(redis_prefix + "tokA")  # Better Auth's sign-out
    assert eventually(lambda: store.is_missing(store.get_cached("tokA"))) < 1.0
    assert not store.is_missing(store.get_cached("tokB"))
    # "log out everywhere" writes the mark: that user's cached sessions are dropped
    client.set(redis_prefix + "revoked-sessions-before-u2", str(int(time.time() * 1000) + 5))
    eventually(lambda: store.is_missing(store.get_cached("tokB")))
    assert loop.run(load("tokB")) is None

    code, text = cli("revoke", "--jti", "j-9", "--redis-url", redis_url)
    assert code == 0  # the default prefix: another channel, not seen here
    asyncio.run(revoke_user(backend, "u7"))
    eventually(lambda: "u7" in mirror.records.users)
    asyncio.run(unrevoke(backend, "user", "u7"))
    eventually(lambda: "u7" not in mirror.records.users)

    # the server drops every client: caches cleared, the listener comes back
    client.set(redis_prefix + "tokC", better_auth_value("tokC", "u3"))
    assert loop.run(load("tokC")) is not None
    connections = listener.connections
    redis_control("kill-clients")
    eventually(lambda: listener.connections > connections and listener.connected, timeout=5)
    assert store.is_missing(store.get_cached("tokC"))
    client.close()
    loop.run(listener.aclose())
    loop.run(store.aclose())


def test_keyspace_flags_missing_is_reported(redis_url: str, loop: BackgroundLoop) -> None:
    client = sync_client(redis_url)
    previous = client.config_get("notify-keyspace-events")["notify-keyspace-events"]
    client.config_set("notify-keyspace-events", "")
    try:
        listener = RedisListener(redis_url, layouts=["better-auth"], background_loop=loop)
        listener.start()
        assert listener.wait_connected_sync(10)
        assert listener.keyspace_enabled is False
        loop.run(listener.aclose())
        assert asyncio.run(enable_keyspace_notifications(redis_url)) == "Kg$x"
    finally:
        client.config_set("notify-keyspace-events", previous or "")
        client.close()


def test_revoke_cli_usage_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    code, text = cli("revoke", "--user", "u1")
    assert code == 2
    assert "--database-url" in text
    code, text = cli(
        "revoke",
        "--user",
        "u1",
        "--redis-url",
        "redis://127.0.0.1:1/0",
        "--database-url",
        "postgresql://x@127.0.0.1:1/x",
    )
    assert code == 2
    code, text = cli("revoke", "--jti", "j", "--redis-url", "redis://:pw-secret@127.0.0.1:1/0")
    assert code == 1
    assert "pw-secret" not in text
    code, text = cli("db", "install-notify")
    assert code == 2


def test_revocation_table_alone_for_token_only_apps(postgres_dsn: str) -> None:
    # an app with JWE sessions only: no session tables, just the revocation list
    name = "sg_" + uuid.uuid4().hex[:12]
    execute(postgres_dsn, f'CREATE SCHEMA "{name}"')
    try:
        url = f"{postgres_dsn}?schema={name}"
        code, text = cli("db", "install-notify", "--database-url", url, "--schema", "none")
        assert code == 0
        assert "TRIGGER sessiongate_session" not in text
        code, text = cli(
            "db", "install-notify", "--database-url", url, "--schema", "none", "--apply"
        )
        assert code == 0, text
        backend = PostgresRevocations(url)
        before = datetime(2026, 1, 1, tzinfo=UTC)
        retention = (datetime.now(UTC) - before + timedelta(days=1)).total_seconds()
        asyncio.run(revoke_user(backend, "tz", before=before.timestamp(), retention=retention))
        (record,) = asyncio.run(backend.load())
        assert record.before_ms == int(before.timestamp() * 1000)
    finally:
        execute(postgres_dsn, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
