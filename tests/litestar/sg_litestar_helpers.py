"""Token builders (named after what they build) and the Litestar app the tests run."""

from __future__ import annotations

import time
from typing import Any

from litestar import Litestar, Request, WebSocket, get, post, websocket

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.cookies import RequestCredentials
from sessiongate.errors import ProviderUnavailableError
from sessiongate.litestar import (
    SessionGatePlugin,
    authenticated,
    require_permissions,
    require_role,
    requires,
)
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256
from sessiongate.types import Verified

SECRET = "litestar-test-secret-0123456789abcdef0123"
FRONT = "https://app.example.com"
EVIL = "https://evil.example"
HIERARCHY = {"admin": ["moderator"], "moderator": ["user"]}


def make_gate(**options: Any) -> SessionGate:
    return SessionGate(AuthJSToken(secret=SECRET), BearerJWT(secret=SECRET), **options)


class OutageAuthenticator:
    """Answers every credentialed request with 'provider unavailable' (a database that is down)."""

    name = "outage"

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        if credentials.cookie_header or credentials.authorization:
            raise ProviderUnavailableError()
        return None


def build_token(**claims: Any) -> str:
    return mint_authjs_v5({"sub": "u1", "name": "Ada", **claims}, SECRET)


def build_cookie(**claims: Any) -> dict[str, str]:
    return {"cookie": cookie_header(build_token(**claims))}


def build_bearer(**claims: Any) -> dict[str, str]:
    return {"authorization": "Bearer " + mint_hs256({"sub": "u2", **claims}, SECRET)}


def build_expired_bearer() -> dict[str, str]:
    token = mint_hs256({"sub": "u2"}, SECRET, expires_in=60, now=time.time() - 3600)
    return {"authorization": "Bearer " + token}


@get("/me")
async def me(request: Request[Any, Any, Any]) -> dict[str, Any]:
    user = request.user
    return {
        "id": user.id,
        "credential": request.auth.credential,
        "scopes": list(request.auth.scopes),
    }


@get("/whoami")
async def whoami(request: Request[Any, Any, Any]) -> dict[str, Any]:
    user = request.user
    if not user.is_authenticated:
        return {"anonymous": True, "why": user.error.code if user.error else None}
    return {"id": user.id}


@get("/private", guards=[authenticated])
async def private(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {"id": request.user.id}


@get("/moderate", guards=[require_role("moderator")])
async def moderate() -> dict[str, bool]:
    return {"ok": True}


@get("/either", guards=[requires(["admin", "auditor"], mode="any")])
async def either() -> dict[str, bool]:
    return {"ok": True}


@post("/posts", guards=[require_permissions("posts:write")])
async def create_post(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {"created_by": request.user.id}


@get("/health", opt={"exclude_from_auth": True})
async def health() -> dict[str, bool]:
    return {"ok": True}


@get("/health/guarded", opt={"exclude_from_auth": True}, guards=[authenticated])
async def guarded_but_excluded() -> dict[str, bool]:
    return {"ok": True}


@websocket("/ws")
async def ws(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    await socket.send_json({"id": socket.user.id})
    await socket.close()


@websocket("/ws/admin", guards=[require_role("admin")])
async def ws_admin(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    await socket.send_json({"id": socket.user.id})
    await socket.close()


ROUTES = [
    me,
    whoami,
    private,
    moderate,
    either,
    create_post,
    health,
    guarded_but_excluded,
    ws,
    ws_admin,
]


def build_app(gate: SessionGate | None = None, **options: Any) -> Litestar:
    plugin = SessionGatePlugin(
        gate or make_gate(),
        trusted_origins=[FRONT],
        role_hierarchy=HIERARCHY,
        exclude=["/schema"],
        **options,
    )
    return Litestar(route_handlers=ROUTES, plugins=[plugin])
