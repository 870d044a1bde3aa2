"""The gate's verdict does not depend on the order its authenticators were listed in (issue #11).

The order of the list also cannot turn a refused credential into an accepted one, nor serve a
signed-out database session from the gate's memo (the attack-named tests at the end).

Table-driven: every credential shape below, against every pair and triple of the core
authenticators in every order, with the async and the blocking entry points. The authenticator
whose format the credential has decides the code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.errors import ProviderUnavailableError, SessionGateError
from sessiongate.jwks import JWKSBearer, StaticKeys
from sessiongate.sessions import BetterAuthSession, DatabaseSession
from sessiongate.stores.base import SessionRecord
from sessiongate.types import Authenticator

SECRET = "gate-order-secret-0123456789abcdef0123456"
OTHER_SECRET = "gate-order-other-secret-0123456789abcdef"
JWT_SECRET = "gate-order-jwt-secret-0123456789abcdefgh"
BA_SECRET = "gate-order-better-auth-secret-0123456789"
VALID = "db-valid-session-token-0001"
EXPIRED = "db-expired-session-token-01"
UNKNOWN = "db-unknown-session-token-01"
BA_VALID = "ba-valid-session-token-00001"
BA_UNKNOWN = "ba-unknown-session-token-001"

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_RSA_PEM = _RSA.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


class MemoryStore:
    """Sessions over a dict (the SessionStore protocol, no I/O)."""

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.records = {
            VALID: SessionRecord(VALID, "u-db", now + timedelta(days=1), user={"name": "db"}),
            EXPIRED: SessionRecord(EXPIRED, "u-db", now - timedelta(days=1), user={"name": "db"}),
            BA_VALID: SessionRecord(BA_VALID, "u-ba", now + timedelta(days=1), user={"name": "b"}),
        }

    async def load(self, token: str) -> SessionRecord | None:
        return self.records.get(token)

    async def aclose(self) -> None:
        return None


def authenticators() -> dict[str, Authenticator]:
    store = MemoryStore()
    return {
        "authjs": AuthJSToken(SECRET),
        "database": DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0),
        "better-auth": BetterAuthSession(
            secret=BA_SECRET, store=store, cache_ttl=0, negative_cache_ttl=0
        ),
        "jwt": BearerJWT(JWT_SECRET),
        "jwks": JWKSBearer(
            jwks=StaticKeys(_RSA_PEM.decode()), algorithms=["RS256"], issuer=None, audience=None
        ),
    }


# ------------------------------------------------------------------------ credential builders


def build_jwe(secret: str = SECRET, *, expired: bool = False) -> str:
    now = time.time() - (40 * 24 * 3600 if expired else 0)
    return AuthJSToken(secret).encode({"sub": "u-jwe"}, now=now)


def build_hs256(*, expired: bool = False, key: str = JWT_SECRET) -> str:
    exp = int(time.time()) + (-3600 if expired else 3600)
    return pyjwt.encode({"sub": "u-hs", "exp": exp}, key, algorithm="HS256")


def build_rs256(*, expired: bool = False) -> str:
    exp = int(time.time()) + (-3600 if expired else 3600)
    return pyjwt.encode({"sub": "u-rs", "exp": exp}, _RSA, algorithm="RS256")


def build_signed(token: str, secret: str = BA_SECRET) -> str:
    """Better Auth's signed cookie value ``token.base64(HMAC-SHA256)``."""
    mac = hmac.digest(secret.encode(), token.encode(), hashlib.sha256)
    return token + "." + base64.b64encode(mac).decode()


def cookie(name: str, value: str) -> dict[str, str]:
    return {"cookie": f"{name}={quote(value, safe='')}"}


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


V5 = "authjs.session-token"
BA = "better-auth.session_token"

