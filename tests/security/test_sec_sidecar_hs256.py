"""Issue #9 item 6: HS256 Bearer JWTs are opt-in, with their own secret.

``SessionGate.from_env`` and ``sessiongate serve`` used to key an HS256 ``BearerJWT`` with
``AUTH_SECRET``, with no ``iss``/``aud`` check: any HS256 JWT the Next.js app signs with that
secret for another purpose (a password-reset link, an invitation) was a full API credential.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx
import pytest

from sessiongate import SessionGate
from sessiongate.cli import main as cli_main
from sessiongate.config import GateConfig, build_authenticators
from sessiongate.errors import ConfigurationError, SessionGateError
from sessiongate.sidecar import SidecarApp
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256

AUTH_SECRET = "sec-sidecar-auth-secret-0123456789abcdef"
JWT_SECRET = "sec-sidecar-dedicated-jwt-secret-012345"
NOW = 1_800_000_000


def reset_link_jwt(secret: str = AUTH_SECRET, **claims: Any) -> str:
    """What `jsonwebtoken.sign({sub, purpose}, AUTH_SECRET, {expiresIn: "1h"})` makes for a
    password-reset e-mail."""
    return mint_hs256({"sub": "victim-id", "purpose": "password-reset", **claims}, secret, now=NOW)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def from_env(env: dict[str, str]) -> SessionGate:
    return SessionGate.from_env(env, clock=lambda: NOW, memo_size=0)


def test_app_signed_reset_link_jwt_is_not_an_api_credential():
    gate = from_env({"AUTH_SECRET": AUTH_SECRET})
    # the session cookie still works...
    cookie = {"cookie": cookie_header(mint_authjs_v5({"sub": "u1"}, AUTH_SECRET, now=NOW))}
    assert gate.authenticate_sync(cookie).user.id == "u1"
    # ...but an HS256 JWT signed with AUTH_SECRET is nobody (on the old code: user victim-id)
    with pytest.raises(SessionGateError):
        gate.authenticate_sync(bearer(reset_link_jwt()))
    assert [a.name for a in gate.authenticators] == ["authjs"]


def test_app_signed_reset_link_jwt_is_refused_by_the_sidecar():
    config = GateConfig.from_sources(environ={"AUTH_SECRET": AUTH_SECRET})
    app = SidecarApp(SessionGate(*build_authenticators(config)))

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as client:
            return await client.get(
                "/verify", headers=bearer(mint_hs256({"sub": "x"}, AUTH_SECRET))
            )

    r = asyncio.run(go())
    assert r.status_code == 401 and "x-user-id" not in r.headers


@pytest.mark.parametrize("name", ["SESSIONGATE_JWT_SECRET", "JWT_SECRET"])
def test_dedicated_jwt_secret_enables_hs256_bearer(name):
    gate = from_env({"AUTH_SECRET": AUTH_SECRET, name: JWT_SECRET})
    assert gate.authenticate_sync(bearer(reset_link_jwt(JWT_SECRET))).user.id == "victim-id"
    with pytest.raises(SessionGateError):  # still never the session secret
        gate.authenticate_sync(bearer(reset_link_jwt()))


def test_sessiongate_jwt_secret_wins_over_jwt_secret():
    gate = from_env({"SESSIONGATE_JWT_SECRET": JWT_SECRET, "JWT_SECRET": "recipe-secret-0123456"})
    assert gate.authenticate_sync(bearer(reset_link_jwt(JWT_SECRET))).user.id == "victim-id"
    with pytest.raises(SessionGateError):
        gate.authenticate_sync(bearer(reset_link_jwt("recipe-secret-0123456")))


def test_required_audience_and_issuer_refuse_other_jwts():
    env = {
        "SESSIONGATE_JWT_SECRET": JWT_SECRET,
        "SESSIONGATE_JWT_AUDIENCE": "api",
        "SESSIONGATE_JWT_ISSUER": "https://app.example.com",
    }
    gate = from_env(env)
    ok = reset_link_jwt(JWT_SECRET, aud="api", iss="https://app.example.com")
    assert gate.authenticate_sync(bearer(ok)).user.id == "victim-id"
    for token in (
        reset_link_jwt(JWT_SECRET),  # no aud / iss at all
        reset_link_jwt(JWT_SECRET, aud="api"),
        reset_link_jwt(JWT_SECRET, aud="invites", iss="https://app.example.com"),
    ):
        with pytest.raises(SessionGateError) as err:
            gate.authenticate_sync(bearer(token))
        assert err.value.code == "invalid_claim"


def test_jwt_secret_reusing_the_session_secret_needs_an_audience():
    env = {"AUTH_SECRET": AUTH_SECRET, "JWT_SECRET": AUTH_SECRET}
    with pytest.raises(ConfigurationError, match="also a session secret") as err:
        from_env(env)
    assert AUTH_SECRET not in str(err.value)
    env_ba = {"BETTER_AUTH_SECRET": AUTH_SECRET, "SESSIONGATE_JWT_SECRET": AUTH_SECRET}
    with pytest.raises(ConfigurationError, match="also a session secret"):
        build_authenticators(GateConfig.from_sources(environ=env_ba))
    gate = from_env({**env, "SESSIONGATE_JWT_AUDIENCE": "api"})
    assert gate.authenticate_sync(bearer(reset_link_jwt(aud="api"))).user.id == "victim-id"
    with pytest.raises(SessionGateError):
        gate.authenticate_sync(bearer(reset_link_jwt()))


def test_describe_says_which_claims_are_checked():
    config = GateConfig.from_sources(environ={"AUTH_SECRET": AUTH_SECRET})
    assert not any("Bearer JWTs" in line for line in config.describe())
    config = GateConfig.from_sources(
        jwt_secrets=[JWT_SECRET], jwt_audience="api", environ={"AUTH_SECRET": AUTH_SECRET}
    )
    assert "HS256 Bearer JWTs (1 secret(s), aud 'api')" in config.describe()
    assert JWT_SECRET not in repr(config) + " ".join(config.describe())


# ------------------------------------------------------------------------------ serve


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[SidecarApp]:
    """``sessiongate serve`` up to ``serve.run`` (which records the worker's app instead of
    serving)."""
    import sessiongate.sidecar.serve
    from sessiongate.sidecar.serve.app import build_app

    apps: list[SidecarApp] = []
    monkeypatch.setattr(
        sessiongate.sidecar.serve, "run", lambda options, spec: apps.append(build_app(spec)) or 0
    )
    for name in ("AUTH_SECRET", "AUTH_SECRET_1", "AUTH_SECRET_2", "AUTH_SECRET_3"):
        monkeypatch.delenv(name, raising=False)
    for name in ("NEXTAUTH_SECRET", "JWT_SECRET", "BETTER_AUTH_SECRET", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("SECRET", "AUDIENCE", "ISSUER"):
        monkeypatch.delenv(f"SESSIONGATE_JWT_{name}", raising=False)
    monkeypatch.delenv("SESSIONGATE_CSRF", raising=False)
    monkeypatch.delenv("SESSIONGATE_TRUSTED_ORIGINS", raising=False)
    return apps


def serve(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = cli_main(["serve", *argv], stdout=out)
    return code, out.getvalue()


def test_serve_with_the_session_secret_only_has_no_hs256_bearer(served, monkeypatch):
    monkeypatch.setenv("AUTH_SECRET", AUTH_SECRET)
    code, out = serve([])
    assert code == 0
    assert "Bearer JWTs" not in out and "warning" not in out
    assert [a.name for a in served[0].gate.authenticators] == ["authjs"]


def test_serve_jwt_flags(served, monkeypatch):
    monkeypatch.setenv("AUTH_SECRET", AUTH_SECRET)
    monkeypatch.setenv("SESSIONGATE_JWT_SECRET", JWT_SECRET)
    code, out = serve(["--jwt-audience", "api", "--jwt-issuer", "https://app.example.com"])
    assert code == 0
    assert "aud 'api'" in out and "iss 'https://app.example.com'" in out
    gate = served[0].gate
    token = mint_hs256({"sub": "s", "aud": "api", "iss": "https://app.example.com"}, JWT_SECRET)
    assert gate.authenticate_sync(bearer(token)).user.id == "s"
    with pytest.raises(SessionGateError):
        gate.authenticate_sync(bearer(mint_hs256({"sub": "s"}, JWT_SECRET)))


def test_serve_refuses_the_session_secret_as_jwt_secret(served):
    code, out = serve(["--secret", AUTH_SECRET, "--jwt-secret", AUTH_SECRET])
    assert code == 2 and "also a session secret" in out and not served
    assert AUTH_SECRET not in out


def test_serve_secret_flag_prints_a_process_list_warning(served, monkeypatch):
    code, out = serve(["--secret", AUTH_SECRET, "--jwt-secret", JWT_SECRET])
    assert code == 0
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "process list" in warnings[0] and "AUTH_SECRET" in warnings[0]
    assert "SESSIONGATE_JWT_SECRET" in warnings[0]
    assert AUTH_SECRET not in out and JWT_SECRET not in out
    monkeypatch.setenv("AUTH_SECRET", AUTH_SECRET)
    code, out = serve([])
    assert code == 0 and "warning" not in out


def test_serve_csrf_flags_and_env(served, monkeypatch):
    monkeypatch.setenv("AUTH_SECRET", AUTH_SECRET)
    assert serve([])[0] == 0 and served[-1].csrf_mode == "auto"
    monkeypatch.setenv("SESSIONGATE_CSRF", "strict")
    monkeypatch.setenv("SESSIONGATE_TRUSTED_ORIGINS", "https://a.example.com, https://*.b.example")
    code, out = serve([])
    assert code == 0 and "csrf: strict" in out
    assert served[-1].csrf_mode == "strict"
    assert served[-1].policy.origins.is_trusted("https://x.b.example", None)
    code, out = serve(["--csrf", "off", "--trusted-origin", "https://c.example.com"])
    assert code == 0 and "csrf: off" in out and "upstream must check" in out
    assert served[-1].policy.origins.is_trusted("https://c.example.com", None)
    assert not served[-1].policy.origins.is_trusted("https://a.example.com", None)
    monkeypatch.setenv("SESSIONGATE_CSRF", "maybe")
    code, out = serve([])
    assert code == 2 and "the CSRF mode must be one of auto, strict, off" in out
    monkeypatch.setenv("SESSIONGATE_CSRF", "auto")
    code, out = serve(["--trusted-origin", "https://c.example.com/path"])
    assert code == 2 and "without a path" in out
