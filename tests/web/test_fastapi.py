# ruff: noqa: B008  (FastAPI declares dependencies in argument defaults)
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends, FastAPI, Security, WebSocket
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from sessiongate import AuthJSToken, BearerJWT, SessionGate, User
from sessiongate.asgi import SessionGateMiddleware
from sessiongate.errors import ConfigurationError
from sessiongate.fastapi import SessionGateAuth, install_error_handlers, negotiated_subprotocol

from .helpers import (
    EVIL,
    ORIGIN,
    SECRET,
    CountingAuthenticator,
    OutageAuthenticator,
    build_bearer,
    build_expired_cookie,
    build_tampered_cookie,
    build_valid_cookie,
    build_valid_token,
    build_wrong_secret_cookie,
    make_gate,
)

SNAPSHOT = Path(__file__).parent / "openapi_snapshot.json"
HIERARCHY = {"admin": ["moderator"], "moderator": ["user"]}


def build_app(
    gate: SessionGate | None = None,
    *,
    middleware: bool = False,
    handlers: bool = True,
    **options: Any,
) -> tuple[FastAPI, SessionGateAuth]:
    gate = gate or make_gate()
    options.setdefault("role_hierarchy", HIERARCHY)
    auth = SessionGateAuth(gate, **options)
    app = FastAPI(title="sessiongate test", version="1")
    if handlers:
        install_error_handlers(app)
    if middleware:
        app.add_middleware(SessionGateMiddleware, gate=gate, role_hierarchy=HIERARCHY)
    admin_only = auth.require_role("admin")

    @app.get("/me")
    async def me(user: User = Depends(auth.current_user)) -> dict[str, Any]:
        return {"id": user.id, "roles": sorted(user.roles)}

    @app.get("/maybe")
    async def maybe(user: User | None = Depends(auth.optional_user)) -> dict[str, Any]:
        return {"id": user.id if user else None}

    @app.get("/scheme")
    async def scheme(user: User | None = Depends(auth)) -> dict[str, Any]:
        return {"id": user.id if user else None}

    @app.get("/admin", dependencies=[Depends(admin_only)])
    async def admin() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/staff")
    async def staff(
        user: User = Depends(auth.require_role("admin", "moderator", any_=True)),
    ) -> dict[str, str]:
        return {"id": user.id}

    @app.get("/posts")
    async def posts(
        user: User = Depends(auth.require_permissions("posts:read", "posts:write", mode="any")),
    ) -> dict[str, str]:
        return {"id": user.id}

    @app.post("/posts")
    async def create_post(
        user: User = Depends(auth.require_permissions("posts:write")),
    ) -> dict[str, str]:
        return {"id": user.id}

    @app.get("/reports")
    async def reports(
        user: User = Security(auth.current_user, scopes=["user", "reports:read"]),
    ) -> dict[str, str]:
        return {"id": user.id}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, user: User = Depends(auth.current_user)) -> None:
        await websocket.accept(subprotocol=negotiated_subprotocol(websocket))
        await websocket.send_json(
            {"id": user.id, "subprotocols": websocket.scope.get("subprotocols")}
        )
        await websocket.close()

    @app.websocket("/ws/admin")
    async def ws_admin(websocket: WebSocket, user: User = Depends(admin_only)) -> None:
        await websocket.accept()
        await websocket.send_json({"id": user.id})
        await websocket.close()

    app.state.admin_only = admin_only
    return app, auth


@pytest.fixture
def client() -> TestClient:
    return TestClient(build_app()[0])


def test_current_user_missing_401_flat_body(client):
    r = client.get("/me")
    assert r.status_code == 401
    assert r.json() == {
        "error": "missing_credentials",
        "message": "no session cookie or bearer token was sent",
    }
    assert r.headers["www-authenticate"] == "Bearer"


def test_without_handlers_status_and_challenge_still_right():
    client = TestClient(build_app(handlers=False)[0])
    r = client.get("/me", headers=build_expired_cookie())
    assert r.status_code == 401
    assert r.json() == {"detail": {"error": "expired", "message": "the session has expired"}}
    assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        (build_expired_cookie, "expired"),
        (build_tampered_cookie, "decryption_failed"),
        (build_wrong_secret_cookie, "unknown_kid"),
    ],
)
def test_bad_cookie_401(client, headers, code):
    r = client.get("/me", headers=headers())
    assert r.status_code == 401
    assert r.json()["error"] == code


def test_valid_cookie_and_bearer(client):
    assert client.get("/me", headers=build_valid_cookie(role="user")).json() == {
        "id": "u1",
        "roles": ["user"],
    }
    assert client.get("/me", headers=build_bearer()).json() == {"id": "u1", "roles": []}


