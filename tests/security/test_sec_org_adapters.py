"""Attacks on the organization guards of the Litestar and python-socketio adapters, each test
named after the attack it stops, against the organization plugin's tables in SQLite (the
Ninja and Channels twins need the Django test project: tests/django/test_django_org_attacks.py).

The user ``u-admin`` is admin of ``org-1`` and no member of ``org-2``; ``u-member`` is a plain
member of ``org-1`` and owner of ``org-2`` (``ba_plugin_db``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar, Request, get
from litestar.testing import TestClient

from ba_plugin_db import make_db
from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.litestar import SessionGatePlugin, org_required
from sessiongate.organizations import (
    OrgDirectory,
    OrgGuard,
    active_org,
    org_from_header,
    org_from_path,
    require_org_role,
)
from sessiongate.socketio import SessionGateConnectionRefused, SessionGateSocketIO
from sessiongate.stores import SQLiteStore
from sessiongate.testing import mint_hs256

SECRET = "org-attacks-secret-0123456789abcdef012345"


def bearer(sub: str, **claims: Any) -> str:
    return mint_hs256({"sub": sub, **claims}, SECRET)


def gate() -> SessionGate:
    return SessionGate(AuthJSToken(secret=SECRET), BearerJWT(secret=SECRET))


@pytest.fixture
def directory(tmp_path: Any) -> Iterator[OrgDirectory]:
    store = SQLiteStore(make_db(tmp_path / "ba.db"), schema="better-auth")
    yield OrgDirectory(store, cache_ttl=0)
    asyncio.run(store.aclose())


# ------------------------------------------------------------------------------ Litestar


def litestar_app(guard: OrgGuard) -> Litestar:
    @get("/orgs/{org_id:str}/settings", guards=[org_required(guard)])
    async def settings(request: Request[Any, Any, Any]) -> dict[str, str]:
        return {"acted_on": request.state.membership.organization_id}

    @get("/settings", guards=[org_required(guard)])
    async def current(request: Request[Any, Any, Any]) -> dict[str, str]:
        return {"acted_on": request.state.membership.organization_id}

    return Litestar([settings, current], plugins=[SessionGatePlugin(gate())])


def test_litestar_admin_of_org_a_cannot_act_on_org_b_by_changing_the_path(
    directory: OrgDirectory,
) -> None:
    admins = require_org_role("admin", org=org_from_path("org_id"), directory=directory)
    with TestClient(litestar_app(admins)) as client:
        auth = {"authorization": "Bearer " + bearer("u-admin")}
        assert client.get("/orgs/org-1/settings", headers=auth).json() == {"acted_on": "org-1"}
        other = client.get("/orgs/org-2/settings", headers=auth)
        assert other.status_code == 403 and other.json()["error"] == "insufficient_scope"


def test_litestar_org_header_cannot_replace_the_organization_of_the_path(
    directory: OrgDirectory,
) -> None:
    owners = require_org_role("owner", org=org_from_path("org_id"), directory=directory)
    with TestClient(litestar_app(owners)) as client:
        # u-member owns org-2 and names it in the header; the path names org-1
        headers = {"authorization": "Bearer " + bearer("u-member"), "x-organization-id": "org-2"}
        assert client.get("/orgs/org-1/settings", headers=headers).status_code == 403


def test_litestar_org_header_cannot_replace_the_active_organization(
    directory: OrgDirectory,
) -> None:
    owners = require_org_role("owner", org=active_org(), directory=directory)
    with TestClient(litestar_app(owners)) as client:
        token = bearer("u-member", activeOrganizationId="org-1")
        headers = {"authorization": "Bearer " + token, "x-organization-id": "org-2"}
        assert client.get("/settings", headers=headers).status_code == 403


def test_litestar_admin_of_org_a_cannot_act_on_org_b_by_changing_the_header(
    directory: OrgDirectory,
) -> None:
    admins = require_org_role("admin", org=org_from_header(), directory=directory)
    with TestClient(litestar_app(admins)) as client:
        auth = {"authorization": "Bearer " + bearer("u-admin")}
        named = client.get("/settings", headers={**auth, "x-organization-id": "org-1"})
        assert named.json() == {"acted_on": "org-1"}
        other = client.get("/settings", headers={**auth, "x-organization-id": "org-2"})
        assert other.status_code == 403


# ------------------------------------------------------------------------- python-socketio


class Sessions:
    """The session API of ``socketio.AsyncServer``, in memory."""

    def __init__(self) -> None:
        self.saved: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def session(self, sid: str, namespace: str | None = None) -> Any:
        yield self.saved


def sio_connect(guard: OrgGuard, payload: dict[str, Any], **headers: str) -> Any:
    auth = SessionGateSocketIO(gate())
    environ = {"REQUEST_METHOD": "GET", "wsgi.url_scheme": "http", "SERVER_NAME": "api"}
    environ.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    sessions = Sessions()
    try:
        asyncio.run(auth.authenticate(sessions, "sid", environ, payload, org=guard))  # type: ignore[arg-type]
    except SessionGateConnectionRefused as refused:
        assert sessions.saved == {}
        return refused.error.code
    return sessions.saved["membership"].organization_id


def test_socketio_admin_of_org_a_cannot_act_on_org_b_by_changing_the_auth_payload(
    directory: OrgDirectory,
) -> None:
    admins = require_org_role("admin", org=org_from_path("org_id"), directory=directory)
    token = bearer("u-admin")
    assert sio_connect(admins, {"token": token, "org_id": "org-1"}) == "org-1"
    assert sio_connect(admins, {"token": token, "org_id": "org-2"}) == "insufficient_scope"


def test_socketio_org_header_cannot_replace_the_organization_of_the_payload(
    directory: OrgDirectory,
) -> None:
    owners = require_org_role("owner", org=org_from_path("org_id"), directory=directory)
    payload = {"token": bearer("u-member"), "org_id": "org-1"}
    assert sio_connect(owners, payload, x_organization_id="org-2") == "insufficient_scope"


def test_socketio_payload_cannot_replace_the_organization_of_the_header(
    directory: OrgDirectory,
) -> None:
    owners = require_org_role("owner", org=org_from_header(), directory=directory)
    payload = {"token": bearer("u-member"), "x-organization-id": "org-2"}
    assert sio_connect(owners, payload, x_organization_id="org-1") == "insufficient_scope"
    assert sio_connect(owners, payload, x_organization_id="org-2") == "org-2"
