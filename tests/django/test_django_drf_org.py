"""Django REST framework: OrgPermission checks Better Auth organization membership (issue #14's
"the organization guards of the Better Auth issue"), through DRF's request cycle."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView
from sg_django_helpers import build_v5_cookie

from ba_plugin_db import make_db
from sessiongate.drf import OrgPermission
from sessiongate.errors import ProviderUnavailableError
from sessiongate.organizations import (
    OrgDirectory,
    org_from_header,
    org_from_path,
    require_org_permission,
    require_org_role,
)
from sessiongate.stores import SQLiteStore


@pytest.fixture
def directory(tmp_path):
    store = SQLiteStore(make_db(tmp_path / "ba.db"), schema="better-auth")
    yield OrgDirectory(store, cache_ttl=0)
    asyncio.run(store.aclose())


def view_for(permission: OrgPermission) -> Any:
    class Members(APIView):
        permission_classes: ClassVar[list[Any]] = [permission]

        def get(self, request: Any, org_id: str = "") -> Response:
            return Response({"roles": sorted(request.membership.roles)})

    return Members.as_view()


def call(view: Any, user: str | None, org_id: str = "org-1", **headers: str) -> Any:
    if user is not None:
        headers["HTTP_COOKIE"] = build_v5_cookie(sub=user)
    request = APIRequestFactory().get(f"/orgs/{org_id}/members", **headers)
    return view(request, org_id=org_id)


def test_org_role_from_the_url_is_checked_against_member(directory):
    view = view_for(
        OrgPermission(
            require_org_role("admin", "owner", org=org_from_path("org_id"), directory=directory)
        )
    )
    ok = call(view, "u-admin")
    assert ok.status_code == 200 and ok.data == {"roles": ["admin"]}
    assert call(view, "u-member").status_code == 403  # a member, not an admin
    foreign = call(view, "u-admin", org_id="org-2")  # admin of org-1 only
    assert foreign.status_code == 403
    assert foreign.data["error"] == "insufficient_scope"
    assert call(view, None).status_code == 401  # anonymous: DRF's NotAuthenticated


def test_org_permission_from_a_header_uses_the_plugins_statements(directory):
    guard = require_org_permission(
        {"member": ["create"]}, org=org_from_header(), directory=directory
    )
    view = view_for(OrgPermission(guard))
    assert call(view, "u-admin", HTTP_X_ORGANIZATION_ID="org-1").status_code == 200
    assert call(view, "u-member", HTTP_X_ORGANIZATION_ID="org-1").status_code == 403
    assert call(view, "u-member").status_code == 403  # the request names no organization


def test_a_stale_active_organization_claim_is_not_membership(directory):
    view = view_for(
        OrgPermission(require_org_role("owner", org=org_from_path("org_id"), directory=directory))
    )
    request = APIRequestFactory().get(
        "/orgs/org-1/members",
        HTTP_COOKIE=build_v5_cookie(sub="u-admin", activeOrganizationId="org-1", role="owner"),
    )
    assert view(request, org_id="org-1").status_code == 403  # admin in member, not owner


def test_a_membership_lookup_outage_is_503(directory, monkeypatch):
    def down(*args: Any) -> None:
        raise ProviderUnavailableError("the session database did not answer in time")

    monkeypatch.setattr(directory, "membership_sync", down)
    view = view_for(
        OrgPermission(require_org_role("admin", org=org_from_path("org_id"), directory=directory))
    )
    assert call(view, "u-admin").status_code == 503


def test_org_permission_validates_its_guard():
    with pytest.raises(TypeError):
        OrgPermission("admin")  # type: ignore[arg-type]


def test_a_user_vouched_for_by_another_authentication_class_gets_no_membership(directory):
    """Mixed authentication classes: a local user whose id happens to equal a Better Auth user
    id (``u-admin``) must not inherit that user's organization roles."""
    from rest_framework.authentication import BaseAuthentication

    from sessiongate.drf import SessionGateAuthentication

    class LocalUser:
        id = pk = "u-admin"
        is_authenticated = True

    class LocalTokens(BaseAuthentication):
        def authenticate(self, request: Any) -> tuple[Any, Any] | None:
            if request.headers.get("x-local-token") == "t":
                return LocalUser(), "local-token"
            return None

    class Members(APIView):
        authentication_classes: ClassVar[list[Any]] = [SessionGateAuthentication, LocalTokens]
        permission_classes: ClassVar[list[Any]] = [
            OrgPermission(
                require_org_role("admin", org=org_from_path("org_id"), directory=directory)
            )
        ]

        def get(self, request: Any, org_id: str = "") -> Response:
            return Response({"roles": sorted(request.membership.roles)})

    view = Members.as_view()
    assert call(view, "u-admin").status_code == 200  # the real Better Auth session
    forged = call(view, None, HTTP_X_LOCAL_TOKEN="t")
    assert forged.status_code == 403
