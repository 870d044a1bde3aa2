"""Where the JavaScript libraries keep sessions in Redis, and how to read them (pure, no I/O).

Written from the shipped JavaScript:

**Better Auth ``secondaryStorage``** (``better-auth@1.7.25`` ``db/internal-adapter.mjs``; the
official ``@better-auth/redis-storage@1.7.5`` prefixes every key with ``better-auth:``, a
hand-written storage usually with nothing):

============================================ ==================================================
key                                          value
============================================ ==================================================
``<prefix><session token>``                  JSON ``{"session": {..., "createdAt", "expiresAt"},
                                             "user": {...}}``, TTL = the session's lifetime
``<prefix>active-sessions-<userId>``         JSON list of ``{token, expiresAt}`` (not read here)
``<prefix>revoked-sessions-before-<userId>`` epoch milliseconds as text: every session whose
                                             ``createdAt`` is before it is revoked
============================================ ==================================================

``findSession`` reads the token's key, then the user's revocation mark: a session with
``new Date(createdAt).getTime() < Number(mark)`` is ``null`` (a missing or non-numeric mark
revokes nothing); ``get-session`` then refuses ``expiresAt < now``.

**Auth.js ``@auth/upstash-redis-adapter`` / ``@auth/unstorage-adapter``** (2.11.3 / 2.11.2, same
key scheme, ``baseKeyPrefix`` default empty; unstorage's Redis driver joins its ``base`` with
``:``): ``<base>user:session:<sessionToken>`` holds the session as JSON ``{sessionToken, userId,
expires}`` (no TTL: ``expires`` decides) and ``<base>user:<userId>`` the user as JSON.
``getSessionAndUser`` needs both. Upstash's REST client stores the same JSON text, so an Upstash
database read over the Redis protocol has this layout too.

A value that cannot be explained (not JSON, no user id, no readable expiry) raises
:class:`ProviderUnavailableError`: a mismatch between the layout and the data, never a
reason to log a user out or in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from ..errors import ConfigurationError, ProviderUnavailableError
from .base import SessionRecord
from .schema import _jsonable
from .timestamps import decode_timestamp

__all__ = [
    "LAYOUTS",
    "AuthJSRedisLayout",
    "BetterAuthRedisLayout",
    "KeyEvent",
    "RedisLayout",
    "resolve_layout",
]

MAX_VALUE_BYTES = 256 * 1024
"""A stored session larger than this is refused (503) before it is parsed."""

_STANDARD_USER_FIELDS = ("name", "email", "image", "emailVerified")
_RESERVED_CLAIMS = frozenset({"sub", "id", "session", "exp", *_STANDARD_USER_FIELDS})

KeyEvent = tuple[Literal["token", "user"], str]
"""What a changed key means for the caches: one session token, or every session of a user."""


def _json(value: bytes | str, what: str) -> dict[str, Any]:
    if len(value) > MAX_VALUE_BYTES:
        raise ProviderUnavailableError(f"the stored {what} is larger than {MAX_VALUE_BYTES} bytes")
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        raise ProviderUnavailableError(f"the stored {what} is not JSON") from None
    if not isinstance(parsed, dict):
        raise ProviderUnavailableError(f"the stored {what} is not a JSON object")
    return parsed


def _user_id(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise ProviderUnavailableError(f"the stored {what} has no user id")
    return str(value)


def _expires(value: Any, what: str) -> datetime:
    parsed = decode_timestamp(value, unit="ms")
    if parsed is None:
        raise ProviderUnavailableError(f"the stored {what} has no readable expiry")
    return parsed


def _check_fields(extra_user_fields: Sequence[str]) -> tuple[str, ...]:
    if isinstance(extra_user_fields, str):
        raise ConfigurationError("extra_user_fields must be a list of field names")
    fields = tuple(extra_user_fields)
    for name in fields:
        if not isinstance(name, str) or not name or name in _RESERVED_CLAIMS:
            raise ConfigurationError(f"extra user field {name!r} is empty or reserved")
    if len(set(fields)) != len(fields):
        raise ConfigurationError("extra_user_fields repeats a name")
    return fields


def _record(
    token: str,
    user_id: str,
    expires: datetime,
    user: dict[str, Any],
    extra_user_fields: tuple[str, ...],
) -> SessionRecord:
    standard = {k: _jsonable(user[k]) for k in _STANDARD_USER_FIELDS if user.get(k) is not None}
    extra = {k: _jsonable(user[k]) for k in extra_user_fields if user.get(k) is not None}
    return SessionRecord(
        session_token=token,
        user_id=user_id,
        expires=expires,
        user=MappingProxyType(standard),
        extra=MappingProxyType(extra),
    )


def _check_prefix(prefix: str, what: str) -> str:
    if not isinstance(prefix, str) or any(c in prefix for c in "*?[]\\"):
        raise ConfigurationError(f"{what} must be a string without glob characters (*?[]\\)")
    return prefix


@dataclass(frozen=True, slots=True)
class BetterAuthRedisLayout:
    """Better Auth's ``secondaryStorage`` keys (see the module docstring).

    Args:
        prefix: prepended to every key: ``better-auth:`` for ``@better-auth/redis-storage``
            (its ``keyPrefix`` default), ``""`` for a hand-written ``secondaryStorage``.
        extra_user_fields: user fields to keep as claims besides ``name``, ``email``,
            ``image``, ``emailVerified`` (e.g. ``("role", "banned")`` with the admin plugin).
    """

    prefix: str = "better-auth:"
    extra_user_fields: tuple[str, ...] = ()
    name: str = "better-auth"

    def __post_init__(self) -> None:
        _check_prefix(self.prefix, "prefix")
        object.__setattr__(self, "extra_user_fields", _check_fields(self.extra_user_fields))

    def session_key(self, token: str) -> str:
        """The key holding the session stored under ``token``."""
        return self.prefix + token

    def revoked_key(self, user_id: str) -> str:
        """The key holding the user's ``revoked-sessions-before`` mark."""
        return f"{self.prefix}revoked-sessions-before-{user_id}"

    def parse_session(self, value: bytes | str) -> tuple[str, dict[str, Any]]:
        """``(user id, parsed value)`` of a stored session; raises 503 for unreadable data."""
        stored = _json(value, "session")
        session, user = stored.get("session"), stored.get("user")
        if not isinstance(session, dict) or not isinstance(user, dict):
            raise ProviderUnavailableError("the stored session lacks its session or user object")
        return _user_id(session.get("userId", user.get("id")), "session"), stored

    def record(
        self, token: str, stored: dict[str, Any], revoked_before: bytes | str | None
    ) -> SessionRecord | None:
        """The session, or ``None`` when the user's revocation mark covers it."""
        session, user = stored["session"], stored["user"]
        if is_revoked_by_mark(session.get("createdAt"), revoked_before):
            return None
        user_id = _user_id(session.get("userId", user.get("id")), "session")
        expires = _expires(session.get("expiresAt"), "session")
        return _record(token, user_id, expires, user, self.extra_user_fields)

    def watch_patterns(self) -> tuple[str, ...]:
        """Glob patterns (keyspace channels) whose changes may invalidate a cached session."""
        return (self.prefix + "*",)

    def classify(self, key: str) -> KeyEvent | None:
        """What a changed ``key`` means for the caches (``None``: nothing)."""
        if not key.startswith(self.prefix):
            return None
        rest = key[len(self.prefix) :]
        if rest.startswith("revoked-sessions-before-"):
            return ("user", rest[len("revoked-sessions-before-") :])
        if rest.startswith(("active-sessions-", "verification:", "rate-limit")) or ":" in rest:
            return None
        return ("token", rest) if rest else None