def test_optional_user(client):
    assert client.get("/maybe").json() == {"id": None}
    assert client.get("/maybe", headers=build_tampered_cookie()).json() == {"id": None}
    assert client.get("/maybe", headers=build_valid_cookie()).json() == {"id": "u1"}


def test_optional_user_outage_is_503_not_anonymous():
    client = TestClient(build_app(SessionGate(OutageAuthenticator()))[0])
    r = client.get("/maybe", headers={"cookie": "authjs.session-token=x"})
    assert r.status_code == 503
    assert r.json()["error"] == "provider_unavailable"
    assert client.get("/maybe").json() == {"id": None}


def test_scheme_itself_auto_error():
    strict = TestClient(build_app()[0])
    assert strict.get("/scheme").status_code == 401
    lenient = TestClient(build_app(auto_error=False)[0])
    assert lenient.get("/scheme").json() == {"id": None}
    assert lenient.get("/scheme", headers=build_valid_cookie()).json() == {"id": "u1"}


def test_scheme_auto_error_false_still_503_on_outage():
    lenient = TestClient(build_app(SessionGate(OutageAuthenticator()), auto_error=False)[0])
    assert lenient.get("/scheme", headers={"cookie": "a=b"}).status_code == 503


def test_require_role_with_hierarchy(client):
    assert client.get("/admin", headers=build_valid_cookie(role="admin")).json() == {"ok": True}
    r = client.get("/admin", headers=build_valid_cookie(role="moderator"))
    assert r.status_code == 403
    assert r.json() == {"error": "insufficient_scope", "message": "required role(s): admin"}
    assert r.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
    assert client.get("/admin").status_code == 401


def test_require_role_any(client):
    assert client.get("/staff", headers=build_valid_cookie(role="moderator")).status_code == 200
    assert client.get("/staff", headers=build_valid_cookie(role="admin")).status_code == 200
    r = client.get("/staff", headers=build_valid_cookie(role="user"))
    assert r.status_code == 403
    assert r.json()["message"] == "one of these role(s) is required: admin, moderator"


def test_require_permissions_any_and_all(client):
    assert client.get("/posts", headers=build_bearer(permissions=["posts:read"])).status_code == 200
    assert client.get("/posts", headers=build_bearer(permissions=["x"])).status_code == 403
    assert (
        client.post("/posts", headers=build_bearer(permissions=["posts:read"])).status_code == 403
    )
    assert client.post("/posts", headers=build_bearer(scope="posts:write")).status_code == 200


def test_security_scopes(client):
    ok = build_bearer(role="admin", permissions=["reports:read"])  # admin implies user
    assert client.get("/reports", headers=ok).status_code == 200
    r = client.get("/reports", headers=build_bearer(role="admin"))
    assert r.status_code == 403
    assert r.json()["message"] == "required scope(s): reports:read"


def test_csrf_without_middleware(client):
    cookie = build_valid_cookie(permissions=["posts:write"])
    r = client.post("/posts", headers={**cookie, "origin": EVIL})
    assert r.status_code == 403
    assert r.json()["error"] == "csrf_failed"
    assert client.post("/posts", headers={**cookie, "origin": ORIGIN}).status_code == 200
    off = TestClient(build_app(csrf=False)[0])
    assert off.post("/posts", headers={**cookie, "origin": EVIL}).status_code == 200


# ------------------------------------------------------------------------- WebSocket routes


def test_ws_cookie_same_origin(client):
    with client.websocket_connect("/ws", headers={**build_valid_cookie(), "origin": ORIGIN}) as ws:
        assert ws.receive_json() == {"id": "u1", "subprotocols": []}


def test_ws_cross_origin_denied_403(client):
    with (
        pytest.raises(WebSocketDenialResponse) as exc,
        client.websocket_connect("/ws", headers={**build_valid_cookie(), "origin": EVIL}),
    ):
        pass
    assert exc.value.status_code == 403
    assert exc.value.json()["error"] == "csrf_failed"


def test_ws_missing_denied_401(client):
    with pytest.raises(WebSocketDenialResponse) as exc, client.websocket_connect("/ws"):
        pass
    assert exc.value.status_code == 401
    assert exc.value.headers["www-authenticate"] == "Bearer"


def test_ws_wrong_role_denied_403(client):
    with (
        pytest.raises(WebSocketDenialResponse) as exc,
        client.websocket_connect(
            "/ws/admin", headers={**build_valid_cookie(role="user"), "origin": ORIGIN}
        ),
    ):
        pass
    assert exc.value.status_code == 403
    assert exc.value.json()["error"] == "insufficient_scope"


