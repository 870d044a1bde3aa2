"""The revocation rules and records (pure: no I/O, no clock of their own).

Two kinds of record, the same in PostgreSQL, Redis and on the wire:

* **user** ``U`` before ``T``: every token of user ``U`` (its ``sub``, or the claim the
  :class:`~sessiongate.user.ClaimMapping` takes as id) whose ``iat`` is before ``T`` is revoked
  (``iat < T``, like Better Auth's ``createdAt < revoked-sessions-before``). ``iat`` counts whole
  seconds, so a token minted in the same second as a ``T`` with a fraction, just after it, is
  revoked too: the conservative side. A token without a numeric ``iat`` cannot prove it
  was issued later: revoked. The record is kept until ``expires`` (``T`` plus the longest token
  lifetime, 30 days by default), after which no token it covers can still be valid.
* **jti** ``J``: the one token whose ``jti`` claim is ``J`` is revoked until ``expires`` (its
  ``exp``, when known).

Times are epoch **milliseconds** (``Date.now()`` on the JavaScript side). Events are compact JSON
objects: ``{"t":"rev","k":"user","s":"<id>","b":<before ms>,"x":<expires ms>}``,
``{"t":"rev","k":"jti","s":"<jti>","x":<expires ms>}``, ``{"t":"unrev","k":…,"s":…}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast

from ..errors import ConfigurationError, SessionRevokedError

__all__ = [
    "DEFAULT_RETENTION",
    "MAX_SUBJECT_CHARS",
    "Revocation",
    "RevocationKind",
    "RevocationSet",
    "decode_event",
    "encode_event",
    "token_keys",
]

RevocationKind = Literal["user", "jti"]

DEFAULT_RETENTION = 30 * 24 * 3600.0
"""Seconds a user revocation is kept: Auth.js's default session ``maxAge`` (30 days)."""

MAX_SUBJECT_CHARS = 512
"""The longest user id or ``jti`` a record may name (a NOTIFY payload holds 8000 bytes)."""

_REVOKED = SessionRevokedError()
_NUMBERS = (int, float)  # exact types: a bool iat is no time
_KINDS = ("user", "jti")


