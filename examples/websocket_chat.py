"""A WebSocket chat room authenticated by the Next.js session.

Browsers on the same site send the session cookie with the handshake (the Origin is checked);
other clients may send ``Authorization: Bearer <token>`` or offer the token as a subprotocol:
``new WebSocket(url, ["sessiongate.bearer", token])`` — the server answers with the
``sessiongate.bearer`` subprotocol, never with the token.

Run:  AUTH_SECRET=... python examples/websocket_chat.py      (then open http://127.0.0.1:8000/)
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.asgi import SessionGateMiddleware, requires

DEV_SECRET = "sessiongate-dev-secret-do-not-deploy-0123456789"
SECRET = os.environ.get("AUTH_SECRET", DEV_SECRET)

gate = SessionGate(AuthJSToken(secret=SECRET), BearerJWT(secret=SECRET))
members: set[WebSocket] = set()

PAGE = """<!doctype html><meta charset="utf-8"><title>chat</title>
<ul id="log"></ul><input id="msg" autofocus>
<script>
const ws = new WebSocket(`ws://${location.host}/chat`);
ws.onmessage = (e) => { const li = document.createElement("li");
  const m = JSON.parse(e.data); li.textContent = `${m.from}: ${m.text}`; log.append(li); };
msg.onkeydown = (e) => { if (e.key === "Enter") { ws.send(msg.value); msg.value = ""; } };
</script>"""


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


@requires()
async def chat(websocket: WebSocket) -> None:
    name = websocket.user.display_name
    await websocket.accept()
    members.add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            for member in list(members):
                await member.send_json({"from": name, "text": text[:1000]})
    except WebSocketDisconnect:
        pass
    finally:
        members.discard(websocket)


app = Starlette(
    routes=[Route("/", page), WebSocketRoute("/chat", chat)],
    middleware=[
        Middleware(
            SessionGateMiddleware,
            gate=gate,
            trusted_origins=[os.environ.get("FRONTEND_ORIGIN", "http://localhost:3000")],
        )
    ],
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
