"""Attacks on the Better Auth organization and api-key enforcement (issue #12, part B)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from ba_plugin_db import KEY_DISABLED, KEY_EXPIRED, KEY_PLAIN, NOW, make_db
from sessiongate import AuthJSToken, SessionGate
from sessiongate.apikeys import ApiKeyExpiredError, ApiKeyVerifier, InvalidApiKeyError
from sessiongate.ba_detect import BetterAuthPlugins, PluginSwitches, detect_presence_sync
from sessiongate.errors import AuthorizationError
from sessiongate.organizations import (
    OrgDirectory,
    active_org,
    org_from_path,
    require_org_permission,
    require_org_role,
)
from sessiongate.sidecar import SidecarApp
from sessiongate.stores.sqlite import SQLiteStore
from sessiongate.testing import cookie_header, mint_authjs_v5
from sessiongate.user import User

S = "sec-ba-plugins-secret-0123456789"


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(make_db(tmp_path / "ba.db"), schema="better-auth")
    yield s
    asyncio.run(s.aclose())


class CountingStore:
    """Wraps a SQLite store and counts the plugin queries that reach it."""

    def __init__(self, inner: SQLiteStore) -> None:
        self.inner = inner
        self.schema = inner.schema
        self.queries = 0

    def fetch_sync(self, sql: str, *args: Any, limit: int | None = None) -> Any:
        self.queries += 1
        return self.inner.fetch_sync(sql, *args, limit=limit)


CountingStore.__name__ = "SQLiteStore"  # the dialect is read off the class name


def verify(app: SidecarApp, headers: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as client:
            return await client.get("/verify", headers=headers)

    return asyncio.run(go())


def sidecar(store: SQLiteStore, *, response_memo_size: int = 0) -> SidecarApp:
    plugins = BetterAuthPlugins.build(store, detect_presence_sync(store), PluginSwitches())
    gate = SessionGate(AuthJSToken(S))
    return SidecarApp(gate, plugins=plugins, response_memo_size=response_memo_size)


def cookie(uid: str, **claims: Any) -> dict[str, str]:
    return {"cookie": cookie_header(mint_authjs_v5({"sub": uid, **claims}, S))}


def test_stale_active_organization_does_not_prove_membership(store):
    # u-admin is a member of org-1 only; its session still names org-2 as active
    orgs = OrgDirectory(store, cache_ttl=0)
    guard = require_org_role("admin", "member", "owner", org=active_org(), directory=orgs)
    user = User(id="u-admin", claims={"sub": "u-admin", "activeOrganizationId": "org-2"})
    with pytest.raises(AuthorizationError, match="not a member"):
        guard.check_sync(user, {}, {})


def test_user_level_role_claim_does_not_grant_organization_permissions(store):
    orgs = OrgDirectory(store, cache_ttl=0)
    guard = require_org_permission(
        {"organization": ["delete"]}, org=org_from_path("org"), directory=orgs
    )
    admin_of_the_app = User(
        id="u-member", roles=frozenset({"owner", "admin"}), claims={"role": "owner,admin"}
    )
    with pytest.raises(AuthorizationError):
        guard.check_sync(admin_of_the_app, {"org": "org-1"}, {})


def test_dynamic_role_of_one_organization_grants_nothing_in_another(store, tmp_path):
    import sqlite3

    conn = sqlite3.connect(store.path)
    conn.execute("""INSERT INTO member VALUES ('m9', 'org-2', 'u-auditor', 'auditor')""")
    conn.commit()
    conn.close()
    orgs = OrgDirectory(store, cache_ttl=0, dynamic_roles=True)
    in_org_1 = orgs.membership_sync("org-1", "u-auditor")
    in_org_2 = orgs.membership_sync("org-2", "u-auditor")
    assert in_org_1 is not None and in_org_1.allows({"member": ["create"]})
    assert in_org_2 is not None and not in_org_2.allows({"member": ["create"]})


def test_overlong_or_control_char_org_id_is_refused_before_any_lookup(store):
    counting = CountingStore(store)
    orgs = OrgDirectory(counting, cache_ttl=0)
    guard = require_org_role("admin", org=org_from_path("org"), directory=orgs)
    user = User(id="u-admin")
    for bad in ("o" * 256, "org-1\r\nx-injected: 1", "org 1", ""):
        with pytest.raises(AuthorizationError):
            guard.check_sync(user, {"org": bad}, {})
    assert counting.queries == 0


def test_short_or_oversized_api_key_is_refused_before_hashing_or_lookup(store):
    counting = CountingStore(store)
    keys = ApiKeyVerifier(counting, cache_ttl=0, negative_cache_ttl=0)
    for bad in ("a" * 63, "a" * 100_000):
        with pytest.raises(InvalidApiKeyError):
            keys.authenticate_sync({"x-api-key": bad})
    assert counting.queries == 0


def test_expired_api_key_is_refused_even_from_the_cache(store):
    keys = ApiKeyVerifier(store, cache_ttl=3600)
    record = keys.lookup_sync(KEY_EXPIRED)
    assert record is not None and record.expires_at is not None
    before = record.expires_at - 10
    assert keys.authenticate_sync({"x-api-key": KEY_EXPIRED}, now=before) is not None
    with pytest.raises(ApiKeyExpiredError):  # same cached row, later clock
        keys.authenticate_sync({"x-api-key": KEY_EXPIRED}, now=NOW.timestamp())


def test_invalid_api_key_cannot_fall_back_to_a_valid_session_cookie(store):
    app = sidecar(store)
    r = verify(app, {**cookie("u-owner"), "x-api-key": KEY_DISABLED})
    assert r.status_code == 401 and r.json()["error"] == "api_key_disabled"
    assert "x-user-id" not in r.headers


def test_disabled_api_key_is_refused_by_the_sidecar(store):
    r = verify(sidecar(store), {"x-api-key": KEY_DISABLED})
    assert r.status_code == 401 and r.json()["error"] == "api_key_disabled"
    ok = verify(sidecar(store), {"x-api-key": KEY_PLAIN})
    assert ok.status_code == 200 and ok.headers["x-auth-source"] == "api-key"


def test_org_lookup_outage_is_503_never_a_200_without_the_org_role(store):
    app = sidecar(store)
    asyncio.run(store.aclose())
    r = verify(app, {**cookie("u-admin"), "x-organization-id": "org-1"})
    assert r.status_code == 503 and r.json()["error"] == "provider_unavailable"


def test_member_of_another_org_gets_no_org_role_header(store):
    r = verify(sidecar(store), {**cookie("u-admin"), "x-organization-id": "org-2"})
    assert r.status_code == 200
    assert "x-user-org-role" not in r.headers and "x-user-org-id" not in r.headers


def test_org_role_header_is_not_replayed_from_the_memo_for_another_org(store):
    # the response memo is keyed by the credential headers: an answer carrying org-1's role
    # must never be replayed to a request that names org-2 with the same cookie
    app = sidecar(store, response_memo_size=1024)
    headers = cookie("u-admin")
    for _ in range(3):  # the gate's memo and the response memo both warm up
        first = verify(app, {**headers, "x-organization-id": "org-1"})
        assert first.status_code == 200 and first.headers["x-user-org-id"] == "org-1"
    other = verify(app, {**headers, "x-organization-id": "org-2"})
    assert other.status_code == 200
    assert "x-user-org-role" not in other.headers and "x-user-org-id" not in other.headers
    plain = verify(app, headers)
    assert "x-user-org-role" not in plain.headers


def test_api_key_request_is_not_answered_from_the_cookie_memo(store):
    app = sidecar(store, response_memo_size=1024)
    headers = cookie("u-admin")
    for _ in range(3):
        assert verify(app, headers).status_code == 200
    keyed = verify(app, {**headers, "x-api-key": KEY_DISABLED})  # the key decides
    assert keyed.status_code == 401
