"""What Better Auth's plugins write on a session and its user, and the rules read from it (pure).

Read from better-auth 1.7.25:

* **admin plugin**: ``user.role`` (comma-separated roles,
  :func:`~sessiongate.access.parse_roles_admin`), ``user.banned``, ``user.banReason``,
  ``user.banExpires`` and ``session.impersonatedBy``. The plugin checks a ban only when a
  session is *created* (``session.create.before``: banned, and ``banExpires`` absent or not
  yet past); sessiongate applies the same test to every lookup and
  every cookie-cache hit (:func:`check_not_banned`).
* **core session columns**: ``createdAt``, ``updatedAt``, ``ipAddress``, ``userAgent``; the
  **organization plugin** adds ``activeOrganizationId`` and ``activeTeamId``. They are kept in
  the ``session`` claim and exposed as :class:`~sessiongate.user.SessionInfo`.
* **two-factor plugin**: ``user.twoFactorEnabled``. A sign-in that still needs the second factor
  deletes its session row (and asks the browser to drop the cookies) and answers
  ``twoFactorRedirect``; nothing on the session row or in ``session_data`` tells a verified
  session from a pre-2FA one. What tells them apart is the row's existence:
  :func:`two_factor_enabled` makes a cookie-cache hit of such a user confirm the row.

Values are judged as JavaScript does (``if (user.banned)`` is truthiness; ``new Date(x)`` takes
ISO text or milliseconds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import BannedUserError, ConfigurationError

__all__ = [
    "ADMIN_USER_FIELDS",
    "SESSION_FIELDS",
    "TWO_FACTOR_USER_FIELDS",
    "PluginRules",
    "ban_in_force",
    "check_not_banned",
    "js_truthy",
    "session_fields",
    "timestamp",
    "two_factor_enabled",
]

ADMIN_USER_FIELDS = ("role", "banned", "banReason", "banExpires")
"""The admin plugin's user fields (logical names)."""

TWO_FACTOR_USER_FIELDS = ("twoFactorEnabled",)
"""The two-factor plugin's user field."""

SESSION_FIELDS = (
    "createdAt",
    "updatedAt",
    "ipAddress",
    "userAgent",
    "impersonatedBy",
    "activeOrganizationId",
    "activeTeamId",
)
"""Session fields kept in the ``session`` claim: core, admin, organization (never the token)."""


def js_truthy(value: Any) -> bool:
    """JavaScript's truthiness of a JSON-ish value (``"false"`` and ``[]`` are truthy)."""
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def timestamp(value: Any) -> float | None:
    """UNIX seconds of a date as ``new Date(value)`` reads it (ISO text, milliseconds, a
    ``datetime``); ``None`` when it is no date (``Invalid Date``)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value / 1000.0 if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    return None


def ban_in_force(user: Mapping[str, Any], now: float) -> bool:
    """The admin plugin's test: ``banned`` is truthy and ``banExpires`` is absent or not before
    ``now``. A ``banExpires`` that is no date keeps the ban (the JS compares ``NaN``)."""
    if not js_truthy(user.get("banned")):
        return False
    expires = user.get("banExpires")
    if not js_truthy(expires):
        return True
    until = timestamp(expires)
    return until is None or not until < now


def check_not_banned(claims: Mapping[str, Any], now: float) -> None:
    """Raise :class:`~sessiongate.errors.BannedUserError` (401 ``banned``) for a banned user."""
    if ban_in_force(claims, now):
        raise BannedUserError()


def two_factor_enabled(claims: Mapping[str, Any]) -> bool:
    """Whether the user has two-factor authentication on (``user.twoFactorEnabled``)."""
    return js_truthy(claims.get("twoFactorEnabled"))


def session_fields(session: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`SESSION_FIELDS` present (not null) in a session object."""
    return {k: session[k] for k in SESSION_FIELDS if session.get(k) is not None}


@dataclass(frozen=True, slots=True)
class PluginRules:
    """How a :class:`~sessiongate.sessions.BetterAuthSession` applies the plugins' data,
    validated once.

    Args:
        admin: ``True``: enforce bans (the store must read the admin columns); ``None``
            (default): enforce them whenever the row or cache carries ``banned``; ``False``:
            ignore them.
        confirm_two_factor: a cookie-cache hit of a user with ``twoFactorEnabled`` is not
            trusted: the session row must exist (a pre-2FA session's row was deleted by the
            plugin; GHSA-xg6x-h9c9-2m83). Without a store such a cache hit is refused.
        cookie_cache_max_age: seconds since the cache was written (its ``updatedAt``) after
            which it is not trusted and the store is asked; ``None``: trusted until it expires.
    """

    admin: bool | None = None
    confirm_two_factor: bool = True
    cookie_cache_max_age: float | None = 60.0

    def __post_init__(self) -> None:
        if self.admin is not None and not isinstance(self.admin, bool):
            raise ConfigurationError("admin must be True, False or None (detect)")
        if not isinstance(self.confirm_two_factor, bool):
            raise ConfigurationError("confirm_two_factor must be True or False")
        age = self.cookie_cache_max_age
        if age is not None and (
            isinstance(age, bool) or not isinstance(age, (int, float)) or not age >= 0
        ):
            raise ConfigurationError("cookie_cache_max_age must be seconds >= 0 or None")

    def check(self, claims: Mapping[str, Any], now: float) -> None:
        """Every verdict, from the store or the cache: refuse a banned user."""
        if self.admin is not False:
            check_not_banned(claims, now)

    def trust_cache(self, claims: Mapping[str, Any], now: float) -> bool:
        """Whether a valid cookie-cache hit may answer without the store; ``False``: ask the
        store (the truth when there is one). A trusted cache of a banned user raises."""
        if self.confirm_two_factor and two_factor_enabled(claims):
            return False
        if self.cookie_cache_max_age is not None:
            session = claims.get("session")
            written = session.get("cached_at") if isinstance(session, Mapping) else None
            if isinstance(written, bool) or not isinstance(written, (int, float)):
                return False
            if now - written > self.cookie_cache_max_age:
                return False
        self.check(claims, now)
        return True
