"""Organization memberships and org guards (sessiongate.organizations) on a SQLite database."""

from __future__ import annotations

import asyncio

import pytest

from ba_plugin_db import make_db
from sessiongate.access import Role
from sessiongate.errors import AuthorizationError, ConfigurationError, ProviderUnavailableError
from sessiongate.organizations import (
    DEFAULT_ROLE_GRANTS,
    Membership,
    OrgDirectory,
    active_org,
    default_roles,
    org_from_header,
    org_from_path,
    require_org_permission,
    require_org_role,
)
from sessiongate.stores.ba_plugins import PluginNames
from sessiongate.stores.schema import PRESETS
from sessiongate.stores.sqlite import SQLiteStore
from sessiongate.user import User


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(make_db(tmp_path / "ba.db"), schema="better-auth")
    yield s
    asyncio.run(s.aclose())


def user(uid: str, **claims) -> User:
    return User(id=uid, claims={"sub": uid, **claims}, source="better-auth")


def test_default_roles_are_the_statements_the_plugin_ships():
    roles = default_roles()
    assert set(roles) == {"owner", "admin", "member"}
    assert roles["owner"].authorize({"organization": ["delete"]}).success
    assert not roles["admin"].authorize({"organization": ["delete"]}).success
    assert roles["admin"].authorize({"member": ["create", "delete"]}).success
    assert roles["member"].authorize({"ac": ["read"]}).success
    assert not roles["member"].authorize({"member": ["create"]}).success
    assert DEFAULT_ROLE_GRANTS["member"]["organization"] == ()


def test_membership_roles_are_split_and_trimmed_like_parse_role_list(store):
    orgs = OrgDirectory(store, cache_ttl=0)
    multi = orgs.membership_sync("org-1", "u-multi")
    assert multi is not None and multi.roles == ("member", "admin")
    assert orgs.membership_sync("org-1", "u-nobody") is None
    assert orgs.membership_sync("org-2", "u-admin") is None
    assert asyncio.run(orgs.membership("org-2", "u-member")).roles == ("owner",)


def test_one_role_must_grant_the_whole_request(store):
    orgs = OrgDirectory(store, cache_ttl=0)
    multi = orgs.membership_sync("org-1", "u-multi")
    assert multi.allows({"member": ["create"]})  # admin grants it
    assert not multi.allows({"organization": ["delete"]})
    member = orgs.membership_sync("org-1", "u-member")
    assert member.allows({"ac": ["read"]})
    assert not member.allows({"ac": ["read"], "member": ["create"]})
    assert member.allows({"ac": ["read"], "member": ["create"]}, "OR")


def test_dynamic_roles_merge_organization_role_rows(store):
    static = OrgDirectory(store, cache_ttl=0)
    dynamic = OrgDirectory(store, cache_ttl=0, dynamic_roles=True)
    assert not static.membership_sync("org-1", "u-auditor").allows({"member": ["create"]})
    auditor = dynamic.membership_sync("org-1", "u-auditor")
    assert auditor.roles == ("auditor",)
    assert auditor.allows({"member": ["create"]})
    assert not auditor.allows({"member": ["delete"]})
    # the other organization's roles are not merged into org-2's table
    other = dynamic.membership_sync("org-2", "u-member")
    assert "auditor" not in other.role_table


def test_guards_read_the_organization_the_request_names(store):
    orgs = OrgDirectory(store, cache_ttl=0)
    admins = require_org_role("admin", "owner", org=org_from_path("org"), directory=orgs)
    assert admins.check_sync(user("u-admin"), {"org": "org-1"}, {}).roles == ("admin",)
    with pytest.raises(AuthorizationError, match="not a member"):
        admins.check_sync(user("u-admin"), {"org": "org-2"}, {})
    with pytest.raises(AuthorizationError, match="role"):
        admins.check_sync(user("u-member"), {"org": "org-1"}, {})
    by_header = require_org_permission(
        {"member": ["create"]}, org=org_from_header(), directory=orgs
    )
    headers = {"x-organization-id": "org-1"}
    assert isinstance(asyncio.run(by_header.check(user("u-admin"), {}, headers)), Membership)
    with pytest.raises(AuthorizationError, match="names no organization"):
        by_header.check_sync(user("u-admin"), {}, {})


