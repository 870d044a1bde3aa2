from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.authentication import requires as starlette_requires
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket

from sessiongate import SessionGate
from sessiongate.asgi import SessionGateBackend, SessionGateMiddleware, requires
from sessiongate.errors import ConfigurationError

from .helpers import (
    EVIL,
    ORIGIN,
    OutageAuthenticator,
    build_bearer,
    build_expired_bearer,
    build_expired_cookie,
    build_tampered_cookie,
    build_valid_cookie,
    build_valid_token,
    build_wrong_secret_cookie,
    make_gate,
)

HIERARCHY = {"admin": ["moderator"], "moderator": ["user"]}
lifespan_events: list[str] = []


async def public(request: Request) -> JSONResponse:
    error = request.auth.error
    return JSONResponse(
        {
            "authenticated": request.user.is_authenticated,
            "reason": error.code if error else None,
            "credential": request.auth.credential,
            "scopes": list(request.auth.scopes),
        }
    )


@requires()
async def me(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.user.id, "name": request.user.display_name})


@requires("admin")
async def admin(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


@requires(["admin", "moderator"], mode="any")
def moderate(request: Request) -> JSONResponse:  # a sync endpoint
    return JSONResponse({"ok": True})


@requires(permissions=["posts:write"])
async def write_post(request: Request) -> JSONResponse:
    return JSONResponse({"written": True})


@starlette_requires("moderator")
async def starlette_native(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def ws_public(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(
        {
            "authenticated": websocket.user.is_authenticated,
            "subprotocols": websocket.scope.get("subprotocols"),
            "query": websocket.scope["query_string"].decode(),
            "protocol_header": websocket.headers.get("sec-websocket-protocol"),
        }
    )
    await websocket.close()


@requires()
async def ws_private(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"id": websocket.user.id, "credential": websocket.auth.credential})
    await websocket.close()


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    lifespan_events.append("startup")
    yield
    lifespan_events.append("shutdown")


ROUTES = [
    Route("/public", public, methods=["GET", "POST"]),
    Route("/me", me),
    Route("/admin", admin),
    Route("/moderate", moderate),
    Route("/posts", write_post, methods=["POST", "PUT", "PATCH", "DELETE", "GET"]),
    Route("/native", starlette_native),
    WebSocketRoute("/ws", ws_public),
    WebSocketRoute("/ws/private", ws_private),
]


def make_app(gate: SessionGate | None = None, **options: Any) -> Starlette:
    options.setdefault("role_hierarchy", HIERARCHY)
    return Starlette(
        routes=ROUTES,
        middleware=[Middleware(SessionGateMiddleware, gate=gate or make_gate(), **options)],
        lifespan=lifespan,
    )


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_app())


# ---------------------------------------------------------------- public routes never blocked


def test_public_route_anonymous_keeps_reason(client):
    r = client.get("/public")
    assert r.status_code == 200
    assert r.json() == {
        "authenticated": False,
        "reason": "missing_credentials",
        "credential": None,
        "scopes": [],
    }
    assert client.get("/public", headers=build_expired_cookie()).json()["reason"] == "expired"


def test_public_route_sees_cookie_user_with_expanded_scopes(client):
    r = client.get("/public", headers=build_valid_cookie(role="admin", permissions=["posts:write"]))
    assert r.json() == {
        "authenticated": True,
        "reason": None,
        "credential": "cookie",
        "scopes": ["admin", "moderator", "posts:write", "user"],
    }


# ---------------------------------------------------------------- protected routes


def test_missing_credentials_401(client):
    r = client.get("/me")
    assert r.status_code == 401
    assert r.json() == {
        "error": "missing_credentials",
        "message": "no session cookie or bearer token was sent",
    }
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        (build_expired_cookie, "expired"),
        (build_tampered_cookie, "decryption_failed"),
        (build_wrong_secret_cookie, "unknown_kid"),
        (build_expired_bearer, "expired"),
        (lambda: {"authorization": "Bearer not-a-token"}, "malformed"),
    ],
)
def test_bad_credentials_401_with_precise_code(client, headers, code):
    r = client.get("/me", headers=headers())
    assert r.status_code == 401
    assert r.json()["error"] == code
    assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert r.headers["cache-control"] == "no-store"


