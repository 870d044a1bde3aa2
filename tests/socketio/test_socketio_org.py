"""python-socketio: ``authenticate(..., org=guard)`` checks Better Auth organization membership
(a real SQLite database with the plugin's tables) for the organization the ``auth`` payload,
a header or the session names; async and sync helpers must agree, and a real AsyncServer with
the Python client proves the refusal reaches the client and the membership the session."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import socketio
from sg_socketio_apps import FRONT, SECRET, make_gate
from sg_socketio_clients import outcome, python_attempt
from sg_socketio_servers import serve_asgi
from test_socketio_attacks import AsyncSessionServer, SessionServer, connect
from test_socketio_unit import asgi_environ, wsgi_environ

from ba_plugin_db import make_db
from sessiongate.errors import ConfigurationError, ProviderUnavailableError
from sessiongate.organizations import (
    OrgDirectory,
    active_org,
    org_from_header,
    org_from_path,
    require_org_permission,
    require_org_role,
)
from sessiongate.socketio import MEMBERSHIP_KEY, SessionGateSocketIO, org_facts
from sessiongate.stores import SQLiteStore
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256


@pytest.fixture
def directory(tmp_path: Any) -> Iterator[OrgDirectory]:
    store = SQLiteStore(make_db(tmp_path / "ba.db"), schema="better-auth")
    yield OrgDirectory(store, cache_ttl=0)
    asyncio.run(store.aclose())


@pytest.fixture
def auth() -> SessionGateSocketIO:
    return SessionGateSocketIO(make_gate(), trusted_origins=[FRONT])


def token(sub: str, **claims: Any) -> str:
    return mint_hs256({"sub": sub, **claims}, SECRET)


def test_org_from_the_auth_payload(auth: SessionGateSocketIO, directory: OrgDirectory) -> None:
    admins = require_org_role("admin", "owner", org=org_from_path("org_id"), directory=directory)
    environ = wsgi_environ(host="api.example")
    ok = connect(auth, environ, {"token": token("u-admin"), "org_id": "org-1"}, org=admins)
    assert ok == ("ok", "u-admin")
    member = {"token": token("u-member"), "org_id": "org-1"}
    assert connect(auth, environ, member, org=admins) == ("refused", "insufficient_scope", 403)
    names_none = {"token": token("u-admin")}
    assert connect(auth, environ, names_none, org=admins) == ("refused", "insufficient_scope", 403)


def test_membership_is_saved_next_to_the_user(
    auth: SessionGateSocketIO, directory: OrgDirectory
) -> None:
    admins = require_org_role("admin", org=org_from_path("org_id"), directory=directory)
    payload = {"token": token("u-multi"), "org_id": "org-1"}
    server = AsyncSessionServer()
    user = asyncio.run(auth.authenticate(server, "sid", wsgi_environ(), payload, org=admins))  # type: ignore[arg-type]
    saved = server.sessions[("sid", None)]
    assert saved["user"] is user
    assert saved[MEMBERSHIP_KEY].roles == ("member", "admin")
    sync_server = SessionServer()
    auth.authenticate_sync(sync_server, "sid", wsgi_environ(), payload, org=admins)  # type: ignore[arg-type]
    assert sync_server.sessions[("sid", None)][MEMBERSHIP_KEY].organization_id == "org-1"


def test_org_permission_from_a_header_with_the_cookie(
    auth: SessionGateSocketIO, directory: OrgDirectory
) -> None:
    inviters = require_org_permission(
        {"member": ["create"]}, org=org_from_header(), directory=directory
    )
    headers = {"host": "api.example", "origin": FRONT, "x-organization-id": "org-1"}
    admin = {**headers, "cookie": cookie_header(mint_authjs_v5({"sub": "u-admin"}, SECRET))}
    assert connect(auth, asgi_environ(admin), org=inviters) == ("ok", "u-admin")
    member = {**headers, "cookie": cookie_header(mint_authjs_v5({"sub": "u-member"}, SECRET))}
    assert connect(auth, asgi_environ(member), org=inviters) == (
        "refused",
        "insufficient_scope",
        403,
    )


def test_active_organization_is_checked_against_the_member_table(
    auth: SessionGateSocketIO, directory: OrgDirectory
) -> None:
    owners = require_org_role("owner", org=active_org(), directory=directory)
    environ = wsgi_environ()
    owner = {"token": token("u-owner", activeOrganizationId="org-1")}
    assert connect(auth, environ, owner, org=owners) == ("ok", "u-owner")
    stale = {"token": token("u-admin", activeOrganizationId="org-1", role="owner")}
    assert connect(auth, environ, stale, org=owners) == ("refused", "insufficient_scope", 403)


def test_anonymous_is_refused_even_where_require_lets_anonymous_in(
    auth: SessionGateSocketIO, directory: OrgDirectory
) -> None:
    admins = require_org_role("admin", org=org_from_path("org_id"), directory=directory)
    refused = connect(auth, wsgi_environ(), {"org_id": "org-1"}, org=admins, require=None)
    assert refused == ("refused", "missing_credentials", 401)


def test_a_membership_lookup_outage_is_503(
    auth: SessionGateSocketIO, directory: OrgDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: Any) -> None:
        raise ProviderUnavailableError("the session database did not answer in time")

    async def adown(*args: Any) -> None:
        down()

    monkeypatch.setattr(directory, "membership_sync", down)
    monkeypatch.setattr(directory, "membership", adown)
    admins = require_org_role("admin", org=org_from_path("org_id"), directory=directory)
    payload = {"token": token("u-admin"), "org_id": "org-1"}
    assert connect(auth, wsgi_environ(), payload, org=admins) == (
        "refused",
        "provider_unavailable",
        503,
    )


def test_org_facts_take_only_string_payload_values_and_never_the_token() -> None:
    params, headers = org_facts(
        wsgi_environ(x_organization_id="org-1"),
        {"token": "t", "org_id": "org-2", "nested": {"org_id": "org-1"}, "n": 1},
    )
    assert params == {"org_id": "org-2"}
    assert headers["x-organization-id"] == "org-1"
    assert org_facts(wsgi_environ(), "not a mapping")[0] == {}


def test_the_wrong_server_flavour_is_a_configuration_error(auth: SessionGateSocketIO) -> None:
    environ = wsgi_environ()
    with pytest.raises(ConfigurationError, match="authenticate_sync"):
        asyncio.run(auth.authenticate(socketio.Server(), "sid", environ, {"token": token("u")}))
    with pytest.raises(ConfigurationError, match=r"authenticate\(\)"):
        auth.authenticate_sync(socketio.AsyncServer(), "sid", environ, {"token": token("u")})  # type: ignore[arg-type]


def build_org_server(directory: OrgDirectory) -> socketio.AsyncServer:
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
    auth = SessionGateSocketIO(make_gate(), trusted_origins=[FRONT])
    admins = require_org_role("admin", "owner", org=org_from_path("org_id"), directory=directory)

    @sio.on("connect", namespace="/org")
    async def connect_org(sid: str, environ: dict[str, Any], payload: Any) -> None:
        await auth.authenticate(sio, sid, environ, payload, namespace="/org", org=admins)

    @sio.on("whoami", namespace="/org")
    async def whoami(sid: str, *args: Any) -> dict[str, Any]:
        session = await sio.get_session(sid, namespace="/org")
        membership = session[MEMBERSHIP_KEY]
        return {"id": session["user"].id, "org": membership.organization_id}

    return sio


def test_real_server_refuses_a_non_member_and_saves_the_membership(
    directory: OrgDirectory,
) -> None:
    with serve_asgi(build_org_server(directory)) as url:
        ok = python_attempt(url, "/org", auth={"token": token("u-owner"), "org_id": "org-1"})
        assert outcome(ok) == ("ok", {"id": "u-owner", "org": "org-1"})
        refused = python_attempt(url, "/org", auth={"token": token("u-owner"), "org_id": "org-2"})
        assert outcome(refused) == ("refused", "insufficient_scope", 403)
