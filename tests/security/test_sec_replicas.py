"""Regression tests for many replicas (issue #15): revoked or signed-out sessions must not be
served from any cache, on any process, beyond what the documentation promises."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from sessiongate._sync import BackgroundLoop
from sessiongate.authjs import AuthJSToken
from sessiongate.errors import ProviderUnavailableError, SessionRevokedError
from sessiongate.gate import SessionGate
from sessiongate.jws import BearerJWT
from sessiongate.revocation import Revocable, Revocation, RevocationMirror
from sessiongate.stores.base import SessionRecord
from sessiongate.stores.cache import CachedStore
from sessiongate.stores.notify import Listener
from sessiongate.testing import mint_authjs_v5, mint_hs256
from sg_revocation import MemoryBackend

SECRET = "replicas-security-secret-0123456789abcdef"


def mirror(**options: Any) -> RevocationMirror:
    m = RevocationMirror(MemoryBackend(), **options)
    asyncio.run(m.reload())
    return m


def revoke_user_now(m: RevocationMirror, user: str) -> None:
    now_ms = int(time.time() * 1000)
    m.apply(Revocation("user", user, now_ms + 3_600_000, before_ms=now_ms + 1000))


def test_revoked_token_replayed_from_gate_memo_is_refused() -> None:
    m = mirror()
    gate = SessionGate(Revocable(AuthJSToken(SECRET), m))
    token = mint_authjs_v5({"sub": "victim"}, SECRET)
    headers = {"cookie": f"authjs.session-token={token}"}
    assert gate.authenticate_sync(headers).user.id == "victim"
    assert gate.authenticate_sync(headers).user.id == "victim"  # now answered from the memo
    revoke_user_now(m, "victim")
    with pytest.raises(SessionRevokedError):
        gate.authenticate_sync(headers)
    with pytest.raises(SessionRevokedError):
        asyncio.run(gate.authenticate(headers))


def test_stolen_jwt_replayed_after_jti_revocation_is_refused() -> None:
    m = mirror()
    gate = SessionGate(Revocable(BearerJWT(SECRET + "-jwt"), m))
    token = mint_hs256({"sub": "u1", "jti": "stolen"}, SECRET + "-jwt")
    headers = {"authorization": f"Bearer {token}"}
    assert gate.authenticate_sync(headers).user.id == "u1"
    m.apply(Revocation("jti", "stolen", int(time.time() * 1000) + 60_000))
    with pytest.raises(SessionRevokedError):
        gate.authenticate_sync(headers)


def test_token_without_iat_cannot_escape_user_revocation() -> None:
    m = mirror()
    gate = SessionGate(Revocable(BearerJWT(SECRET + "-jwt"), m))
    # a hand-rolled token that omits iat (jose's SignJWT without setIssuedAt)
    no_iat = jwt.encode({"sub": "u1", "exp": int(time.time()) + 60}, SECRET + "-jwt")
    headers = {"authorization": f"Bearer {no_iat}"}
    assert gate.authenticate_sync(headers).user.id == "u1"
    revoke_user_now(m, "u1")
    with pytest.raises(SessionRevokedError):
        gate.authenticate_sync(headers)


def test_forged_notify_cannot_unrevoke_a_revoked_user() -> None:
    now_ms = int(time.time() * 1000)
    backend = MemoryBackend([Revocation("user", "victim", now_ms + 3_600_000, before_ms=now_ms)])
    m = RevocationMirror(backend)
    asyncio.run(m.reload())
    gate = SessionGate(Revocable(AuthJSToken(SECRET), m))
    token = mint_authjs_v5({"sub": "victim"}, SECRET, now=time.time() - 60)
    headers = {"cookie": f"authjs.session-token={token}"}
    with pytest.raises(SessionRevokedError):
        gate.authenticate_sync(headers)

    async def forged() -> None:
        # any database role may NOTIFY 'sessiongate', any Redis client may PUBLISH
        m.on_event({"t": "unrev", "k": "user", "s": "victim"})
        m.on_event({"t": "rev", "k": "user", "s": "victim", "b": 1, "x": now_ms + 10})
        while m.confirmed < 2:
            await asyncio.sleep(0.001)

    asyncio.run(forged())
    with pytest.raises(SessionRevokedError):
        gate.authenticate_sync(headers)


def test_forged_revocation_event_is_withdrawn_once_checked() -> None:
    m = mirror()
    gate = SessionGate(Revocable(AuthJSToken(SECRET), m))
    headers = {"cookie": f"authjs.session-token={mint_authjs_v5({'sub': 'u1'}, SECRET)}"}

    async def forged() -> None:
        later = int(time.time() * 1000) + 10**7
        m.on_event({"t": "rev", "k": "user", "s": "u1", "b": later, "x": later})
        with pytest.raises(SessionRevokedError):  # applied at once: the stricter side
            gate.authenticate_sync(headers)
        while m.confirmed < 1:
            await asyncio.sleep(0.001)

    asyncio.run(forged())
    assert gate.authenticate_sync(headers).user.id == "u1"  # the store has no such record


def test_partitioned_replica_fails_closed_instead_of_serving_revoked_tokens() -> None:
    clock = [1000.0]
    m = mirror(timer=lambda: clock[0], max_stale=5.0)
    gate = SessionGate(Revocable(AuthJSToken(SECRET), m))
    headers = {"cookie": f"authjs.session-token={mint_authjs_v5({'sub': 'u1'}, SECRET)}"}
    assert gate.authenticate_sync(headers).user.id == "u1"
    clock[0] += 6  # no ping proved the listener for longer than max_stale
    with pytest.raises(ProviderUnavailableError) as caught:
        gate.authenticate_sync(headers)
    assert caught.value.status_code == 503


class SlowStore:
    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def load(self, token: str) -> SessionRecord | None:
        self.started.set()
        await self.release.wait()
        # the row as read before the JS side's DELETE committed
        return SessionRecord(
            session_token=token, user_id="u1", expires=datetime.now(UTC) + timedelta(days=1)
        )

    async def aclose(self) -> None:
        return None


def test_lookup_in_flight_during_sign_out_cannot_recache_the_session() -> None:
    store = SlowStore()
    cache = CachedStore(store, ttl=60)

    async def run() -> None:
        lookup = asyncio.create_task(cache.load("tok"))
        await store.started.wait()
        cache.invalidate_user("u1")  # the NOTIFY of the sign-out arrives meanwhile
        store.release.set()
        assert await lookup is not None  # this request saw the row; the next one must not
        assert cache.is_missing(cache.get_cached("tok"))

    asyncio.run(run())


class FlakyListener(Listener):
    """Connects, then loses its connection once."""

    kind = "test"

    def __init__(self, **options: Any) -> None:
        super().__init__(ping_interval=0.05, **options)
        self.serves = 0

    async def _connect(self) -> None:
        return None

    async def _serve(self) -> None:
        self.serves += 1
        if self.serves == 1:
            await asyncio.sleep(0.05)
            raise ConnectionResetError("dropped")
        while not self._stopping:
            await asyncio.sleep(0.05)
            self._alive()

    async def _disconnect(self) -> None:
        return None


def test_dropped_listener_connection_cannot_extend_a_deleted_session() -> None:
    class Store:
        async def load(self, token: str) -> SessionRecord | None:
            return SessionRecord(
                session_token=token, user_id="u1", expires=datetime.now(UTC) + timedelta(days=1)
            )

        async def aclose(self) -> None:
            return None

    cache = CachedStore(Store(), ttl=3600)
    loop = BackgroundLoop("flaky")
    listener = FlakyListener(background_loop=loop)
    seen: list[str] = []

    class Spy:
        async def on_connected(self) -> None:
            seen.append("connected")
            if len(seen) == 1:
                await cache.load("tok")  # cached while connected

        def on_lost(self) -> None:
            seen.append("lost")

        def on_event(self, event: Mapping[str, Any]) -> None:
            return None

        def on_alive(self, at: float) -> None:
            return None

    listener.subscribe(Spy())
    listener.subscribe_cache(cache)
    try:
        listener.start()
        deadline = time.monotonic() + 5
        while seen.count("connected") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seen[:3] == ["connected", "lost", "connected"]
        # an event may have been missed while it was down: nothing cached survives
        assert cache.is_missing(cache.get_cached("tok"))
    finally:
        loop.run(listener.aclose())
        loop.close()
