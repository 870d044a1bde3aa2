"""The Better Auth guards through FastAPI, Starlette and Flask: fresh sessions, impersonation,
access-control statements and bans, with the exact status and JSON body of each refusal."""

# ruff: noqa: B008  (FastAPI declares dependencies in argument defaults)
from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ba_admin_fixtures import iso, make_db, signed, token_for
from sessiongate import SessionGate, User
from sessiongate.guards import AccessRequirement, Requirement
from sessiongate.sessions import BetterAuthSession
from sessiongate.stores import SQLiteStore
from sessiongate.stores.schema import SchemaMapping

SECRET = "better-auth-admin-secret-0123456789abcdef"
SCHEMA = SchemaMapping.preset("better-auth").with_better_auth_columns(admin=True)
FRESH = Requirement(max_session_age=3600)
NO_IMPERSONATION = Requirement(allow_impersonated=False)
CAN_BAN = Requirement(access=AccessRequirement({"user": ["ban"]}))
ROUTES = {"/fresh": FRESH, "/no-impersonation": NO_IMPERSONATION, "/ban-users": CAN_BAN}

TOKENS = {name: token_for(name) for name in ("recent", "old", "acting", "multi", "banned")}

Get = Callable[[str, str], tuple[int, Any]]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    now = datetime.now(UTC)
    later = iso(now + timedelta(days=7))
    return make_db(
        tmp_path / "web.db",
        [
            {"id": "recent"},
            {"id": "old"},
            {"id": "multi", "role": "admin,user"},
            {"id": "banned", "banned": 1},
        ],
        [
            {"token": TOKENS["recent"], "userId": "recent", "createdAt": iso(now - minutes(5))},
            {"token": TOKENS["old"], "userId": "old", "createdAt": iso(now - minutes(120))},
            {"token": TOKENS["acting"], "userId": "recent", "impersonatedBy": "multi"},
            {"token": TOKENS["multi"], "userId": "multi"},
            {"token": TOKENS["banned"], "userId": "banned"},
        ],
        defaults={"expiresAt": later, "createdAt": iso(now - minutes(1))},
    )


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def _gate(db: Path) -> SessionGate:
    return SessionGate(
        BetterAuthSession(secret=SECRET, store=SQLiteStore(db, schema=SCHEMA), cache_ttl=0)
    )


def _fastapi(gate: SessionGate) -> Get:
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from sessiongate.fastapi import SessionGateAuth, install_error_handlers

    auth = SessionGateAuth(gate)
    app = FastAPI()
    install_error_handlers(app)

    def route(path: str, requirement: Requirement) -> None:
        @app.get(path)
        async def guarded(user: User = Depends(auth.require(requirement))) -> dict[str, str]:
            return {"id": user.id}

    for path, requirement in ROUTES.items():
        route(path, requirement)

    @app.get("/me")
    async def me(user: User = Depends(auth.current_user)) -> dict[str, str]:
        return {"id": user.id}

    client = TestClient(app)
    return lambda path, cookie: _answer(client.get(path, headers={"cookie": cookie}))


def _starlette(gate: SessionGate) -> Get:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from sessiongate.asgi import SessionGateMiddleware, requires

    def endpoint(requirement: Requirement | None) -> Any:
        async def view(request: Request) -> JSONResponse:
            return JSONResponse({"id": request.user.id})

        return requires(requirement=requirement)(view) if requirement else requires()(view)

    routes = [Route(path, endpoint(req)) for path, req in ROUTES.items()]
    app = Starlette(routes=[*routes, Route("/me", endpoint(None))])
    client = TestClient(SessionGateMiddleware(app, gate=gate))
    return lambda path, cookie: _answer(client.get(path, headers={"cookie": cookie}))


def _flask(gate: SessionGate) -> Get:
    from flask import Flask

    from sessiongate.flask import (
        SessionGateFlask,
        current_user,
        login_required,
        requirement_required,
    )

    app = Flask(__name__)
    SessionGateFlask(app, gate)

    def route(path: str, requirement: Requirement) -> None:
        @app.get(path, endpoint=path)
        @requirement_required(requirement)
        def guarded() -> dict[str, str]:
            return {"id": current_user.id}

    for path, requirement in ROUTES.items():
        route(path, requirement)

    @app.get("/me")
    @login_required
    def me() -> dict[str, str]:
        return {"id": current_user.id}

    client = app.test_client(use_cookies=False)
    return lambda path, cookie: _answer(client.get(path, headers={"cookie": cookie}))


def _answer(response: Any) -> tuple[int, Any]:
    body = response.json() if callable(getattr(response, "json", None)) else response.get_json()
    return response.status_code, body


@pytest.fixture(params=["fastapi", "starlette", "flask"])
def get(request: pytest.FixtureRequest, db: Path) -> Iterator[Get]:
    gate = _gate(db)
    yield {"fastapi": _fastapi, "starlette": _starlette, "flask": _flask}[request.param](gate)
    asyncio.run(gate.aclose())


def cookie(name: str) -> str:
    return f"better-auth.session_token={signed(TOKENS[name])}"


def _error(code: str) -> dict[str, str]:
    from sessiongate.errors import (
        AuthorizationError,
        BannedUserError,
        ImpersonatedSessionError,
        SessionNotFreshError,
    )

    errors = {
        "session_not_fresh": SessionNotFreshError(),
        "impersonated_session": ImpersonatedSessionError(),
        "banned": BannedUserError(),
        "insufficient_scope": AuthorizationError("the user's role does not allow this action"),
    }
    return errors[code].to_dict()


def test_fresh_session_guard(get: Get) -> None:
    assert get("/fresh", cookie("recent")) == (200, {"id": "recent"})
    assert get("/fresh", cookie("old")) == (403, _error("session_not_fresh"))


def test_impersonation_guard(get: Get) -> None:
    assert get("/no-impersonation", cookie("recent")) == (200, {"id": "recent"})
    assert get("/no-impersonation", cookie("acting")) == (403, _error("impersonated_session"))
    assert get("/me", cookie("acting")) == (200, {"id": "recent"})  # only where refused


def test_access_control_guard_with_multi_role_user(get: Get) -> None:
    assert get("/ban-users", cookie("multi")) == (200, {"id": "multi"})  # "admin,user"
    assert get("/ban-users", cookie("recent")) == (403, _error("insufficient_scope"))


def test_banned_user_is_401_banned_everywhere(get: Get) -> None:
    for path in ("/me", "/fresh", "/ban-users"):
        assert get(path, cookie("banned")) == (401, _error("banned"))
