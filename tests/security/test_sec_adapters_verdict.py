# ruff: noqa: B008  (FastAPI declares dependencies in argument defaults)
"""Issue #9 item 3: a dependency or Flask extension never trusts a verdict made under a weaker
policy.

``SessionGateBackend`` (no CSRF or WebSocket Origin checks, by design), a
``SessionGateMiddleware(csrf=False)`` / ``(websocket_origin_check=False)`` or a middleware that
trusts more origins leaves its verdict in ``scope["user"]`` / ``scope["auth"]``; the FastAPI
dependency used to reuse it and skip its own checks, so a cross-origin cookie POST got 200 and a
cross-origin WebSocket was accepted (cross-site WebSocket hijacking). Flask's extension reused a
``csrf=False`` WSGI-middleware verdict the same way. Each test below failed on the code before
the fix.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Depends, FastAPI, WebSocket
from fastapi.testclient import TestClient
from flask import Flask
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.testclient import WebSocketDenialResponse

from sessiongate import AuthJSToken, BearerJWT, SessionGate, User
from sessiongate.asgi import SessionGateBackend, SessionGateMiddleware
from sessiongate.fastapi import SessionGateAuth, install_error_handlers
from sessiongate.flask import SessionGateFlask, current_user, login_required
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256
from sessiongate.wsgi import SessionGateWSGIMiddleware

SECRET = "verdict-policy-secret-0123456789abcdef01234"
EVIL = "https://evil.example"
PARTNER = "https://partner.example"


def gate() -> SessionGate:
    return SessionGate(AuthJSToken(secret=SECRET), BearerJWT(secret=SECRET))


def valid_cookie() -> dict[str, str]:
    return {"cookie": cookie_header(mint_authjs_v5({"sub": "victim"}, SECRET))}


def valid_bearer() -> dict[str, str]:
    return {"authorization": "Bearer " + mint_hs256({"sub": "api-client"}, SECRET)}


def fastapi_app(shared: SessionGate, auth: SessionGateAuth) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/transfer")
    async def transfer(user: User = Depends(auth.current_user)) -> dict[str, str]:
        return {"moved_by": user.id}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, user: User = Depends(auth.current_user)) -> None:
        await websocket.accept()
        await websocket.send_json({"id": user.id})
        await websocket.close()

    return app


def with_backend() -> TestClient:
    shared = gate()
    app = fastapi_app(shared, SessionGateAuth(shared))
    app.add_middleware(AuthenticationMiddleware, backend=SessionGateBackend(shared))
    return TestClient(app)


def with_middleware(**options: Any) -> TestClient:
    shared = gate()
    app = fastapi_app(shared, SessionGateAuth(shared))
    app.add_middleware(SessionGateMiddleware, gate=shared, **options)
    return TestClient(app)


def refused_handshake(client: TestClient, headers: dict[str, str]) -> WebSocketDenialResponse:
    with (
        pytest.raises(WebSocketDenialResponse) as exc,
        client.websocket_connect("/ws", headers=headers),
    ):
        pass
    return exc.value


# ------------------------------------------------------------------------- FastAPI, HTTP


def test_cross_origin_cookie_post_through_backend_and_dependency_refused():
    client = with_backend()
    r = client.post("/transfer", headers={**valid_cookie(), "origin": EVIL})
    assert r.status_code == 403
    assert r.json()["error"] == "csrf_failed"
    # the same request from the app's own origin, and a bearer request from anywhere, pass
    same = client.post("/transfer", headers={**valid_cookie(), "origin": "http://testserver"})
    assert same.json() == {"moved_by": "victim"}
    bearer = client.post("/transfer", headers={**valid_bearer(), "origin": EVIL})
    assert bearer.json() == {"moved_by": "api-client"}


def test_cross_origin_cookie_post_through_csrf_off_middleware_and_dependency_refused():
    client = with_middleware(csrf=False)
    r = client.post("/transfer", headers={**valid_cookie(), "origin": EVIL})
    assert r.status_code == 403
    assert r.json()["error"] == "csrf_failed"
    no_origin = client.post("/transfer", headers=valid_cookie())
    assert no_origin.status_code == 403


def test_origin_trusted_only_by_middleware_is_refused_by_stricter_dependency():
    client = with_middleware(trusted_origins=[PARTNER])
    r = client.post("/transfer", headers={**valid_cookie(), "origin": PARTNER})
    assert r.status_code == 403
    assert r.json()["error"] == "csrf_failed"


# ------------------------------------------------------------------------- FastAPI, WebSocket


def test_cswsh_through_backend_verdict_refused():
    denied = refused_handshake(with_backend(), {**valid_cookie(), "origin": EVIL})
    assert denied.status_code == 403
    assert denied.json()["error"] == "csrf_failed"


def test_cswsh_through_origin_check_off_middleware_verdict_refused():
    client = with_middleware(websocket_origin_check=False)
    denied = refused_handshake(client, {**valid_cookie(), "origin": EVIL})
    assert denied.status_code == 403
    assert denied.json()["error"] == "csrf_failed"
    with client.websocket_connect(
        "/ws", headers={**valid_cookie(), "origin": "http://testserver"}
    ) as ws:
        assert ws.receive_json() == {"id": "victim"}


def test_url_token_accepted_only_by_middleware_is_refused_by_stricter_dependency():
    # the middleware takes ?access_token= (allow_query_token=True); the dependency does not
    # accept tokens from URLs (they end up in logs), so the handshake must not pass through it
    client = with_middleware(allow_query_token=True)
    token = mint_hs256({"sub": "api-client"}, SECRET)
    with (
        pytest.raises(WebSocketDenialResponse) as exc,
        client.websocket_connect(f"/ws?access_token={token}"),
    ):
        pass
    assert exc.value.status_code == 401
    assert exc.value.json()["error"] == "missing_credentials"


# ------------------------------------------------------------------------- Flask over WSGI


def flask_app(**wsgi_options: Any) -> Flask:
    shared = gate()
    app = Flask(__name__)
    SessionGateFlask(app, shared)

    @app.post("/transfer")
    @login_required
    def transfer() -> dict[str, str]:
        return {"moved_by": current_user.id}

    app.wsgi_app = SessionGateWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, gate=shared, **wsgi_options
    )
    return app


def test_flask_extension_rechecks_csrf_off_wsgi_verdict():
    client = flask_app(csrf=False).test_client(use_cookies=False)
    r = client.post("/transfer", headers={**valid_cookie(), "Origin": EVIL})
    assert r.status_code == 403
    assert r.get_json()["error"] == "csrf_failed"
    same = client.post("/transfer", headers={**valid_cookie(), "Origin": "http://localhost"})
    assert same.get_json() == {"moved_by": "victim"}


def test_flask_extension_refuses_origin_trusted_only_by_wsgi_middleware():
    client = flask_app(trusted_origins=[PARTNER]).test_client(use_cookies=False)
    r = client.post("/transfer", headers={**valid_cookie(), "Origin": PARTNER})
    assert r.status_code == 403
    assert r.get_json()["error"] == "csrf_failed"