def test_valid_cookie_and_bearer(client):
    assert client.get("/me", headers=build_valid_cookie()).json() == {"id": "u1", "name": "Ada"}
    assert client.get("/me", headers=build_bearer()).json() == {"id": "u1", "name": "Ada"}


def test_wrong_role_403(client):
    r = client.get("/admin", headers=build_valid_cookie(role="user"))
    assert r.status_code == 403
    assert r.json() == {"error": "insufficient_scope", "message": "required role(s): admin"}
    assert r.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')


def test_role_hierarchy_and_any_mode(client):
    assert client.get("/admin", headers=build_valid_cookie(role="admin")).status_code == 200
    assert client.get("/moderate", headers=build_valid_cookie(role="moderator")).status_code == 200
    assert client.get("/moderate", headers=build_valid_cookie(role="admin")).status_code == 200
    assert client.get("/moderate", headers=build_valid_cookie(role="user")).status_code == 403
    assert client.get("/moderate").status_code == 401


def test_permissions(client):
    ok = build_bearer(permissions=["posts:write"])
    assert client.post("/posts", headers=ok).json() == {"written": True}
    r = client.post("/posts", headers=build_bearer(permissions=["posts:read"]))
    assert r.status_code == 403
    assert r.json()["message"] == "required permission(s): posts:write"


def test_starlette_native_requires_uses_expanded_scopes(client):
    assert client.get("/native", headers=build_valid_cookie(role="admin")).status_code == 200
    assert client.get("/native", headers=build_valid_cookie(role="user")).status_code == 403


# ---------------------------------------------------------------- CSRF


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_csrf_cookie_write_from_foreign_origin_refused(client, method):
    headers = {**build_valid_cookie(permissions=["posts:write"]), "origin": EVIL}
    r = client.request(method, "/posts", headers=headers)
    assert r.status_code == 403
    assert r.json()["error"] == "csrf_failed"
    assert "www-authenticate" not in r.headers


def test_csrf_cookie_write_without_origin_or_referer_refused(client):
    r = client.post("/posts", headers=build_valid_cookie(permissions=["posts:write"]))
    assert r.status_code == 403
    assert r.json()["error"] == "csrf_failed"


def test_csrf_blocks_public_route_too(client):
    r = client.post("/public", headers={**build_valid_cookie(), "origin": EVIL})
    assert r.status_code == 403


def test_csrf_same_origin_and_referer_pass(client):
    cookie = build_valid_cookie(permissions=["posts:write"])
    assert client.post("/posts", headers={**cookie, "origin": ORIGIN}).status_code == 200
    referer = {**cookie, "referer": ORIGIN + "/editor?x=1"}
    assert client.post("/posts", headers=referer).status_code == 200


def test_csrf_safe_method_not_checked(client):
    cookie = build_valid_cookie(permissions=["posts:write"])
    assert client.get("/posts", headers={**cookie, "origin": EVIL}).status_code == 200


def test_csrf_bearer_exempt(client):
    headers = {**build_bearer(permissions=["posts:write"]), "origin": EVIL}
    assert client.post("/posts", headers=headers).status_code == 200


def test_csrf_anonymous_not_blocked(client):
    r = client.post("/public", headers={**build_expired_cookie(), "origin": EVIL})
    assert r.status_code == 200
    assert r.json()["reason"] == "expired"


def test_csrf_trusted_origin_and_disable():
    cookie = build_valid_cookie(permissions=["posts:write"])
    trusted = TestClient(make_app(trusted_origins=["https://app.example.com"]))
    assert (
        trusted.post("/posts", headers={**cookie, "origin": "https://app.example.com"}).status_code
        == 200
    )
    assert trusted.post("/posts", headers={**cookie, "origin": EVIL}).status_code == 403
    off = TestClient(make_app(csrf=False))
    assert off.post("/posts", headers={**cookie, "origin": EVIL}).status_code == 200


