"""Attacks on the organization guards of the Ninja and Channels adapters, each test named after
the attack it stops (the Litestar and Socket.IO twins: tests/security/test_sec_org_adapters.py).

``u-admin`` is admin of ``org-1`` and no member of ``org-2``; ``u-member`` is a plain member of
``org-1`` and owner of ``org-2`` (``ba_plugin_db``, see sg_django_orgs).
"""

from __future__ import annotations

from django.test import Client
from sg_django_helpers import FRONT, build_hs256_bearer, build_v5_cookie
from test_django_channels import communicate


def test_ninja_admin_of_org_a_cannot_act_on_org_b_by_changing_the_path() -> None:
    client = Client()
    auth = {"authorization": build_hs256_bearer(sub="u-admin")}
    assert client.get("/org-ninja/orgs/org-1/settings", headers=auth).status_code == 200
    other = client.get("/org-ninja/orgs/org-2/settings", headers=auth)
    assert other.status_code == 403 and other.json()["error"] == "insufficient_scope"


def test_ninja_org_header_cannot_replace_the_organization_of_the_path() -> None:
    # u-member is only a member of org-1; naming org-2 (which u-member owns) in a header
    headers = {"authorization": build_hs256_bearer(sub="u-member"), "x-organization-id": "org-2"}
    assert Client().get("/org-ninja/orgs/org-1/settings", headers=headers).status_code == 403


def test_ninja_admin_of_org_a_cannot_invite_into_org_b_by_changing_the_header() -> None:
    client = Client()
    auth = {"authorization": build_hs256_bearer(sub="u-admin")}
    ok = client.post("/org-ninja/invite", headers={**auth, "x-organization-id": "org-1"})
    assert ok.status_code == 200
    other = client.post("/org-ninja/invite", headers={**auth, "x-organization-id": "org-2"})
    assert other.status_code == 403


def test_channels_admin_of_org_a_cannot_join_org_b_by_changing_the_route() -> None:
    headers = [("cookie", build_v5_cookie(sub="u-admin")), ("origin", FRONT)]
    assert communicate("/ws/orgs/org-1/", headers)[0] is True
    assert communicate("/ws/orgs/org-2/", headers) == (False, 1008, None)


def test_channels_org_header_cannot_replace_the_organization_of_the_route() -> None:
    headers = [
        ("cookie", build_v5_cookie(sub="u-member")),
        ("origin", FRONT),
        ("x-organization-id", "org-2"),
    ]
    assert communicate("/ws/orgs/org-1/", headers) == (False, 1008, None)


def test_channels_repeated_org_header_names_only_its_first_organization() -> None:
    # u-admin may invite in org-1 only; a second header naming org-1 does not rescue org-2
    headers = [
        ("cookie", build_v5_cookie(sub="u-admin")),
        ("origin", FRONT),
        ("x-organization-id", "org-2"),
        ("x-organization-id", "org-1"),
    ]
    assert communicate("/ws/invite", headers) == (False, 1008, None)
