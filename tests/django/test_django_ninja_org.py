"""Django Ninja: ``SessionGateAuth(org=...)`` / ``AsyncSessionGateAuth(org=...)`` check Better
Auth organization membership (a real SQLite database with the plugin's tables) for the
organization an operation's path or a header names."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.test import AsyncClient, Client
from sg_django_helpers import EVIL, FRONT, build_hs256_bearer, build_v5_cookie
from sg_django_orgs import directory, org_admins

from sessiongate.errors import ConfigurationError, ProviderUnavailableError
from sessiongate.ninja import SessionGateAuth


@pytest.fixture
def client() -> Client:
    return Client()


def get(client: Client, path: str, **headers: str) -> Any:
    return client.get(path, headers=headers)


def test_org_role_from_the_path_is_checked_against_the_member_table(client: Client) -> None:
    ok = get(client, "/org-ninja/orgs/org-1/settings", cookie=build_v5_cookie(sub="u-multi"))
    assert ok.status_code == 200
    assert ok.json() == {"org": "org-1", "roles": ["member", "admin"]}
    refused = get(client, "/org-ninja/orgs/org-1/settings", cookie=build_v5_cookie(sub="u-member"))
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "insufficient_scope",
        "message": "required organization role (one of): admin, owner",
    }
    owner = get(
        client, "/org-ninja/orgs/org-2/settings", authorization=build_hs256_bearer(sub="u-member")
    )
    assert owner.json() == {"org": "org-2", "roles": ["owner"]}


def test_anonymous_is_ninjas_401_with_the_challenge(client: Client) -> None:
    response = get(client, "/org-ninja/orgs/org-1/settings")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == "missing_credentials"


def test_async_operation_awaits_the_membership() -> None:
    client = AsyncClient()
    ok = asyncio.run(
        client.get(
            "/org-ninja/orgs/org-1/asettings", headers={"cookie": build_v5_cookie(sub="u-owner")}
        )
    )
    assert ok.json() == {"org": "org-1", "roles": ["owner"]}
    refused = asyncio.run(
        client.get(
            "/org-ninja/orgs/org-2/asettings", headers={"cookie": build_v5_cookie(sub="u-owner")}
        )
    )
    assert refused.status_code == 403


def test_org_permission_from_a_header_and_csrf_first(client: Client) -> None:
    cookie = build_v5_cookie(sub="u-admin")
    ok = client.post(
        "/org-ninja/invite",
        headers={"cookie": cookie, "origin": FRONT, "x-organization-id": "org-1"},
    )
    assert ok.json() == {"org": "org-1", "roles": ["admin"]}
    member = build_v5_cookie(sub="u-member")
    refused = client.post(
        "/org-ninja/invite",
        headers={"cookie": member, "origin": FRONT, "x-organization-id": "org-1"},
    )
    assert refused.status_code == 403
    assert refused.json()["message"] == "the organization role does not grant the permission"
    forged = client.post(
        "/org-ninja/invite",
        headers={"cookie": cookie, "origin": EVIL, "x-organization-id": "org-1"},
    )
    assert forged.status_code == 403 and forged.json()["error"] == "csrf_failed"


def test_a_membership_lookup_outage_is_503(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: Any) -> None:
        raise ProviderUnavailableError("the session database did not answer in time")

    monkeypatch.setattr(directory, "membership_sync", down)
    response = get(client, "/org-ninja/orgs/org-1/settings", cookie=build_v5_cookie(sub="u-admin"))
    assert response.status_code == 503
    assert response.json()["error"] == "provider_unavailable"


def test_without_install_ninjas_own_handler_keeps_the_status(client: Client) -> None:
    response = get(
        client, "/plain-org-ninja/orgs/org-2/settings", cookie=build_v5_cookie(sub="u-admin")
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "the user is not a member of the organization"}


def test_org_must_be_an_org_guard() -> None:
    with pytest.raises(ConfigurationError, match="OrgGuard"):
        SessionGateAuth(org="admin")  # type: ignore[arg-type]
    assert "org=OrgGuard(" in repr(SessionGateAuth(org=org_admins))
