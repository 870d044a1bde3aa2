"""sessiongate.access: Better Auth's access control, role parsing and multi-role decisions.

The expected answers are read from better-auth 1.7.25's ``plugins/access/access.mjs``,
``plugins/admin/has-permission.mjs`` and ``plugins/organization/roles.mjs``; the differential test
against the running JS is tests/test_access_differential.py.
"""

from __future__ import annotations

import json

import pytest

from sessiongate.access import (
    ADMIN_DEFAULT_ROLES,
    ADMIN_DEFAULT_STATEMENTS,
    AccessControl,
    AuthorizeResult,
    Role,
    has_permission,
    js_entry_order,
    parse_roles_admin,
    parse_roles_org,
    roles_from_json,
    roles_from_mapping,
)
from sessiongate.errors import ConfigurationError

AC = AccessControl({"project": ["create", "read", "delete"], "billing": ["read", "pay"]})
EDITOR = AC.new_role({"project": ["create", "read"], "billing": []})


def test_and_needs_every_resource_and_every_action() -> None:
    assert EDITOR.authorize({"project": ["create", "read"]}) == AuthorizeResult(True)
    assert EDITOR.authorize({"project": ["create", "delete"]}) == AuthorizeResult(
        False, 'unauthorized to access resource "project"'
    )


def test_unknown_resource_fails_under_and_is_skipped_under_or() -> None:
    assert EDITOR.authorize({"team": ["read"], "project": ["read"]}) == AuthorizeResult(
        False, "You are not allowed to access resource: team"
    )
    assert EDITOR.authorize({"team": ["read"], "project": ["read"]}, "OR").success
    assert EDITOR.authorize({"team": ["read"]}, "OR") == AuthorizeResult(False, "Not authorized")


def test_or_connector_one_resource_is_enough() -> None:
    assert EDITOR.authorize({"billing": ["pay"], "project": ["read"]}, "OR").success
    assert not EDITOR.authorize({"billing": ["pay"]}, "OR").success


def test_empty_grant_list_is_a_known_resource() -> None:
    # [] is truthy in JS: "unauthorized", not "not allowed to access resource"
    assert (
        EDITOR.authorize({"billing": ["read"]}).error == 'unauthorized to access resource "billing"'
    )


def test_per_resource_connector() -> None:
    request = {"project": {"actions": ["delete", "read"], "connector": "OR"}}
    assert EDITOR.authorize(request).success
    # any connector other than "OR" means AND
    assert not EDITOR.authorize(
        {"project": {"actions": ["delete", "read"], "connector": "or"}}
    ).success
    # an object without an actions list is never authorized
    assert not EDITOR.authorize({"project": {"connector": "OR"}}).success


def test_empty_request_and_empty_actions_are_refused() -> None:
    assert EDITOR.authorize({}) == AuthorizeResult(False, "Not authorized")
    assert EDITOR.authorize({"project": []}).error == 'unauthorized to access resource "project"'
    assert EDITOR.authorize({"project": {"actions": [], "connector": "OR"}}, "OR").error == (
        "Not authorized"
    )


def test_non_string_action_is_never_allowed() -> None:
    assert not EDITOR.authorize({"project": ["read", 1]}).success
    assert EDITOR.authorize({"project": {"actions": [1, "read"], "connector": "OR"}}).success


def test_invalid_action_request_raises_like_the_js_throws() -> None:
    with pytest.raises(ConfigurationError, match="Invalid access control request"):
        EDITOR.authorize({"project": "read"})


def test_error_names_the_resource_in_js_entry_order() -> None:
    role = Role({"a": ["x"], "7": ["x"], "10": ["x"]})
    assert js_entry_order(["a", "10", "7", "07", "-1"]) == ["7", "10", "a", "07", "-1"]
    result = role.authorize({"a": ["y"], "10": ["y"], "7": ["y"]})
    assert result.error == 'unauthorized to access resource "7"'
    assert js_entry_order(["4294967295", "4294967294"]) == ["4294967294", "4294967295"]


