"""SessionLookup (sessiongate.sessions): how blocking callers reach a store, and what the
database-backed authenticators prepare once.

A store with ``load_sync`` (SQLite) is asked in the calling thread: no background event loop,
no worker thread. A store without it (PostgreSQL) runs on the background loop. Better Auth
secrets are prepared at construction, never per request.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

import sessiongate.betterauth as betterauth_module
from sessiongate._sync import BackgroundLoop
from sessiongate.betterauth import sign_cookie_value
from sessiongate.errors import ConfigurationError, SessionNotFoundError
from sessiongate.sessions import BetterAuthSession, DatabaseSession, SessionLookup
from sessiongate.stores import CachedStore, SQLiteStore

from .helpers import NOW_TS, FakeStore, creds, make_prisma_sqlite, record


class NoLoop(BackgroundLoop):
    """A background loop that must not be used."""

    def run(self, coro, timeout=None):  # type: ignore[no-untyped-def]
        coro.close()
        raise AssertionError("the background loop was used")


@pytest.fixture
def sqlite_path(tmp_path):
    path = tmp_path / "app.db"
    make_prisma_sqlite(path).close()
    return path


def test_blocking_lookup_asks_sqlite_in_the_calling_thread_without_the_loop(sqlite_path):
    store = SQLiteStore(sqlite_path)
    threads: list[threading.Thread] = []
    query = store._query

    def spy(token: str):
        threads.append(threading.current_thread())
        return query(token)

    store._query = spy  # type: ignore[method-assign]
    auth = DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0, background_loop=NoLoop())
    try:
        verified = auth.authenticate_sync(creds({"authjs.session-token": "tok-valid"}), NOW_TS)
        assert verified is not None and verified.claims["sub"] == "u1"
        with pytest.raises(SessionNotFoundError):
            auth.authenticate_sync(creds({"authjs.session-token": "tok-none"}), NOW_TS)
        assert threads == [threading.current_thread()] * 2
        assert auth.store.answers_sync and auth.store.queries == 2
    finally:
        asyncio.run(auth.aclose())


def test_blocking_lookup_shares_the_cache_with_the_async_path(sqlite_path):
    auth = DatabaseSession(SQLiteStore(sqlite_path), cache_ttl=60, background_loop=NoLoop())
    try:
        cookie = creds({"authjs.session-token": "tok-valid"})
        asyncio.run(auth.authenticate(cookie, NOW_TS))
        assert auth.authenticate_sync(cookie, NOW_TS) is not None
        assert auth.store.queries == 1
    finally:
        asyncio.run(auth.aclose())


def test_blocking_lookup_runs_a_store_without_load_sync_on_the_background_loop():
    store = FakeStore({"tok": record("tok")})
    seen: list[threading.Thread] = []
    load = store.load

    async def spy(token: str):
        seen.append(threading.current_thread())
        return await load(token)

    store.load = spy  # type: ignore[method-assign]
    loop = BackgroundLoop(name="lookup-test-loop")
    lookup = SessionLookup(store, source="database", cache_ttl=0, background_loop=loop)
    try:
        assert not lookup.store.answers_sync
        verified = lookup.verify_sync("tok", "cookie", NOW_TS)
        assert verified.claims["sub"] == "u1" and verified.source == "database"
        assert [t.name for t in seen] == ["lookup-test-loop"]
        with pytest.raises(TypeError):
            lookup.store.load_sync("tok")
    finally:
        loop.close()


def test_session_lookup_validates_at_construction():
    with pytest.raises(ConfigurationError):
        SessionLookup(object(), source="database")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        SessionLookup(FakeStore(), source="database", blocking_timeout=0)
    cached = CachedStore(FakeStore())
    assert SessionLookup(cached, source="database").store is cached  # not wrapped twice


def test_better_auth_secrets_are_prepared_once_not_per_request(sqlite_path, monkeypatch):
    calls = 0
    real = betterauth_module.secret_list

    def counting(*args, **kwargs):
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(betterauth_module, "secret_list", counting)
    auth = BetterAuthSession(secret=["new-secret", "old-secret"], cookie_cache="compact")
    assert calls == 1
    cookie = creds({"better-auth.session_token": sign_cookie_value("tok", "new-secret")})
    for _ in range(5):
        with pytest.raises(SessionNotFoundError):  # no cache cookie, no store
            auth.authenticate_sync(cookie, NOW_TS)
    bearer = creds(authorization="Bearer " + sign_cookie_value("tok", "new-secret"))
    with pytest.raises(SessionNotFoundError):
        auth.authenticate_sync(bearer, NOW_TS)
    assert calls == 1
    assert auth.sessions is None and auth.store is None  # cache only: no half-built lookup
