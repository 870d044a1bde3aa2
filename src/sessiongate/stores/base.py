"""The session-store protocol and the record a store returns.

A store answers one question: *which session row, joined with its user, has this token?* It
does not decide whether the session is still valid (the authenticator compares ``expires`` with
the request's clock, also on every cache hit) and it never writes: session rows belong to the
JavaScript side.

Stores raise :class:`~sessiongate.errors.ProviderUnavailableError` when they cannot answer
(database down, timeout, pool exhausted, schema mismatch). They never turn an outage into
"not found".

Every store answers ``await load(token)``. One that can also answer from the calling thread
without an event loop (SQLite) has ``load_sync`` as well (:class:`SyncSessionStore`): blocking
callers then ask it directly instead of going through the background loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

__all__ = ["SessionRecord", "SessionStore", "SyncSessionStore"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One session row joined with its user row.

    Attributes:
        session_token: the token the row was found by (never logged, never put in claims).
        user_id: the user's id as a string (``SERIAL`` ids are turned into strings).
        expires: when the session ends, an aware UTC ``datetime``.
        user: the standard user fields that were present: ``name``, ``email``, ``image``,
            ``emailVerified`` (JSON-ready values: datetimes become ISO-8601 strings).
        extra: extra user columns, keyed by claim name (``role``, ``permissions``...).
        session: extra session columns, keyed by field name (``createdAt``, ``ipAddress``,
            ``impersonatedBy``...); never the token.
        memo: a per-record slot authenticators use to keep the claims they built from it,
            so that a cache hit costs a dictionary lookup, not a rebuild.
    """

    session_token: str = field(repr=False)
    user_id: str
    expires: datetime
    user: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    session: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    expires_at: float = field(init=False, repr=False, compare=False, default=0.0)

    def __post_init__(self) -> None:
        expires = self.expires
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
            object.__setattr__(self, "expires", expires)
        object.__setattr__(self, "expires_at", expires.timestamp())

    def is_expired(self, now: float) -> bool:
        """Auth.js and Better Auth treat a session as over when ``expires < now`` (strictly)."""
        return self.expires_at < now


@runtime_checkable
class SessionStore(Protocol):
    """Where database sessions are looked up (PostgreSQL, SQLite, a cache in front of either)."""

    async def load(self, token: str) -> SessionRecord | None:
        """The session with this token joined with its user, or ``None`` when there is none.

        Raises :class:`~sessiongate.errors.ProviderUnavailableError` when the store cannot
        answer.
        """
        ...

    async def aclose(self) -> None:
        """Release connections and threads."""
        ...


@runtime_checkable
class SyncSessionStore(SessionStore, Protocol):
    """A store that can also answer from the calling thread (no event loop, no extra thread)."""

    def load_sync(self, token: str) -> SessionRecord | None:
        """Blocking :meth:`SessionStore.load`: the same answers and errors."""
        ...
