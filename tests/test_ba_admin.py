"""Better Auth's admin, two-factor and session-column data, read by BetterAuthSession.

Rules read from better-auth 1.7.25 (plugins/admin/admin.mjs ``session.create.before``,
has-permission.mjs; api/routes/session.mjs ``freshSessionMiddleware``; plugins/two-factor).
The same decisions against the real plugin: tests/interop/test_ba_admin_interop.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ba_admin_fixtures import (
    NOW,
    NOW_TS,
    SECRET,
    compact_cache,
    creds,
    iso,
    make_db,
    session_data,
    token_for,
)
from sessiongate.baplugins import PluginRules, ban_in_force, js_truthy, timestamp
from sessiongate.errors import (
    BannedUserError,
    ConfigurationError,
    ImpersonatedSessionError,
    SessionNotFoundError,
    SessionNotFreshError,
)
from sessiongate.guards import (
    AccessRequirement,
    Requirement,
    require_access,
    require_fresh,
    require_not_impersonated,
)
from sessiongate.sessions import BetterAuthSession
from sessiongate.stores import SQLiteStore
from sessiongate.stores.plugin_columns import detect_plugin_columns, plugin_column_pairs
from sessiongate.stores.schema import SchemaMapping
from sessiongate.types import Verified
from sessiongate.user import ClaimMapping, SessionInfo, User

SCHEMA = SchemaMapping.preset("better-auth").with_better_auth_columns(
    admin=True, two_factor=True, organization=True
)
ADMIN = token_for("admin")
MULTI = token_for("multi")
BANNED = token_for("banned")
BANNED_UNTIL = token_for("bannedUntil")
BAN_OVER = token_for("banOver")
IMPERSONATED = token_for("impersonated")
TWO_FA = token_for("twofa")
EPOCH_MS = token_for("epochms")

USERS: list[dict[str, Any]] = [
    {"id": "admin", "role": "admin"},
    {"id": "multi", "role": "admin,user"},
    {"id": "banned", "banned": 1, "banReason": "spam"},
    {"id": "bannedUntil", "banned": 1, "banExpires": iso(NOW + timedelta(days=1))},
    {"id": "banOver", "banned": 1, "banExpires": iso(NOW - timedelta(seconds=1))},
    {"id": "twofa", "twoFactorEnabled": 1},
]
SESSIONS: list[dict[str, Any]] = [
    {"token": ADMIN, "userId": "admin"},
    {"token": MULTI, "userId": "multi", "activeOrganizationId": "org-1"},
    {"token": BANNED, "userId": "banned"},
    {"token": BANNED_UNTIL, "userId": "bannedUntil"},
    {"token": BAN_OVER, "userId": "banOver"},
    {"token": IMPERSONATED, "userId": "multi", "impersonatedBy": "admin"},
    {"token": TWO_FA, "userId": "twofa"},
    # Prisma's native SQLite connector writes integer milliseconds
    {"token": EPOCH_MS, "userId": "admin", "createdAt": int((NOW_TS - 7200) * 1000)},
]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return make_db(tmp_path / "ba-admin.db", USERS, SESSIONS)


@pytest.fixture
def make(db: Path) -> Iterator[Any]:
    made: list[BetterAuthSession] = []

    def factory(schema: SchemaMapping = SCHEMA, **options: Any) -> BetterAuthSession:
        auth = BetterAuthSession(
            secret=SECRET, store=SQLiteStore(db, schema=schema), cache_ttl=0, **options
        )
        made.append(auth)
        return auth

    yield factory
    for auth in made:
        asyncio.run(auth.aclose())


def run(auth: BetterAuthSession, credentials: Any, now: float = NOW_TS) -> Verified:
    verified = asyncio.run(auth.authenticate(credentials, now))
    assert verified is not None
    return verified


def user_of(verified: Verified) -> User:
    return ClaimMapping().build_user(verified.claims, verified.source, verified.expires_at)


# ------------------------------------------------------------------ the multi-role bug


def test_multi_role_string_is_split_for_database_users(make: Any) -> None:
    user = user_of(run(make(), creds(MULTI)))
    assert user.roles == frozenset({"admin", "user"})


def test_multi_role_string_is_split_for_cookie_cache_users(make: Any) -> None:
    cache = compact_cache(session_data(MULTI, user={"id": "multi", "role": "admin,user"}))
    auth = make(cookie_cache="compact")
    user = user_of(run(auth, creds(MULTI, cache)))
    assert user.roles == frozenset({"admin", "user"})
    assert user.session is not None and user.session.created_at == NOW_TS - 3600


def test_multi_role_split_is_the_admin_plugins_no_trim() -> None:
    mapping = ClaimMapping()
    user = mapping.build_user({"sub": "u", "role": "admin, user"}, "better-auth")
    assert user.roles == frozenset({"admin", " user"})
    # other sources keep a role string whole unless asked (Better Auth's jwt plugin tokens)
    assert mapping.build_user({"sub": "u", "role": "a,b"}, "jws").roles == frozenset({"a,b"})
    jwt_mapping = ClaimMapping(comma_roles=True)
    assert jwt_mapping.build_user({"sub": "u", "role": "a,b"}, "jws").roles == {"a", "b"}


# ------------------------------------------------------------------ bans


@pytest.mark.parametrize("token", [BANNED, BANNED_UNTIL])
def test_banned_user_is_refused_on_lookup(make: Any, token: str) -> None:
    with pytest.raises(BannedUserError) as caught:
        run(make(), creds(token))
    assert caught.value.status_code == 401 and caught.value.code == "banned"


def test_expired_ban_lets_the_user_in(make: Any) -> None:
    assert run(make(), creds(BAN_OVER)).claims["sub"] == "banOver"


def test_ban_ending_is_judged_at_request_time(make: Any) -> None:
    auth = make()
    with pytest.raises(BannedUserError):
        run(auth, creds(BANNED_UNTIL))
    later = NOW_TS + 86400 + 1
    assert run(auth, creds(BANNED_UNTIL), now=later).claims["sub"] == "bannedUntil"


def test_banned_user_is_refused_on_a_cached_row(db: Path) -> None:
    auth = BetterAuthSession(secret=SECRET, store=SQLiteStore(db, schema=SCHEMA), cache_ttl=60)
    try:
        with pytest.raises(BannedUserError):
            run(auth, creds(BANNED))
        with pytest.raises(BannedUserError):  # the second answer comes from the TTL cache
            run(auth, creds(BANNED))
    finally:
        asyncio.run(auth.aclose())


def test_admin_false_ignores_bans_and_true_needs_the_columns(make: Any, db: Path) -> None:
    assert run(make(admin=False), creds(BANNED)).claims["sub"] == "banned"
    with pytest.raises(ConfigurationError, match="with_better_auth_columns"):
        BetterAuthSession(secret=SECRET, store=SQLiteStore(db, schema="better-auth"), admin=True)
    # without the columns nothing is known about bans: admin=None cannot enforce them
    assert run(make(schema=SchemaMapping.preset("better-auth")), creds(BANNED)).claims


def test_ban_rule_is_the_plugins() -> None:
    assert not ban_in_force({}, NOW_TS)
    assert ban_in_force({"banned": True}, NOW_TS)
    assert ban_in_force({"banned": 1, "banExpires": iso(NOW)}, NOW_TS)  # not yet past
    assert not ban_in_force({"banned": True, "banExpires": iso(NOW)}, NOW_TS + 0.001)
    assert ban_in_force({"banned": True, "banExpires": "not a date"}, NOW_TS)  # NaN < now: false
    assert ban_in_force({"banned": "false"}, NOW_TS)  # a non-empty string is truthy in JS
    assert not ban_in_force({"banned": 0}, NOW_TS)
    assert [js_truthy(v) for v in (None, 0, 0.0, "", False, [], {})] == [
        *([False] * 5),
        True,
        True,
    ]
    assert timestamp(int(NOW_TS * 1000)) == NOW_TS and timestamp(True) is None


# ------------------------------------------------------------------ session columns


def test_session_columns_on_the_user(make: Any) -> None:
    user = user_of(run(make(), creds(MULTI)))
    assert user.session == SessionInfo(
        expires_at=NOW_TS + 7 * 86400,
        created_at=NOW_TS - 3600,
        updated_at=NOW_TS - 300,
        ip_address="203.0.113.7",
        user_agent="Mozilla/5.0 test",
        impersonated_by=None,
        active_organization_id="org-1",
    )
    assert "token" not in user.claims["session"]


def test_epoch_millisecond_dates_are_read(make: Any) -> None:
    user = user_of(run(make(), creds(EPOCH_MS)))
    assert user.session is not None and user.session.created_at == NOW_TS - 7200


def test_impersonated_by_is_exposed(make: Any) -> None:
    user = user_of(run(make(), creds(IMPERSONATED)))
    assert user.impersonated_by == "admin"
    with pytest.raises(ImpersonatedSessionError):
        require_not_impersonated(user)
    assert require_not_impersonated(user_of(run(make(), creds(MULTI)))).id == "multi"


def test_schema_columns_per_switch() -> None:
    base = SchemaMapping.preset("better-auth")
    assert base.with_better_auth_columns().extra_user_columns == ()
    assert dict(base.with_better_auth_columns().extra_session_columns) == {
        "createdAt": "createdAt",
        "updatedAt": "updatedAt",
        "ipAddress": "ipAddress",
        "userAgent": "userAgent",
    }
    snake = SchemaMapping.preset("better-auth-snake").with_better_auth_columns(admin=True)
    assert dict(snake.extra_user_columns)["banExpires"] == "ban_expires"
    assert dict(snake.extra_session_columns)["impersonatedBy"] == "impersonated_by"
    assert 's."impersonated_by"' in snake.select_sql("?")
    twice = SCHEMA.with_better_auth_columns(admin=True)
    assert twice == SCHEMA  # already read: not added again
    user, session = plugin_column_pairs(snake=False, have_user={"role"}, admin=True)
    assert [c for c, _ in user] == ["banned", "banReason", "banExpires"]
    assert ("impersonatedBy", "impersonatedBy") in session
    with pytest.raises(ConfigurationError):
        SchemaMapping(**{**_fields(base), "extra_session_columns": ("expires",)})


def _fields(mapping: SchemaMapping) -> dict[str, Any]:
    return {
        "session_table": mapping.session_table,
        "user_table": mapping.user_table,
        "session_token": mapping.session_token,
        "session_user_id": mapping.session_user_id,
        "session_expires": mapping.session_expires,
    }


def test_plugin_column_detection() -> None:
    session_cols = {"id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress"}
    user_cols = {"id", "email", "role", "banned", "banReason", "banExpires"}
    found = detect_plugin_columns(session_cols | {"userAgent"}, user_cols, snake=False)
    assert found.as_switches() == {
        "session": True,
        "admin": False,  # impersonatedBy missing: the admin plugin is not fully there
        "two_factor": False,
        "organization": False,
        "teams": False,
    }
    found = detect_plugin_columns(
        {"user_agent", "ip_address", "created_at", "updated_at", "impersonated_by"},
        {"role", "banned", "ban_reason", "ban_expires", "two_factor_enabled"},
        snake=True,
    )
    assert found.admin and found.two_factor and found.session and not found.organization


# ------------------------------------------------------------------ fresh sessions


def test_require_fresh_counts_from_created_at(make: Any) -> None:
    user = user_of(run(make(), creds(MULTI)))  # created an hour before NOW
    assert require_fresh(user, max_age=3601, now=NOW_TS) is user
    with pytest.raises(SessionNotFreshError) as caught:
        require_fresh(user, max_age=3600, now=NOW_TS)  # now - createdAt >= freshAge: stale
    assert caught.value.status_code == 403
    assert require_fresh(user, now=NOW_TS) is user  # the default: one day


def test_require_fresh_refuses_a_session_without_created_at() -> None:
    user = User(id="u", session=SessionInfo(expires_at=NOW_TS + 10))
    with pytest.raises(SessionNotFreshError):
        require_fresh(user, now=NOW_TS)
    with pytest.raises(SessionNotFreshError):
        require_fresh(User(id="u"), now=NOW_TS)  # a token-only user has no session row


def test_requirement_validation() -> None:
    for bad in (0, -1, True, "60"):
        with pytest.raises(ConfigurationError):
            Requirement(max_session_age=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        AccessRequirement({})
    with pytest.raises(ConfigurationError):
        AccessRequirement({"user": "ban"})  # the JS throws "Invalid access control request"
    for bad_rules in ({"cookie_cache_max_age": -1}, {"admin": 1}, {"confirm_two_factor": "no"}):
        with pytest.raises(ConfigurationError):
            PluginRules(**bad_rules)


# ------------------------------------------------------------------ access control on users


def test_require_access_with_admin_default_roles(make: Any) -> None:
    admin = user_of(run(make(), creds(MULTI)))  # "admin,user"
    assert require_access(admin, {"user": ["ban"]}) is admin
    plain = User(id="p", roles=frozenset({"user"}))
    with pytest.raises(Exception) as caught:
        require_access(plain, {"user": ["ban"]})
    assert getattr(caught.value, "code", None) == "insufficient_scope"
    no_role = User(id="n")  # the plugin's defaultRole "user" then
    assert not AccessRequirement({"user": ["ban"]}).allows(no_role)
    assert AccessRequirement({"user": ["ban"]}, admin_user_ids=frozenset({"n"})).allows(no_role)


# ------------------------------------------------------------------ the cookie cache


def test_cookie_cache_older_than_max_age_asks_the_store(make: Any) -> None:
    stale = compact_cache(
        session_data(MULTI, user={"id": "multi"}, written_at=NOW - timedelta(seconds=61))
    )
    # the store answers (the row's roles), not the cache (which says "user" only)
    auth = make(cookie_cache="compact")
    assert user_of(run(auth, creds(MULTI, stale))).roles == {"admin", "user"}
    fresh = compact_cache(session_data(MULTI, user={"id": "multi"}))
    assert user_of(run(auth, creds(MULTI, fresh))).roles == {"user"}
    trusting = make(cookie_cache="compact", cookie_cache_max_age=None)
    assert user_of(run(trusting, creds(MULTI, stale))).roles == {"user"}


def test_two_factor_user_cache_hit_is_confirmed_by_the_store(make: Any) -> None:
    # a session_data cookie for a token whose row is gone (what 2FA sign-in leaves behind)
    gone = token_for("pending2fa")
    cache = compact_cache(session_data(gone, user={"id": "twofa", "twoFactorEnabled": True}))
    with pytest.raises(SessionNotFoundError):
        run(make(cookie_cache="compact"), creds(gone, cache))
    # the verified session of the same user has its row: accepted
    cache = compact_cache(session_data(TWO_FA, user={"id": "twofa", "twoFactorEnabled": True}))
    assert run(make(cookie_cache="compact"), creds(TWO_FA, cache)).claims["sub"] == "twofa"


def test_two_factor_cache_without_store_is_refused() -> None:
    auth = BetterAuthSession(secret=SECRET, cookie_cache="compact")
    cache = compact_cache(session_data(TWO_FA, user={"twoFactorEnabled": True}))
    with pytest.raises(SessionNotFoundError):
        run(auth, creds(TWO_FA, cache))
    relaxed = BetterAuthSession(secret=SECRET, cookie_cache="compact", confirm_two_factor=False)
    assert run(relaxed, creds(TWO_FA, cache)).claims["sub"] == "u1"


def test_access_requirement_keeps_its_own_read_only_request() -> None:
    request: dict[str, Any] = {"user": ["ban"]}
    requirement = AccessRequirement(request)
    request["user"].append("impersonate-admins")  # the caller changes its dict afterwards
    admin = User(id="a", roles=frozenset({"admin"}))
    assert requirement.allows(admin)
    with pytest.raises(TypeError):
        requirement.request["user"].append("x")


def test_an_old_cache_saying_banned_defers_to_the_store(make: Any) -> None:
    # unbanned since: the store is the truth once the cache is past cookie_cache_max_age
    old = compact_cache(
        session_data(
            ADMIN, user={"id": "admin", "banned": True}, written_at=NOW - timedelta(minutes=2)
        )
    )
    assert run(make(cookie_cache="compact"), creds(ADMIN, old)).claims["sub"] == "admin"
    fresh = compact_cache(session_data(ADMIN, user={"id": "admin", "banned": True}))
    with pytest.raises(BannedUserError):  # a cache trusted alone is judged by what it says
        run(make(cookie_cache="compact"), creds(ADMIN, fresh))


def test_cache_max_age_auto_is_60_s_with_a_store_and_off_without() -> None:
    old = compact_cache(session_data(MULTI, written_at=NOW - timedelta(minutes=2)), max_age=300)
    alone = BetterAuthSession(secret=SECRET, cookie_cache="compact")
    assert alone.rules.cookie_cache_max_age is None  # nothing else could answer
    assert run(alone, creds(MULTI, old)).claims["sub"] == "u1"
    capped = BetterAuthSession(secret=SECRET, cookie_cache="compact", cookie_cache_max_age=60)
    with pytest.raises(SessionNotFoundError):
        run(capped, creds(MULTI, old))
    with pytest.raises(ConfigurationError):
        BetterAuthSession(secret=SECRET, cookie_cache="compact", cookie_cache_max_age="fast")  # type: ignore[arg-type]


def test_cache_max_age_auto_with_a_store(make: Any) -> None:
    assert make(cookie_cache="compact").rules.cookie_cache_max_age == 60.0


def test_organization_without_teams_reads_no_team_column() -> None:
    # organization() adds activeOrganizationId; only organization({ teams }) adds activeTeamId:
    # reading a column the table lacks would make every lookup a 503
    found = detect_plugin_columns(
        {"token", "userId", "expiresAt", "activeOrganizationId"}, {"id"}, snake=False
    )
    assert found.organization and not found.teams
    mapping = SchemaMapping.preset("better-auth").with_better_auth_columns(**found.as_switches())
    claims = {claim for claim, _ in mapping.extra_session_columns}
    assert "activeOrganizationId" in claims and "activeTeamId" not in claims
    both = detect_plugin_columns(
        {"active_organization_id", "active_team_id"}, set(), snake=True
    ).as_switches()
    assert both["organization"] and both["teams"]
