"""Litestar with the sessiongate plugin: middleware, guards and OpenAPI security schemes.

Run:  AUTH_SECRET=... python examples/litestar_app.py      (OpenAPI: http://127.0.0.1:8000/schema)
"""

import os
from typing import Any

from litestar import Litestar, Request, WebSocket, get, post, websocket

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.asgi import SessionGateCredentials
from sessiongate.litestar import SessionGatePlugin, require_permissions, require_role
from sessiongate.user import User

DEV_SECRET = "sessiongate-dev-secret-do-not-deploy-0123456789"
SECRET = os.environ.get("AUTH_SECRET", DEV_SECRET)

gate = SessionGate(AuthJSToken(secret=SECRET), BearerJWT(secret=SECRET))
sessiongate = SessionGatePlugin(
    gate,
    trusted_origins=[os.environ.get("FRONTEND_ORIGIN", "http://localhost:3000")],
    role_hierarchy={"admin": ["moderator"], "moderator": ["user"]},
    exclude=["/schema", "/health"],
)

AuthRequest = Request[User, SessionGateCredentials, Any]


@get("/")
async def index(request: AuthRequest) -> dict[str, Any]:
    return {"hello": request.user.display_name, "via": request.auth.credential}


@get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


@get("/moderate", guards=[require_role("moderator")])
async def moderate(request: AuthRequest) -> dict[str, Any]:
    return {"moderator": request.user.id}


@post("/posts", guards=[require_permissions("posts:write")])
async def create_post(request: AuthRequest) -> dict[str, Any]:
    return {"created_by": request.user.id}


@websocket("/ws")
async def notifications(socket: WebSocket[User, SessionGateCredentials, Any]) -> None:
    await socket.accept()
    await socket.send_json({"hello": socket.user.display_name})
    await socket.close()


app = Litestar(
    route_handlers=[index, health, moderate, create_post, notifications],
    plugins=[sessiongate],
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
