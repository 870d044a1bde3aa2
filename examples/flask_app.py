"""Flask with SessionGateFlask.

Run:  AUTH_SECRET=... python examples/flask_app.py
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.flask import (
    SessionGateFlask,
    current_user,
    login_required,
    permissions_required,
    roles_required,
)

DEV_SECRET = "sessiongate-dev-secret-do-not-deploy-0123456789"
SECRET = os.environ.get("AUTH_SECRET", DEV_SECRET)

app = Flask(__name__)
SessionGateFlask(
    app,
    SessionGate(AuthJSToken(secret=SECRET), BearerJWT(secret=SECRET)),
    role_hierarchy={"admin": ["moderator"], "moderator": ["user"]},
    trusted_origins=[os.environ.get("FRONTEND_ORIGIN", "http://localhost:3000")],
)


@app.get("/")
def index() -> dict[str, Any]:
    return {"hello": current_user.display_name or "anonymous"}


@app.get("/me")
@login_required
def me() -> dict[str, Any]:
    return {"id": current_user.id, "roles": sorted(current_user.roles)}


@app.get("/moderate")
@roles_required("moderator")
def moderate() -> dict[str, Any]:
    return {"ok": True}


@app.post("/posts")
@permissions_required("posts:write")
def create_post() -> dict[str, Any]:
    return {"created_by": current_user.id}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
