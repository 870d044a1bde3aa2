"""A real server: uvicorn on a loopback port, a real ``websockets`` client and ``httpx``, with a
session cookie minted by the real ``@auth/core`` (through the interop oracle)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from sessiongate import AuthJSToken, SessionGate
from sessiongate.asgi import SessionGateMiddleware, requires

from .oracle import NodeOracle

SECRET = "realserver-secret-0123456789abcdef0123456789"
COOKIE = "authjs.session-token"
CLAIMS = {"sub": "user-42", "name": "Grace", "email": "grace@example.com", "role": "admin"}


@requires()
async def whoami(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(
        json.dumps({"id": websocket.user.id, "credential": websocket.auth.credential})
    )
    await websocket.close()


@requires(roles="admin")
async def update(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.user.id})


def build_app() -> Starlette:
    return Starlette(
        routes=[Route("/update", update, methods=["POST"]), WebSocketRoute("/ws", whoami)],
        middleware=[Middleware(SessionGateMiddleware, gate=SessionGate(AuthJSToken(SECRET)))],
    )


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        build_app(), log_level="warning", lifespan="off", ws="websockets-sansio"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 10 s")
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def js_token(oracle: NodeOracle) -> str:
    token: Any = oracle.call("v5.encode", token=CLAIMS, secret=SECRET, salt=COOKIE, maxAge=3600)
    assert isinstance(token, str) and token.count(".") == 4
    return token


def test_real_websocket_with_authjs_cookie_same_origin(server, js_token):
    with connect(
        f"ws://{server}/ws",
        additional_headers={"Cookie": f"{COOKIE}={js_token}"},
        origin=f"http://{server}",  # type: ignore[arg-type]
        open_timeout=5,
        close_timeout=5,
    ) as ws:
        assert json.loads(ws.recv(timeout=5)) == {"id": "user-42", "credential": "cookie"}


def test_real_websocket_cross_origin_refused_403(server, js_token):
    with pytest.raises(InvalidStatus) as exc:
        connect(
            f"ws://{server}/ws",
            additional_headers={"Cookie": f"{COOKIE}={js_token}"},
            origin="https://evil.example",  # type: ignore[arg-type]
            open_timeout=5,
        )
    response = exc.value.response
    assert response.status_code == 403
    assert json.loads(response.body)["error"] == "csrf_failed"
    assert js_token not in response.body.decode()


def test_real_websocket_missing_credentials_refused_401(server):
    with pytest.raises(InvalidStatus) as exc:
        connect(f"ws://{server}/ws", open_timeout=5)
    assert exc.value.response.status_code == 401
    assert exc.value.response.headers["WWW-Authenticate"] == "Bearer"


def test_real_websocket_subprotocol_token_not_echoed(server, js_token):
    with connect(
        f"ws://{server}/ws",
        subprotocols=["sessiongate.bearer", js_token],  # type: ignore[list-item]
        open_timeout=5,
        close_timeout=5,
    ) as ws:
        assert ws.subprotocol == "sessiongate.bearer"
        assert json.loads(ws.recv(timeout=5)) == {"id": "user-42", "credential": "bearer"}


def test_real_http_csrf(server, js_token):
    cookie = {"Cookie": f"{COOKIE}={js_token}"}
    with httpx.Client(base_url=f"http://{server}", timeout=5) as client:
        refused = client.post("/update", headers={**cookie, "Origin": "https://evil.example"})
        assert refused.status_code == 403
        assert refused.json()["error"] == "csrf_failed"
        ok = client.post("/update", headers={**cookie, "Origin": f"http://{server}"})
        assert ok.json() == {"id": "user-42"}