# name -> headers; each carries at most one credential that can verify
SHAPES: dict[str, Callable[[], dict[str, str]]] = {
    "nothing": dict,
    "jwe-cookie-valid": lambda: cookie(V5, build_jwe()),
    "jwe-cookie-expired": lambda: cookie(V5, build_jwe(expired=True)),
    "jwe-cookie-wrong-secret": lambda: cookie(V5, build_jwe(OTHER_SECRET)),
    "jwe-cookie-garbage": lambda: cookie(V5, "a.b.c.d.e"),
    "db-cookie-valid": lambda: cookie(V5, VALID),
    "db-cookie-expired": lambda: cookie(V5, EXPIRED),
    "db-cookie-unknown": lambda: cookie(V5, UNKNOWN),
    "ba-cookie-valid": lambda: cookie(BA, build_signed(BA_VALID)),
    "ba-cookie-unknown": lambda: cookie(BA, build_signed(BA_UNKNOWN)),
    "ba-cookie-forged": lambda: cookie(BA, build_signed(BA_VALID, "not-the-secret-0123456789")),
    "jwe-bearer-valid": lambda: bearer(build_jwe()),
    "jwe-bearer-expired": lambda: bearer(build_jwe(expired=True)),
    "hs256-bearer-valid": lambda: bearer(build_hs256()),
    "hs256-bearer-expired": lambda: bearer(build_hs256(expired=True)),
    "hs256-bearer-forged": lambda: bearer(build_hs256(key="not-the-jwt-secret-0123456789abcd")),
    "rs256-bearer-valid": lambda: bearer(build_rs256()),
    "rs256-bearer-expired": lambda: bearer(build_rs256(expired=True)),
    "db-bearer-valid": lambda: bearer(VALID),
    "db-bearer-expired": lambda: bearer(EXPIRED),
    "db-bearer-unknown": lambda: bearer(UNKNOWN),
    "ba-bearer-valid": lambda: bearer(build_signed(BA_VALID)),
    "ba-bearer-forged": lambda: bearer(build_signed(BA_VALID, "not-the-secret-0123456789")),
    "bearer-two-segments-garbage": lambda: bearer("abc.def"),
    "basic-auth": lambda: {"authorization": "Basic dXNlcjpwYXNz"},
    "expired-jwe-cookie-and-valid-db-bearer": lambda: {
        **cookie(V5, build_jwe(expired=True)),
        **bearer(VALID),
    },
    "expired-db-cookie-and-valid-hs256-bearer": lambda: {
        **cookie(V5, EXPIRED),
        **bearer(build_hs256()),
    },
    "expired-db-cookie-and-expired-rs256-bearer": lambda: {
        **cookie(V5, EXPIRED),
        **bearer(build_rs256(expired=True)),
    },
}

Verdict = tuple[str, ...]


def verdict_of(call: Callable[[], Any]) -> Verdict:
    try:
        result = call()
    except SessionGateError as err:
        return ("refused", err.code, err.message)
    return ("accepted", result.authenticator, str(result.user.id))


async def verdict_async(gate: SessionGate, headers: dict[str, str]) -> Verdict:
    try:
        result = await gate.authenticate(headers)
    except SessionGateError as err:
        return ("refused", err.code, err.message)
    return ("accepted", result.authenticator, str(result.user.id))


COMBINATIONS = [
    combo
    for size in (1, 2, 3)
    for combo in itertools.combinations(("authjs", "database", "better-auth", "jwt", "jwks"), size)
]


def verdicts(headers: dict[str, str]) -> dict[tuple[str, ...], set[Verdict]]:
    """combination -> the set of verdicts its orders give (async and blocking)."""
    auths = authenticators()
    found: dict[tuple[str, ...], set[Verdict]] = {}

    async def run_all() -> None:
        for combo in COMBINATIONS:
            seen = found.setdefault(combo, set())
            for order in itertools.permutations(combo):
                gate = SessionGate(*(auths[name] for name in order), memo_size=0)
                seen.add(await verdict_async(gate, headers))

    asyncio.run(run_all())
    for combo in COMBINATIONS:
        for order in itertools.permutations(combo):
            gate = SessionGate(*(auths[name] for name in order), memo_size=0)
            found[combo].add(verdict_of(lambda g=gate: g.authenticate_sync(headers)))
    return found


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_verdict_is_the_same_in_every_order(shape: str) -> None:
    headers = SHAPES[shape]()
    for combo, seen in verdicts(headers).items():
        assert len(seen) == 1, f"{shape} with {combo}: {sorted(seen)}"