def is_revoked_by_mark(created_at: Any, mark: bytes | str | None) -> bool:
    """Better Auth's ``isRevokedSession``: ``new Date(createdAt).getTime() < Number(mark)``.

    ``Number(null)`` is 0 and ``Number("x")`` is NaN: both revoke nothing, and neither does a
    ``createdAt`` that is not a date (an invalid ``Date`` compares false).
    """
    if mark is None:
        return False
    text = mark.decode("ascii", "replace") if isinstance(mark, bytes) else mark
    try:
        before = float(text.strip()) if text.strip() else 0.0
    except ValueError:
        return False
    if not math.isfinite(before):
        return before == math.inf and decode_timestamp(created_at, unit="ms") is not None
    created = decode_timestamp(created_at, unit="ms")
    if created is None:
        return False
    return created.timestamp() * 1000.0 < before


@dataclass(frozen=True, slots=True)
class AuthJSRedisLayout:
    """The Auth.js Upstash / unstorage adapters' keys (see the module docstring).

    Args:
        base_prefix: the adapter's ``baseKeyPrefix`` (plus unstorage's ``base`` and ``:``).
        session_prefix / user_prefix / session_by_user_prefix: the adapter's defaults.
        extra_user_fields: user fields to keep as claims besides the standard ones.
    """

    base_prefix: str = ""
    session_prefix: str = "user:session:"
    user_prefix: str = "user:"
    session_by_user_prefix: str = "user:session:by-user-id:"
    extra_user_fields: tuple[str, ...] = ()
    name: str = "authjs"

    def __post_init__(self) -> None:
        for label in ("base_prefix", "session_prefix", "user_prefix", "session_by_user_prefix"):
            _check_prefix(getattr(self, label), label)
        if not self.session_prefix or not self.user_prefix:
            raise ConfigurationError("session_prefix and user_prefix must not be empty")
        object.__setattr__(self, "extra_user_fields", _check_fields(self.extra_user_fields))

    def session_key(self, token: str) -> str:
        """The key holding the session ``token``."""
        return self.base_prefix + self.session_prefix + token

    def user_key(self, user_id: str) -> str:
        """The key holding the user ``user_id``."""
        return self.base_prefix + self.user_prefix + user_id

    def parse_session(self, value: bytes | str) -> tuple[str, dict[str, Any]]:
        """``(user id, parsed session)``; raises 503 for unreadable data."""
        session = _json(value, "session")
        return _user_id(session.get("userId"), "session"), session

    def record(
        self, token: str, session: dict[str, Any], user_value: bytes | str | None
    ) -> SessionRecord | None:
        """The session joined with its user, or ``None`` when the user is gone (the adapter's
        ``getSessionAndUser`` answers ``null`` then)."""
        if user_value is None:
            return None
        user = _json(user_value, "user")
        user_id = _user_id(session.get("userId"), "session")
        if "id" in user and str(user.get("id")) != user_id:
            raise ProviderUnavailableError("the stored user does not match the session's userId")
        expires = _expires(session.get("expires"), "session")
        return _record(token, user_id, expires, user, self.extra_user_fields)

    def watch_patterns(self) -> tuple[str, ...]:
        """Glob patterns (keyspace channels) whose changes may invalidate a cached session."""
        return (self.base_prefix + self.user_prefix + "*",)

    def classify(self, key: str) -> KeyEvent | None:
        """What a changed ``key`` means for the caches (``None``: nothing)."""
        base = self.base_prefix
        if not key.startswith(base):
            return None
        rest = key[len(base) :]
        if rest.startswith(self.session_by_user_prefix):
            return None
        if rest.startswith(self.session_prefix):
            token = rest[len(self.session_prefix) :]
            return ("token", token) if token else None
        if rest.startswith(self.user_prefix):
            user_id = rest[len(self.user_prefix) :]
            # user:account:…, user:email:…, user:token:… are other records of the adapter
            if not user_id or user_id.startswith(("account:", "email:", "token:")):
                return None
            return ("user", user_id)
        return None


RedisLayout = BetterAuthRedisLayout | AuthJSRedisLayout

LAYOUTS: dict[str, type[BetterAuthRedisLayout] | type[AuthJSRedisLayout]] = {
    "better-auth": BetterAuthRedisLayout,
    "authjs": AuthJSRedisLayout,
}


def resolve_layout(layout: RedisLayout | str) -> RedisLayout:
    """A layout object, or one built with its defaults from a name (``better-auth``,
    ``authjs``)."""
    if isinstance(layout, (BetterAuthRedisLayout, AuthJSRedisLayout)):
        return layout
    if isinstance(layout, str) and layout in LAYOUTS:
        return LAYOUTS[layout]()
    raise ConfigurationError(
        f"unknown Redis layout {layout!r}; known: {', '.join(sorted(LAYOUTS))}"
    )
