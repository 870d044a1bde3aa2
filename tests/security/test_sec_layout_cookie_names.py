"""``cookie_names`` is the complete list of names to read, and whatever its order every
``__Secure-`` name is read first, with no fallback to a plain one (issue #10, point 5).

A plain cookie can be planted by a sibling subdomain or a plain-HTTP page (login CSRF: the victim
ends up in the attacker's session); a ``__Secure-`` one only by a secure origin. Each
authenticator that reads cookies gets the same rule from the same place
(:func:`sessiongate.cookies.cookie_name_list` and ``RequestCredentials.session_cookies``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.betterauth import sign_cookie_value
from sessiongate.errors import SessionGateError
from sessiongate.sessions import BetterAuthSession, DatabaseSession
from sessiongate.stores.sqlite import SQLiteStore
from sessiongate.testing import mint_authjs_v5, mint_hs256

S = "cookie-names-secret-0123456789abcdef"
BA = "better-auth-secret-0123456789abcdef"
NOW = 1_800_000_000.0


def who(gate: SessionGate, cookie: str) -> str:
    return str(gate.authenticate_sync({"cookie": cookie}).user.id)


def refused(gate: SessionGate, cookie: str) -> str:
    with pytest.raises(SessionGateError) as info:
        gate.authenticate_sync({"cookie": cookie})
    return info.value.code


# ------------------------------------------------------------------ JWS cookies (BearerJWT)


def jws_gate() -> SessionGate:
    # the plain name listed first: the order given must not decide
    return SessionGate(
        BearerJWT(S, cookie_names=["app.jwt", "__Secure-app.jwt"]), clock=lambda: NOW
    )


def test_plain_jws_cookie_cannot_shadow_secure_jws_cookie_whatever_the_listed_order():
    planted = "app.jwt=" + mint_hs256({"sub": "attacker"}, S, now=NOW)
    victim = "__Secure-app.jwt=" + mint_hs256({"sub": "victim"}, S, now=NOW)
    assert who(jws_gate(), f"{planted}; {victim}") == "victim"
    assert who(jws_gate(), f"{victim}; {planted}") == "victim"


def test_expired_secure_jws_cookie_does_not_fall_back_to_a_planted_plain_one():
    planted = "app.jwt=" + mint_hs256({"sub": "attacker"}, S, now=NOW)
    stale = "__Secure-app.jwt=" + mint_hs256({"sub": "victim"}, S, now=NOW - 7200)
    assert refused(jws_gate(), f"{planted}; {stale}") == "expired"
    assert who(jws_gate(), planted) == "attacker"  # alone, the plain cookie is read


# ------------------------------------------------------------------ the other cookie readers


def test_plain_authjs_cookie_listed_first_cannot_shadow_secure_cookie():
    names = ["my.session", "__Secure-my.session"]
    gate = SessionGate(AuthJSToken(S, cookie_names=names), clock=lambda: NOW)
    planted = "my.session=" + mint_authjs_v5(
        {"sub": "attacker"}, S, cookie_name="my.session", now=NOW
    )
    victim = "__Secure-my.session=" + mint_authjs_v5(
        {"sub": "victim"}, S, cookie_name="__Secure-my.session", now=NOW
    )
    assert who(gate, f"{planted}; {victim}") == "victim"
    # the complete list: the standard names are not read unless listed
    standard = "authjs.session-token=" + mint_authjs_v5({"sub": "other"}, S, now=NOW)
    assert refused(gate, standard) == "missing_credentials"


def make_database(path, ddl: str, *rows: str) -> None:
    expires = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None).isoformat(sep=" ")
    with sqlite3.connect(path) as conn:
        conn.executescript(ddl)
        for user in ("victim", "attacker"):
            for row in rows:
                conn.execute(row, (user, f"tok-{user}", expires)[: row.count("?")])
    conn.close()


@pytest.fixture
def authjs_db(tmp_path):
    path = tmp_path / "authjs.db"
    make_database(
        path,
        'CREATE TABLE "User" (id TEXT PRIMARY KEY, name TEXT, email TEXT, '
        '"emailVerified" TEXT, image TEXT);'
        'CREATE TABLE "Session" ("sessionToken" TEXT UNIQUE, "userId" TEXT, expires TEXT);',
        'INSERT INTO "User" (id) VALUES (?)',
        'INSERT INTO "Session" ("userId", "sessionToken", expires) VALUES (?, ?, ?)',
    )
    return path


@pytest.fixture
def better_auth_db(tmp_path):
    path = tmp_path / "better-auth.db"
    make_database(
        path,
        'CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT, email TEXT, '
        '"emailVerified" INTEGER, image TEXT);'
        'CREATE TABLE "session" (token TEXT UNIQUE, "userId" TEXT, "expiresAt" TEXT);',
        'INSERT INTO "user" (id) VALUES (?)',
        'INSERT INTO "session" ("userId", token, "expiresAt") VALUES (?, ?, ?)',
    )
    return path


def test_plain_database_cookie_listed_first_cannot_shadow_secure_cookie(authjs_db):
    auth = DatabaseSession(SQLiteStore(authjs_db), cookie_names=["sid", "__Secure-sid"])
    gate = SessionGate(auth)
    try:
        assert who(gate, "sid=tok-attacker; __Secure-sid=tok-victim") == "victim"
        assert refused(gate, "sid=tok-attacker; __Secure-sid=tok-gone") == "session_not_found"
    finally:
        asyncio.run(gate.aclose())


def test_plain_better_auth_cookie_listed_first_cannot_shadow_secure_cookie(better_auth_db):
    store = SQLiteStore(better_auth_db, schema="better-auth")
    auth = BetterAuthSession(secret=BA, store=store, cookie_names=["sid", "__Secure-sid"])
    gate = SessionGate(auth)
    planted = "sid=" + sign_cookie_value("tok-attacker", BA)
    victim = "__Secure-sid=" + sign_cookie_value("tok-victim", BA)
    try:
        assert who(gate, f"{planted}; {victim}") == "victim"
    finally:
        asyncio.run(gate.aclose())
