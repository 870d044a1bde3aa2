"""Issue #13 items 1-5: attacks on Better Auth secrets, cookie names and the cookie cache.

Each test is named after the attack it stops and failed on the code before the fix (checked by
running this file against the parent commit of the change).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sessiongate import AuthJSToken, SessionGate
from sessiongate._b64json import b64url_encode, json_compact
from sessiongate.betterauth import sign_cookie_value
from sessiongate.config import GateConfig
from sessiongate.cookies import RequestCredentials
from sessiongate.errors import (
    ConfigurationError,
    InvalidSignatureError,
    MissingCredentialsError,
    SessionGateError,
)
from sessiongate.sessions import BetterAuthSession
from sessiongate.testing import mint_authjs_v5

NEW = "new-better-auth-secret-0123456789abcdefgh"
OLD = "old-better-auth-secret-0123456789abcdefgh"
TOKEN = "Zq3hW0rJc8kT1pX9mB2vN7sL4dF6gH5a"
OTHER_TOKEN = "Yq3hW0rJc8kT1pX9mB2vN7sL4dF6gH5b"
NOW = 1_800_000_000
ISSUER = "https://app.example.com"
SESSION_COOKIE = "better-auth.session_token"
DATA_COOKIE = "better-auth.session_data"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def session_data(token: str = TOKEN, user_id: str = "u1") -> dict[str, Any]:
    return {
        "session": {"token": token, "userId": user_id, "id": "s1", "expiresAt": iso(NOW + 86400)},
        "user": {"id": user_id, "name": "Ada", "email": "ada@example.com"},
        "updatedAt": NOW * 1000,
        "version": "1",
    }


def compact(data: dict[str, Any], secret: str) -> str:
    expires_ms = (NOW + 300) * 1000
    sig = hmac.new(secret.encode(), json_compact({**data, "expiresAt": expires_ms}), hashlib.sha256)
    outer = {"session": data, "expiresAt": expires_ms, "signature": b64url_encode(sig.digest())}
    return b64url_encode(json.dumps(outer, separators=(",", ":")).encode())


def read(auth: BetterAuthSession, cookies: dict[str, str]) -> str | None:
    creds = RequestCredentials(cookies)
    found = auth.authenticate_sync(creds, NOW)
    return None if found is None else str(found.claims["sub"])


# ------------------------------------------------------------------------ item 1: secrets


def test_cookie_signed_with_retired_secret_is_refused() -> None:
    # better-auth 1.7.25 verifies signed cookies with its current secret only: after a rotation
    # (because OLD leaked) a cookie signed with OLD must not open a session here either
    auth = BetterAuthSession(secret=[NEW, OLD], cookie_cache="compact")
    cookies = {
        SESSION_COOKIE: sign_cookie_value(TOKEN, OLD),
        DATA_COOKIE: compact(session_data(), NEW),
    }
    with pytest.raises(InvalidSignatureError):
        read(auth, cookies)


def test_cookie_cache_signed_with_retired_secret_is_refused() -> None:
    # the compact cache is HMAC'd with the current secret only (ctx.secret): a cache forged with
    # the leaked OLD secret must not answer for the session without the database
    auth = BetterAuthSession(secret=[NEW, OLD], cookie_cache="compact")
    cookies = {
        SESSION_COOKIE: sign_cookie_value(TOKEN, NEW),
        DATA_COOKIE: compact(session_data(), OLD),
    }
    with pytest.raises(SessionGateError):  # no valid cache and no store
        read(auth, cookies)


def test_bearer_token_signed_with_retired_secret_is_refused() -> None:
    auth = BetterAuthSession(secret=[NEW, OLD], cookie_cache="compact")
    creds = RequestCredentials({}, "Bearer " + sign_cookie_value(TOKEN, OLD))
    with pytest.raises(InvalidSignatureError):
        auth.authenticate_sync(creds, NOW)


def test_better_auth_development_default_secret_is_refused_without_development_flag() -> None:
    # anyone can sign a session cookie with Better Auth's published fallback secret
    env = {"BETTER_AUTH_SECRET": "better-auth-secret-12345678901234567890"}
    with pytest.raises(ConfigurationError):
        GateConfig.from_sources(environ=env)
    dev = GateConfig.from_sources(environ={**env, "SESSIONGATE_DEVELOPMENT": "1"})
    assert dev.better_auth_secrets == ("better-auth-secret-12345678901234567890",)


# ---------------------------------------------------------------- items 2-3: cookie names


def test_plain_name_cookie_is_ignored_in_secure_only_mode() -> None:
    # cookie tossing: a sibling subdomain or a plain-HTTP response plants a plain-name cookie
    secret = "secure-only-secret-0123456789abcdefghijk"
    planted = mint_authjs_v5({"sub": "attacker"}, secret, cookie_name="authjs.session-token")
    gate = SessionGate(AuthJSToken(secret), secure_only=True)
    with pytest.raises(MissingCredentialsError):
        gate.authenticate_sync({"cookie": f"authjs.session-token={planted}"})


def test_plain_better_auth_cookie_is_ignored_when_the_app_writes_secure_cookies() -> None:
    # BETTER_AUTH_URL is https: Better Auth writes and reads only __Secure- names
    auth = BetterAuthSession(secret=NEW, cookie_cache="compact", secure_cookies=True)
    cookies = {
        SESSION_COOKIE: sign_cookie_value(TOKEN, NEW),
        DATA_COOKIE: compact(session_data(), NEW),
    }
    assert auth.token(RequestCredentials(cookies)) is None


def test_plain_cookie_cannot_shadow_host_prefixed_cookie() -> None:
    secret = "host-prefix-secret-0123456789abcdefghijk"
    host = "__Host-authjs.session-token"
    victim = mint_authjs_v5({"sub": "victim"}, secret, cookie_name=host)
    planted = mint_authjs_v5({"sub": "attacker"}, secret, cookie_name="authjs.session-token")
    gate = SessionGate(AuthJSToken(secret, cookie_names=["authjs.session-token", host]))
    header = f"authjs.session-token={planted}; {host}={victim}"
    assert gate.authenticate_sync({"cookie": header}).user.id == "victim"


# --------------------------------------------------------- item 4: the JWKS-signed cache


@pytest.fixture(scope="module")
def signing_key() -> tuple[Ed25519PrivateKey, dict[str, Any]]:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes_raw()
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1", "alg": "EdDSA"}
    return private, {"keys": [jwk]}


def cache_jwt(private: Ed25519PrivateKey, data: dict[str, Any], **overrides: Any) -> str:
    headers = {"kid": "k1", "typ": "better-auth.session-cache+jwt", **overrides.pop("headers", {})}
    claims = {
        **data,
        "sid": data["session"]["token"],
        "sub": data["user"]["id"],
        "iss": ISSUER,
        "aud": "better-auth:session-cache",
        "iat": NOW,
        "exp": NOW + 300,
        **overrides,
    }
    return jwt.encode(claims, private, algorithm="EdDSA", headers=headers)


def jwks_auth(keys: dict[str, Any]) -> BetterAuthSession:
    from sessiongate.jwks import SessionCacheJWT, StaticKeys

    cache = SessionCacheJWT(jwks=StaticKeys(keys), issuer=ISSUER, clock=lambda: NOW)
    return BetterAuthSession(secret=None, cookie_cache=cache)


def jwks_cookies(value: str, token: str = TOKEN) -> dict[str, str]:
    return {SESSION_COOKIE: sign_cookie_value(token, "unknown-to-the-verifier"), DATA_COOKIE: value}


def test_session_cache_jwt_verifies_with_the_jwks_alone(signing_key: Any) -> None:
    private, keys = signing_key
    assert read(jwks_auth(keys), jwks_cookies(cache_jwt(private, session_data()))) == "u1"


def test_session_cache_jwt_for_other_session_id_is_refused(signing_key: Any) -> None:
    # a genuine cache JWT of another session (sid and session.token agree with each other) is
    # replayed next to this session's cookie, or its session.token is edited to match
    private, keys = signing_key
    other = cache_jwt(private, session_data(OTHER_TOKEN))
    with pytest.raises(SessionGateError):
        read(jwks_auth(keys), jwks_cookies(other))
    mismatched = cache_jwt(private, session_data(), sid=OTHER_TOKEN)
    with pytest.raises(SessionGateError):
        read(jwks_auth(keys), jwks_cookies(mismatched))


def test_session_cache_jwt_for_other_user_is_refused(signing_key: Any) -> None:
    private, keys = signing_key
    forged = cache_jwt(private, session_data(), sub="admin")
    with pytest.raises(SessionGateError):
        read(jwks_auth(keys), jwks_cookies(forged))


@pytest.mark.parametrize(
    "overrides",
    [
        {"headers": {"typ": "JWT"}},  # a jwt-plugin access token signed by the same key
        {"aud": ISSUER},  # the plugin's /token JWT has aud = the base URL
        {"iss": "https://other.example.com"},
        {"exp": NOW - 16},
    ],
    ids=["access-token-typ", "access-token-aud", "other-issuer", "expired"],
)
def test_jwt_plugin_token_cannot_pose_as_session_cache(
    signing_key: Any, overrides: dict[str, Any]
) -> None:
    private, keys = signing_key
    value = cache_jwt(private, session_data(), **overrides)
    with pytest.raises(SessionGateError):
        read(jwks_auth(keys), jwks_cookies(value))


def test_session_cache_jwt_without_kid_is_refused(signing_key: Any) -> None:
    private, keys = signing_key
    claims = {**session_data(), "sid": TOKEN, "sub": "u1", "iss": ISSUER}
    claims |= {"aud": "better-auth:session-cache", "iat": NOW, "exp": NOW + 300}
    value = jwt.encode(
        claims, private, algorithm="EdDSA", headers={"typ": "better-auth.session-cache+jwt"}
    )
    assert "kid" not in jwt.get_unverified_header(value)
    with pytest.raises(SessionGateError):
        read(jwks_auth(keys), jwks_cookies(value))


def test_session_cache_jwt_with_hs256_and_public_key_is_refused(signing_key: Any) -> None:
    _, keys = signing_key
    claims = {**session_data(), "sid": TOKEN, "sub": "u1", "iss": ISSUER}
    claims |= {"aud": "better-auth:session-cache", "exp": NOW + 300}
    header = {"kid": "k1", "typ": "better-auth.session-cache+jwt"}
    value = jwt.encode(claims, keys["keys"][0]["x"], algorithm="HS256", headers=header)
    with pytest.raises(SessionGateError):
        read(jwks_auth(keys), jwks_cookies(value))


# ------------------------------------------------------------------ item 5: versions


def test_cookie_cache_of_an_outdated_version_is_refused() -> None:
    # the app bumps cookieCache.version (as a function of the user) to invalidate caches, e.g.
    # after a role change: a cache of the old version must not answer
    auth = BetterAuthSession(
        secret=NEW, cookie_cache="compact", cookie_cache_version=lambda s, u: f"v-{u['name']}"
    )
    stale = {**session_data(), "version": "v-Ada-before-demotion"}
    cookies = {SESSION_COOKIE: sign_cookie_value(TOKEN, NEW), DATA_COOKIE: compact(stale, NEW)}
    with pytest.raises(SessionGateError):
        read(auth, cookies)
    fresh = {**session_data(), "version": "v-Ada"}
    cookies[DATA_COOKIE] = compact(fresh, NEW)
    assert read(auth, cookies) == "u1"


def test_better_auth_development_default_secret_given_as_a_flag_is_refused() -> None:
    # `sessiongate serve --better-auth-secret better-auth-secret-1234...` is the same mistake
    with pytest.raises(ConfigurationError):
        GateConfig.from_sources(
            better_auth_secrets=["better-auth-secret-12345678901234567890"], environ={}
        )
