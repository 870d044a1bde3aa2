"""Issue #9 item 1: no downgrade across cookie families.

A plain cookie can be planted by a sibling subdomain or a plain-HTTP page; a ``__Secure-`` one
only by a secure origin. Every ``__Secure-`` session cookie of every family is consulted before
any plain one, and a NextAuth v4 token (no salt: it decrypts under any name) is accepted only
under a v4 cookie name, a configured custom name, or as a Bearer token.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from sessiongate import AUTHJS_COOKIE_NAMES, AuthJSToken, SessionGate
from sessiongate.betterauth import sign_cookie_value
from sessiongate.errors import SessionGateError
from sessiongate.sessions import BetterAuthSession, DatabaseSession
from sessiongate.stores.base import SessionRecord
from sessiongate.testing import mint_authjs_v5, mint_nextauth_v4

S = "downgrade-secret-0123456789abcdef0123456789"
OTHER = "some-other-app-secret-0123456789abcdefgh"
NOW = 1_800_000_000
SECURE_V4 = "__Secure-next-auth.session-token"
SECURE_V5 = "__Secure-authjs.session-token"
PLAIN_V4 = "next-auth.session-token"
PLAIN_V5 = "authjs.session-token"


def gate() -> SessionGate:
    return SessionGate(AuthJSToken(S), clock=lambda: NOW)


def who(cookie: str) -> str:
    return gate().authenticate_sync({"cookie": cookie}).user.id


def refused(cookie: str) -> str:
    with pytest.raises(SessionGateError) as info:
        gate().authenticate_sync({"cookie": cookie})
    return info.value.code


# ------------------------------------------------------------------ the attack from the issue


@pytest.mark.parametrize(
    "planted",
    [
        # a v4 token has no salt: the attacker's own valid session decrypts under any name
        f"{PLAIN_V5}=" + mint_nextauth_v4({"sub": "attacker"}, S, now=NOW),
        # the attacker's own v5 session, planted under the plain v5 name it was minted for
        f"{PLAIN_V5}=" + mint_authjs_v5({"sub": "attacker"}, S, now=NOW),
    ],
    ids=["v4-token", "v5-token"],
)
def test_plain_cookie_of_other_family_cannot_shadow_secure_cookie(planted):
    victim = f"{SECURE_V4}=" + mint_nextauth_v4({"sub": "victim"}, S, now=NOW)
    assert who(f"{planted}; {victim}") == "victim"
    assert who(f"{victim}; {planted}") == "victim"


def test_invalid_secure_cookie_refuses_without_falling_back_to_another_family():
    bad_secure = f"{SECURE_V5}=" + mint_authjs_v5(
        {"sub": "victim"}, OTHER, cookie_name=SECURE_V5, now=NOW
    )
    planted_plain = f"{PLAIN_V4}=" + mint_nextauth_v4({"sub": "attacker"}, S, now=NOW)
    assert refused(f"{bad_secure}; {planted_plain}") == "unknown_kid"


def test_every_secure_family_is_tried_before_any_plain_one():
    plain = f"{PLAIN_V5}=" + mint_authjs_v5({"sub": "plain"}, S, now=NOW)
    secure_v4 = f"{SECURE_V4}=" + mint_nextauth_v4({"sub": "secure"}, S, now=NOW)
    custom = "__Secure-myapp.sid=" + mint_authjs_v5(
        {"sub": "custom"}, S, cookie_name="__Secure-myapp.sid", now=NOW
    )
    assert who(f"{plain}; {secure_v4}") == "secure"
    names = [*AUTHJS_COOKIE_NAMES, "myapp.sid", "__Secure-myapp.sid"]
    g = SessionGate(AuthJSToken(S, cookie_names=names), clock=lambda: NOW)
    assert g.authenticate_sync({"cookie": f"{plain}; {custom}"}).user.id == "custom"


# ------------------------------------------------------------------ v4 tokens under v5 names


@pytest.mark.parametrize("name", [PLAIN_V5, SECURE_V5])
def test_v4_token_not_accepted_under_a_v5_cookie_name(name):
    v4 = mint_nextauth_v4({"sub": "u1"}, S, now=NOW)
    assert refused(f"{name}={v4}") == "decryption_failed"
    with pytest.raises(SessionGateError) as info:
        AuthJSToken(S).decode(v4, cookie_name=name, now=NOW)
    assert info.value.code == "decryption_failed"


def test_v4_token_still_accepted_where_next_auth_v4_reads_it():
    v4 = mint_nextauth_v4({"sub": "u1"}, S, now=NOW)
    for name in (PLAIN_V4, SECURE_V4):
        assert who(f"{name}={v4}") == "u1"
    # a custom name (cookies.sessionToken.name) and the Bearer fallback of getToken()
    names = [*AUTHJS_COOKIE_NAMES, "myapp.sid"]
    custom = SessionGate(AuthJSToken(S, cookie_names=names), clock=lambda: NOW)
    assert custom.authenticate_sync({"cookie": f"myapp.sid={v4}"}).user.id == "u1"
    assert gate().authenticate_sync({"authorization": f"Bearer {v4}"}).user.id == "u1"
    assert AuthJSToken(S).decode(v4, now=NOW)["sub"] == "u1"


# ------------------------------------------------------------------ database sessions


class MemoryStore:
    """A session store over a dict (the SessionStore protocol, no I/O)."""

    def __init__(self, **tokens: str) -> None:
        expires = datetime.now(UTC) + timedelta(days=1)
        self.records = {t: SessionRecord(t, user, expires) for user, t in tokens.items()}

    async def load(self, token: str) -> SessionRecord | None:
        return self.records.get(token)

    async def aclose(self) -> None:
        return None


def test_plain_database_cookie_of_other_family_cannot_shadow_secure_one():
    store = MemoryStore(victim="victim-token-0001", attacker="attacker-token-001")
    g = SessionGate(DatabaseSession(store))
    for cookie in (
        f"{PLAIN_V5}=attacker-token-001; {SECURE_V4}=victim-token-0001",
        f"{PLAIN_V5}.0=attacker-token-001; {SECURE_V4}=victim-token-0001",
    ):
        assert asyncio.run(g.authenticate({"cookie": cookie})).user.id == "victim"


def test_plain_better_auth_cookie_cannot_shadow_secure_one():
    store = MemoryStore(victim="V" * 32, attacker="A" * 32)
    auth = BetterAuthSession(secret=S, store=store)
    victim = "__Secure-better-auth.session_token=" + quote(sign_cookie_value("V" * 32, S), safe="")
    planted = "better-auth.session_token=" + quote(sign_cookie_value("A" * 32, S), safe="")
    g = SessionGate(auth)
    assert asyncio.run(g.authenticate({"cookie": f"{planted}; {victim}"})).user.id == "victim"
    forged = "__Secure-better-auth.session_token=" + quote(sign_cookie_value("V" * 32, OTHER))
    with pytest.raises(SessionGateError) as info:
        asyncio.run(g.authenticate({"cookie": f"{planted}; {forged}"}))
    assert info.value.code == "invalid_signature"
