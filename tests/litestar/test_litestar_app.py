"""sessiongate.litestar through Litestar's test client: statuses, headers and bodies, guards,
exclusions, anonymous mode, WebSocket refusals and the OpenAPI document."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from litestar import Litestar, Request, Response
from litestar.exceptions import WebSocketDisconnect
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient
from sg_litestar_helpers import (
    EVIL,
    FRONT,
    ROUTES,
    OutageAuthenticator,
    build_app,
    build_bearer,
    build_cookie,
    build_expired_bearer,
    build_token,
    make_gate,
)

from sessiongate import SessionGate
from sessiongate.errors import ConfigurationError
from sessiongate.litestar import (
    SessionGateHTTPException,
    SessionGateMiddleware,
    SessionGatePlugin,
    require_permissions,
    require_role,
)

NO_CREDENTIALS = {
    "error": "missing_credentials",
    "message": "no session cookie or bearer token was sent",
}


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(build_app()) as test_client:
        yield test_client


def test_anonymous_request_gets_401_with_a_bare_challenge(client: Any) -> None:
    r = client.get("/me")
    assert r.status_code == 401
    assert r.json() == NO_CREDENTIALS
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-type"] == "application/json"


def test_bad_token_gets_the_invalid_token_challenge(client: Any) -> None:
    r = client.get("/me", headers=build_expired_bearer())
    assert (r.status_code, r.json()["error"]) == (401, "expired")
    assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_cookie_and_bearer_users(client: Any) -> None:
    r = client.get("/me", headers=build_cookie(role="moderator"))
    assert r.json() == {"id": "u1", "credential": "cookie", "scopes": ["moderator", "user"]}
    r = client.get("/me", headers=build_bearer(permissions=["posts:write"]))
    assert r.json() == {"id": "u2", "credential": "bearer", "scopes": ["posts:write"]}


def test_role_guard_expands_the_hierarchy(client: Any) -> None:
    assert client.get("/moderate", headers=build_cookie(role="admin")).json() == {"ok": True}
    r = client.get("/moderate", headers=build_cookie(role="user"))
    assert r.status_code == 403
    assert r.json() == {"error": "insufficient_scope", "message": "required role(s): moderator"}
    assert r.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="required role(s): moderator"'
    )


def test_any_of_several_roles(client: Any) -> None:
    assert client.get("/either", headers=build_cookie(role="auditor")).status_code == 200
    r = client.get("/either", headers=build_cookie(role="user"))
    assert (r.status_code, r.json()["message"]) == (
        403,
        "one of these role(s) is required: admin, auditor",
    )


def test_permission_guard_and_csrf_on_cookie_writes(client: Any) -> None:
    writer = build_cookie(permissions=["posts:write"])
    r = client.post("/posts", headers={**writer, "origin": FRONT})
    assert (r.status_code, r.json()) == (201, {"created_by": "u1"})
    for origin in ({"origin": EVIL}, {}):
        r = client.post("/posts", headers={**writer, **origin})
        assert (r.status_code, r.json()["error"]) == (403, "csrf_failed")
        assert "www-authenticate" not in r.headers
    r = client.post("/posts", headers={**build_bearer(permissions=["posts:write"]), "origin": EVIL})
    assert r.status_code == 201  # a bearer token is not sent by another site's page
    r = client.post("/posts", headers={**build_cookie(), "origin": FRONT})
    assert (r.status_code, r.json()["error"]) == (403, "insufficient_scope")


def test_excluded_routes_need_no_credential(client: Any) -> None:
    assert client.get("/health").json() == {"ok": True}
    assert client.get("/schema/openapi.json").status_code == 200


def test_a_guard_on_an_excluded_route_is_a_configuration_error_not_a_pass(client: Any) -> None:
    r = client.get("/health/guarded", headers=build_cookie())
    assert (r.status_code, r.json()["error"]) == (500, "configuration_error")


def test_outage_is_503_with_retry_after_never_401() -> None:
    app = build_app(SessionGate(OutageAuthenticator()), retry_after=7)
    with TestClient(app) as client:
        r = client.get("/me", headers=build_cookie())
        assert (r.status_code, r.json()["error"]) == (503, "provider_unavailable")
        assert r.headers["retry-after"] == "7"
        assert "www-authenticate" not in r.headers


def test_allow_anonymous_lets_requests_in_and_guards_refuse() -> None:
    with TestClient(build_app(allow_anonymous=True)) as client:
        assert client.get("/whoami").json() == {"anonymous": True, "why": "missing_credentials"}
        assert client.get("/whoami", headers=build_expired_bearer()).json() == {
            "anonymous": True,
            "why": "expired",
        }
        assert client.get("/private").json() == NO_CREDENTIALS
        r = client.get("/private", headers=build_expired_bearer())
        assert (r.status_code, r.json()["error"]) == (401, "expired")
        assert client.get("/private", headers=build_cookie()).json() == {"id": "u1"}


def test_allow_anonymous_still_refuses_an_outage_unless_told_not_to() -> None:
    outage = SessionGate(OutageAuthenticator())
    with TestClient(build_app(outage, allow_anonymous=True)) as client:
        assert client.get("/whoami", headers=build_cookie()).status_code == 503
    lenient = build_app(outage, allow_anonymous=True, block_on_outage=False)
    with TestClient(lenient) as client:
        assert client.get("/whoami", headers=build_cookie()).json() == {
            "anonymous": True,
            "why": "provider_unavailable",
        }
        assert client.get("/private", headers=build_cookie()).status_code == 503


def test_websocket_handshakes(client: Any) -> None:
    with client.websocket_connect("/ws", headers={**build_cookie(), "origin": FRONT}) as ws:
        assert ws.receive_json() == {"id": "u1"}
    token = build_token()
    with client.websocket_connect("/ws", subprotocols=["sessiongate.bearer", token]) as ws:
        assert ws.receive_json() == {"id": "u1"}
        assert ws.accepted_subprotocol == "sessiongate.bearer"  # never the token
    refusals = [
        ("/ws", {}, "missing_credentials"),
        ("/ws", {**build_cookie(), "origin": EVIL}, "csrf_failed"),
        ("/ws", build_cookie(), "csrf_failed"),  # no Origin
        ("/ws/admin", build_bearer(role="user"), "insufficient_scope"),
    ]
    for path, headers, code in refusals:
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(path, headers=headers),
        ):
            pass
        assert (refused.value.code, refused.value.detail) == (1008, code)
    with client.websocket_connect("/ws/admin", headers=build_bearer(role="admin")) as ws:
        assert ws.receive_json() == {"id": "u2"}


def test_websocket_outage_closes_with_1013() -> None:
    with TestClient(build_app(SessionGate(OutageAuthenticator()))) as client:
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect("/ws", headers=build_bearer()),
        ):
            pass
        assert (refused.value.code, refused.value.detail) == (1013, "provider_unavailable")


def test_openapi_documents_the_bearer_and_cookie_schemes(client: Any) -> None:
    schema = client.get("/schema/openapi.json").json()
    assert schema["components"]["securitySchemes"] == {
        "SessionGateBearer": {
            "type": "http",
            "description": "A NextAuth/Auth.js session token or a bearer JWT.",
            "scheme": "bearer",
            "bearerFormat": "JWE",
        },
        "SessionGateCookie": {
            "type": "apiKey",
            "description": "The Next.js session cookie, sent by the browser.",
            "name": "authjs.session-token",
            "in": "cookie",
        },
    }
    assert schema["security"] == [{"SessionGateBearer": []}, {"SessionGateCookie": []}]


def test_middleware_alone_renders_through_litestars_default_handler() -> None:
    middleware = DefineMiddleware(SessionGateMiddleware, gate=make_gate())
    with TestClient(Litestar(route_handlers=ROUTES, middleware=[middleware])) as client:
        r = client.get("/me", headers=build_expired_bearer())
        assert r.status_code == 401
        assert r.json() == {
            "status_code": 401,
            "detail": "the session has expired",
            "extra": {"error": "expired"},
        }
        assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        assert client.get("/me", headers=build_cookie()).json()["id"] == "u1"


def test_the_apps_own_handler_for_401_wins() -> None:
    def mine(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
        assert isinstance(exc, SessionGateHTTPException)
        return Response({"mine": exc.error.code}, status_code=401)

    app = Litestar(
        route_handlers=ROUTES,
        plugins=[SessionGatePlugin(make_gate())],
        exception_handlers={401: mine},
    )
    with TestClient(app) as client:
        assert client.get("/me").json() == {"mine": "missing_credentials"}


def test_configuration_is_checked_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="gate must be"):
        SessionGatePlugin(object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="unknown web option"):
        SessionGatePlugin(make_gate(), csrf_strict=True)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="allow_anonymous"):
        SessionGateMiddleware(
            lambda *a: None,  # type: ignore[arg-type]
            gate=make_gate(),
            allow_anonymous="yes",  # type: ignore[arg-type]
        )
    with pytest.raises(ConfigurationError, match="at least one role"):
        require_role()
    with pytest.raises(ConfigurationError, match="at least one permission"):
        require_permissions()
    plugin = SessionGatePlugin(make_gate(), trusted_origins=[FRONT])
    assert "litestar-test-secret" not in repr(plugin)


@pytest.mark.parametrize("hidden", ["litestar", "starlette"])
def test_missing_extra_is_one_pip_install_line(hidden: str) -> None:
    code = (
        f"import sys; sys.modules[{hidden!r}] = None\n"
        "try:\n    import sessiongate.litestar\n"
        "except ImportError as exc:\n    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == (
        f"MissingExtraError the Litestar integration (sessiongate.litestar) needs {hidden}, "
        "which is not installed: pip install 'sessiongate[litestar]'\n"
    )
