"""Start-up detection: what attach_replicas finds in PostgreSQL and Redis, and wires."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest

from sessiongate.authjs import AuthJSToken
from sessiongate.errors import ProviderUnavailableError, SessionRevokedError
from sessiongate.gate import SessionGate
from sessiongate.jws import BearerJWT
from sessiongate.replicas import attach_replicas
from sessiongate.revocation import Revocable, RevocationMirror, revoke_user
from sessiongate.revocation.postgres import PostgresRevocations
from sessiongate.revocation.redis import RedisRevocations
from sessiongate.sessions import BetterAuthSession, DatabaseSession
from sessiongate.stores.notify import PostgresListener
from sessiongate.stores.notify_sql import install_sql
from sessiongate.stores.postgres import PostgresStore
from sessiongate.stores.redis import RedisStore
from sessiongate.stores.redis_notify import RedisListener
from sessiongate.testing import mint_authjs_v5
from stores.pg import execute

SECRET = "replicas-setup-secret-0123456789abcdef"


@pytest.fixture
def schema(postgres_dsn: str) -> Iterator[str]:
    name = "sg_" + uuid.uuid4().hex[:12]
    execute(postgres_dsn, f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        execute(postgres_dsn, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_nothing_installed_means_nothing_attached(postgres_dsn: str, schema: str) -> None:
    setup = attach_replicas(
        [AuthJSToken(SECRET)], database_url=f"{postgres_dsn}?schema={schema}", redis_url=None
    )
    assert setup.listeners == []
    assert not isinstance(setup.authenticators[0], Revocable)
    assert setup.describe() == []


def test_installed_table_makes_tokens_revocable_and_caches_listen(
    postgres_dsn: str, schema: str
) -> None:
    execute(postgres_dsn, install_sql(None, db_schema=schema))
    url = f"{postgres_dsn}?schema={schema}"
    database = DatabaseSession(PostgresStore(url, schema="authjs-prisma"))
    setup = attach_replicas([AuthJSToken(SECRET), database], database_url=url, redis_url=None)
    assert isinstance(setup.authenticators[0], Revocable)
    assert setup.authenticators[1] is database
    (listener,) = setup.listeners
    assert isinstance(listener, PostgresListener)
    assert setup.describe() == [
        "cross-replica invalidation: none, sessions cached up to cache_ttl "
        "(sessiongate db install-notify)",
        "revocation: PostgreSQL table sessiongate_revocation",
    ]
    gate = SessionGate(*setup.authenticators)
    token = mint_authjs_v5({"sub": "u1"}, SECRET, now=time.time() - 5)
    headers = {"cookie": f"authjs.session-token={token}"}
    try:
        assert setup.start(wait=10)
        assert gate.authenticate_sync(headers).user.id == "u1"
        asyncio.run(revoke_user(PostgresRevocations(url), "u1"))
        deadline = time.monotonic() + 3
        while True:
            try:
                gate.authenticate_sync(headers)
            except SessionRevokedError:
                break
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        listener.close()


def test_unreachable_database_at_start_fails_closed() -> None:
    url = "postgresql://postgres@127.0.0.1:1/none"
    setup = attach_replicas([AuthJSToken(SECRET)], database_url=url, redis_url=None)
    assert isinstance(setup.authenticators[0], Revocable)
    assert "unreachable at start" in setup.describe()[0]
    gate = SessionGate(*setup.authenticators)
    token = mint_authjs_v5({"sub": "u1"}, SECRET)
    try:
        with pytest.raises(ProviderUnavailableError):  # never loaded: 503, not a silent pass
            gate.authenticate_sync({"cookie": f"authjs.session-token={token}"})
    finally:
        for listener in setup.listeners:  # the mirror started it: it would retry forever
            listener.close()


def test_redis_url_attaches_keyspace_and_revocation(redis_url: str) -> None:
    store = RedisStore(redis_url, layout="better-auth")
    better_auth = BetterAuthSession(secret=SECRET, store=store)
    setup = attach_replicas(
        [BearerJWT(SECRET + "-jwt"), better_auth], database_url=None, redis_url=redis_url
    )
    (listener,) = setup.listeners
    assert isinstance(listener, RedisListener)
    assert listener.layouts == (store.layout,)
    assert listener.revocation_channel == RedisRevocations(redis_url).channel
    assert isinstance(setup.authenticators[0], Revocable)
    assert setup.describe() == [
        "cross-replica invalidation: Redis keyspace notifications",
        "revocation: Redis hashes sessiongate:revoked-users / -tokens",
    ]


def test_database_unreachable_at_start_then_no_table_means_no_revocation(
    postgres_dsn: str, schema: str
) -> None:
    # what detection could not tell at start: 503 until the store answers; a store without the
    # table then holds no revocation list, and tokens are accepted without keeping it fresh
    backend = PostgresRevocations(f"{postgres_dsn}?schema={schema}", required=False)
    mirror = RevocationMirror(backend, max_stale=0.01)
    gate = SessionGate(Revocable(AuthJSToken(SECRET), mirror))
    headers = {"cookie": f"authjs.session-token={mint_authjs_v5({'sub': 'u1'}, SECRET)}"}
    with pytest.raises(ProviderUnavailableError):
        gate.authenticate_sync(headers)
    asyncio.run(mirror.reload())
    assert backend.found_table is False
    time.sleep(0.05)  # far beyond max_stale: no freshness needed for an absent list
    assert gate.authenticate_sync(headers).user.id == "u1"


def test_from_env_with_redis_url_reads_better_auth_from_redis_and_revokes(
    redis_url: str,
) -> None:
    from sessiongate.betterauth import sign_cookie_value
    from stores.redis_util import better_auth_value, sync_client, unique_prefix

    prefix = unique_prefix()
    env = {
        "AUTH_SECRET": SECRET,
        "BETTER_AUTH_SECRET": SECRET + "-ba",
        "REDIS_URL": redis_url,
        "SESSIONGATE_REDIS_PREFIX": prefix,
    }
    client = sync_client(redis_url)
    client.set(prefix + "tokE", better_auth_value("tokE", "u9"))
    try:
        gate = SessionGate.from_env(env)
        names = [type(a).__name__ for a in gate.authenticators]
        assert names == ["Revocable", "BetterAuthSession"]
        signed = sign_cookie_value("tokE", SECRET + "-ba")
        assert (
            gate.authenticate_sync({"cookie": f"better-auth.session_token={signed}"}).user.id
            == "u9"
        )
        token = mint_authjs_v5({"sub": "u9"}, SECRET, now=time.time() - 5)
        headers = {"cookie": f"authjs.session-token={token}"}
        assert gate.authenticate_sync(headers).user.id == "u9"
        backend = RedisRevocations(redis_url)  # the default prefix: what from_env listens to
        asyncio.run(revoke_user(backend, "u9"))
        deadline = time.monotonic() + 3
        while True:
            try:
                gate.authenticate_sync(headers)
            except SessionRevokedError:
                break
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        client.hdel(RedisRevocations(redis_url).users_key, "u9")
        client.delete(prefix + "tokE")
        client.close()


def test_gate_aclose_stops_the_listeners_from_env_started() -> None:
    """A gate from ``from_env`` owns the cross-replica listeners it started: ``aclose`` stops
    them (they would retry a database that is down forever)."""
    env = {"AUTH_SECRET": SECRET, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"}
    gate = SessionGate.from_env(env)
    listeners = list(gate._replicas.listeners)
    assert listeners and all(listener._task is not None for listener in listeners)
    tasks = [listener._task for listener in listeners]
    asyncio.run(gate.aclose())
    assert all(listener._task is None for listener in listeners)
    deadline = time.monotonic() + 5
    while not all(task.done() for task in tasks):  # cancelled on the background loop
        assert time.monotonic() < deadline
        time.sleep(0.01)
    asyncio.run(gate.aclose())  # idempotent
