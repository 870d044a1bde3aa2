"""Better Auth with ``secondaryStorage`` on a real Redis, and the Auth.js unstorage adapter.

better-auth 1.7.25 keeps its sessions in Redis through ``@better-auth/redis-storage`` (ioredis,
``keyPrefix``), users in PostgreSQL. It signs users in and out and revokes sessions; for every
request sessiongate must decide exactly as Better Auth's own ``get-session`` does (a user or
``null``). The Auth.js half drives ``@auth/unstorage-adapter`` on unstorage's Redis driver.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest

from sessiongate.errors import SessionGateError
from sessiongate.gate import SessionGate
from sessiongate.sessions import BetterAuthSession, DatabaseSession
from sessiongate.stores.redis import RedisStore
from sessiongate.stores.redis_layouts import AuthJSRedisLayout, BetterAuthRedisLayout

from .db_driver import call, temp_schema

pytestmark = [pytest.mark.node, pytest.mark.postgres]

ORACLE = Path(__file__).resolve().parent / "db" / "redis_oracle.mjs"
SECRET = "interop-better-auth-redis-secret-0123456789"
PASSWORD = "correct horse battery staple"


def node(node_bin: str, op: str, **params: Any) -> Any:
    return call(node_bin, op, script=ORACLE, **params)


@pytest.fixture
def ba(postgres_dsn: str, redis_url: str, node_bin: str) -> Iterator[dict[str, Any]]:
    prefix = f"ba{uuid.uuid4().hex[:8]}:"
    with temp_schema(postgres_dsn) as schema:
        params = {
            "dsn": postgres_dsn,
            "schema": schema,
            "redisUrl": redis_url,
            "keyPrefix": prefix,
            "secret": SECRET,
        }
        node(node_bin, "ba.migrate", **params)
        yield params
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def cookie_header(answer: dict[str, Any]) -> str:
    assert answer["status"] == 200, answer
    jar: SimpleCookie = SimpleCookie()
    for header in answer["setCookie"]:
        jar.load(header)
    return f"better-auth.session_token={jar['better-auth.session_token'].value}"


def gate_for(ba: dict[str, Any]) -> SessionGate:
    store = RedisStore(ba["redisUrl"], layout=BetterAuthRedisLayout(prefix=ba["keyPrefix"]))
    return SessionGate(
        BetterAuthSession(secret=SECRET, store=store, cache_ttl=0, negative_cache_ttl=0)
    )


def ours(gate: SessionGate, cookie: str) -> str | None:
    """sessiongate's verdict: the user id, or None when refused with a 401."""

    async def run() -> str | None:
        try:
            result = await gate.authenticate({"cookie": cookie})
        except SessionGateError as err:
            status = err.status_code
        else:
            return str(result.user.id)
        assert status == 401
        return None

    return asyncio.run(run())


def theirs(node_bin: str, ba: dict[str, Any], cookie: str) -> str | None:
    answer = node(node_bin, "ba.getSession", headers={"cookie": cookie}, **ba)
    assert answer["status"] == 200
    return answer["userId"]


def agree(node_bin: str, ba: dict[str, Any], gate: SessionGate, cookie: str) -> str | None:
    expected = theirs(node_bin, ba, cookie)
    assert ours(gate, cookie) == expected
    return expected


def test_sign_in_sign_out_and_revocations_decided_as_get_session(
    node_bin: str, ba: dict[str, Any]
) -> None:
    gate = gate_for(ba)
    user = {"email": "ada@example.com", "password": PASSWORD}
    first = cookie_header(node(node_bin, "ba.signup", name="Ada", **user, **ba))
    second = cookie_header(node(node_bin, "ba.signin", **user, **ba))
    third = cookie_header(node(node_bin, "ba.signin", **user, **ba))
    user_id = agree(node_bin, ba, gate, first)
    assert user_id is not None
    assert agree(node_bin, ba, gate, second) == user_id

    # sign-out deletes the token's key: refused by both
    assert node(node_bin, "ba.signOut", headers={"cookie": first}, **ba)["status"] == 200
    assert agree(node_bin, ba, gate, first) is None
    assert agree(node_bin, ba, gate, second) == user_id

    # "log out everywhere" (deleteUserSessions): keys deleted and the revocation mark written
    assert node(node_bin, "ba.revokeSessions", headers={"cookie": second}, **ba)["status"] == 200
    assert agree(node_bin, ba, gate, second) is None
    assert agree(node_bin, ba, gate, third) is None

    # a new sign-in after the mark is valid again
    time.sleep(0.01)
    fourth = cookie_header(node(node_bin, "ba.signin", **user, **ba))
    assert agree(node_bin, ba, gate, fourth) == user_id


def test_revocation_mark_alone_refuses_older_sessions_as_get_session(
    node_bin: str, ba: dict[str, Any]
) -> None:
    gate = gate_for(ba)
    user = {"email": "bob@example.com", "password": PASSWORD}
    answer = node(node_bin, "ba.signup", name="Bob", **user, **ba)
    cookie = cookie_header(answer)
    user_id = agree(node_bin, ba, gate, cookie)
    assert user_id is not None
    # the key survives (a delete that failed), only the mark says "revoked before now"
    mark = str(int(time.time() * 1000) + 1000)
    node(node_bin, "ba.storageSet", key=f"revoked-sessions-before-{user_id}", value=mark, **ba)
    assert agree(node_bin, ba, gate, cookie) is None
    # a mark that is not a number revokes nothing (Number("soon") is NaN)
    node(node_bin, "ba.storageSet", key=f"revoked-sessions-before-{user_id}", value="soon", **ba)
    assert agree(node_bin, ba, gate, cookie) == user_id


def test_unknown_and_forged_tokens_refused_by_both(node_bin: str, ba: dict[str, Any]) -> None:
    gate = gate_for(ba)
    user = {"email": "eve@example.com", "password": PASSWORD}
    answer = node(node_bin, "ba.signup", name="Eve", **user, **ba)
    cookie = cookie_header(answer)
    forged = cookie[:-6] + ("AAAA%3D" if not cookie.endswith("AAAA%3D") else "BBBB%3D")
    assert agree(node_bin, ba, gate, forged) is None
    assert agree(node_bin, ba, gate, "better-auth.session_token=nothing.here") is None


def test_authjs_unstorage_adapter_sessions(node_bin: str, redis_url: str) -> None:
    base = f"aj{uuid.uuid4().hex[:8]}"
    params = {"redisUrl": redis_url, "base": base}
    created = node(node_bin, "authjs.create", name="Ada", email="ada@example.com", **params)
    store = RedisStore(redis_url, layout=AuthJSRedisLayout(base_prefix=base + ":"))
    gate = SessionGate(DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0))
    token = created["sessionToken"]
    cookie = f"authjs.session-token={token}"

    def verdict() -> str | None:
        expected = node(node_bin, "authjs.getSessionAndUser", sessionToken=token, **params)
        got = ours(gate, cookie)
        assert got == (expected and expected["userId"])
        return got

    assert verdict() == created["userId"]
    past = "2020-01-01T00:00:00.000Z"
    node(node_bin, "authjs.updateSession", sessionToken=token, expiresAt=past, **params)
    assert verdict() is None
    future = "2099-01-01T00:00:00.000Z"
    node(node_bin, "authjs.updateSession", sessionToken=token, expiresAt=future, **params)
    assert verdict() == created["userId"]
    node(node_bin, "authjs.deleteSession", sessionToken=token, **params)
    assert verdict() is None
