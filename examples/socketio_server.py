"""A Socket.IO chat server (python-socketio, ASGI) authenticated by the Next.js session.

The Next.js page connects with ``socket.io-client``:

    const socket = io("http://localhost:8000", {
      withCredentials: true,   // send the session cookie (the Origin is checked)
      auth: { token },         // or send a token: the session token or a bearer JWT
    });
    socket.on("connect_error", (err) => console.log(err.message, err.data?.code));

A refused connection gets ``connect_error`` with ``err.data = {code, message, status}``:
``missing_credentials``/``expired``... (401), ``csrf_failed``/``insufficient_scope`` (403) or
``provider_unavailable`` (503).

Run:  AUTH_SECRET=... python examples/socketio_server.py
"""

from __future__ import annotations

import os
from typing import Any

import socketio

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.guards import Requirement
from sessiongate.socketio import SessionGateSocketIO

DEV_SECRET = "sessiongate-dev-secret-do-not-deploy-0123456789"
SECRET = os.environ.get("AUTH_SECRET", DEV_SECRET)
FRONTEND = os.environ.get("FRONTEND_ORIGIN", "http://localhost:3000")

gate = SessionGate(AuthJSToken(secret=SECRET), BearerJWT(secret=SECRET))
sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[FRONTEND])
auth = SessionGateSocketIO(
    gate,
    trusted_origins=[FRONTEND],
    role_hierarchy={"admin": ["moderator"]},
)
app = socketio.ASGIApp(sio)


@sio.event
async def connect(sid: str, environ: dict[str, Any], payload: Any) -> None:
    user = await auth.authenticate(sio, sid, environ, payload)  # refuses, or saves the user
    await sio.enter_room(sid, "lobby")
    await sio.emit("joined", {"name": user.display_name}, room="lobby", skip_sid=sid)


async def describe(sid: str, namespace: str = "/") -> dict[str, Any]:
    user = await auth.user(sio, sid, namespace=namespace)
    return {"id": user.id, "name": user.display_name, "roles": sorted(user.roles)}


@sio.event
async def whoami(sid: str) -> dict[str, Any]:
    return await describe(sid)


@sio.event
async def message(sid: str, text: Any) -> None:
    user = await auth.user(sio, sid)
    await sio.emit("message", {"from": user.display_name, "text": str(text)[:1000]}, room="lobby")


# a namespace for moderators only (admins too, through the role hierarchy)
@sio.on("connect", namespace="/moderation")
async def connect_moderation(sid: str, environ: dict[str, Any], payload: Any) -> None:
    await auth.authenticate(
        sio,
        sid,
        environ,
        payload,
        namespace="/moderation",
        require=Requirement(roles=("moderator",)),
    )


@sio.on("whoami", namespace="/moderation")
async def whoami_moderation(sid: str) -> dict[str, Any]:
    return await describe(sid, "/moderation")


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