def test_connector_must_be_and_or_or() -> None:
    with pytest.raises(ConfigurationError):
        EDITOR.authorize({"project": ["read"]}, "XOR")  # type: ignore[arg-type]


def test_string_grant_is_refused_not_substring_matched() -> None:
    with pytest.raises(ConfigurationError):
        Role({"project": "create"})
    with pytest.raises(ConfigurationError):
        AccessControl({"project": [1]})  # type: ignore[list-item]


def test_prototype_named_resource_is_unknown() -> None:
    assert not EDITOR.authorize({"constructor": ["read"]}).success
    assert not EDITOR.authorize({"__proto__": ["read"], "project": ["read"]}).success


def test_parse_roles_admin_splits_without_trimming() -> None:
    assert parse_roles_admin("admin,user") == ("admin", "user")
    assert parse_roles_admin("admin, user") == ("admin", " user")
    assert parse_roles_admin("admin,,") == ("admin", "", "")
    assert parse_roles_admin(None) == ("user",)
    assert parse_roles_admin("") == ("user",)
    assert parse_roles_admin(None, default_role="viewer") == ("viewer",)


def test_parse_roles_org_trims_like_js_and_drops_empty() -> None:
    assert parse_roles_org("admin, owner") == ("admin", "owner")
    assert parse_roles_org(["admin", " owner,member "]) == ("admin", "owner", "member")
    assert parse_roles_org(" ,, ") == ()
    assert parse_roles_org(None) == ()
    # JS trim() removes U+FEFF but not U+001F or U+0085; Python's strip() does the opposite
    assert parse_roles_org("\ufeffadmin") == ("admin",)
    assert parse_roles_org("\x1fadmin\x85") == ("\x1fadmin\x85",)


def test_one_role_must_allow_the_whole_request() -> None:
    table = roles_from_mapping({"reader": {"project": ["read"]}, "payer": {"billing": ["pay"]}})
    request = {"project": ["read"], "billing": ["pay"]}
    assert not has_permission(("reader", "payer"), request, table)  # no union across roles
    assert has_permission(("nobody", "reader"), {"project": ["read"]}, table)
    assert has_permission(("reader", "payer"), request, table, "OR")


def test_admin_default_roles_as_shipped() -> None:
    admin = ADMIN_DEFAULT_ROLES["admin"]
    assert admin.authorize({"user": ["ban", "impersonate"], "session": ["revoke"]}).success
    assert not admin.authorize({"user": ["impersonate-admins"]}).success
    assert "impersonate-admins" in ADMIN_DEFAULT_STATEMENTS["user"]
    assert not ADMIN_DEFAULT_ROLES["user"].authorize({"user": ["get"]}).success
    roles = parse_roles_admin("user,admin")
    assert has_permission(roles, {"user": ["ban"]}, ADMIN_DEFAULT_ROLES)
    assert not has_permission(
        parse_roles_admin("user, admin"), {"user": ["ban"]}, ADMIN_DEFAULT_ROLES
    )


def test_roles_from_json() -> None:
    table = roles_from_json(json.dumps({"support": {"user": ["get"], "session": ["list"]}}))
    assert table["support"] == Role({"user": ["get"], "session": ["list"]})
    with pytest.raises(ConfigurationError):
        roles_from_json("{not json")
    with pytest.raises(ConfigurationError):
        roles_from_json('{"x": {"user": "get"}}')
    with pytest.raises(ConfigurationError):
        roles_from_json('[["x"]]')


def test_role_tables_are_read_only() -> None:
    table = roles_from_mapping({"a": {"r": ["x"]}})
    with pytest.raises(TypeError):
        table["b"] = Role({})  # type: ignore[index]
    with pytest.raises(TypeError):
        table["a"].statements["r"] = ("y",)  # type: ignore[index]