def test_active_organization_is_still_checked_against_member(store):
    orgs = OrgDirectory(store, cache_ttl=0)
    guard = require_org_role("member", org=active_org(), directory=orgs)
    ok = user("u-member", session={"activeOrganizationId": "org-1"})
    assert guard.check_sync(ok, {}, {}).organization_id == "org-1"
    stale = user("u-admin", activeOrganizationId="org-2")
    with pytest.raises(AuthorizationError, match="not a member"):
        guard.check_sync(stale, {}, {})
    with pytest.raises(AuthorizationError, match="names no organization"):
        guard.check_sync(user("u-member"), {}, {})


def test_cache_serves_hits_and_expires(store):
    now = [0.0]
    orgs = OrgDirectory(store, cache_ttl=5, clock=lambda: now[0])
    assert orgs.membership_sync("org-1", "u-admin").roles == ("admin",)
    asyncio.run(store.aclose())  # the database is gone: a hit still answers
    assert orgs.membership_sync("org-1", "u-admin").roles == ("admin",)
    now[0] = 6.0
    with pytest.raises(ProviderUnavailableError):
        orgs.membership_sync("org-1", "u-admin")


def test_missing_tables_are_an_outage_not_a_refusal(tmp_path):
    store = SQLiteStore(make_db(tmp_path / "plain.db", plugins=False), schema="better-auth")
    try:
        orgs = OrgDirectory(store)
        guard = require_org_role("admin", org=org_from_path("org"), directory=orgs)
        with pytest.raises(ProviderUnavailableError):
            guard.check_sync(user("u-ada"), {"org": "org-1"}, {})
    finally:
        asyncio.run(store.aclose())


def test_invalid_dynamic_role_json_fails_closed(store):
    import sqlite3

    conn = sqlite3.connect(store.path)
    conn.execute("""UPDATE "organizationRole" SET permission = '{"member": "create"}'""")
    conn.commit()
    conn.close()
    orgs = OrgDirectory(store, cache_ttl=0, dynamic_roles=True)
    with pytest.raises(ProviderUnavailableError, match="invalid permissions"):
        orgs.membership_sync("org-1", "u-auditor")


def test_configuration_is_validated_at_construction(store):
    orgs = OrgDirectory(store)
    with pytest.raises(ConfigurationError):
        require_org_role(org=org_from_path("o"), directory=orgs)
    with pytest.raises(ConfigurationError):
        require_org_permission({}, org=org_from_path("o"), directory=orgs)
    with pytest.raises(ConfigurationError):
        require_org_permission({"member": "create"}, org=org_from_path("o"), directory=orgs)
    with pytest.raises(ConfigurationError):
        org_from_path("")
    with pytest.raises(ConfigurationError):
        OrgDirectory(store, cache_ttl=-1)
    with pytest.raises(ConfigurationError):
        OrgDirectory(object())


def test_custom_roles_replace_the_defaults(store):
    orgs = OrgDirectory(store, cache_ttl=0, roles={"admin": Role({"project": ["write"]})})
    admin = orgs.membership_sync("org-1", "u-admin")
    assert admin.allows({"project": ["write"]})
    assert not admin.allows({"member": ["create"]})


def test_plugin_names_follow_the_session_mapping():
    camel = PluginNames(PRESETS["better-auth"])
    snake = PluginNames(PRESETS["better-auth-plural-snake"])
    assert camel.table("organizationRole") == "organizationRole"
    assert snake.table("organizationRole") == "organization_roles"
    assert snake.column("organizationId") == "organization_id"
    sql = snake.member_sql("postgres", with_roles=True).sql
    assert '"members"' in sql and '"organization_id" = $1' in sql and "$2" in sql
    mysql = camel.member_sql("mysql", with_roles=True)
    assert "`member`" in mysql.sql and mysql.sql.count("%s") == 3
    assert mysql.bind(("org", "user")) == ("org", "user", "org")
    assert camel.member_sql("sqlite", with_roles=False).bind(("o", "u")) == ("o", "u")
