# ruff: noqa: B008  (FastAPI declares dependencies in argument defaults)
"""One WebPolicy for every adapter: construction, sharing, and the verdict they pass along."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Depends, FastAPI, WebSocket
from fastapi.testclient import TestClient
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sessiongate import AuthJSToken, BearerJWT, SessionGate, User
from sessiongate.asgi import (
    SessionGateBackend,
    SessionGateCredentials,
    SessionGateMiddleware,
    requires,
)
from sessiongate.errors import ConfigurationError
from sessiongate.fastapi import SessionGateAuth, install_error_handlers
from sessiongate.flask import SessionGateFlask, current_user, login_required
from sessiongate.policy import Verdict, WebPolicy
from sessiongate.responses import ErrorResponse
from sessiongate.testing import mint_hs256
from sessiongate.wsgi import ENVIRON_VERDICT, SessionGateWSGIMiddleware

from .helpers import (
    EVIL,
    SECRET,
    CountingAuthenticator,
    OutageAuthenticator,
    build_bearer,
    build_expired_cookie,
    build_valid_cookie,
    make_gate,
)

FRONT = "https://app.example.com"


def counting_gate() -> tuple[SessionGate, CountingAuthenticator]:
    counter = CountingAuthenticator(AuthJSToken(secret=SECRET, cache_size=0))
    return SessionGate(counter, BearerJWT(secret=SECRET), memo_size=0), counter


@pytest.mark.parametrize(
    "build",
    [
        lambda gate, **kw: SessionGateMiddleware(lambda s, r, w: None, gate=gate, **kw),
        lambda gate, **kw: SessionGateBackend(gate, **kw),
        lambda gate, **kw: SessionGateAuth(gate, **kw),
        lambda gate, **kw: SessionGateWSGIMiddleware(lambda e, s: [], gate=gate, **kw),
        lambda gate, **kw: SessionGateFlask(None, gate, **kw),
    ],
    ids=["middleware", "backend", "fastapi", "wsgi", "flask"],
)
def test_every_adapter_takes_a_policy_or_the_same_keywords(build):
    gate = make_gate()
    shared = WebPolicy(trusted_origins=[FRONT], role_hierarchy={"admin": ["user"]}, realm="api")
    from_policy = build(gate, policy=shared)
    from_keywords = build(
        gate, trusted_origins=[FRONT], role_hierarchy={"admin": ["user"]}, realm="api"
    )
    if isinstance(from_policy, SessionGateBackend):  # the backend records its checks as off
        assert from_policy.policy == from_keywords.policy
        assert from_policy.policy.csrf is False
    else:
        assert from_policy.policy is shared
        assert from_keywords.policy == shared
    overridden = build(gate, policy=shared, realm="other")
    assert overridden.policy.realm == "other"
    assert overridden.policy.trusted_origins == (FRONT,)
    with pytest.raises(ConfigurationError, match="unknown web option"):
        build(gate, crsf=False)
    with pytest.raises(ConfigurationError):
        build(gate, trusted_origins=["not an origin"])
    with pytest.raises(ConfigurationError):
        build("not a gate")


def test_shared_policy_fastapi_and_middleware_verify_once_and_agree():
    gate, counter = counting_gate()
    policy = WebPolicy(trusted_origins=[FRONT])
    auth = SessionGateAuth(gate, policy=policy)
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/posts")
    async def create(user: User = Depends(auth.current_user)) -> dict[str, str]:
        return {"id": user.id}

    app.add_middleware(SessionGateMiddleware, gate=gate, policy=policy)
    client = TestClient(app)
    r = client.post("/posts", headers={**build_valid_cookie(), "origin": FRONT})
    assert r.json() == {"id": "u1"}
    assert counter.calls == 1
    r = client.post("/posts", headers={**build_valid_cookie(), "origin": EVIL})
    assert r.status_code == 403
    assert r.json()["error"] == "csrf_failed"


def test_fastapi_dependency_renders_with_its_policy():
    auth = SessionGateAuth(SessionGate(OutageAuthenticator()), retry_after=9, realm="api")
    app = FastAPI()

    @app.get("/me")
    async def me(user: User = Depends(auth.current_user)) -> dict[str, str]:
        return {"id": user.id}

    client = TestClient(app)  # without install_error_handlers: FastAPI's own body
    r = client.get("/me", headers={"cookie": "authjs.session-token=x"})
    assert r.status_code == 503
    assert r.headers["retry-after"] == "9"
    assert r.json()["detail"]["error"] == "provider_unavailable"
    r = TestClient(app).get("/me")
    assert r.headers["www-authenticate"] == 'Bearer realm="api"'


def test_fastapi_install_error_handlers_renderer_overrides_policy():
    def render(error: Any, sent: bool) -> ErrorResponse:
        return ErrorResponse(418, b"teapot", (("X-Code", error.code),))

    auth = SessionGateAuth(make_gate(), realm="api")
    app = FastAPI()
    install_error_handlers(app, error_renderer=render)

    @app.get("/me")
    async def me(user: User = Depends(auth.current_user)) -> dict[str, str]:
        return {"id": user.id}

    r = TestClient(app).get("/me", headers=build_expired_cookie())
    assert (r.status_code, r.text, r.headers["x-code"]) == (418, "teapot", "expired")


def test_fastapi_leaves_its_verdict_for_request_user():
    auth = SessionGateAuth(make_gate())
    app = FastAPI()

    @app.get("/whoami")
    async def whoami(request: Request, user: User = Depends(auth.current_user)) -> dict[str, Any]:
        verdict = request.auth.verdict
        return {
            "user": request.user.id,
            "same": request.user is user,
            "credential": request.auth.credential,
            "policy": verdict.policy is auth.policy,
        }

    r = TestClient(app).get("/whoami", headers=build_bearer())
    assert r.json() == {"user": "u1", "same": True, "credential": "bearer", "policy": True}


def test_openapi_cookie_scheme_needs_install_and_is_idempotent():
    auth = SessionGateAuth(make_gate())
    bare = FastAPI()

    @bare.get("/me")
    async def me(user: User = Depends(auth.current_user)) -> dict[str, str]:
        return {"id": user.id}

    assert bare.openapi()["paths"]["/me"]["get"]["security"] == [{"SessionGateBearer": []}]
    installed = FastAPI()
    install_error_handlers(installed)
    installed.get("/me")(me)
    first = installed.openapi()["paths"]["/me"]["get"]["security"]
    installed.openapi()
    install_error_handlers(installed)  # twice: still one cookie entry
    installed.openapi_schema = None
    again = installed.openapi()["paths"]["/me"]["get"]["security"]
    assert first == again == [{"SessionGateBearer": []}, {"SessionGateCookie": []}]


def test_middleware_policy_renders_requires_refusals():
    @requires("admin")
    async def admin(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[Route("/admin", admin)],
        middleware=[Middleware(SessionGateMiddleware, gate=make_gate(), realm="api")],
    )
    r = TestClient(app).get("/admin", headers=build_valid_cookie(role="user"))
    assert r.status_code == 403
    assert r.headers["www-authenticate"].startswith(
        'Bearer realm="api", error="insufficient_scope"'
    )


def test_requires_accepts_a_mapping_hierarchy():
    @requires("user", role_hierarchy={"admin": ["user"]})
    async def users(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[Route("/users", users)],
        middleware=[Middleware(SessionGateMiddleware, gate=make_gate())],
    )
    assert TestClient(app).get("/users", headers=build_bearer(role="admin")).json() == {"ok": True}


def test_middleware_verdict_carries_its_policy():
    seen: dict[str, Any] = {}

    async def endpoint(request: Request) -> JSONResponse:
        seen["auth"] = request.auth
        return JSONResponse({})

    mw_policy = WebPolicy(csrf=False)
    app = Starlette(
        routes=[Route("/", endpoint)],
        middleware=[Middleware(SessionGateMiddleware, gate=make_gate(), policy=mw_policy)],
    )
    TestClient(app).get("/", headers=build_bearer())
    auth = seen["auth"]
    assert isinstance(auth, SessionGateCredentials)
    assert isinstance(auth.verdict, Verdict)
    assert auth.policy is mw_policy
    assert auth.verdict.facts.credential_sent is True


def test_flask_with_shared_policy_over_wsgi_middleware():
    gate, counter = counting_gate()
    policy = WebPolicy(trusted_origins=[FRONT])
    app = Flask(__name__)
    SessionGateFlask(app, gate, policy=policy)

    @app.post("/posts")
    @login_required
    def posts() -> dict[str, Any]:
        from flask import request

        return {"id": current_user.id, "verdict": request.environ[ENVIRON_VERDICT].policy is policy}

    app.wsgi_app = SessionGateWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, gate=gate, policy=policy
    )
    client = app.test_client(use_cookies=False)
    r = client.post("/posts", headers={**build_valid_cookie(), "Origin": FRONT})
    assert r.get_json() == {"id": "u1", "verdict": True}
    assert counter.calls == 1
    assert (
        client.post("/posts", headers={**build_valid_cookie(), "Origin": EVIL}).status_code == 403
    )


def test_url_token_passes_when_both_layers_allow_it():
    gate = make_gate()
    policy = WebPolicy(allow_query_token=True)
    auth = SessionGateAuth(gate, policy=policy)
    app = FastAPI()
    install_error_handlers(app)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, user: User = Depends(auth.current_user)) -> None:
        await websocket.accept()
        await websocket.send_json(
            {"id": user.id, "query": websocket.scope["query_string"].decode()}
        )
        await websocket.close()

    app.add_middleware(SessionGateMiddleware, gate=gate, policy=policy)
    token = mint_hs256({"sub": "u1"}, SECRET)
    with TestClient(app).websocket_connect(f"/ws?room=2&access_token={token}") as conn:
        assert conn.receive_json() == {"id": "u1", "query": "room=2"}
