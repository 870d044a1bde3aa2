"""The sidecar ASGI app (``sessiongate serve``) through httpx's ASGITransport.

Every status (200/400/401/403/404/431/503), the ``X-User-*`` header contract, requirements from
the query string and from headers, and header-injection attempts through claim values.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import unquote

import httpx
import pytest

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.config import GateConfig, build_authenticators
from sessiongate.errors import ConfigurationError, ProviderUnavailableError
from sessiongate.sidecar import SidecarApp, encode_header_value, user_headers
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256
from sessiongate.types import Verified
from sessiongate.user import User

S = "sidecar-secret-0123456789abcdef"
ADMIN = {
    "sub": "user-1",
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "role": "admin",
    "permissions": ["posts:read", "posts:write"],
}


def gate() -> SessionGate:
    return SessionGate(AuthJSToken(S), BearerJWT(S))


def call(app: SidecarApp, method: str, url: str, **kwargs) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(go())


def v5_cookie(claims=ADMIN, **kw) -> dict[str, str]:
    return {"cookie": cookie_header(mint_authjs_v5(claims, S, **kw))}


def bearer(claims=ADMIN, secret: str = S, **kw) -> dict[str, str]:
    return {"authorization": "Bearer " + mint_hs256(claims, secret, **kw)}


# ------------------------------------------------------------------------------ 200


def test_verify_v5_cookie_sets_user_headers_and_json():
    r = call(SidecarApp(gate()), "GET", "/verify", headers=v5_cookie())
    assert r.status_code == 200
    assert r.headers["x-user-id"] == "user-1"
    assert r.headers["x-user-email"] == "ada@example.com"
    assert r.headers["x-user-name"] == "Ada Lovelace"
    assert r.headers["x-user-role"] == "admin"
    assert r.headers["x-user-roles"] == "admin"
    assert r.headers["x-user-permissions"] == "posts:read,posts:write"
    assert r.headers["x-auth-source"] == "authjs-v5"
    assert r.headers["x-auth-credential"] == "cookie"
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["credential"] == "cookie" and body["authenticator"] == "authjs"
    assert body["user"]["id"] == "user-1"
    assert body["user"]["roles"] == ["admin"]
    assert body["user"]["permissions"] == ["posts:read", "posts:write"]
    assert "claims" not in body["user"]


def test_verify_bearer_any_method_and_envoy_subpath():
    app = SidecarApp(gate())
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        r = call(app, method, "/verify", headers=bearer())
        assert r.status_code == 200, method
        assert r.headers["x-auth-source"] == "jws"
        assert r.headers["x-auth-credential"] == "bearer"
    r = call(app, "POST", "/verify/api/posts/1", headers=bearer(), content=b'{"x": 1}')
    assert r.status_code == 200 and r.headers["x-user-id"] == "user-1"


def test_head_has_headers_and_no_body():
    r = call(SidecarApp(gate()), "HEAD", "/verify", headers=v5_cookie())
    assert r.status_code == 200 and r.headers["x-user-id"] == "user-1" and r.content == b""


def test_include_claims_is_opt_in():
    claims = {**ADMIN, "accessToken": "provider-token"}
    r = call(SidecarApp(gate()), "GET", "/verify", headers=v5_cookie(claims))
    assert "provider-token" not in r.text
    r = call(SidecarApp(gate(), include_claims=True), "GET", "/verify", headers=v5_cookie(claims))
    assert r.json()["user"]["claims"]["accessToken"] == "provider-token"


def test_absent_fields_have_no_header():
    r = call(SidecarApp(gate()), "GET", "/verify", headers=bearer({"sub": "u2"}))
    assert r.status_code == 200
    assert r.headers["x-user-id"] == "u2"
    for name in (
        "x-user-email",
        "x-user-name",
        "x-user-role",
        "x-user-roles",
        "x-user-permissions",
    ):
        assert name not in r.headers


def test_healthz_and_not_found():
    app = SidecarApp(gate())
    r = call(app, "GET", "/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    r = call(app, "GET", "/nope", headers=v5_cookie())
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert "x-user-id" not in r.headers


# ------------------------------------------------------------------------------ 401


def test_missing_credentials_is_bare_401_challenge():
    r = call(SidecarApp(gate()), "GET", "/verify")
    assert r.status_code == 401
    assert r.json() == {
        "error": "missing_credentials",
        "message": "no session cookie or bearer token was sent",
    }
    assert r.headers["www-authenticate"] == "Bearer"
    assert "x-user-id" not in r.headers


def test_expired_cookie_401_with_invalid_token_and_no_echo():
    headers = v5_cookie(now=1_000_000, max_age=60)
    r = call(SidecarApp(gate()), "GET", "/verify", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"] == "expired"
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    token = headers["cookie"].split("=", 1)[1]
    assert token not in r.text and token not in str(r.headers)


def test_wrong_secret_bearer_401():
    r = call(SidecarApp(gate()), "GET", "/verify", headers=bearer(secret="another-secret-xyz"))
    assert (r.status_code, r.json()["error"]) == (401, "invalid_signature")


def test_garbage_bearer_401_malformed():
    r = call(SidecarApp(gate()), "GET", "/verify", headers={"authorization": "Bearer abc"})
    assert (r.status_code, r.json()["error"]) == (401, "malformed")


# ------------------------------------------------------------------------------ 403 / 400


@pytest.mark.parametrize(
    ("url", "headers", "status"),
    [
        ("/verify?role=admin", {}, 200),
        ("/verify?role=editor", {}, 403),
        ("/verify?role=admin&role=editor", {}, 403),
        ("/verify?role=admin,editor", {}, 403),
        ("/verify?role=admin|editor", {}, 200),
        ("/verify?role=editor%7Cadmin", {}, 200),
        ("/verify?permission=posts:write", {}, 200),
        ("/verify?permission=posts:delete", {}, 403),
        ("/verify?permission=posts:delete|posts:read", {}, 200),
        ("/verify?role=admin&permission=posts:delete", {}, 403),
        ("/verify?role=admin&permission=posts:delete|posts:write", {}, 200),
        ("/verify?role=", {}, 200),
        ("/verify", {"x-require-role": "admin"}, 200),
        ("/verify", {"x-require-role": "editor"}, 403),
        ("/verify", {"x-require-permission": "posts:read, posts:write"}, 200),
        ("/verify", {"x-require-role": "editor | admin"}, 200),
        ("/verify", {"x-require-role": "admin, editor|viewer"}, 403),
        ("/verify?role=admin", {"x-require-permission": "posts:read"}, 200),
        ("/verify?role=admin", {"x-require-permission": "posts:delete"}, 403),
    ],
)
def test_requirements(url, headers, status):
    r = call(SidecarApp(gate()), "GET", url, headers={**v5_cookie(), **headers})
    assert r.status_code == status, r.text
    if status == 403:
        assert r.json()["error"] == "insufficient_scope"
        assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
        assert "x-user-id" not in r.headers


def test_header_requirements_cannot_loosen_query_requirements():
    # the proxy asks for both roles; nothing a client adds can make either optional
    for extra in ({"x-require-role": "admin|viewer"}, {"x-require-role": "admin"}):
        r = call(
            SidecarApp(gate()),
            "GET",
            "/verify?role=admin&role=editor",
            headers={**v5_cookie(), **extra},
        )
        assert r.status_code == 403
    r = call(
        SidecarApp(gate()),
        "GET",
        "/verify?role=admin&role=editor",
        headers={**v5_cookie(), "x-require-mode": "any"},
    )
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")


def test_query_ignored_under_envoy_subpath():
    # /verify/<original path>: the query string is the original request's, not a requirement
    r = call(SidecarApp(gate()), "GET", "/verify/api?role=editor", headers=v5_cookie())
    assert r.status_code == 200


def test_role_hierarchy_applies():
    app = SidecarApp(gate(), role_hierarchy={"admin": ["editor"]})
    assert call(app, "GET", "/verify?role=editor", headers=v5_cookie()).status_code == 200


def test_requirement_on_anonymous_is_401_not_403():
    r = call(SidecarApp(gate()), "GET", "/verify?role=admin")
    assert (r.status_code, r.json()["error"]) == (401, "missing_credentials")


def test_mode_and_too_many_names_are_400():
    for url in ("/verify?role=admin&mode=any", "/verify?role=admin&mode=all"):
        r = call(SidecarApp(gate()), "GET", url, headers=v5_cookie())
        assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
        assert "admin|billing" in r.json()["message"]
    r = call(SidecarApp(gate()), "GET", "/verify?" + "&".join(f"role=r{i}" for i in range(40)))
    assert r.status_code == 400
    r = call(SidecarApp(gate()), "GET", "/verify?role=" + "|".join(f"r{i}" for i in range(33)))
    assert r.status_code == 400
    many = ",".join(f"p{i}" for i in range(33))
    r = call(SidecarApp(gate()), "GET", "/verify", headers={"x-require-permission": many})
    assert r.status_code == 400
    r = call(SidecarApp(gate()), "GET", "/verify?" + "&".join(["role=a"] * 70))
    assert (r.status_code, r.json()["message"]) == (400, "malformed requirements")
    # roles and permissions share the cap
    both = {"x-require-role": ",".join(f"r{i}" for i in range(20))}
    both["x-require-permission"] = ",".join(f"p{i}" for i in range(13))
    assert call(SidecarApp(gate()), "GET", "/verify", headers=both).status_code == 400


# ------------------------------------------------------------------------------ 503 / 431


class DownAuthenticator:
    name = "database"

    def authenticate_sync(self, credentials, now: float) -> Verified | None:
        if credentials.cookies:
            raise ProviderUnavailableError()
        return None


def test_outage_is_503_with_retry_after():
    app = SidecarApp(SessionGate(DownAuthenticator()), retry_after=7)
    r = call(app, "GET", "/verify", headers={"cookie": "authjs.session-token=abc"})
    assert r.status_code == 503
    assert r.json()["error"] == "provider_unavailable"
    assert r.headers["retry-after"] == "7"
    assert "www-authenticate" not in r.headers


def test_oversized_headers_431():
    app = SidecarApp(gate(), max_header_bytes=4096)
    r = call(app, "GET", "/verify", headers={**v5_cookie(), "x-padding": "a" * 5000})
    assert (r.status_code, r.json()["error"]) == (431, "headers_too_large")


def test_oversized_cookie_under_header_cap_is_401_token_too_large():
    r = call(SidecarApp(gate()), "GET", "/verify", headers={"cookie": "a=" + "b" * 70_000})
    assert (r.status_code, r.json()["error"]) == (401, "token_too_large")


# ------------------------------------------------------------------------------ injection


INJECTIONS = [
    "Ada\r\nX-User-Role: superadmin",
    "Ada\nSet-Cookie: session=evil",
    "Ada\rX-Evil: 1",
    "Ada\x00\x01\x7f",
    "Zoë 😀 Łukasz",
    "100% legit, trust me",
    " leading and trailing ",
]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_claim_values_cannot_inject_headers(evil):
    claims = {
        "sub": "id\r\nX-User-Role: root",
        "email": evil,
        "name": evil,
        "role": evil,
        "permissions": [evil, "ok", "a,b"],
    }
    r = call(SidecarApp(gate()), "GET", "/verify", headers=v5_cookie(claims))
    assert r.status_code == 200
    names = [k.lower() for k in r.headers]
    assert "x-evil" not in names and "set-cookie" not in names
    assert names.count("x-user-role") == 1
    for key in ("x-user-name", "x-user-email", "x-user-role"):
        raw = r.headers[key]
        assert all(0x20 <= ord(c) < 0x7F for c in raw), raw
        assert unquote(raw) == evil
    assert unquote(r.headers["x-user-id"]) == "id\r\nX-User-Role: root"
    perms = [unquote(p) for p in r.headers["x-user-permissions"].split(",")]
    assert sorted(perms) == sorted([evil, "ok", "a,b"])
    assert r.json()["user"]["name"] == evil


def test_encode_header_value_round_trips_and_fast_path():
    assert encode_header_value("ada@example.com") == "ada@example.com"
    assert encode_header_value("a b") == "a b"
    assert encode_header_value("a,b") == "a,b"
    assert encode_header_value("a,b", list_item=True) == "a%2Cb"
    assert encode_header_value("50%") == "50%25"
    assert encode_header_value("\r\n") == "%0D%0A"
    assert encode_header_value(" x ") == "%20x%20"
    for value in INJECTIONS:
        assert unquote(encode_header_value(value)) == value


def test_overlong_values_left_out_of_headers():
    user = User(id="u", name="n" * 5000, roles=frozenset({"r" * 2000}), source="jws")
    headers = dict(user_headers(user, "jws", "bearer", max_value_bytes=1024))
    assert headers["X-User-Id"] == "u"
    assert "X-User-Name" not in headers and "X-User-Roles" not in headers


def test_secrets_never_in_error_bodies():
    r = call(SidecarApp(gate()), "GET", "/verify", headers=bearer(secret="another-secret-xyz"))
    assert S not in r.text and "another-secret-xyz" not in r.text


# ------------------------------------------------------------------------------ lifespan


def test_lifespan_closes_gate():
    closed: list[bool] = []

    class Closing:
        name = "closing"

        def authenticate_sync(self, credentials, now):
            return None

        async def aclose(self) -> None:
            closed.append(True)

    app = SidecarApp(SessionGate(Closing()))
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[dict] = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert closed == [True]


# ------------------------------------------------------------------------------ configuration


def test_config_from_env_and_flags_win():
    env = {
        "AUTH_SECRET": "env-secret",
        "AUTH_SECRET_1": "env-secret-1",
        "SESSIONGATE_JWT_SECRET": "jwt-env",
        "JWT_SECRET": "jwt-recipe",
        "SESSIONGATE_JWT_AUDIENCE": "api",
        "SESSIONGATE_JWT_ISSUER": "https://app.example.com",
    }
    cfg = GateConfig.from_sources(environ=env)
    assert cfg.secrets == ("env-secret-1", "env-secret")
    assert cfg.jwt_secrets == ("jwt-env",)
    assert (cfg.jwt_audience, cfg.jwt_issuer) == ("api", "https://app.example.com")
    cfg = GateConfig.from_sources(
        secrets=["flag"], jwt_secrets=["jf"], jwt_audience="a2", jwt_issuer="i2", environ=env
    )
    assert cfg.secrets == ("flag",) and cfg.jwt_secrets == ("jf",)
    assert (cfg.jwt_audience, cfg.jwt_issuer) == ("a2", "i2")
    del env["SESSIONGATE_JWT_SECRET"]
    assert GateConfig.from_sources(environ=env).jwt_secrets == ("jwt-recipe",)
    text = repr(cfg) + json.dumps(cfg.describe())
    assert "flag" not in text.replace("flags", "") and "jf" not in text and "env-secret" not in text


def test_build_authenticators_configuration_errors():
    with pytest.raises(ConfigurationError, match="nothing to verify"):
        SessionGate(*build_authenticators(GateConfig()))
    with pytest.raises(ConfigurationError, match="database"):
        SessionGate(*build_authenticators(GateConfig(better_auth_secrets=("b",))))
    with pytest.raises(ConfigurationError, match="--issuer and --audience"):
        SessionGate(*build_authenticators(GateConfig(jwks_url="https://idp.example.com/jwks")))
    with pytest.raises(ConfigurationError):
        SidecarApp("not a gate")  # type: ignore[arg-type]


def test_build_authenticators_verifies_what_it_was_given():
    g = SessionGate(*build_authenticators(GateConfig(secrets=(S,))))
    r = call(SidecarApp(g), "GET", "/verify", headers=bearer())
    assert (r.status_code, r.json()["error"]) == (401, "malformed")  # no HS256 verifier at all
    g = SessionGate(*build_authenticators(GateConfig(jwt_secrets=(S,))))
    r = call(SidecarApp(g), "GET", "/verify", headers=bearer())
    assert r.status_code == 200
    g = SessionGate(
        *build_authenticators(GateConfig(secrets=(S,), jwt_secrets=("only-jwt-secret-123",)))
    )
    r = call(SidecarApp(g), "GET", "/verify", headers=bearer())
    assert (r.status_code, r.json()["error"]) == (401, "invalid_signature")
    r = call(SidecarApp(g), "GET", "/verify", headers=v5_cookie())
    assert r.status_code == 200


def test_lone_surrogate_claim_is_200_not_500():
    from sessiongate.authjs import v5_key

    key = v5_key(S, "authjs.session-token")
    body = b'{"sub":"u1","name":"Ada\\ud83d","exp":99999999999}'
    token = key.encrypt(body, {"kid": key.kid})
    r = call(SidecarApp(gate()), "GET", "/verify", headers={"cookie": cookie_header(token)})
    assert r.status_code == 200
    assert r.headers["x-user-name"] == "Ada%ED%A0%BD"
    assert json.loads(r.content)["user"]["name"] == "Ada\ud83d"