def _ms(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number of milliseconds")
    return int(value)


@dataclass(frozen=True, slots=True)
class Revocation:
    """One revocation record.

    Attributes:
        kind: ``"user"`` or ``"jti"``.
        subject: the user id or the token's ``jti``.
        expires_ms: when the record can be forgotten (epoch ms).
        before_ms: for ``user``: tokens issued before this (epoch ms) are revoked.
    """

    kind: RevocationKind
    subject: str
    expires_ms: int
    before_ms: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ConfigurationError(f"unknown revocation kind {self.kind!r}")
        if not isinstance(self.subject, str) or not 0 < len(self.subject) <= MAX_SUBJECT_CHARS:
            raise ConfigurationError(
                f"a revocation names a user id or jti of 1 to {MAX_SUBJECT_CHARS} characters"
            )
        if self.kind == "user" and self.before_ms is None:
            raise ConfigurationError("a user revocation needs before_ms")

    def merged(self, other: Revocation) -> Revocation:
        """Two records of the same subject: the later ``before`` and the later ``expires``."""
        before = self.before_ms
        if other.before_ms is not None:
            before = other.before_ms if before is None else max(before, other.before_ms)
        return Revocation(self.kind, self.subject, max(self.expires_ms, other.expires_ms), before)


def encode_event(record: Revocation, *, removed: bool = False) -> str:
    """The JSON event announcing ``record`` (or its removal) to every process."""
    body: dict[str, Any] = {"t": "unrev" if removed else "rev", "k": record.kind}
    body["s"] = record.subject
    if not removed:
        body["x"] = record.expires_ms
        if record.before_ms is not None:
            body["b"] = record.before_ms
    return json.dumps(body, separators=(",", ":"))


def decode_event(payload: Mapping[str, Any]) -> tuple[Revocation, bool] | None:
    """``(record, removed)`` from an event object, or ``None`` when it is not a revocation
    event. Raises ``ValueError`` for a revocation event that is malformed."""
    kind = payload.get("t")
    if kind not in ("rev", "unrev"):
        return None
    removed = kind == "unrev"
    record_kind, subject = payload.get("k"), payload.get("s")
    if record_kind not in _KINDS or not isinstance(subject, str):
        raise ValueError("a revocation event needs k (user or jti) and s")
    if removed:
        before = 0 if record_kind == "user" else None
        return Revocation(record_kind, subject, 0, before), True
    before_raw = payload.get("b")
    before = None if before_raw is None else _ms(before_raw, "b")
    return Revocation(record_kind, subject, _ms(payload.get("x"), "x"), before), False


@dataclass(frozen=True, slots=True)
class RevocationSet:
    """An immutable snapshot of every live revocation, indexed for the per-request check.

    Attributes:
        users: user id -> revoked-before, in **seconds** (compared with ``iat``).
        jtis: revoked ``jti`` values -> when the record expires (seconds).

    Built only by :meth:`of` / :meth:`with_record`, never changed afterwards (``users`` and
    ``jtis`` are plain dictionaries for lookup speed: treat them as read-only).
    """

    users: dict[str, float] = field(default_factory=dict)
    jtis: dict[str, float] = field(default_factory=dict)
    records: Mapping[tuple[str, str], Revocation] = field(
        default_factory=lambda: MappingProxyType({}), repr=False
    )

    @classmethod
    def of(cls, records: Iterable[Revocation], *, now_ms: int | None = None) -> RevocationSet:
        """A snapshot of ``records`` (later ones merged into earlier ones of the same subject;
        those expired at ``now_ms`` dropped)."""
        merged: dict[tuple[str, str], Revocation] = {}
        for record in records:
            if now_ms is not None and record.expires_ms <= now_ms:
                continue
            key = (record.kind, record.subject)
            old = merged.get(key)
            merged[key] = record if old is None else old.merged(record)
        return cls._build(merged)

    @classmethod
    def _build(cls, merged: dict[tuple[str, str], Revocation]) -> RevocationSet:
        users = {
            r.subject: r.before_ms / 1000.0
            for r in merged.values()
            if r.kind == "user" and r.before_ms is not None
        }
        jtis = {r.subject: r.expires_ms / 1000.0 for r in merged.values() if r.kind == "jti"}
        return cls(users, jtis, MappingProxyType(merged))

    def with_record(
        self, record: Revocation, *, removed: bool = False, replace: bool = False
    ) -> RevocationSet:
        """A new snapshot with ``record`` added (merged with the one of the same subject, or
        replacing it with ``replace``) or removed."""
        merged = dict(self.records)
        key = (record.kind, record.subject)
        if removed:
            merged.pop(key, None)
        else:
            old = merged.get(key)
            merged[key] = record if old is None or replace else old.merged(record)
        return self._build(merged)

    def __len__(self) -> int:
        return len(self.records)

    def check(self, claims: Mapping[str, Any], user_id: str | None) -> None:
        """Raise :class:`SessionRevokedError` when these claims are revoked."""
        self.check_keys(user_id, *token_keys(claims))

    def check_keys(self, user_id: str | None, jti: str | None, iat: float | None) -> None:
        """The same from the keys :func:`token_keys` extracted once (the hot path)."""
        if jti is not None and jti in self.jtis:
            raise _revoked()
        if user_id is not None:
            before = self.users.get(user_id)
            if before is not None and (iat is None or iat < before):
                raise _revoked()


def token_keys(claims: Mapping[str, Any]) -> tuple[str | None, float | None]:
    """``(jti, iat)`` as the check reads them: a non-string ``jti`` names nothing, a ``iat`` that
    is not a number (a bool, a string) is no time."""
    jti, iat = claims.get("jti"), claims.get("iat")
    return (
        jti if type(jti) is str else None,
        cast(float, iat) if type(iat) in _NUMBERS else None,
    )


def _revoked() -> SessionRevokedError:
    # a fresh instance per raise: a shared exception would accumulate tracebacks
    return SessionRevokedError(_REVOKED.message)
