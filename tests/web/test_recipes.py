"""The testing recipes work as printed (issue #11 item 3): cookie-jar helpers for the Flask and
Starlette/FastAPI test clients, and ``auth.override_user`` keeping ``Security`` scope checks."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Security
from fastapi.testclient import TestClient
from flask import Flask

from sessiongate.fastapi import SessionGateAuth, install_error_handlers
from sessiongate.flask import SessionGateFlask, current_user, login_required
from sessiongate.testing import (
    cookie_header,
    mint_authjs_v5,
    set_flask_session_cookie,
    set_starlette_session_cookie,
)
from sessiongate.user import User

from .helpers import SECRET, claims, make_gate

BIG = {"blob": "x" * 9000}  # a session that the JS SessionStore splits into chunks


def flask_app() -> Flask:
    app = Flask(__name__)
    SessionGateFlask(app, make_gate())

    @app.get("/me")
    @login_required
    def me() -> dict[str, Any]:
        return {"id": current_user.id}

    return app


def test_flask_test_client_ignores_a_hand_set_cookie_header() -> None:
    # why the helper exists: Werkzeug 3's client drops a per-request Cookie header
    client = flask_app().test_client()
    token = mint_authjs_v5(claims(), SECRET)
    assert client.get("/me", headers={"Cookie": cookie_header(token)}).status_code == 401


def test_set_flask_session_cookie_authenticates_the_flask_test_client() -> None:
    client = flask_app().test_client()
    set_flask_session_cookie(client, mint_authjs_v5(claims(sub="u-flask"), SECRET))
    assert client.get("/me").get_json() == {"id": "u-flask"}


def test_set_flask_session_cookie_chunks_and_replaces_earlier_chunks() -> None:
    client = flask_app().test_client()
    set_flask_session_cookie(client, mint_authjs_v5(claims(sub="big", **BIG), SECRET))
    assert client.get_cookie("authjs.session-token.1") is not None
    assert client.get("/me").get_json() == {"id": "big"}
    set_flask_session_cookie(client, mint_authjs_v5(claims(sub="small"), SECRET))
    assert client.get_cookie("authjs.session-token.0") is None
    assert client.get("/me").get_json() == {"id": "small"}


def fastapi_app() -> tuple[FastAPI, SessionGateAuth]:
    app = FastAPI()
    auth = SessionGateAuth(make_gate())
    install_error_handlers(app)

    @app.get("/me")
    async def me(user: User = Depends(auth.current_user)) -> dict[str, str]:  # noqa: B008
        return {"id": user.id}

    @app.get("/maybe")
    async def maybe(user: User | None = Depends(auth.optional_user)) -> dict[str, Any]:  # noqa: B008
        return {"id": user.id if user else None}

    @app.get("/reports")
    async def reports(
        user: User = Security(auth.current_user, scopes=["reports:read"]),  # noqa: B008
    ) -> dict[str, str]:
        return {"id": user.id}

    @app.get("/admin", dependencies=[Depends(auth.require_role("admin"))])
    async def admin() -> dict[str, bool]:
        return {"ok": True}

    return app, auth


def test_set_starlette_session_cookie_authenticates_the_test_client() -> None:
    client = TestClient(fastapi_app()[0])
    set_starlette_session_cookie(client, mint_authjs_v5(claims(sub="big", **BIG), SECRET))
    assert "authjs.session-token.1" in client.cookies
    assert client.get("/me").json() == {"id": "big"}
    set_starlette_session_cookie(client, mint_authjs_v5(claims(sub="small"), SECRET))
    assert "authjs.session-token.0" not in client.cookies
    assert client.get("/me").json() == {"id": "small"}


def test_override_user_keeps_security_scopes() -> None:
    app, auth = fastapi_app()
    client = TestClient(app)
    auth.override_user(app, User(id="reader", permissions=frozenset({"reports:read"})))
    assert client.get("/reports").json() == {"id": "reader"}
    auth.override_user(app, User(id="nobody"))
    assert client.get("/me").json() == {"id": "nobody"}
    refused = client.get("/reports")
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert client.get("/admin").status_code == 403
    auth.override_user(app, User(id="boss", roles=frozenset({"admin"})))
    assert client.get("/admin").json() == {"ok": True}


def test_override_user_none_is_anonymous() -> None:
    app, auth = fastapi_app()
    client = TestClient(app)
    auth.override_user(app, None)
    assert client.get("/me").status_code == 401
    assert client.get("/maybe").json() == {"id": None}
    auth.clear_override(app)
    set_starlette_session_cookie(client, mint_authjs_v5(claims(sub="real"), SECRET))
    assert client.get("/me").json() == {"id": "real"}
