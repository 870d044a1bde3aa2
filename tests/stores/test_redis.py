"""The Redis store on a real redis-server: both layouts, revocation marks, outages, recovery."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from sessiongate.betterauth import sign_cookie_value
from sessiongate.errors import (
    ConfigurationError,
    ExpiredTokenError,
    ProviderUnavailableError,
    SessionNotFoundError,
)
from sessiongate.sessions import BetterAuthSession, DatabaseSession
from sessiongate.stores.redis import RedisStore
from sessiongate.stores.redis_layouts import AuthJSRedisLayout, BetterAuthRedisLayout

from .helpers import creds
from .redis_util import better_auth_value, redis_control, sync_client, unique_prefix

SECRET = "better-auth-secret-for-redis-tests-0123456789"


@pytest.fixture
def prefix() -> str:
    return unique_prefix()


@pytest.fixture
def client(redis_url: str, prefix: str) -> Iterator[Any]:
    c = sync_client(redis_url)
    try:
        yield c
    finally:
        keys = list(c.scan_iter(match=prefix + "*"))
        if keys:
            c.delete(*keys)
        c.close()


def ba_cookie(token: str) -> dict[str, str]:
    return {"better-auth.session_token": quote(sign_cookie_value(token, SECRET), safe="")}


def ba_auth(redis_url: str, prefix: str, **options: Any) -> BetterAuthSession:
    store = RedisStore(redis_url, layout=BetterAuthRedisLayout(prefix=prefix), timeout=1.0)
    return BetterAuthSession(
        secret=SECRET, store=store, cache_ttl=0, negative_cache_ttl=0, **options
    )


async def _verify(auth: Any, cookies: dict[str, str]) -> Any:
    return await auth.authenticate(creds(cookies), datetime.now(UTC).timestamp())


def test_better_auth_session_in_secondary_storage(redis_url: str, prefix: str, client: Any) -> None:
    client.set(prefix + "tokA", better_auth_value("tokA", "u1", role="admin"))
    auth = ba_auth(redis_url, prefix)

    async def run() -> None:
        verified = await _verify(auth, ba_cookie("tokA"))
        assert verified.claims["sub"] == "u1"
        assert verified.claims["email"] == "u1@example.com"
        assert "role" not in verified.claims  # extras are opt-in, as with PostgreSQL
        with pytest.raises(SessionNotFoundError):
            await _verify(auth, ba_cookie("unknown"))
        await auth.aclose()

    asyncio.run(run())


def test_signed_out_session_key_deleted_is_refused(
    redis_url: str, prefix: str, client: Any
) -> None:
    client.set(prefix + "tokB", better_auth_value("tokB", "u2"))
    auth = ba_auth(redis_url, prefix)

    async def run() -> None:
        assert (await _verify(auth, ba_cookie("tokB"))).claims["sub"] == "u2"
        client.delete(prefix + "tokB")
        with pytest.raises(SessionNotFoundError):
            await _verify(auth, ba_cookie("tokB"))
        await auth.aclose()

    asyncio.run(run())


def test_session_created_before_revoked_sessions_before_mark_is_refused(
    redis_url: str, prefix: str, client: Any
) -> None:
    created = datetime.now(UTC) - timedelta(minutes=5)
    client.set(prefix + "old", better_auth_value("old", "u3", created=created))
    client.set(prefix + "new", better_auth_value("new", "u3"))
    mark = int((created + timedelta(minutes=1)).timestamp() * 1000)
    client.set(prefix + "revoked-sessions-before-u3", str(mark))
    auth = ba_auth(redis_url, prefix)

    async def run() -> None:
        with pytest.raises(SessionNotFoundError):
            await _verify(auth, ba_cookie("old"))
        assert (await _verify(auth, ba_cookie("new"))).claims["sub"] == "u3"
        await auth.aclose()

    asyncio.run(run())


def test_expired_session_in_redis_is_expired(redis_url: str, prefix: str, client: Any) -> None:
    past = datetime.now(UTC) - timedelta(seconds=5)
    client.set(prefix + "exp", better_auth_value("exp", "u4", expires=past))
    auth = ba_auth(redis_url, prefix)

    async def run() -> None:
        with pytest.raises(ExpiredTokenError):
            await _verify(auth, ba_cookie("exp"))
        await auth.aclose()

    asyncio.run(run())


def test_authjs_adapter_layout_with_database_session(
    redis_url: str, prefix: str, client: Any
) -> None:
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    client.set(
        prefix + "user:session:sess-1",
        json.dumps({"sessionToken": "sess-1", "userId": "u5", "expires": expires}),
    )
    client.set(prefix + "user:u5", json.dumps({"id": "u5", "email": "e@x.io", "name": "Eve"}))
    store = RedisStore(redis_url, layout=AuthJSRedisLayout(base_prefix=prefix))
    auth = DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0)
    cookies = {"authjs.session-token": "sess-1"}

    async def run() -> None:
        verified = await _verify(auth, cookies)
        assert verified.claims["sub"] == "u5"
        assert verified.claims["name"] == "Eve"
        client.delete(prefix + "user:u5")  # getSessionAndUser needs the user too
        with pytest.raises(SessionNotFoundError):
            await _verify(auth, cookies)
        await auth.aclose()

    asyncio.run(run())


def test_sync_callers_use_the_background_loop(redis_url: str, prefix: str, client: Any) -> None:
    client.set(prefix + "tokS", better_auth_value("tokS", "u6"))
    auth = ba_auth(redis_url, prefix)
    verified = auth.authenticate_sync(creds(ba_cookie("tokS")), datetime.now(UTC).timestamp())
    assert verified is not None
    assert verified.claims["sub"] == "u6"


def test_garbage_value_is_503_not_401(redis_url: str, prefix: str, client: Any) -> None:
    client.set(prefix + "bad", "{not json")
    auth = ba_auth(redis_url, prefix)

    async def run() -> None:
        with pytest.raises(ProviderUnavailableError):
            await _verify(auth, ba_cookie("bad"))
        await auth.aclose()

    asyncio.run(run())


def test_unreachable_redis_is_503_and_recovers_without_restart(
    redis_url: str, prefix: str, client: Any
) -> None:
    client.set(prefix + "tokR", better_auth_value("tokR", "u7"))
    auth = ba_auth(redis_url, prefix)

    async def run() -> None:
        assert (await _verify(auth, ba_cookie("tokR"))).claims["sub"] == "u7"
        redis_control("stop")
        try:
            with pytest.raises(ProviderUnavailableError) as caught:
                await _verify(auth, ba_cookie("tokR"))
            assert caught.value.status_code == 503
        finally:
            redis_control("start")
        # the server lost its data (no persistence): the JS side writes the session again
        client.set(prefix + "tokR", better_auth_value("tokR", "u7"))
        assert (await _verify(auth, ba_cookie("tokR"))).claims["sub"] == "u7"
        await auth.aclose()

    asyncio.run(run())


def test_connection_killed_by_server_is_retried_on_a_fresh_one(
    redis_url: str, prefix: str, client: Any
) -> None:
    client.set(prefix + "tokK", better_auth_value("tokK", "u8"))
    auth = ba_auth(redis_url, prefix)

    async def run() -> None:
        assert (await _verify(auth, ba_cookie("tokK"))).claims["sub"] == "u8"
        redis_control("kill-clients")
        assert (await _verify(auth, ba_cookie("tokK"))).claims["sub"] == "u8"
        await auth.aclose()

    asyncio.run(run())


def test_store_repr_and_errors_never_show_the_password() -> None:
    store = RedisStore("redis://:hunter2-secret@127.0.0.1:1/0", timeout=0.3, connect_timeout=0.2)
    assert "hunter2" not in repr(store)

    async def run() -> None:
        with pytest.raises(ProviderUnavailableError) as caught:
            await store.load("tok")
        assert "hunter2" not in str(caught.value)
        await store.aclose()

    asyncio.run(run())


def test_bad_urls_and_options_fail_at_construction() -> None:
    for url in ("http://x", "", "postgresql://x"):
        with pytest.raises(ConfigurationError):
            RedisStore(url)
    with pytest.raises(ConfigurationError):
        RedisStore("redis://localhost", max_connections=0)
    assert RedisStore("valkey://localhost:6380/2").location == "localhost:6380/2"