# ------------------------------------------------------------ the cases, by expectation


def code_for(headers: dict[str, str], *names: str) -> str:
    auths = authenticators()
    codes = set()
    for order in itertools.permutations(names):
        gate = SessionGate(*(auths[name] for name in order), memo_size=0)
        verdict = verdict_of(lambda g=gate: g.authenticate_sync(headers))
        codes.add(verdict[1] if verdict[0] == "refused" else "accepted")
    assert len(codes) == 1, codes
    return codes.pop()


def test_expired_database_session_is_expired_with_the_readme_gate() -> None:
    assert code_for(cookie(V5, EXPIRED), "authjs", "database") == "expired"


def test_unknown_database_session_is_session_not_found_with_the_readme_gate() -> None:
    assert code_for(cookie(V5, UNKNOWN), "authjs", "database") == "session_not_found"


def test_jwe_cookie_to_a_database_only_gate_is_malformed_not_missing() -> None:
    assert code_for(cookie(V5, build_jwe()), "database") == "malformed"


def test_database_token_to_a_jwe_only_gate_is_malformed() -> None:
    assert code_for(cookie(V5, VALID), "authjs") == "malformed"


def test_expired_rs256_bearer_is_expired_whatever_hs256_verifier_is_listed() -> None:
    assert code_for(bearer(build_rs256(expired=True)), "jwt", "jwks") == "expired"


def test_forged_hs256_bearer_is_invalid_signature_with_a_jwks_verifier_too() -> None:
    assert code_for(bearer(build_hs256(key="x" * 32)), "jwt", "jwks") == "invalid_signature"


def test_nothing_sent_is_missing_credentials() -> None:
    assert code_for({}, "authjs", "database", "jwks") == "missing_credentials"


def test_an_outage_is_503_in_every_order() -> None:
    class DownStore:
        async def load(self, token: str) -> SessionRecord | None:
            raise ProviderUnavailableError("database down")

        async def aclose(self) -> None:
            return None

    auths = [AuthJSToken(SECRET), DatabaseSession(DownStore(), negative_cache_ttl=0)]
    for order in (auths, auths[::-1]):
        with pytest.raises(ProviderUnavailableError):
            SessionGate(*order, memo_size=0).authenticate_sync(cookie(V5, VALID))


# ------------------------------------------------------------------------ attacks

# every shape whose one credential must be refused
REFUSED = sorted(name for name in SHAPES if name != "nothing" and "valid" not in name)


@pytest.mark.parametrize("shape", REFUSED)
def test_authenticator_order_cannot_turn_a_refused_credential_into_acceptance(shape: str) -> None:
    headers = SHAPES[shape]()
    auths = authenticators()
    codes = set()
    for order in itertools.permutations(auths.values()):
        gate = SessionGate(*order, memo_size=0)
        with pytest.raises(SessionGateError) as caught:
            gate.authenticate_sync(headers)
        codes.add(caught.value.code)
    assert len(codes) == 1, codes


@pytest.mark.parametrize("first", ["authjs", "database"])
def test_signed_out_database_session_is_not_served_from_the_memo_in_any_order(first: str) -> None:
    store = MemoryStore()
    database = DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0)
    jwe = AuthJSToken(SECRET)
    order = (jwe, database) if first == "authjs" else (database, jwe)
    gate = SessionGate(*order)  # the memo is on
    headers = cookie(V5, VALID)
    assert gate.authenticate_sync(headers).authenticator == "database"
    del store.records[VALID]  # signed out on the JS side
    with pytest.raises(SessionGateError) as caught:
        gate.authenticate_sync(headers)
    assert caught.value.code == "session_not_found"
