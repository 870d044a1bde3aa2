"""Issue #13 items 1-5 without Node: Better Auth's secret environment, cookie names, the secure
choice, secure-only credentials, the JWKS-signed cookie cache and cache versions.

The same rules are checked against the real better-auth 1.7.25 in
``tests/interop/test_parity_ba.py``; these tests pin the edge cases.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sessiongate import AuthJSToken, SessionGate
from sessiongate._secrets import (
    BETTER_AUTH_DEV_SECRET,
    better_auth_secrets_from_env,
    parse_versioned_secrets,
)
from sessiongate.betterauth import (
    base_url_from_env,
    better_auth_cookie_names,
    secure_cookies,
    sign_cookie_value,
)
from sessiongate.betterauth_cache import CookieCache
from sessiongate.config import GateConfig
from sessiongate.cookies import RequestCredentials, secure_first
from sessiongate.errors import ConfigurationError, ProviderUnavailableError, SessionGateError
from sessiongate.jwks import SessionCacheJWT, StaticKeys
from sessiongate.sessions import BetterAuthSession
from sessiongate.testing import mint_authjs_v5

NEW = "new-better-auth-secret-0123456789abcdefgh"
OLD = "old-better-auth-secret-0123456789abcdefgh"
TOKEN = "Zq3hW0rJc8kT1pX9mB2vN7sL4dF6gH5a"
NOW = 1_800_000_000
ISSUER = "https://app.example.com"

# ------------------------------------------------------------------------------- secrets


def test_versioned_secrets_keep_their_order_and_trim() -> None:
    assert parse_versioned_secrets(" 2 : new , 1:old:with:colons") == (
        (2, "new"),
        (1, "old:with:colons"),
    )
    assert parse_versioned_secrets("") == ()


@pytest.mark.parametrize("value", ["nocolon", "-1:x", "x1:y", "1:", "1:a,1:b", "1:a,"])
def test_invalid_versioned_secrets_are_refused_without_quoting_the_secret(value: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        parse_versioned_secrets(value)
    for secret in ("y", "x", "a", "b"):
        assert f":{secret}" not in str(err.value)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"BETTER_AUTH_SECRETS": f"2:{NEW},1:{OLD}"}, (NEW, OLD)),
        ({"BETTER_AUTH_SECRETS": f"2:{NEW}", "BETTER_AUTH_SECRET": OLD}, (NEW, OLD)),
        ({"BETTER_AUTH_SECRETS": f"2:{NEW},1:{OLD}", "BETTER_AUTH_SECRET": OLD}, (NEW, OLD)),
        ({"BETTER_AUTH_SECRETS": f"2:{NEW}", "AUTH_SECRET": OLD}, (NEW, OLD)),
        ({"BETTER_AUTH_SECRET": NEW, "AUTH_SECRET": OLD}, (NEW,)),
        ({"AUTH_SECRET": NEW}, (NEW,)),
        ({}, ()),
    ],
)
def test_better_auth_secret_order(env: dict[str, str], expected: tuple[str, ...]) -> None:
    assert better_auth_secrets_from_env(env) == expected


def test_development_default_only_with_the_development_flag() -> None:
    assert better_auth_secrets_from_env({}, development=True) == (BETTER_AUTH_DEV_SECRET,)
    with pytest.raises(ConfigurationError):
        better_auth_secrets_from_env({"BETTER_AUTH_SECRETS": f"2:{NEW},1:{BETTER_AUTH_DEV_SECRET}"})
    # Better Auth drops the default as legacy secret when versions are set; so do we
    env = {"BETTER_AUTH_SECRETS": f"2:{NEW}", "BETTER_AUTH_SECRET": BETTER_AUTH_DEV_SECRET}
    assert better_auth_secrets_from_env(env) == (NEW,)


def test_schema_better_auth_without_any_secret_names_the_development_flag(tmp_path: Any) -> None:
    (tmp_path / "app.db").touch()
    env = {"SESSIONGATE_SCHEMA": "better-auth", "DATABASE_URL": f"sqlite:///{tmp_path}/app.db"}
    with pytest.raises(ConfigurationError, match="BETTER_AUTH_SECRET"):
        SessionGate.from_env(env)
    gate = SessionGate.from_env({**env, "SESSIONGATE_DEVELOPMENT": "1"})
    assert [a.name for a in gate.authenticators] == ["better-auth"]


# --------------------------------------------------------------------- names, secure choice


@pytest.mark.parametrize(
    ("base_url", "use_secure", "production", "expected"),
    [
        ("https://app.example.com", None, False, True),
        ("HTTPS://app.example.com", None, False, True),
        ("http://localhost:3000", None, True, False),
        ("http://localhost:3000", True, False, True),
        ("https://app.example.com", False, False, False),
        (None, None, True, True),
        (None, None, False, False),
    ],
)
def test_secure_choice(
    base_url: str | None, use_secure: bool | None, production: bool, expected: bool
) -> None:
    assert (
        secure_cookies(base_url, use_secure_cookies=use_secure, production=production) is expected
    )


def test_cookie_names_follow_prefix_explicit_name_and_secure_choice() -> None:
    assert better_auth_cookie_names("session_token", prefix="myapp", secure=True) == (
        "__Secure-myapp.session_token",
    )
    assert better_auth_cookie_names("session_data", name="sd", secure=False) == ("sd",)
    assert better_auth_cookie_names("session_token") == (
        "__Secure-better-auth.session_token",
        "better-auth.session_token",
    )
    with pytest.raises(ConfigurationError):
        better_auth_cookie_names("session_token", prefix="")


def test_base_url_env_order_skips_slash_base_url() -> None:
    assert base_url_from_env({"BASE_URL": "/", "NUXT_PUBLIC_AUTH_URL": "https://n"}) == "https://n"
    assert (
        base_url_from_env({"BETTER_AUTH_URL": "https://a", "BASE_URL": "http://b"}) == "https://a"
    )
    assert base_url_from_env({"BASE_URL": "/"}) is None


def test_from_env_reads_exactly_the_js_environment(tmp_path: Any) -> None:
    (tmp_path / "app.db").touch()
    env = {
        "BETTER_AUTH_SECRETS": f"2:{NEW},1:{OLD}",
        "BETTER_AUTH_URL": "https://app.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
        "SESSIONGATE_SCHEMA": "better-auth",
    }
    gate = SessionGate.from_env(env)
    (auth,) = gate.authenticators
    assert isinstance(auth, BetterAuthSession)
    assert auth.secrets is not None and auth.secrets.keys == (NEW.encode(), OLD.encode())
    assert auth.cookie_names == ("__Secure-better-auth.session_token",)
    assert gate.secure_only  # every base URL the app has is https


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AUTH_URL": "https://a"}, True),
        ({"NEXTAUTH_URL": "https://a", "BETTER_AUTH_URL": "http://localhost"}, False),
        ({"AUTH_URL": "https://a", "SESSIONGATE_SECURE_ONLY": "0"}, False),
        ({"SESSIONGATE_SECURE_ONLY": "true"}, True),
        ({}, False),
    ],
)
def test_secure_only_from_env(env: dict[str, str], expected: bool) -> None:
    assert GateConfig.from_sources(environ={**env, "AUTH_SECRET": NEW}).secure_only is expected


def test_a_bad_boolean_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        GateConfig.from_sources(environ={"AUTH_SECRET": NEW, "SESSIONGATE_SECURE_ONLY": "maybe"})


def test_secure_only_credentials_drop_plain_names_in_both_constructors() -> None:
    header = "a=1; __Secure-b=2; __Host-c=3; __secure-d=4"
    parsed = RequestCredentials.from_headers({"cookie": header}, secure_only=True)
    assert dict(parsed.cookies) == {"__Secure-b": "2", "__Host-c": "3"}
    given = RequestCredentials({"a": "1", "__Host-c": "3"}, secure_only=True)
    assert dict(given.cookies) == {"__Host-c": "3"}
    assert secure_first(["a", "__Host-c", "__Secure-b"]) == ("__Host-c", "__Secure-b", "a")


def test_secure_only_gate_still_reads_secure_cookies() -> None:
    token = mint_authjs_v5({"sub": "u1"}, NEW, cookie_name="__Secure-authjs.session-token")
    gate = SessionGate(AuthJSToken(NEW), secure_only=True)
    assert (
        gate.authenticate_sync({"cookie": f"__Secure-authjs.session-token={token}"}).user.id == "u1"
    )


# ------------------------------------------------------------- the JWKS-signed cache


@pytest.fixture(scope="module")
def key() -> tuple[Ed25519PrivateKey, dict[str, Any]]:
    private = Ed25519PrivateKey.generate()
    x = base64.urlsafe_b64encode(private.public_key().public_bytes_raw()).rstrip(b"=").decode()
    return private, {
        "keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1", "alg": "EdDSA"}]
    }


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def cache_jwt(private: Ed25519PrivateKey, **extra: Any) -> str:
    claims = {
        "session": {"token": TOKEN, "userId": "u1", "expiresAt": iso(NOW + 86400)},
        "user": {"id": "u1", "name": "Ada", "role": "admin"},
        "updatedAt": NOW * 1000,
        "version": "1",
        "sid": TOKEN,
        "sub": "u1",
        "iss": ISSUER,
        "aud": "better-auth:session-cache",
        "iat": NOW,
        "exp": NOW + 300,
        **extra,
    }
    header = {"kid": "k1", "typ": "better-auth.session-cache+jwt"}
    return jwt.encode(claims, private, algorithm="EdDSA", headers=header)


def cookies_with(value: str) -> dict[str, str]:
    return {
        "__Secure-better-auth.session_token": sign_cookie_value(TOKEN, NEW),
        "__Secure-better-auth.session_data": value,
    }


def test_jwks_cache_async_and_sync_agree(key: Any) -> None:
    private, keys = key
    cache = SessionCacheJWT(jwks=StaticKeys(keys), issuer=ISSUER)
    auth = BetterAuthSession(secret=NEW, cookie_cache=cache, secure_cookies=True)
    creds = RequestCredentials(cookies_with(cache_jwt(private)))
    sync = auth.authenticate_sync(creds, NOW)
    async_ = asyncio.run(auth.authenticate(creds, NOW))
    assert sync is not None and async_ is not None
    assert sync.claims["sub"] == async_.claims["sub"] == "u1"
    assert sync.claims["role"] == "admin" and sync.expires_at == NOW + 86400


def test_for_better_auth_builds_the_plugin_jwks_url() -> None:
    cache = SessionCacheJWT.for_better_auth("https://App.example.com/")
    assert cache.rules.issuer == frozenset({"https://app.example.com"})
    assert "https://app.example.com/api/auth/jwks" in repr(cache.jwks)
    custom = SessionCacheJWT.for_better_auth("https://app.example.com/auth", jwks_path="/keys")
    assert "https://app.example.com/auth/keys" in repr(custom.jwks)


class DownKeys:
    """A key source whose endpoint is down."""

    version = 0
    failing = True

    async def get_signing_keys(self, kid: str | None) -> Any:
        raise ProviderUnavailableError("down")

    def get_signing_keys_sync(self, kid: str | None) -> Any:
        raise ProviderUnavailableError("down")


def test_key_outage_is_503_without_a_store(key: Any) -> None:
    private, _ = key
    cache = SessionCacheJWT(jwks=DownKeys(), issuer=ISSUER)
    auth = BetterAuthSession(secret=None, cookie_cache=cache)
    with pytest.raises(ProviderUnavailableError):
        auth.authenticate_sync(RequestCredentials(cookies_with(cache_jwt(private))), NOW)


def test_key_outage_falls_back_to_the_database_when_there_is_one(key: Any) -> None:
    private, _ = key
    cache = CookieCache(None, SessionCacheJWT(jwks=DownKeys(), issuer=ISSUER), names=["d"])
    assert cache.read({"d": cache_jwt(private)}, TOKEN, NOW, fall_back=True) is None


def test_secret_less_mode_refuses_store_and_shared_secret_caches() -> None:
    with pytest.raises(ConfigurationError):
        BetterAuthSession(secret=None, cookie_cache="jwe")
    with pytest.raises(ConfigurationError):
        CookieCache(None, "compact", names=["d"])
    with pytest.raises(ConfigurationError):
        BetterAuthSession(secret=NEW, cookie_cache="zip")  # type: ignore[arg-type]


def test_version_callable_must_return_a_string(key: Any) -> None:
    private, keys = key
    cache = SessionCacheJWT(jwks=StaticKeys(keys), issuer=ISSUER)
    auth = BetterAuthSession(secret=NEW, cookie_cache=cache, cookie_cache_version=lambda s, u: 1)  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigurationError):
        auth.authenticate_sync(RequestCredentials(cookies_with(cache_jwt(private))), NOW)
    with pytest.raises(ConfigurationError):
        BetterAuthSession(secret=NEW, cookie_cache="jwe", cookie_cache_version="")


def test_chunked_cache_is_read_through_the_shared_chunk_code(key: Any) -> None:
    private, keys = key
    value = cache_jwt(private, padding="x" * 6000)
    cookies = cookies_with(value)
    del cookies["__Secure-better-auth.session_data"]
    for i in range(0, len(value), 3000):
        cookies[f"__Secure-better-auth.session_data.{i // 3000}"] = value[i : i + 3000]
    cache = SessionCacheJWT(jwks=StaticKeys(keys), issuer=ISSUER)
    auth = BetterAuthSession(secret=None, cookie_cache=cache)
    found = auth.authenticate_sync(RequestCredentials(cookies), NOW)
    assert found is not None and found.claims["sub"] == "u1"
    del cookies["__Secure-better-auth.session_data.1"]  # a gap: no cache, no store
    with pytest.raises(SessionGateError):
        auth.authenticate_sync(RequestCredentials(cookies), NOW)


def test_doctor_names_a_cookie_signed_with_a_retired_secret() -> None:
    from sessiongate.doctor import diagnose

    header = f"better-auth.session_token={sign_cookie_value(TOKEN, OLD)}"
    report = diagnose(header, better_auth_secrets=[NEW, OLD], now=NOW)
    errors = {f.code for f in report.findings if f.level == "error"}
    assert "retired_secret" in errors
    current = diagnose(
        f"better-auth.session_token={sign_cookie_value(TOKEN, NEW)}",
        better_auth_secrets=[NEW, OLD],
        now=NOW,
    )
    assert "retired_secret" not in {f.code for f in current.findings}


def test_remembered_cache_jwt_is_rechecked_for_expiry_and_copied(key: Any) -> None:
    from sessiongate.errors import ExpiredTokenError

    private, keys = key
    cache = SessionCacheJWT(jwks=StaticKeys(keys), issuer=ISSUER)
    token = cache_jwt(private)
    first = cache.decode_sync(token, now=NOW)
    first["user"]["id"] = "someone-else"  # a caller's own copy
    assert cache.decode_sync(token, now=NOW)["user"]["id"] == "u1"
    with pytest.raises(ExpiredTokenError):
        cache.decode_sync(token, now=NOW + 300 + 15)


def test_doctor_reads_the_secure_only_names_of_an_https_better_auth_app(tmp_path: Any) -> None:
    from sessiongate.doctor import diagnose
    from sessiongate.doctor.inputs import Setup

    (tmp_path / "app.db").touch()
    env = {"BETTER_AUTH_SECRET": NEW, "BETTER_AUTH_URL": ISSUER}
    setup = Setup.from_sources(
        database_url=f"sqlite:///{tmp_path}/app.db", schema="better-auth", environ=env
    )
    header = f"__Secure-better-auth.session_token={sign_cookie_value(TOKEN, NEW)}"
    report = diagnose(header, setup=setup, now=NOW)
    assert "better_auth_secret" in {f.code for f in report.findings}


@pytest.mark.parametrize(
    "extra",
    [{"BASE_URL": "https://app.example.com"}, {"NUXT_PUBLIC_AUTH_URL": "https://app.example.com"}],
)
def test_an_auth_js_app_with_a_generic_base_url_is_not_taken_for_better_auth(
    extra: dict[str, str],
) -> None:
    config = GateConfig.from_sources(environ={"AUTH_SECRET": NEW, **extra})
    assert config.better_auth_secrets == () and config.better_auth_secure_cookies is None
    assert [a.name for a in SessionGate.from_env({"AUTH_SECRET": NEW, **extra}).authenticators] == [
        "authjs"
    ]
