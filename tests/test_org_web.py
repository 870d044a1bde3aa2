"""Org guards through FastAPI, Starlette, Flask and the sidecar; API keys through the sidecar."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote

import httpx
import pytest

from ba_plugin_db import KEY_DISABLED, KEY_PLAIN, make_db
from sessiongate import AuthJSToken, SessionGate
from sessiongate.apikeys import ApiKeyVerifier
from sessiongate.ba_detect import BetterAuthPlugins, PluginSwitches, detect_presence_sync
from sessiongate.organizations import (
    OrgDirectory,
    org_from_header,
    org_from_path,
    require_org_permission,
    require_org_role,
)
from sessiongate.sidecar import SidecarApp
from sessiongate.stores.sqlite import SQLiteStore
from sessiongate.testing import cookie_header, mint_authjs_v5

S = "org-web-secret-0123456789abcdef"


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(make_db(tmp_path / "ba.db"), schema="better-auth")
    yield s
    asyncio.run(s.aclose())


def cookie(uid: str, **claims) -> dict[str, str]:
    return {"cookie": cookie_header(mint_authjs_v5({"sub": uid, **claims}, S))}


def asgi_get(app, url: str, headers: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(url, headers=headers)

    return asyncio.run(go())


def test_fastapi_org_dependency(store):
    from fastapi import Depends, FastAPI

    from sessiongate.fastapi import SessionGateAuth, install_error_handlers
    from sessiongate.org_asgi import org_dependency

    auth = SessionGateAuth(SessionGate(AuthJSToken(S)))
    orgs = OrgDirectory(store, cache_ttl=0)
    admins = org_dependency(
        auth, require_org_role("admin", org=org_from_path("org_id"), directory=orgs)
    )
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/orgs/{org_id}")
    async def settings(org_id: str, member=Depends(admins)) -> dict[str, object]:  # noqa: B008
        return {"org": org_id, "roles": list(member.roles)}

    ok = asgi_get(app, "/orgs/org-1", cookie("u-multi"))
    assert ok.status_code == 200 and ok.json() == {"org": "org-1", "roles": ["member", "admin"]}
    no = asgi_get(app, "/orgs/org-1", cookie("u-member"))
    assert no.status_code == 403 and no.json()["error"] == "insufficient_scope"
    assert asgi_get(app, "/orgs/org-2", cookie("u-admin")).status_code == 403
    assert asgi_get(app, "/orgs/org-1", {}).status_code == 401


def test_starlette_org_required(store):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from sessiongate.asgi import SessionGateMiddleware
    from sessiongate.org_asgi import org_required

    orgs = OrgDirectory(store, cache_ttl=0)
    guard = require_org_permission({"member": ["create"]}, org=org_from_header(), directory=orgs)

    @org_required(guard)
    async def invite(request):
        return JSONResponse({"org": request.state.membership.organization_id})

    app = Starlette(routes=[Route("/invite", invite)])
    app.add_middleware(SessionGateMiddleware, gate=SessionGate(AuthJSToken(S)))
    named = {"x-organization-id": "org-1"}
    ok = asgi_get(app, "/invite", {**cookie("u-admin"), **named})
    assert ok.status_code == 200 and ok.json() == {"org": "org-1"}
    assert asgi_get(app, "/invite", {**cookie("u-member"), **named}).status_code == 403
    assert asgi_get(app, "/invite", cookie("u-admin")).status_code == 403  # names no org
    assert asgi_get(app, "/invite", named).status_code == 401


def test_starlette_org_required_answers_503_on_outage(store):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from sessiongate.asgi import SessionGateMiddleware
    from sessiongate.org_asgi import org_required

    orgs = OrgDirectory(store, cache_ttl=0)
    guard = require_org_role("admin", org=org_from_path("org"), directory=orgs)

    @org_required(guard)
    async def page(request):
        return JSONResponse({})

    app = Starlette(routes=[Route("/o/{org}", page)])
    app.add_middleware(SessionGateMiddleware, gate=SessionGate(AuthJSToken(S)))
    asyncio.run(store.aclose())
    down = asgi_get(app, "/o/org-1", cookie("u-admin"))
    assert down.status_code == 503 and down.json()["error"] == "provider_unavailable"


def test_flask_org_required(store):
    from flask import Flask, g

    from sessiongate.flask import SessionGateFlask
    from sessiongate.org_flask import org_required

    app = Flask(__name__)
    SessionGateFlask(app, SessionGate(AuthJSToken(S)))
    orgs = OrgDirectory(store, cache_ttl=0)
    owners = require_org_role("owner", org=org_from_path("org_id"), directory=orgs)

    @app.get("/orgs/<org_id>/danger")
    @org_required(owners)
    def danger(org_id: str):
        return {"org": org_id, "roles": list(g.membership.roles)}

    client = app.test_client(use_cookies=False)
    ok = client.get("/orgs/org-2/danger", headers=cookie("u-member"))
    assert ok.status_code == 200 and ok.get_json() == {"org": "org-2", "roles": ["owner"]}
    assert client.get("/orgs/org-1/danger", headers=cookie("u-member")).status_code == 403
    assert client.get("/orgs/org-1/danger").status_code == 401
    asyncio.run(store.aclose())
    assert client.get("/orgs/org-1/danger", headers=cookie("u-owner")).status_code == 503


def sidecar(store) -> SidecarApp:
    plugins = BetterAuthPlugins.build(store, detect_presence_sync(store), PluginSwitches())
    return SidecarApp(SessionGate(AuthJSToken(S)), plugins=plugins)


def test_detection_finds_every_plugin_and_switches_turn_them_off(store, tmp_path):
    found = detect_presence_sync(store)
    assert found.admin and found.impersonation and found.organization
    assert found.organization_roles and found.api_key
    plugins = BetterAuthPlugins.build(store, found, PluginSwitches(api_key="off"))
    assert plugins.api_keys is None and plugins.organizations is not None
    assert "api-key" not in plugins.enforced.describe()
    assert "found:" in plugins.describe()
    plain = SQLiteStore(make_db(tmp_path / "plain.db", plugins=False), schema="better-auth")
    try:
        none = detect_presence_sync(plain)
        assert not (none.admin or none.organization or none.api_key)
        assert none.describe() == "none"
        from sessiongate.errors import ConfigurationError

        with pytest.raises(ConfigurationError, match="SESSIONGATE_BA_ORGANIZATION=on"):
            PluginSwitches(organization="on").apply(none)
    finally:
        asyncio.run(plain.aclose())


def test_switches_read_the_environment_and_flags_win():
    env = {"SESSIONGATE_BA_API_KEY": "off", "SESSIONGATE_API_KEY_HEADER": "x-key"}
    switches = PluginSwitches.from_sources(environ=env, organization="on")
    assert switches == PluginSwitches(
        admin="auto", organization="on", api_key="off", api_key_header="x-key"
    )
    from sessiongate.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        PluginSwitches.from_sources(environ={"SESSIONGATE_BA_ADMIN": "maybe"})


def test_sidecar_org_role_header_for_the_named_org(store):
    app = sidecar(store)
    r = asgi_get(app, "/verify", {**cookie("u-multi"), "x-organization-id": "org-1"})
    assert r.status_code == 200
    assert r.headers["x-user-org-role"] == "member,admin"
    assert r.headers["x-user-org-id"] == "org-1"
    other = asgi_get(app, "/verify", {**cookie("u-multi"), "x-organization-id": "org-2"})
    assert other.status_code == 200 and "x-user-org-role" not in other.headers
    assert "x-user-org-role" not in asgi_get(app, "/verify", cookie("u-multi")).headers


def test_sidecar_impersonated_by_header(store):
    app = sidecar(store)
    r = asgi_get(app, "/verify", cookie("u-ada", session={"impersonatedBy": "u-admin"}))
    assert r.status_code == 200 and unquote(r.headers["x-user-impersonated-by"]) == "u-admin"
    assert "x-user-impersonated-by" not in asgi_get(app, "/verify", cookie("u-ada")).headers


def test_sidecar_accepts_x_api_key(store):
    app = sidecar(store)
    r = asgi_get(app, "/verify", {"x-api-key": KEY_PLAIN})
    assert r.status_code == 200
    assert r.headers["x-user-id"] == "u-ada" and r.headers["x-auth-source"] == "api-key"
    bad = asgi_get(app, "/verify", {"x-api-key": KEY_DISABLED})
    assert bad.status_code == 401 and bad.json()["error"] == "api_key_disabled"


def test_sidecar_api_key_header_name_is_configurable(store):
    plugins = BetterAuthPlugins.build(
        store, detect_presence_sync(store), PluginSwitches(api_key_header="x-service-key")
    )
    app = SidecarApp(SessionGate(AuthJSToken(S)), plugins=plugins)
    assert isinstance(plugins.api_keys, ApiKeyVerifier)
    assert asgi_get(app, "/verify", {"x-service-key": KEY_PLAIN}).status_code == 200
    assert asgi_get(app, "/verify", {"x-api-key": KEY_PLAIN}).status_code == 401
