from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from sessiongate import SessionGate
from sessiongate.errors import ConfigurationError
from sessiongate.flask import (
    SessionGateFlask,
    current_user,
    login_required,
    permissions_required,
    roles_required,
)
from sessiongate.wsgi import SessionGateWSGIMiddleware

from .helpers import (
    EVIL,
    OutageAuthenticator,
    build_bearer,
    build_expired_cookie,
    build_tampered_cookie,
    build_valid_cookie,
    make_gate,
)

HIERARCHY = {"admin": ["moderator"], "moderator": ["user"]}
ORIGIN = "http://localhost"


def build_flask(gate: SessionGate | None = None, **options: Any) -> Flask:
    app = Flask(__name__)
    options.setdefault("role_hierarchy", HIERARCHY)
    SessionGateFlask(app, gate or make_gate(), **options)

    @app.get("/public")
    def public() -> dict[str, Any]:
        return {"authenticated": current_user.is_authenticated}

    @app.get("/me")
    @login_required
    def me() -> dict[str, Any]:
        return {"id": current_user.id}

    @app.get("/mod")
    @roles_required("moderator")
    def mod() -> dict[str, Any]:
        return {"ok": True}

    @app.route("/posts", methods=["GET", "POST"])
    @permissions_required("posts:write", "posts:admin", mode="any")
    def posts() -> dict[str, Any]:
        return {"ok": True}

    return app


def test_flask_missing_401():
    r = build_flask().test_client(use_cookies=False).get("/me")
    assert r.status_code == 401
    assert r.get_json() == {
        "error": "missing_credentials",
        "message": "no session cookie or bearer token was sent",
    }
    assert r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("headers", "code"),
    [(build_expired_cookie, "expired"), (build_tampered_cookie, "decryption_failed")],
)
def test_flask_bad_cookie_401(headers, code):
    r = build_flask().test_client(use_cookies=False).get("/me", headers=headers())
    assert r.status_code == 401
    assert r.get_json()["error"] == code
    assert r.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_flask_valid_and_public():
    client = build_flask().test_client(use_cookies=False)
    assert client.get("/me", headers=build_valid_cookie()).get_json() == {"id": "u1"}
    assert client.get("/me", headers=build_bearer()).get_json() == {"id": "u1"}
    assert client.get("/public").get_json() == {"authenticated": False}
    assert client.get("/public", headers=build_tampered_cookie()).status_code == 200


def test_flask_roles_with_hierarchy():
    client = build_flask().test_client(use_cookies=False)
    assert client.get("/mod", headers=build_valid_cookie(role="admin")).status_code == 200
    r = client.get("/mod", headers=build_valid_cookie(role="user"))
    assert r.status_code == 403
    assert r.get_json() == {"error": "insufficient_scope", "message": "required role(s): moderator"}
    no_hierarchy = build_flask(role_hierarchy=None).test_client(use_cookies=False)
    assert no_hierarchy.get("/mod", headers=build_valid_cookie(role="admin")).status_code == 403


def test_flask_permissions_any():
    client = build_flask().test_client(use_cookies=False)
    assert (
        client.get("/posts", headers=build_bearer(permissions=["posts:admin"])).status_code == 200
    )
    assert client.get("/posts", headers=build_bearer(permissions=["posts:read"])).status_code == 403


def test_flask_csrf():
    client = build_flask().test_client(use_cookies=False)
    cookie = build_valid_cookie(permissions=["posts:write"])
    r = client.post("/posts", headers={**cookie, "Origin": EVIL})
    assert r.status_code == 403
    assert r.get_json()["error"] == "csrf_failed"
    assert client.post("/posts", headers=cookie).status_code == 403  # no Origin, no Referer
    assert client.post("/posts", headers={**cookie, "Origin": ORIGIN}).status_code == 200
    bearer = {**build_bearer(permissions=["posts:write"]), "Origin": EVIL}
    assert client.post("/posts", headers=bearer).status_code == 200
    off = build_flask(csrf=False).test_client(use_cookies=False)
    assert off.post("/posts", headers={**cookie, "Origin": EVIL}).status_code == 200


