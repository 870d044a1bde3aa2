"""Better Auth configuration parity (issue #13 items 1-5) against the real better-auth 1.7.25.

``parity_ba.mjs`` runs better-auth with exactly an app's environment (``BETTER_AUTH_SECRETS``
with two versions and a rotation, ``BETTER_AUTH_SECRET`` / ``AUTH_SECRET``, ``BETTER_AUTH_URL``,
``NODE_ENV``) and its options (cookie prefix, ``useSecureCookies``, the cookie cache and its
``version``, ``jwt({ sessionCookieCache: true })``, ``multiSession()``), signs users up and asks
its own ``getSession`` for a verdict. sessiongate, configured from the same environment by
:meth:`GateConfig.from_sources`, must reach the same verdict on the same cookies.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sessiongate.betterauth import BetterAuthSecrets
from sessiongate.config import GateConfig
from sessiongate.cookies import RequestCredentials
from sessiongate.errors import ConfigurationError, InvalidSignatureError, SessionGateError
from sessiongate.jwks import SessionCacheJWT, StaticKeys
from sessiongate.sessions import BetterAuthSession

pytestmark = pytest.mark.node

SCRIPT = Path(__file__).resolve().parent / "parity_ba.mjs"
NOW_MS = 1_790_000_000_000
NOW = NOW_MS / 1000
OLD = "old-secret-0123456789abcdefghijklmnopqrstuv"
NEW = "new-secret-0123456789abcdefghijklmnopqrstuv"
NEWEST = "newest-secret-0123456789abcdefghijklmnopq"
URL = "https://app.example.com"


def better_auth(node_bin: str, env: dict[str, str], **params: Any) -> dict[str, Any]:
    """One run of parity_ba.mjs with exactly ``env`` as the app's environment."""
    request = {"env": env, "now": NOW_MS, **params}
    proc = subprocess.run(
        [node_bin, str(SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
        cwd=SCRIPT.parent,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no answer (exit {proc.returncode}): {proc.stderr[-2000:]}"
    answer = json.loads(lines[-1])
    assert answer["ok"], answer.get("error")
    result: dict[str, Any] = answer["result"]
    return result


def cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def session_from_env(env: dict[str, str], **options: Any) -> BetterAuthSession:
    """The Better Auth authenticator ``from_env`` would build for ``env`` (store-less: the
    cookie cache, if given, is the proof)."""
    config = GateConfig.from_sources(environ=env)
    return BetterAuthSession(
        secret=list(config.better_auth_secrets),
        cookie_prefix=config.better_auth_cookie_prefix,
        secure_cookies=config.better_auth_secure_cookies,
        **options,
    )


def verdict(auth: BetterAuthSession, jar: dict[str, str], now: float = NOW) -> str | None:
    """The user id sessiongate finds in ``jar``; ``None`` for no credential or a refusal."""
    creds = RequestCredentials.from_headers({"cookie": cookie_header(jar)})
    try:
        found = auth.authenticate_sync(creds, now)
    except SessionGateError:
        return None
    return None if found is None else str(found.claims["sub"])


# ------------------------------------------------------------------------------ item 1: secrets


def test_versioned_secrets_and_rotation_match_better_auth(node_bin: str) -> None:
    before = {"BETTER_AUTH_SECRETS": f"2:{NEW},1:{OLD}", "BETTER_AUTH_URL": URL}
    after = {"BETTER_AUTH_SECRETS": f"3:{NEWEST},2:{NEW},1:{OLD}", "BETTER_AUTH_URL": URL}
    r = better_auth(node_bin, before, options={"cache": {"strategy": "jwe"}}, rotate={"env": after})
    jar, js = r["jar"], r["verdicts"]
    assert js["first"] is not None and js["rotated"] is None  # Better Auth refuses after rotation
    # before the rotation: the current secret (version 2) signs; sessiongate agrees
    assert verdict(session_from_env(before, cookie_cache="jwe"), jar) == js["first"]["userId"]
    # after: a cookie signed with the now-retired version 2 is refused, as Better Auth does ...
    secrets = BetterAuthSecrets(GateConfig.from_sources(environ=after).better_auth_secrets)
    with pytest.raises(InvalidSignatureError):
        secrets.verify_signed_cookie(jar[r["cookieNames"]["sessionToken"]])
    assert verdict(session_from_env(after, cookie_cache="jwe"), jar) is None
    # ... while every listed version still decrypts the JWE cache (by kid), as Better Auth does
    cache = jar[r["cookieNames"]["sessionData"]]
    payload, _ = secrets.decode_cookie_cache(cache, "jwe", now=NOW)
    assert payload["session"]["token"] == js["first"]["token"]


@pytest.mark.parametrize(
    "env",
    [
        {"BETTER_AUTH_SECRET": NEW},
        {"AUTH_SECRET": NEW, "BETTER_AUTH_URL": URL},
        {"BETTER_AUTH_SECRET": NEW, "AUTH_SECRET": OLD},
        {"BETTER_AUTH_SECRETS": f"7:{NEW}", "BETTER_AUTH_SECRET": OLD},
    ],
    ids=["better-auth-secret", "auth-secret", "both-legacy", "versions-and-legacy"],
)
def test_secret_resolution_order_matches_better_auth(node_bin: str, env: dict[str, str]) -> None:
    r = better_auth(node_bin, env, options={"cache": {"strategy": "compact"}})
    assert r["verdicts"]["first"] is not None
    expected = r["verdicts"]["first"]["userId"]
    assert verdict(session_from_env(env, cookie_cache="compact"), r["jar"]) == expected
    assert GateConfig.from_sources(environ=env).better_auth_secrets[0] == NEW


# ------------------------------------------------------------------------- item 2: cookie names


@pytest.mark.parametrize(
    ("env", "options", "secure_env"),
    [
        ({"BETTER_AUTH_URL": URL}, {}, None),
        ({"BETTER_AUTH_URL": "http://localhost:3000"}, {}, None),
        ({"BETTER_AUTH_URL": "http://localhost:3000"}, {"useSecureCookies": True}, "1"),
        ({"BETTER_AUTH_URL": URL}, {"useSecureCookies": False}, "0"),
        ({"NODE_ENV": "production"}, {}, None),
        ({"NEXT_PUBLIC_BETTER_AUTH_URL": URL}, {"cookiePrefix": "myapp"}, None),
    ],
    ids=[
        "https-url",
        "http-url",
        "use-secure-cookies",
        "secure-cookies-off",
        "production",
        "prefix",
    ],
)
def test_cookie_names_and_secure_choice_match_better_auth(
    node_bin: str, env: dict[str, str], options: dict[str, Any], secure_env: str | None
) -> None:
    env = {**env, "BETTER_AUTH_SECRET": NEW}
    r = better_auth(node_bin, env, options={**options, "cache": {"strategy": "compact"}})
    ours = dict(env)
    if secure_env is not None:  # useSecureCookies lives in the TS config, not the environment
        ours["SESSIONGATE_BETTER_AUTH_SECURE_COOKIES"] = secure_env
    if "cookiePrefix" in options:
        ours["SESSIONGATE_BETTER_AUTH_COOKIE_PREFIX"] = options["cookiePrefix"]
    auth = session_from_env(ours, cookie_cache="compact")
    assert auth.cookie_names == (r["cookieNames"]["sessionToken"],)
    assert auth.data_cookie_names == (r["cookieNames"]["sessionData"],)
    assert verdict(auth, r["jar"]) == r["verdicts"]["first"]["userId"]


def test_multi_session_cookies_are_never_taken_for_the_session(node_bin: str) -> None:
    env = {"BETTER_AUTH_SECRET": NEW, "BETTER_AUTH_URL": URL}
    r = better_auth(
        node_bin, env, users=2, options={"multiSession": True, "cache": {"strategy": "compact"}}
    )
    jar = r["jar"]
    assert sum("_multi-" in name for name in jar) == 2
    auth = session_from_env(env, cookie_cache="compact")
    assert verdict(auth, jar) == r["verdicts"]["first"]["userId"] == r["tokens"][1]["userId"]
    only_multi = {k: v for k, v in jar.items() if "_multi-" in k}
    assert (
        auth.token(RequestCredentials.from_headers({"cookie": cookie_header(only_multi)})) is None
    )


# ------------------------------------------------- items 4 and 5: the JWKS-signed cache, versions


def test_jwt_plugin_session_cache_verifies_with_the_jwks_and_no_secret(node_bin: str) -> None:
    env = {"BETTER_AUTH_SECRETS": f"2:{NEW},1:{OLD}", "BETTER_AUTH_URL": URL}
    r = better_auth(
        node_bin,
        env,
        options={"cookiePrefix": "myapp", "jwtCache": True, "cache": {"strategy": "jwt"}},
    )
    jar, expected = r["jar"], r["verdicts"]["first"]["userId"]
    cache = SessionCacheJWT(jwks=StaticKeys(r["jwks"]), issuer=URL)
    no_secret = BetterAuthSession(
        secret=None, cookie_prefix="myapp", secure_cookies=True, cookie_cache=cache
    )
    assert verdict(no_secret, jar) == expected
    with_secret = session_from_env(
        {**env, "SESSIONGATE_BETTER_AUTH_COOKIE_PREFIX": "myapp"}, cookie_cache=cache
    )
    assert verdict(with_secret, jar) == expected
    assert verdict(no_secret, jar, now=NOW + 300 + 15) is None  # exp + Better Auth's 15 s
    wrong_issuer = SessionCacheJWT(jwks=StaticKeys(r["jwks"]), issuer="https://other.example.com")
    other = BetterAuthSession(secret=None, cookie_prefix="myapp", cookie_cache=wrong_issuer)
    assert verdict(other, jar) is None


@pytest.mark.parametrize("strategy", ["compact", "jwe"])
def test_chunked_cache_and_version_callable_match_better_auth(node_bin: str, strategy: str) -> None:
    env = {"BETTER_AUTH_SECRET": NEW, "BETTER_AUTH_URL": URL}
    r = better_auth(
        node_bin,
        env,
        namePadding=5000,
        options={"cache": {"strategy": strategy, "version": "by-role"}},
    )
    jar = r["jar"]
    data = r["cookieNames"]["sessionData"]
    assert data not in jar and f"{data}.0" in jar and f"{data}.1" in jar  # chunked by Better Auth
    expected = r["verdicts"]["first"]["userId"]

    def by_name(session: Any, user: Any) -> str:  # the TS config's (session, user) => `v-${name}`
        return f"v-{user['name']}"

    assert (
        verdict(session_from_env(env, cookie_cache=strategy, cookie_cache_version=by_name), jar)
        == expected
    )
    assert (
        verdict(session_from_env(env, cookie_cache=strategy, cookie_cache_version="1"), jar) is None
    )


SECRETS_VALUES = [
    "1:a",
    "1a:b",
    " 2 : c , 1:d",
    "-1:x",
    "-0:x",
    "x",
    "1:",
    "1:a,1:b",
    "+3:z",
    "1:a:b",
    "",
    "1:a,",
    "0x1:a",
    "1.5:a",
    " :a",
    "\t4\t:\ta\t",
]


def test_versioned_secret_parsing_matches_better_auth(node_bin: str) -> None:
    from sessiongate._secrets import parse_versioned_secrets
    from sessiongate.errors import ConfigurationError

    proc = subprocess.run(
        [node_bin, str(SCRIPT)],
        input=json.dumps({"op": "parseSecretsEnv", "values": SECRETS_VALUES}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
        cwd=SCRIPT.parent,
    )
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])["result"]
    for value, js in zip(SECRETS_VALUES, theirs, strict=True):
        if "error" in js:
            with pytest.raises(ConfigurationError):
                parse_versioned_secrets(value)
        else:
            assert [list(v) for v in parse_versioned_secrets(value)] == js["versions"], value


@pytest.mark.parametrize("strategy", ["compact", "jwt", "jwe"])
def test_cookie_cache_strategy_named_in_the_environment_proves_the_session(
    node_bin: str, strategy: str, tmp_path: Path
) -> None:
    """``SESSIONGATE_BETTER_AUTH_COOKIE_CACHE`` is ``session.cookieCache.strategy``: with it,
    ``from_env`` trusts the ``session_data`` cookie better-auth wrote, as better-auth does (the
    database, empty here, is not asked); without it the cache is not trusted."""
    from sessiongate import SessionGate

    env = {"BETTER_AUTH_SECRET": NEW, "BETTER_AUTH_URL": URL}
    r = better_auth(node_bin, env, options={"cache": {"strategy": strategy}})
    expected = r["verdicts"]["first"]["userId"]
    empty = tmp_path / "no-tables.db"
    sqlite3.connect(empty).close()  # a database without the Better Auth tables
    ours = {
        **env,
        "DATABASE_URL": f"sqlite:///{empty}",
        "SESSIONGATE_SCHEMA": "better-auth",
        "SESSIONGATE_BA_ADMIN": "off",
        "SESSIONGATE_BA_ORGANIZATION": "off",
        "SESSIONGATE_BA_API_KEY": "off",
    }
    headers = {"cookie": cookie_header(r["jar"])}
    cached = SessionGate.from_env(
        {**ours, "SESSIONGATE_BETTER_AUTH_COOKIE_CACHE": strategy}, clock=lambda: NOW
    )
    assert cached.authenticate_sync(headers).user.id == expected
    uncached = SessionGate.from_env(ours, clock=lambda: NOW)
    with pytest.raises(SessionGateError):  # the session row is looked up: there is none
        uncached.authenticate_sync(headers)
    with pytest.raises(ConfigurationError, match="compact, jwt or jwe"):
        GateConfig.from_sources(environ={**ours, "SESSIONGATE_BETTER_AUTH_COOKIE_CACHE": "zip"})