def test_ws_without_handlers_closes_1008():
    client = TestClient(build_app(handlers=False)[0])
    with pytest.raises(WebSocketDisconnect) as exc, client.websocket_connect("/ws"):
        pass
    assert exc.value.code == 1008
    assert exc.value.reason == "missing_credentials"


def test_ws_outage_without_handlers_closes_1013():
    client = TestClient(build_app(SessionGate(OutageAuthenticator()), handlers=False)[0])
    with (
        pytest.raises(WebSocketDisconnect) as exc,
        client.websocket_connect("/ws", headers={"cookie": "a=b"}),
    ):
        pass
    assert exc.value.code == 1013


def test_ws_subprotocol_token_without_middleware(client):
    token = build_valid_token()
    with client.websocket_connect("/ws", subprotocols=["sessiongate.bearer", token]) as ws:
        assert ws.accepted_subprotocol == "sessiongate.bearer"
        assert ws.receive_json() == {"id": "u1", "subprotocols": ["sessiongate.bearer"]}


# ------------------------------------------------------------------------- one verification


def counting_gate() -> tuple[SessionGate, CountingAuthenticator]:
    counter = CountingAuthenticator(AuthJSToken(secret=SECRET, cache_size=0))
    # memo off: this counts verifications per request, not memo hits
    return SessionGate(counter, BearerJWT(secret=SECRET), memo_size=0), counter


@pytest.mark.parametrize("middleware", [True, False])
def test_token_verified_once_per_request(middleware):
    gate, counter = counting_gate()
    client = TestClient(build_app(gate, middleware=middleware)[0])
    headers = build_valid_cookie(role="admin", permissions=["reports:read"])
    assert client.get("/reports", headers=headers).status_code == 200
    assert counter.calls == 1
    assert client.get("/admin", headers=headers).status_code == 200
    assert counter.calls == 2


def test_middleware_of_another_gate_not_trusted():
    app, _auth = build_app()
    other = SessionGate(OutageAuthenticator())
    app.add_middleware(SessionGateMiddleware, gate=other, block_on_outage=False)
    client = TestClient(app)
    # the other gate says "outage" (anonymous); the dependency re-checks with its own gate
    assert client.get("/me", headers=build_valid_cookie()).json()["id"] == "u1"


# ------------------------------------------------------------------------- test overrides


def test_dependency_override_keeps_role_checks():
    app, auth = build_app()
    app.dependency_overrides[auth.current_user] = lambda: User(id="fake", roles=frozenset({"user"}))
    client = TestClient(app)
    assert client.get("/me").json() == {"id": "fake", "roles": ["user"]}
    assert client.get("/admin").status_code == 403
    app.dependency_overrides[auth.current_user] = lambda: User(
        id="boss", roles=frozenset({"admin"})
    )
    assert client.get("/admin").json() == {"ok": True}
    app.dependency_overrides[app.state.admin_only] = lambda: User(id="x")
    assert client.get("/admin").json() == {"ok": True}


# ------------------------------------------------------------------------- configuration


def test_misconfiguration_fails_at_construction():
    auth = SessionGateAuth(make_gate())
    with pytest.raises(ConfigurationError):
        auth.require_role()
    with pytest.raises(ConfigurationError):
        auth.require_permissions()
    with pytest.raises(ConfigurationError):
        SessionGateAuth("gate")  # type: ignore[arg-type]
    assert SECRET not in repr(auth)


# ------------------------------------------------------------------------- OpenAPI


def test_openapi_schema_snapshot():
    schema = build_app()[0].openapi()
    if os.environ.get("SESSIONGATE_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    assert schema == json.loads(SNAPSHOT.read_text())


def test_openapi_offers_cookie_or_bearer():
    schema = build_app(cookie_name="__Secure-authjs.session-token")[0].openapi()
    assert schema["components"]["securitySchemes"] == {
        "SessionGateBearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWE",
            "description": (
                "A NextAuth/Auth.js session token or a bearer JWT in the Authorization header."
            ),
        },
        "SessionGateCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": "__Secure-authjs.session-token",
            "description": "The Next.js session cookie, sent by the browser.",
        },
    }
    assert schema["paths"]["/me"]["get"]["security"] == [
        {"SessionGateBearer": []},
        {"SessionGateCookie": []},
    ]
    assert schema["paths"]["/reports"]["get"]["security"] == [
        {"SessionGateBearer": ["user", "reports:read"]},
        {"SessionGateCookie": ["user", "reports:read"]},
    ]