def test_flask_outage_503():
    client = build_flask(SessionGate(OutageAuthenticator()), retry_after=5).test_client(
        use_cookies=False
    )
    r = client.get("/public", headers={"Cookie": "a=b"})
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "5"
    lenient = build_flask(SessionGate(OutageAuthenticator()), block_on_outage=False).test_client(
        use_cookies=False
    )
    assert lenient.get("/public", headers={"Cookie": "a=b"}).get_json() == {"authenticated": False}
    assert lenient.get("/me", headers={"Cookie": "a=b"}).status_code == 503


def test_flask_init_app_later_and_misconfig():
    ext = SessionGateFlask(gate=make_gate())
    app = Flask(__name__)

    @app.get("/me")
    @login_required
    def me() -> dict[str, Any]:
        return {"id": current_user.id}

    ext.init_app(app)
    assert app.test_client(use_cookies=False).get(
        "/me", headers=build_valid_cookie()
    ).get_json() == {"id": "u1"}
    with pytest.raises(ConfigurationError):
        SessionGateFlask(app)
    with pytest.raises(ConfigurationError):
        roles_required()
    with pytest.raises(ConfigurationError):
        permissions_required()


def test_flask_decorator_without_extension_fails_closed():
    app = Flask(__name__)

    @app.get("/me")
    @login_required
    def me() -> dict[str, Any]:
        return {"id": current_user.id}

    assert (
        app.test_client(use_cookies=False).get("/me", headers=build_valid_cookie()).status_code
        == 500
    )


# ------------------------------------------------------------------------- plain WSGI


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    user = environ["sessiongate.user"]
    error = environ["sessiongate.error"]
    credential = environ["sessiongate.credential"]
    body = f"{user.is_authenticated}|{error.code if error else '-'}|{credential}"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]


def wsgi_client(**options: Any) -> Any:
    from werkzeug.test import Client

    gate = options.pop("gate", None) or make_gate()
    return Client(SessionGateWSGIMiddleware(wsgi_app, gate=gate, **options), use_cookies=False)


def test_wsgi_sets_environ():
    client = wsgi_client()
    assert client.get("/").text == "False|missing_credentials|None"
    assert client.get("/", headers=build_expired_cookie()).text == "False|expired|None"
    assert client.get("/", headers=build_valid_cookie()).text == "True|-|cookie"
    assert client.get("/", headers=build_bearer()).text == "True|-|bearer"


def test_wsgi_csrf_and_outage():
    client = wsgi_client()
    r = client.post("/", headers={**build_valid_cookie(), "Origin": EVIL})
    assert r.status_code == 403
    assert r.json == {
        "error": "csrf_failed",
        "message": "the request origin is not allowed for cookie-authenticated requests",
    }
    ok = client.post("/", headers={**build_valid_cookie(), "Referer": "http://localhost/x"})
    assert ok.status_code == 200
    trusted = wsgi_client(trusted_origins=["https://app.example.com"])
    r = trusted.post("/", headers={**build_valid_cookie(), "Origin": "https://app.example.com"})
    assert r.status_code == 200
    down = wsgi_client(gate=SessionGate(OutageAuthenticator()))
    r = down.get("/", headers={"Cookie": "a=b"})
    assert r.status_code == 503
    assert r.headers["Content-Length"] == str(len(r.data))


def test_flask_reuses_wsgi_middleware_result():
    from sessiongate import AuthJSToken, BearerJWT

    from .helpers import SECRET, CountingAuthenticator

    counter = CountingAuthenticator(AuthJSToken(secret=SECRET, cache_size=0))
    gate = SessionGate(counter, BearerJWT(secret=SECRET))
    app = build_flask(gate)
    app.wsgi_app = SessionGateWSGIMiddleware(app.wsgi_app, gate=gate)  # type: ignore[method-assign]
    assert app.test_client(use_cookies=False).get(
        "/me", headers=build_valid_cookie()
    ).get_json() == {"id": "u1"}
    assert counter.calls == 1


def test_flask_blocks_outage_even_when_wsgi_middleware_lets_it_through():
    gate = SessionGate(OutageAuthenticator())
    app = build_flask(gate)
    app.wsgi_app = SessionGateWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, gate=gate, block_on_outage=False
    )
    r = app.test_client(use_cookies=False).get("/public", headers={"Cookie": "a=b"})
    assert r.status_code == 503
    assert r.get_json()["error"] == "provider_unavailable"
