"""ASGI apps for the real-server WebSocket tests, loaded by uvicorn/hypercorn in a subprocess.

One dispatcher: ``/mw/...`` is a Starlette app behind ``SessionGateMiddleware``, ``/fa/...`` a
FastAPI app using the dependency alone with ``install_error_handlers``, ``/fa-plain/...`` the
same without the handlers (the refusal is Starlette's ``websocket.close``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from sessiongate import AuthJSToken, SessionGate
from sessiongate.asgi import SessionGateMiddleware, requires
from sessiongate.fastapi import SessionGateAuth, install_error_handlers

SECRET = "ws-real-server-secret-0123456789abcdef012345"

gate = SessionGate(AuthJSToken(SECRET))


@requires()
async def _whoami(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.user.id)
    await websocket.close()


@requires(roles="admin")
async def _admin(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.close()


_middleware_app = SessionGateMiddleware(
    Starlette(routes=[WebSocketRoute("/mw/ws", _whoami), WebSocketRoute("/mw/admin", _admin)]),
    gate=gate,
)


def _fastapi(handlers: bool, prefix: str) -> FastAPI:
    app = FastAPI()
    auth = SessionGateAuth(gate, trusted_origins=["http://localhost:3000"])
    if handlers:
        install_error_handlers(app)

    @app.websocket(prefix + "/ws")
    async def ws(websocket: WebSocket, user: Any = Depends(auth.current_user)) -> None:  # noqa: B008
        await websocket.accept()  # no subprotocol given: the dependency answers it
        await websocket.send_text(user.id)
        await websocket.close()

    return app


_apps = {
    "mw": _middleware_app,
    "fa": _fastapi(True, "/fa"),
    "fa-plain": _fastapi(False, "/fa-plain"),
}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Dispatch on the first path segment."""
    if scope["type"] == "lifespan":
        message = await receive()
        await send({"type": message["type"] + ".complete"})
        return
    await _apps[scope["path"].split("/")[1]](scope, receive, send)