def test_csrf_trust_forwarded_host():
    app = TestClient(make_app(trust_forwarded=True))
    headers = {
        **build_valid_cookie(permissions=["posts:write"]),
        "origin": "https://api.example.com",
        "x-forwarded-host": "api.example.com",
        "x-forwarded-proto": "https",
    }
    assert app.post("/posts", headers=headers).status_code == 200
    assert TestClient(make_app()).post("/posts", headers=headers).status_code == 403


# ---------------------------------------------------------------- provider outage


def outage_gate() -> SessionGate:
    return SessionGate(OutageAuthenticator())


def test_outage_blocks_with_503_and_retry_after():
    client = TestClient(make_app(outage_gate(), retry_after=30))
    r = client.get("/public", headers={"cookie": "authjs.session-token=abc"})
    assert r.status_code == 503
    assert r.json()["error"] == "provider_unavailable"
    assert r.headers["retry-after"] == "30"
    assert client.get("/public").status_code == 200  # no credential: nothing to check


def test_outage_not_blocking_lets_protected_routes_answer_503():
    client = TestClient(make_app(outage_gate(), block_on_outage=False))
    cookie = {"cookie": "authjs.session-token=abc"}
    assert client.get("/public", headers=cookie).json()["reason"] == "provider_unavailable"
    assert client.get("/me", headers=cookie).status_code == 503


def test_custom_error_renderer():
    from sessiongate.responses import ErrorResponse

    def render(error, sent):
        return ErrorResponse(418, b"teapot:" + error.code.encode(), (("X-Why", error.code),))

    client = TestClient(make_app(outage_gate(), error_renderer=render))
    r = client.get("/public", headers={"cookie": "x=1"})
    assert (r.status_code, r.text, r.headers["x-why"]) == (
        418,
        "teapot:provider_unavailable",
        "provider_unavailable",
    )


# ---------------------------------------------------------------- WebSocket


class Denied:
    def __init__(self, value: WebSocketDenialResponse) -> None:
        self.value = value


def denied(client: TestClient, url: str, **kwargs: Any) -> WebSocketDenialResponse:
    with pytest.raises(WebSocketDenialResponse) as exc, client.websocket_connect(url, **kwargs):
        pass
    return exc.value


def test_ws_cookie_same_origin_accepted(client):
    with client.websocket_connect(
        "/ws/private", headers={**build_valid_cookie(), "origin": ORIGIN}
    ) as ws:
        assert ws.receive_json() == {"id": "u1", "credential": "cookie"}


def test_ws_cookie_cross_origin_refused_403(client):
    exc = Denied(denied(client, "/ws", headers={**build_valid_cookie(), "origin": EVIL}))
    assert exc.value.status_code == 403
    assert exc.value.json()["error"] == "csrf_failed"


def test_ws_cookie_without_origin_refused(client):
    exc = Denied(denied(client, "/ws", headers=build_valid_cookie()))
    assert exc.value.status_code == 403


def test_ws_origin_check_can_be_disabled_and_trusted():
    cookie = build_valid_cookie()
    with TestClient(make_app(websocket_origin_check=False)).websocket_connect(
        "/ws/private", headers={**cookie, "origin": EVIL}
    ) as ws:
        assert ws.receive_json()["id"] == "u1"
    with TestClient(make_app(trusted_origins=["https://app.example.com"])).websocket_connect(
        "/ws/private", headers={**cookie, "origin": "https://app.example.com"}
    ) as ws:
        assert ws.receive_json()["id"] == "u1"


def test_ws_missing_credentials_denied_401(client):
    exc = Denied(denied(client, "/ws/private"))
    assert exc.value.status_code == 401
    assert exc.value.json()["error"] == "missing_credentials"
    assert exc.value.headers["www-authenticate"] == "Bearer"


