"""FastAPI next to a Next.js (Auth.js v5 / NextAuth v4) front end.

Run:  AUTH_SECRET=... python examples/fastapi_app.py      (then open http://127.0.0.1:8000/docs)

Without AUTH_SECRET the documented development secret below is used; never deploy with it.
"""

# ruff: noqa: B008  (FastAPI declares dependencies in argument defaults)
from __future__ import annotations

import os
from typing import Any

from fastapi import Depends, FastAPI, Security, WebSocket

from sessiongate import AuthJSToken, BearerJWT, SessionGate, User
from sessiongate.asgi import SessionGateMiddleware
from sessiongate.fastapi import SessionGateAuth, install_error_handlers

DEV_SECRET = "sessiongate-dev-secret-do-not-deploy-0123456789"
SECRET = os.environ.get("AUTH_SECRET", DEV_SECRET)

gate = SessionGate(AuthJSToken(secret=SECRET), BearerJWT(secret=SECRET))
ROLES = {"admin": ["moderator"], "moderator": ["user"]}
FRONTEND = [os.environ.get("FRONTEND_ORIGIN", "http://localhost:3000")]
# the dependency applies its own CSRF/Origin policy too: give it the same trusted origins
auth = SessionGateAuth(gate, role_hierarchy=ROLES, trusted_origins=FRONTEND)

app = FastAPI(title="sessiongate FastAPI example")
install_error_handlers(app)  # {"error", "message"} bodies; real 401/403 on refused WebSockets
# optional: verifies once per request for every route, adds CSRF + WebSocket origin checks
app.add_middleware(
    SessionGateMiddleware,
    gate=gate,
    role_hierarchy=ROLES,
    trusted_origins=FRONTEND,
)


@app.get("/")
async def index(user: User | None = Depends(auth.optional_user)) -> dict[str, Any]:
    return {"hello": user.display_name if user else "anonymous"}


@app.get("/me")
async def me(user: User = Depends(auth.current_user)) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "roles": sorted(user.roles)}


@app.get("/admin", dependencies=[Depends(auth.require_role("admin"))])
async def admin() -> dict[str, str]:
    return {"area": "admin"}


@app.post("/posts")
async def create_post(
    user: User = Depends(auth.require_permissions("posts:write")),
) -> dict[str, str]:
    return {"created_by": user.id}


@app.get("/reports")
async def reports(user: User = Security(auth.current_user, scopes=["moderator"])) -> dict[str, str]:
    return {"reports_for": user.id}


@app.websocket("/ws")
async def ws(websocket: WebSocket, user: User = Depends(auth.current_user)) -> None:
    await websocket.accept()
    await websocket.send_json({"hello": user.display_name})
    await websocket.close()


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
