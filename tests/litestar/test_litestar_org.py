"""Litestar: ``org_required`` guards Better Auth organization membership against a real SQLite
database holding the organization plugin's tables (``ba_plugin_db``), over HTTP and WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar, Request, WebSocket, get, post, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from sg_litestar_helpers import EVIL, FRONT, build_bearer, build_cookie, make_gate

from ba_plugin_db import make_db
from sessiongate.errors import ConfigurationError
from sessiongate.litestar import SessionGatePlugin, org_required
from sessiongate.organizations import (
    OrgDirectory,
    active_org,
    org_from_header,
    org_from_path,
    require_org_permission,
    require_org_role,
)
from sessiongate.stores import SQLiteStore


def build_app(directory: OrgDirectory, **options: Any) -> Litestar:
    admins = org_required(
        require_org_role("admin", "owner", org=org_from_path("org_id"), directory=directory)
    )
    inviters = org_required(
        require_org_permission({"member": ["create"]}, org=org_from_header(), directory=directory)
    )
    active_owner = org_required(require_org_role("owner", org=active_org(), directory=directory))

    @get("/orgs/{org_id:str}/settings", guards=[admins])
    async def settings(request: Request[Any, Any, Any]) -> dict[str, Any]:
        membership = request.state.membership
        return {"org": membership.organization_id, "roles": list(membership.roles)}

    @post("/invite", guards=[inviters])
    async def invite(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return {"org": request.state.membership.organization_id}

    @get("/active", guards=[active_owner])
    async def active(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return {"org": request.state.membership.organization_id}

    @websocket("/ws/orgs/{org_id:str}", guards=[admins])
    async def org_socket(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        await socket.send_json({"org": socket.state.membership.organization_id})
        await socket.close()

    plugin = SessionGatePlugin(make_gate(), trusted_origins=[FRONT], **options)
    return Litestar(route_handlers=[settings, invite, active, org_socket], plugins=[plugin])


@pytest.fixture
def directory(tmp_path: Any) -> Iterator[OrgDirectory]:
    store = SQLiteStore(make_db(tmp_path / "ba.db"), schema="better-auth")
    yield OrgDirectory(store, cache_ttl=0)
    asyncio.run(store.aclose())


@pytest.fixture
def client(directory: OrgDirectory) -> Iterator[TestClient[Litestar]]:
    with TestClient(build_app(directory)) as test_client:
        yield test_client


def test_org_role_from_the_path_is_checked_against_the_member_table(client: Any) -> None:
    ok = client.get("/orgs/org-1/settings", headers=build_bearer(sub="u-multi"))
    assert ok.status_code == 200
    assert ok.json() == {"org": "org-1", "roles": ["member", "admin"]}
    refused = client.get("/orgs/org-1/settings", headers=build_bearer(sub="u-member"))
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "insufficient_scope",
        "message": "required organization role (one of): admin, owner",
    }
    assert client.get("/orgs/org-2/settings", headers=build_bearer(sub="u-member")).json() == {
        "org": "org-2",
        "roles": ["owner"],
    }


def test_anonymous_is_401_with_the_challenge(client: Any) -> None:
    response = client.get("/orgs/org-1/settings")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "missing_credentials"


def test_anonymous_allowed_by_the_middleware_is_still_401_at_the_org_guard(
    directory: OrgDirectory,
) -> None:
    with TestClient(build_app(directory, allow_anonymous=True)) as client:
        response = client.get("/orgs/org-1/settings")
        assert response.status_code == 401
        assert response.json()["error"] == "missing_credentials"


def test_org_permission_from_a_header(client: Any) -> None:
    named = {"x-organization-id": "org-1", "origin": FRONT}
    assert client.post("/invite", headers={**build_cookie(sub="u-admin"), **named}).json() == {
        "org": "org-1"
    }
    # auditor: a dynamic role (organizationRole row) is read only with dynamic_roles=True
    refused = client.post("/invite", headers={**build_cookie(sub="u-auditor"), **named})
    assert refused.status_code == 403
    assert refused.json()["message"] == "the organization role does not grant the permission"
    names_none = client.post("/invite", headers={**build_cookie(sub="u-admin"), "origin": FRONT})
    assert names_none.status_code == 403
    assert names_none.json()["message"] == "the request names no organization"


def test_csrf_is_decided_before_the_org_guard(client: Any) -> None:
    named = {"x-organization-id": "org-1", "origin": EVIL}
    response = client.post("/invite", headers={**build_cookie(sub="u-admin"), **named})
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"


def test_active_organization_is_checked_against_the_member_table(client: Any) -> None:
    owner = build_bearer(sub="u-owner", activeOrganizationId="org-1")
    assert client.get("/active", headers=owner).json() == {"org": "org-1"}
    # u-admin is active in org-1 and claims "owner", but the member row says admin
    stale = build_bearer(sub="u-admin", activeOrganizationId="org-1", role="owner")
    assert client.get("/active", headers=stale).status_code == 403
    assert client.get("/active", headers=build_bearer(sub="u-owner")).status_code == 403


def test_a_membership_lookup_outage_is_503(directory: OrgDirectory) -> None:
    with TestClient(build_app(directory)) as client:
        asyncio.run(directory.store.aclose())
        response = client.get("/orgs/org-1/settings", headers=build_bearer(sub="u-admin"))
    assert response.status_code == 503
    assert response.json()["error"] == "provider_unavailable"


def test_websocket_handshake_needs_the_membership(client: Any) -> None:
    with client.websocket_connect("/ws/orgs/org-1", headers=build_bearer(sub="u-admin")) as ws:
        assert ws.receive_json() == {"org": "org-1"}
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/ws/orgs/org-2", headers=build_bearer(sub="u-admin")),
    ):
        pass
    assert (refused.value.code, refused.value.detail) == (1008, "insufficient_scope")


def test_org_required_needs_an_org_guard() -> None:
    with pytest.raises(ConfigurationError, match="OrgGuard"):
        org_required("admin")  # type: ignore[arg-type]
