"""Starlette with SessionGateMiddleware, sessiongate's ``requires`` and Starlette's own.

Run:  AUTH_SECRET=... python examples/starlette_app.py
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.authentication import requires as starlette_requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.asgi import SessionGateMiddleware, requires

DEV_SECRET = "sessiongate-dev-secret-do-not-deploy-0123456789"
SECRET = os.environ.get("AUTH_SECRET", DEV_SECRET)

gate = SessionGate(AuthJSToken(secret=SECRET), BearerJWT(secret=SECRET))


async def index(request: Request) -> JSONResponse:
    # public: never blocked; an anonymous user keeps the reason
    if request.user.is_authenticated:
        return JSONResponse({"hello": request.user.display_name})
    return JSONResponse({"hello": "anonymous", "why": request.auth.error.code})


@requires()
async def me(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.user.id, "scopes": list(request.auth.scopes)})


@requires(roles=["admin", "moderator"], mode="any")
async def moderate(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


@requires(permissions="posts:write")
async def create_post(request: Request) -> JSONResponse:
    return JSONResponse({"created_by": request.user.id})


@starlette_requires("user")  # Starlette's own decorator works too (403 without a JSON body)
async def legacy(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


app = Starlette(
    routes=[
        Route("/", index),
        Route("/me", me),
        Route("/moderate", moderate),
        Route("/posts", create_post, methods=["POST"]),
        Route("/legacy", legacy),
    ],
    middleware=[
        Middleware(
            SessionGateMiddleware,
            gate=gate,
            role_hierarchy={"admin": ["moderator"], "moderator": ["user"]},
            trusted_origins=[os.environ.get("FRONTEND_ORIGIN", "http://localhost:3000")],
        )
    ],
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
