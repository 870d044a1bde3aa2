"""Attacks on Better Auth's admin, two-factor and role data (issue #12).

Each test is named after what an attacker (or a stale credential) tries. Builders and the
database layout: tests/ba_admin_fixtures.py. The schema here reads the plugin columns with
``SchemaMapping.with_extra`` so that the tests also run against code from before the fix
(where they fail: the bans, cache ages and 2FA state were not read).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ba_admin_fixtures import (  # isort: skip
    LEGACY_SCHEMA,
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

from sessiongate.errors import AuthorizationError, SessionGateError
from sessiongate.guards import require_roles
from sessiongate.sessions import BetterAuthSession
from sessiongate.stores import SQLiteStore
from sessiongate.user import ClaimMapping

BANNED = token_for("banned")
FORMER = token_for("former")
TWO_FA = token_for("twofa")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return make_db(
        tmp_path / "ba.db",
        [
            {"id": "banned", "banned": 1, "banExpires": iso(NOW + timedelta(days=3))},
            {"id": "former", "banned": 1, "banReason": "later banned"},
            {"id": "twofa", "twoFactorEnabled": 1},
        ],
        [
            {"token": BANNED, "userId": "banned"},
            {"token": FORMER, "userId": "former"},
            {"token": TWO_FA, "userId": "twofa"},
        ],
    )


def _decide(auth: BetterAuthSession, credentials: Any) -> Any:
    async def main() -> Any:
        try:
            return await auth.authenticate(credentials, NOW_TS)
        except SessionGateError as err:
            return err
        finally:
            await auth.aclose()

    return asyncio.run(main())


def _store_auth(db: Path, **options: Any) -> BetterAuthSession:
    return BetterAuthSession(
        secret=SECRET, store=SQLiteStore(db, schema=LEGACY_SCHEMA), cache_ttl=0, **options
    )


def test_banned_user_cookie_cache_hit_is_refused() -> None:
    # get-session rewrote the cache from the banned row: Better Auth keeps serving it
    data = session_data(BANNED, user={"banned": True, "banExpires": iso(NOW + timedelta(days=1))})
    auth = BetterAuthSession(secret=SECRET, cookie_cache="compact")
    decided = _decide(auth, creds(BANNED, compact_cache(data)))
    assert isinstance(decided, SessionGateError) and decided.code == "banned"


def test_banned_user_existing_session_is_refused_on_lookup(db: Path) -> None:
    decided = _decide(_store_auth(db), creds(BANNED))
    assert isinstance(decided, SessionGateError) and decided.code == "banned"
    assert decided.status_code == 401


def test_stale_cookie_cache_from_before_a_ban_is_not_trusted(db: Path) -> None:
    # a cache written two minutes ago, before the ban, still says banned: false
    data = session_data(
        FORMER, user={"id": "former", "banned": False}, written_at=NOW - timedelta(minutes=2)
    )
    auth = _store_auth(db, cookie_cache="compact")
    decided = _decide(auth, creds(FORMER, compact_cache(data)))
    assert isinstance(decided, SessionGateError) and decided.code == "banned"


def test_pre_two_factor_cookie_cache_without_session_row_is_refused(db: Path) -> None:
    # the two-factor plugin deleted this sign-in's row; the client kept its cookies
    pending = token_for("pending-second-factor")
    data = session_data(pending, user={"id": "twofa", "twoFactorEnabled": True})
    auth = _store_auth(db, cookie_cache="compact")
    decided = _decide(auth, creds(pending, compact_cache(data)))
    assert isinstance(decided, SessionGateError) and decided.code == "session_not_found"


def test_comma_joined_role_string_cannot_grant_unlisted_role() -> None:
    mapping = ClaimMapping()
    for role in ("user, admin", "administrator,user", "user,admin ", " admin"):
        user = mapping.build_user({"sub": "u", "role": role}, "better-auth")
        with pytest.raises(AuthorizationError):
            require_roles(user, ["admin"])
    both = mapping.build_user({"sub": "u", "role": "user,admin"}, "better-auth")
    assert require_roles(both, ["admin"]) is both  # what it does list, it grants


def test_impersonated_session_cannot_pass_a_route_that_refuses_impersonation() -> None:
    from sessiongate.guards import Requirement

    data = session_data(BANNED, user={"banned": False}, session={"impersonatedBy": "admin-1"})
    auth = BetterAuthSession(secret=SECRET, cookie_cache="compact")
    verified = _decide(auth, creds(BANNED, compact_cache(data)))
    user = ClaimMapping().build_user(verified.claims, verified.source)
    error = Requirement(allow_impersonated=False).unmet(user)
    assert error is not None and error.code == "impersonated_session"
