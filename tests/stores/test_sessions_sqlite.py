"""DatabaseSession (sessiongate.sessions) end to end on the embedded SQLite store."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import replace
from datetime import timedelta

import pytest

from sessiongate.errors import (
    ConfigurationError,
    ExpiredTokenError,
    MalformedTokenError,
    ProviderUnavailableError,
    SessionNotFoundError,
)
from sessiongate.gate import SessionGate
from sessiongate.sessions import DatabaseSession
from sessiongate.stores import PRESETS, SQLiteStore, open_store

from .helpers import NOW, NOW_TS, creds, make_prisma_sqlite, naive_utc

SCHEMA = PRESETS["authjs-prisma"].with_extra(["role", "permissions"], json_columns=["permissions"])


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "app.db"
    conn = make_prisma_sqlite(path)
    yield path, conn
    conn.close()


@pytest.fixture
def auth(db):
    store = SQLiteStore(db[0], schema=SCHEMA)
    authenticator = DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0)
    yield authenticator
    asyncio.run(authenticator.aclose())


def run(auth, credentials, now=NOW_TS):
    return asyncio.run(auth.authenticate(credentials, now))


def test_valid_session_shapes_claims(auth):
    verified = run(auth, creds({"authjs.session-token": "tok-valid"}))
    assert verified.source == "database"
    assert verified.credential == "cookie"
    claims = dict(verified.claims)
    assert claims["sub"] == "u1"
    assert claims["email"] == "ada@example.com"
    assert claims["name"] == "Ada"
    assert claims["image"] == "https://img/ada.png"
    assert claims["role"] == "admin"
    assert claims["permissions"] == ["read", "write"]
    assert claims["session"]["expires"] == "2026-05-31T12:00:00Z"
    assert verified.expires_at == (NOW + timedelta(days=30)).timestamp()
    assert "tok-valid" not in repr(claims)


def test_gate_builds_user_with_roles_and_permissions(auth):
    gate = SessionGate(auth, clock=lambda: NOW_TS)
    user = asyncio.run(gate.authenticate({"cookie": "next-auth.session-token=tok-valid"})).user
    assert user.id == "u1"
    assert user.roles == frozenset({"admin"})
    assert user.permissions == frozenset({"read", "write"})
    assert user.source == "database"


def test_unknown_token_is_session_not_found(auth):
    with pytest.raises(SessionNotFoundError) as info:
        run(auth, creds({"authjs.session-token": "no-such-token"}))
    assert info.value.code == "session_not_found"
    assert info.value.status_code == 401


def test_expired_session_is_expired(auth):
    with pytest.raises(ExpiredTokenError) as info:
        run(auth, creds({"authjs.session-token": "tok-expired"}))
    assert info.value.code == "expired"


def test_expiry_boundary_is_strict_like_authjs(auth):
    expires = (NOW + timedelta(days=30)).timestamp()
    assert run(auth, creds({"authjs.session-token": "tok-valid"}), now=expires) is not None
    with pytest.raises(ExpiredTokenError):
        run(auth, creds({"authjs.session-token": "tok-valid"}), now=expires + 0.001)


def test_jwe_cookie_is_not_ours(auth):
    jwe = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIn0..aXY.Y3Q.dGFn"
    assert run(auth, creds({"authjs.session-token": jwe})) is None
    assert run(auth, creds({}, authorization="Bearer a.b.c")) is None


def test_nothing_presented_is_none(auth):
    assert run(auth, creds({"other": "x"})) is None
    assert run(auth, creds({}, authorization="Basic dXNlcjpwYXNz")) is None


def test_bearer_session_token(auth):
    verified = run(auth, creds({}, authorization="Bearer tok-valid"))
    assert verified.credential == "bearer"
    assert verified.claims["sub"] == "u1"


def test_bearer_can_be_disabled(db):
    auth = DatabaseSession(SQLiteStore(db[0], schema=SCHEMA), accept_bearer=False)
    try:
        assert run(auth, creds({}, authorization="Bearer tok-valid")) is None
    finally:
        asyncio.run(auth.aclose())


def test_secure_cookie_no_downgrade(auth):
    # a bad __Secure- cookie is not rescued by a valid plain one
    with pytest.raises(SessionNotFoundError):
        run(
            auth,
            creds({"__Secure-authjs.session-token": "forged", "authjs.session-token": "tok-valid"}),
        )
    ok = run(
        auth,
        creds({"__Secure-next-auth.session-token": "tok-valid", "authjs.session-token": "x"}),
    )
    assert ok.claims["sub"] == "u1"


def test_custom_cookie_name(db):
    auth = DatabaseSession(SQLiteStore(db[0], schema=SCHEMA), cookie_names=["my.sid"])
    try:
        assert run(auth, creds({"my.sid": "tok-valid"})).claims["sub"] == "u1"
    finally:
        asyncio.run(auth.aclose())
    with pytest.raises(ConfigurationError):
        DatabaseSession(SQLiteStore(db[0], schema=SCHEMA), cookie_names="my.sid")


@pytest.mark.parametrize("junk", ["has space", "semi;colon", "x" * 513, 'quote"d', "é"])
def test_junk_tokens_never_reach_the_database(auth, junk):
    with pytest.raises(MalformedTokenError):
        run(auth, creds({"authjs.session-token": junk}))
    assert auth.store.queries == 0


def test_sql_injection_token_is_a_bind_parameter(auth):
    with pytest.raises(SessionNotFoundError):
        run(auth, creds({}, authorization="Bearer x'OR'1'='1"))


def test_cache_hit_rechecks_expiry(db):
    path, conn = db
    conn.execute(
        'INSERT INTO "Session" VALUES (?, ?, ?)',
        ("tok-soon", "u1", naive_utc(NOW + timedelta(seconds=2))),
    )
    conn.commit()
    auth = DatabaseSession(SQLiteStore(path, schema=SCHEMA), cache_ttl=60)
    try:
        first = run(auth, creds({"authjs.session-token": "tok-soon"}))
        assert run(auth, creds({"authjs.session-token": "tok-soon"})) is first  # memoised
        with pytest.raises(ExpiredTokenError):
            run(auth, creds({"authjs.session-token": "tok-soon"}), now=NOW_TS + 3)
        assert auth.store.queries == 1
    finally:
        asyncio.run(auth.aclose())


def test_revocation_is_seen_after_the_ttl(db):
    path, conn = db
    auth = DatabaseSession(SQLiteStore(path, schema=SCHEMA), cache_ttl=0.2, negative_cache_ttl=0)
    try:
        run(auth, creds({"authjs.session-token": "tok-valid"}))
        conn.execute('DELETE FROM "Session" WHERE "sessionToken" = ?', ("tok-valid",))
        conn.commit()
        run(auth, creds({"authjs.session-token": "tok-valid"}))  # still cached
        import time

        time.sleep(0.25)
        with pytest.raises(SessionNotFoundError):
            run(auth, creds({"authjs.session-token": "tok-valid"}))
    finally:
        asyncio.run(auth.aclose())


def test_blocking_path_answers_found_unknown_and_expired_sessions(auth):
    gate = SessionGate(auth, clock=lambda: NOW_TS)
    headers = {"cookie": "authjs.session-token=tok-valid"}
    assert gate.authenticate_sync(headers).user.id == "u1"
    with pytest.raises(SessionNotFoundError):
        gate.authenticate_sync({"cookie": "authjs.session-token=nope"})
    with pytest.raises(ExpiredTokenError):
        gate.authenticate_sync({"cookie": "authjs.session-token=tok-expired"})


def test_blocking_path_from_many_threads(db):
    auth = DatabaseSession(SQLiteStore(db[0], schema=SCHEMA), cache_ttl=60)
    gate = SessionGate(auth, clock=lambda: NOW_TS)
    errors: list[BaseException] = []

    def worker():
        try:
            for _ in range(20):
                assert gate.authenticate_sync({"cookie": "authjs.session-token=tok-valid"}).user.id
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert auth.store.queries <= 8
    asyncio.run(auth.aclose())


def test_locked_database_times_out_as_503(db):
    path, _ = db
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        store = SQLiteStore(path, schema=SCHEMA, timeout=0.2)
        auth = DatabaseSession(store, cache_ttl=0)
        with pytest.raises(ProviderUnavailableError) as info:
            run(auth, creds({"authjs.session-token": "tok-valid"}))
        assert info.value.status_code == 503
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    # recovers once the lock is gone
    assert run(auth, creds({"authjs.session-token": "tok-valid"})).claims["sub"] == "u1"
    asyncio.run(auth.aclose())


def test_runaway_query_is_interrupted(tmp_path, db):
    path, conn = db
    # a view whose scan never ends stands in for a hanging query
    conn.executescript(
        """
        CREATE VIEW "SlowSession" AS
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
        SELECT s.* FROM "Session" s, n WHERE n.i < 0;
        """
    )
    schema = replace(SCHEMA, session_table="SlowSession")
    auth = DatabaseSession(SQLiteStore(path, schema=schema, timeout=0.2), cache_ttl=0)
    with pytest.raises(ProviderUnavailableError, match="in time"):
        run(auth, creds({"authjs.session-token": "tok-valid"}))
    asyncio.run(auth.aclose())


def test_missing_table_is_503_not_401(tmp_path):
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    auth = DatabaseSession(SQLiteStore(path, schema="better-auth"), cache_ttl=0)
    with pytest.raises(ProviderUnavailableError):
        run(auth, creds({"authjs.session-token": "tok-valid"}))
    asyncio.run(auth.aclose())


def test_store_is_read_only(db):
    store = SQLiteStore(db[0], schema=SCHEMA)
    conn = store._connection()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute('DELETE FROM "Session"')
    asyncio.run(store.aclose())


def test_open_store_urls(tmp_path, db):
    store = open_store(f"sqlite:///{db[0]}", schema="authjs-prisma")
    assert isinstance(store, SQLiteStore)
    asyncio.run(store.aclose())
    with pytest.raises(ConfigurationError):
        open_store("sqlite:relative.db", schema="authjs-prisma")
    with pytest.raises(ConfigurationError):
        SQLiteStore(":memory:")


def test_closed_store_is_503(db):
    store = SQLiteStore(db[0], schema=SCHEMA)
    asyncio.run(store.aclose())
    with pytest.raises(ProviderUnavailableError):
        asyncio.run(store.load("tok-valid"))