def test_ws_expired_cookie_denied_401(client):
    headers = {**build_expired_cookie(), "origin": ORIGIN}
    exc = Denied(denied(client, "/ws/private", headers=headers))
    assert exc.value.status_code == 401
    assert exc.value.json()["error"] == "expired"


def test_ws_public_anonymous_accepted(client):
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["authenticated"] is False


def test_ws_subprotocol_token_accepted_and_never_echoed(client):
    token = build_valid_token()
    with client.websocket_connect(
        "/ws/private", subprotocols=["chat.v1", "sessiongate.bearer", token]
    ) as ws:
        assert ws.accepted_subprotocol == "sessiongate.bearer"
        assert ws.receive_json() == {"id": "u1", "credential": "bearer"}


def test_ws_subprotocol_token_hidden_from_app(client):
    token = build_valid_token()
    with client.websocket_connect("/ws", subprotocols=["sessiongate.bearer", token]) as ws:
        seen = ws.receive_json()
    assert seen["authenticated"] is True
    assert seen["subprotocols"] == ["sessiongate.bearer"]
    assert token not in str(seen)


def test_ws_subprotocol_cross_origin_allowed_for_bearer(client):
    token = build_valid_token()
    with client.websocket_connect(
        "/ws/private", subprotocols=["sessiongate.bearer", token], headers={"origin": EVIL}
    ) as ws:
        assert ws.receive_json()["credential"] == "bearer"


def test_ws_bad_subprotocol_token_denied(client):
    exc = Denied(denied(client, "/ws/private", subprotocols=["sessiongate.bearer", "a.b.c"]))
    assert exc.value.status_code == 401
    assert exc.value.json()["error"] == "malformed"


def test_ws_query_token_ignored_unless_enabled(client):
    token = build_valid_token()
    exc = Denied(denied(client, f"/ws/private?access_token={token}"))
    assert exc.value.status_code == 401
    enabled = TestClient(make_app(allow_query_token=True))
    with enabled.websocket_connect(f"/ws?room=1&access_token={token}") as ws:
        seen = ws.receive_json()
    assert seen["authenticated"] is True
    assert seen["query"] == "room=1"


def test_ws_authorization_header(client):
    with client.websocket_connect("/ws/private", headers=build_bearer()) as ws:
        assert ws.receive_json()["credential"] == "bearer"


# ---- raw ASGI: a server without the denial extension gets close 1008, never 1000


async def run_ws(app: Any, scope_extra: dict[str, Any]) -> list[dict[str, Any]]:
    scope = {
        "type": "websocket",
        "path": "/ws/private",
        "raw_path": b"/ws/private",
        "root_path": "",
        "scheme": "ws",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "subprotocols": [],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        "extensions": {},
        "state": {},
    }
    scope.update(scope_extra)
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(0)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def test_ws_cross_origin_without_denial_extension_closes_1008():
    cookie = build_valid_cookie()["cookie"].encode()
    sent = asyncio.run(
        run_ws(
            make_app(),
            {
                "headers": [
                    (b"host", b"testserver"),
                    (b"cookie", cookie),
                    (b"origin", EVIL.encode()),
                ]
            },
        )
    )
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "csrf_failed"}]


def test_ws_missing_credentials_without_denial_extension_closes_1008():
    sent = asyncio.run(run_ws(make_app(), {}))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "missing_credentials"}]


def test_ws_outage_without_denial_extension_closes_1013():
    sent = asyncio.run(run_ws(make_app(outage_gate()), {"headers": [(b"cookie", b"a=b")]}))
    assert sent == [{"type": "websocket.close", "code": 1013, "reason": "provider_unavailable"}]


def test_ws_app_cannot_echo_the_token():
    token = build_valid_token()

    async def echo_app(scope, receive, send):
        await receive()
        # a careless app trying to echo whatever it got; the token is not even visible to it
        await send(
            {
                "type": "websocket.accept",
                "subprotocol": token,
                "headers": [(b"sec-websocket-protocol", token.encode())],
            }
        )

    mw = SessionGateMiddleware(echo_app, gate=make_gate())
    sent = asyncio.run(run_ws(mw, {"subprotocols": ["sessiongate.bearer", token]}))
    assert sent == [
        {"type": "websocket.accept", "subprotocol": "sessiongate.bearer", "headers": []}
    ]


