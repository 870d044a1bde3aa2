"""Issue #9 item 5: NextAuth / Auth.js OAuth check cookies are not sessions (CVE-2023-48309 class).

next-auth before 4.24.5 sealed the OAuth ``state``, PKCE ``code_verifier`` and ``nonce`` cookies
with the *session* key (``checks.js`` ``signCookie``: ``encode({...options.jwt, maxAge, token:
{value}})``, 15 minutes), so such a cookie decrypts as a v4 session token. Later versions and
``@auth/core`` salt them with their own cookie name (``{value, provider}``), and ``@auth/core``
also seals the OAuth ``state`` parameter (``{origin, random}``, salt ``encodedState``) and the
WebAuthn challenge (``{challenge, registerData}``). The shapes below were checked against the
shipped ``next-auth@4.24.15`` ``jwt.encode`` and ``@auth/core@0.41.3`` (``test_real_...``).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.authjs import v4_key, v5_key
from sessiongate.errors import NotASessionError, SessionGateError
from sessiongate.sessions import DatabaseSession
from sessiongate.stores.base import SessionRecord
from sessiongate.testing import mint_authjs_v5, mint_hs256

S = "check-secret-0123456789abcdef0123456789"
NOW = 1_800_000_000
ROOT_INTEROP = __import__("pathlib").Path(__file__).resolve().parents[1] / "interop"


def sealed(claims: dict, *, salt: str | None = None) -> str:
    """What ``jwt.encode`` makes: the token body plus ``iat``, ``exp`` (15 min) and ``jti``."""
    body = json.dumps({**claims, "iat": NOW, "exp": NOW + 900, "jti": str(uuid.uuid4())})
    if salt is None:
        return v4_key(S).encrypt(body.encode(), {})
    key = v5_key(S, salt)
    return key.encrypt(body.encode(), {"kid": key.kid})


V4_STATE_COOKIE = sealed({"value": "oauth-state-from-next-auth-4-24-4"})


@pytest.mark.parametrize("cookie_name", [None, "next-auth.session-token"])
def test_nextauth_v4_oauth_state_cookie_is_not_a_session(cookie_name):
    with pytest.raises(NotASessionError) as info:
        AuthJSToken(S).decode(V4_STATE_COOKIE, cookie_name=cookie_name, now=NOW)
    assert info.value.code == "not_a_session" and info.value.status_code == 401
    with pytest.raises(NotASessionError):  # the cache-less path too
        AuthJSToken(S, cache_size=0).decode(V4_STATE_COOKIE, cookie_name=cookie_name, now=NOW)


@pytest.mark.parametrize(
    ("claims", "salt"),
    [
        ({"value": "pkce-verifier", "provider": "github"}, "authjs.pkce.code_verifier"),
        ({"value": "nonce", "provider": "google"}, "__Secure-authjs.nonce"),
        ({"random": "r"}, "encodedState"),
        ({"origin": "https://app.example/x", "random": "r"}, "encodedState"),
        ({"challenge": "c"}, "encodedWebauthnChallenge"),
        ({"challenge": "c", "registerData": {"email": "a@b"}}, "encodedWebauthnChallenge"),
    ],
)
def test_authjs_v5_check_values_are_not_sessions_even_under_their_own_salt(claims, salt):
    # a verifier only derives these keys when told that name (decode(cookie_name=...) or a
    # misconfigured cookie_names); even then they are refused
    with pytest.raises(NotASessionError):
        AuthJSToken(S).decode(sealed(claims, salt=salt), cookie_name=salt, now=NOW)
    with pytest.raises(SessionGateError) as info:
        SessionGate(AuthJSToken(S, cookie_names=[salt]), clock=lambda: NOW).authenticate_sync(
            {"cookie": f"{salt}={sealed(claims, salt=salt)}"}
        )
    assert info.value.code == "not_a_session"


def test_sessions_that_happen_to_carry_a_value_claim_are_still_sessions():
    a = AuthJSToken(S)
    for claims in ({"sub": "u1", "value": 3}, {"value": "x", "id": "u1"}, {"value": "x", "a": 1}):
        token = mint_authjs_v5(claims, S, now=NOW)
        assert (
            a.decode(token, cookie_name="authjs.session-token", now=NOW)["value"]
            == (claims["value"])
        )


# ------------------------------------------------------------------ the gate asks the next one


class MemoryStore:
    def __init__(self, token: str, user_id: str) -> None:
        self.record = SessionRecord(token, user_id, datetime.now(UTC) + timedelta(days=1))

    async def load(self, token: str) -> SessionRecord | None:
        return self.record if token == self.record.session_token else None

    async def aclose(self) -> None:
        return None


def test_planted_check_cookie_does_not_lock_out_the_database_session():
    # the victim's database session, and a chunk carrying an OAuth check cookie planted next to
    # it: AuthJSToken reads the chunk; before the fix its verdict stopped the gate
    db_token = str(uuid.uuid4())
    gate = SessionGate(AuthJSToken(S), DatabaseSession(MemoryStore(db_token, "victim")))
    cookie = f"next-auth.session-token={db_token}; next-auth.session-token.0={V4_STATE_COOKIE}"
    result = asyncio.run(gate.authenticate({"cookie": cookie}))
    assert (result.user.id, result.authenticator) == ("victim", "database")


def test_token_without_user_id_lets_the_next_authenticator_answer():
    no_id = mint_authjs_v5({"name": "no id here"}, S, now=NOW)
    bearer = mint_hs256({"sub": "u-bearer"}, S, now=NOW)
    gate = SessionGate(AuthJSToken(S), BearerJWT(S), clock=lambda: NOW)
    headers = {"cookie": f"authjs.session-token={no_id}", "authorization": f"Bearer {bearer}"}
    assert gate.authenticate_sync(headers).user.id == "u-bearer"
    with pytest.raises(SessionGateError) as info:  # alone, it is still refused precisely
        gate.authenticate_sync({"cookie": f"authjs.session-token={no_id}"})
    assert info.value.code == "invalid_claim"


# ------------------------------------------------------------------ the real JS libraries

_MINT = """
const { encode: encode4 } = require(process.argv[1] + "/node_modules/next-auth/jwt");
(async () => {
  const { encode: encode5 } = await import(process.argv[1] + "/node_modules/@auth/core/jwt.js");
  const secret = process.argv[2];
  const out = {
    // next-auth <= 4.24.4 checks.js signCookie, with 4.24.15's unchanged jwt.encode
    v4: await encode4({ secret, maxAge: 900, token: { value: "state" } }),
    // @auth/core checks.js sealCookie and state.create
    pkce: await encode5({ secret, maxAge: 900, token: { value: "v", provider: "github" },
                          salt: "authjs.pkce.code_verifier" }),
    state: await encode5({ secret, maxAge: 900, token: { origin: undefined, random: "r" },
                           salt: "encodedState" }),
  };
  console.log(JSON.stringify(out));
})();
"""


def test_real_check_values_minted_by_next_auth_and_auth_core_are_refused(node_bin):
    run = subprocess.run(
        [node_bin, "-e", _MINT, str(ROOT_INTEROP), S],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    minted = json.loads(run.stdout)
    a = AuthJSToken(S, clock=lambda: __import__("time").time())
    for token, name in (
        (minted["v4"], None),
        (minted["v4"], "next-auth.session-token"),
        (minted["pkce"], "authjs.pkce.code_verifier"),
        (minted["state"], "encodedState"),
    ):
        with pytest.raises(NotASessionError):
            a.decode(token, cookie_name=name)