def test_ws_garbage_first_message_is_ignored():
    async def receive():
        return {"type": "websocket.disconnect", "code": 1001}

    sent: list[Any] = []

    async def send(message):
        sent.append(message)

    mw = SessionGateMiddleware(make_app(), gate=make_gate(), csrf=True)
    cookie = build_valid_cookie()["cookie"].encode()
    scope = {
        "type": "websocket",
        "headers": [(b"cookie", cookie), (b"origin", EVIL.encode())],
        "scheme": "ws",
        "path": "/ws",
    }
    asyncio.run(mw(scope, receive, send))
    assert sent == []


# ---------------------------------------------------------------- lifespan and other scopes


def test_lifespan_passes_through():
    lifespan_events.clear()
    with TestClient(make_app()) as client:
        assert client.get("/public").status_code == 200
    assert lifespan_events == ["startup", "shutdown"]


# ---------------------------------------------------------------- Starlette AuthenticationBackend


def backend_app() -> Starlette:
    return Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(
                AuthenticationMiddleware,
                backend=SessionGateBackend(make_gate(), role_hierarchy=HIERARCHY),
            )
        ],
    )


def test_backend_keeps_reason_never_400():
    client = TestClient(backend_app())
    r = client.get("/public", headers=build_tampered_cookie())
    assert r.status_code == 200
    assert r.json()["reason"] == "decryption_failed"
    assert client.get("/me", headers=build_tampered_cookie()).json()["error"] == "decryption_failed"
    assert client.get("/native", headers=build_valid_cookie(role="admin")).status_code == 200


# ---------------------------------------------------------------- misconfiguration


def test_requires_without_middleware_is_a_500_not_a_pass():
    client = TestClient(Starlette(routes=[Route("/me", me)]))
    r = client.get("/me", headers=build_valid_cookie())
    assert r.status_code == 500
    assert r.json()["error"] == "configuration_error"


def test_requires_needs_request_parameter():
    with pytest.raises(ConfigurationError):

        @requires()
        async def endpoint(req: Request) -> None: ...


def test_middleware_validates_options():
    with pytest.raises(ConfigurationError):
        SessionGateMiddleware(make_app(), gate="not a gate")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        SessionGateMiddleware(make_app(), gate=make_gate(), trusted_origins=["nope"])
    with pytest.raises(ConfigurationError):
        SessionGateMiddleware(make_app(), gate=make_gate(), query_param="")


def test_repr_shows_no_secret():
    mw = SessionGateMiddleware(make_app(), gate=make_gate())
    assert "web-test-secret" not in repr(mw)
    assert "web-test-secret" not in repr(mw.policy)


def test_credentials_scopes_are_computed_on_first_read_and_assignable() -> None:
    from sessiongate.asgi import credentials
    from sessiongate.guards import RoleHierarchy
    from sessiongate.policy import RequestFacts, Verdict, WebPolicy
    from sessiongate.types import AuthResult
    from sessiongate.user import User

    policy = WebPolicy(role_hierarchy=RoleHierarchy(HIERARCHY))
    user = User(id="u1", roles=frozenset({"admin"}), permissions=frozenset({"posts:read"}))
    verdict = Verdict(make_gate(), AuthResult(user, "cookie", "authjs"), RequestFacts(), policy)
    creds = credentials(verdict)
    assert creds._scopes is None  # nothing computed until someone reads it
    assert creds.scopes == ["admin", "moderator", "posts:read", "user"]
    assert creds.scopes is creds.scopes  # computed once
    creds.scopes = ["other"]  # Starlette code may assign, as on AuthCredentials
    assert creds.scopes == ["other"]
    assert "scopes=['other']" in repr(creds)
