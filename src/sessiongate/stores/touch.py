"""Opt-in: extend Auth.js database sessions as ``@auth/core`` does (``session.updateAge``).

sessiongate only reads session rows. With Auth.js's database strategy the *JavaScript* side
extends a session when it serves ``/api/auth/session`` (``useSession``, ``auth()``,
``getServerSession``): ``@auth/core`` 0.41.3 ``lib/actions/session.js`` computes

.. code-block:: javascript

    sessionIsDueToBeUpdatedDate = session.expires.valueOf() - sessionMaxAge * 1000
                                  + sessionUpdateAge * 1000
    if (sessionIsDueToBeUpdatedDate <= Date.now())
        await updateSession({ sessionToken, expires: fromDate(sessionMaxAge) })  // now + maxAge

(defaults: ``maxAge`` 30 days, ``updateAge`` 1 day), and deletes a session whose ``expires`` is
in the past. Traffic that only reaches the Python API therefore never extends a session: it
ends ``maxAge`` after the last time the Next.js app served it, however busy the API is.

:class:`TouchingStore` is the opt-in remedy, **off unless you wrap a store in it**. When a
lookup (a cache miss) finds a live session that is due by the formula above, it writes
``expires = now + max_age`` through the store, in one transaction that locks the row and checks
the formula again on the value it locked. So one UPDATE happens per session per threshold
crossing, never per request: concurrent requests in one process share one touch, and across
processes and replicas the second transaction finds the new expiry and writes nothing. Expired
sessions are never extended (and never deleted: that stays the JavaScript side's job).

The new expiry is written in the representation the row already holds (see
:func:`encode_like`: a native timestamp with or without time zone, ISO-8601 text in the same
spelling, integer or decimal-text milliseconds, integer seconds), so Prisma, Drizzle, TypeORM
and the pg adapter read it back unchanged.

A failed touch (the role may not ``UPDATE``, the database is read-only, a lock wait timed out)
never fails the request: the session was read and is valid. It is logged (error type only) and
not retried for that session for ``retry_after`` seconds.

Limits: the browser's cookie keeps the ``Expires`` the JavaScript side last set (``maxAge``
after sign-in or the last ``/api/auth/session``); this extends the database row, not the
cookie. Better Auth refreshes sessions by the same formula but also writes ``updatedAt`` and
re-sets its cookie: its presets are refused here.

Stores: :class:`~sessiongate.stores.PostgresStore` (the role needs ``UPDATE`` on the session
table) and :class:`~sessiongate.stores.SQLiteStore` opened with ``read_only=False``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from cachetools import TTLCache

from ..errors import ConfigurationError, ProviderUnavailableError
from .base import SessionRecord
from .schema import SchemaMapping
from .timestamps import UNIT_BOUNDARY

__all__ = [
    "ExpiryWriter",
    "SyncTouchingStore",
    "TouchingStore",
    "UpdateAge",
    "encode_like",
    "touching",
]

logger = logging.getLogger("sessiongate")

DAY = 24 * 60 * 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_ISO = re.compile(
    r"(\d{4}-\d{2}-\d{2})([T ])(\d{2}:\d{2})(:\d{2})?(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)
_DECIMAL = re.compile(r"-?\d{1,20}(?:\.\d{1,9})?", re.ASCII)

Decide = Callable[[Any], Any]
"""Given the stored expiry (as the driver returns it), the value to write, or ``None``."""


@dataclass(frozen=True, slots=True)
class UpdateAge:
    """``session.maxAge`` and ``session.updateAge`` of the Auth.js config, in seconds.

    The arithmetic is ``@auth/core``'s, in integer milliseconds as JavaScript's ``Date`` has
    them. ``update_age`` must be positive (``0`` would extend on every request) and below
    ``max_age`` (at or above it no live session is ever due).
    """

    max_age: float = 30 * DAY
    update_age: float = DAY

    def __post_init__(self) -> None:
        for label, value in (("max_age", self.max_age), ("update_age", self.update_age)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigurationError(f"{label} must be a number of seconds")
            if not math.isfinite(value) or value <= 0:
                raise ConfigurationError(f"{label} must be a positive, finite number of seconds")
        if self.update_age >= self.max_age:
            raise ConfigurationError(
                "update_age must be below max_age (at or above it no live session is ever due)"
            )

    def is_due(self, expires_ms: int, now_ms: int) -> bool:
        """``expires - maxAge*1000 + updateAge*1000 <= Date.now()``."""
        return expires_ms - self.max_age * 1000 + self.update_age * 1000 <= now_ms

    def new_expires_ms(self, now_ms: int) -> int:
        """``fromDate(maxAge)``: ``Date.now() + maxAge*1000``."""
        return now_ms + math.floor(self.max_age * 1000)


def _ms(value: datetime) -> int:
    """Integer milliseconds since 1970 of an aware datetime, as ``Date.valueOf()`` has them."""
    return (value - _EPOCH) // _ONE_MS


def _utc(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def encode_like(stored: object, new_ms: int, *, unit_seconds: bool = False) -> Any:
    """``new_ms`` (milliseconds since 1970) in the representation of ``stored``.

    * a ``datetime`` -> a ``datetime``, naive UTC when ``stored`` is naive (``timestamp``
      columns: Prisma, Drizzle) and aware UTC otherwise (``timestamptz``);
    * ISO-8601 text -> the same spelling: separator, seconds, fraction digits and UTC offset
      style (``Z``, ``+00:00``, ``+0000`` or none), in UTC;
    * an integer -> milliseconds, or seconds when ``unit_seconds`` (the mapping's
      ``expires_format="epoch_s"``) or when the stored value is below 10^11;
    * decimal text -> decimal text of milliseconds (TypeORM), or seconds as above.

    Raises ``ValueError`` for anything else (the touch is then skipped).
    """
    if isinstance(stored, bool):
        raise ValueError("a boolean is not an expiry")
    new = _utc(new_ms)
    if isinstance(stored, datetime):
        return new if stored.tzinfo is not None else new.replace(tzinfo=None)
    if isinstance(stored, (int, float)):
        seconds = unit_seconds or stored < UNIT_BOUNDARY
        return new_ms // 1000 if seconds else new_ms
    if isinstance(stored, str):
        text = stored.strip()
        if _DECIMAL.fullmatch(text):
            seconds = unit_seconds or float(text) < UNIT_BOUNDARY
            return str(new_ms // 1000 if seconds else new_ms)
        match = _ISO.fullmatch(text)
        if match is None:
            raise ValueError("the stored expiry is text of no known date format")
        _day, separator, _clock, with_seconds, fraction, offset = match.groups()
        pattern = f"%Y-%m-%d{separator}%H:%M" + (":%S" if with_seconds else "")
        written = new.strftime(pattern)
        if fraction:
            digits = len(fraction)
            written += "." + f"{new.microsecond:06d}{'0' * max(0, digits - 6)}"[:digits]
        if offset is not None:
            written += (
                "Z" if offset == "Z" else ("+00:00" if ":" in offset else "+0000"[: len(offset)])
            )
        return written
    raise ValueError(f"cannot write an expiry like a stored {type(stored).__name__}")


@runtime_checkable
class ExpiryWriter(Protocol):
    """A store that can rewrite one session's expiry in a transaction (PostgreSQL, SQLite)."""

    schema: SchemaMapping

    async def load(self, token: str) -> SessionRecord | None:
        """The lookup (see :class:`~sessiongate.stores.SessionStore`)."""
        ...

    async def update_expiry(self, token: str, decide: Decide) -> bool:
        """Lock the row of ``token``, pass its stored expiry to ``decide`` and write what it
        returns (nothing for ``None``); ``True`` when a row was written. Faults raise
        :class:`ProviderUnavailableError`."""
        ...

    async def aclose(self) -> None:
        """Release connections and threads."""
        ...


class TouchingStore:
    """A session store that extends due Auth.js sessions as ``@auth/core`` does (opt-in).

    Build it with :func:`touching`; see the module docstring for the rule and its limits.

    Args:
        store: a :class:`~sessiongate.stores.PostgresStore`, or a
            :class:`~sessiongate.stores.SQLiteStore` opened with ``read_only=False``. Not a
            :class:`~sessiongate.stores.CachedStore`: the authenticator puts its cache in front
            of this one, so only cache misses are checked.
        max_age / update_age: ``session.maxAge`` / ``session.updateAge`` of the Auth.js
            config, in seconds or as ``timedelta`` (defaults 30 days / 1 day, as Auth.js).
        retry_after: seconds a session whose touch failed is not touched again.
        clock: wall-clock UNIX seconds (injectable for tests).
    """

    def __init__(
        self,
        store: ExpiryWriter,
        *,
        max_age: float | timedelta = 30 * DAY,
        update_age: float | timedelta = DAY,
        retry_after: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(store, ExpiryWriter):
            raise ConfigurationError(
                f"{store!r} cannot extend sessions: touching works on PostgresStore and "
                "SQLiteStore(read_only=False), wrapped before any CachedStore"
            )
        if getattr(store, "read_only", False):
            raise ConfigurationError(
                "the SQLite store is read-only: open it with SQLiteStore(..., read_only=False) "
                "to let sessiongate extend sessions"
            )
        if store.schema.name.startswith("better-auth"):
            raise ConfigurationError(
                "touching implements Auth.js's updateAge; Better Auth also writes updatedAt "
                "and re-sets its cookie, which sessiongate does not do"
            )
        self.policy = UpdateAge(_seconds(max_age), _seconds(update_age))
        if not math.isfinite(retry_after) or retry_after < 0:
            raise ConfigurationError("retry_after must be a finite number of seconds >= 0")
        self.store = store
        self.schema = store.schema
        self.clock = clock
        self.touches = 0
        """How many sessions this store extended (for tests and metrics)."""
        self._unit_seconds = store.schema.expires_format == "epoch_s"
        self._inflight: dict[tuple[int, str], asyncio.Future[int | None]] = {}
        self._lock = threading.Lock()
        self._backoff: TTLCache[str, bool] | None = (
            TTLCache(maxsize=10_000, ttl=retry_after, timer=time.monotonic)
            if retry_after > 0
            else None
        )

    def __repr__(self) -> str:
        policy = self.policy
        return (
            f"TouchingStore({self.store!r}, max_age={policy.max_age:g}, "
            f"update_age={policy.update_age:g})"
        )

    @property
    def timeout(self) -> float:
        """The wrapped store's per-lookup timeout (blocking callers wait twice that)."""
        return float(getattr(self.store, "timeout", 5.0))

    # ------------------------------------------------------------------ the rule

    def _due(self, token: str, record: SessionRecord, now_ms: int) -> bool:
        expires_ms = _ms(record.expires)
        if expires_ms < now_ms:  # expired: Auth.js deletes it; never extended here
            return False
        if not self.policy.is_due(expires_ms, now_ms):
            return False
        with self._lock:
            return self._backoff is None or token not in self._backoff

    def _decide(self, now_ms: int) -> tuple[Decide, list[int]]:
        """The decision run on the locked row, and where it leaves the expiry it wrote."""
        written: list[int] = []

        def decide(stored: object) -> Any:
            current = _ms(self.schema.parse_expires(stored))
            if current < now_ms or not self.policy.is_due(current, now_ms):
                return None  # expired meanwhile, or another process extended it already
            new_ms = self.policy.new_expires_ms(now_ms)
            try:
                value = encode_like(stored, new_ms, unit_seconds=self._unit_seconds)
            except ValueError:
                raise ProviderUnavailableError(
                    "the session expiry is stored in a form sessiongate cannot write back"
                ) from None
            # the instant as stored (seconds or minutes precision truncate it), read back the
            # way every later lookup reads it
            written.append(_ms(self.schema.parse_expires(value)))
            return value

        return decide, written

    def _failed(self, token: str, err: Exception) -> None:
        with self._lock:
            if self._backoff is not None:
                self._backoff[token] = True
        logger.warning(
            "session touch failed (%s); the session stays valid, not retried for %gs",
            type(err).__name__,
            self._backoff.ttl if self._backoff is not None else 0,
        )

    def _result(self, record: SessionRecord, written: list[int]) -> SessionRecord:
        if not written:
            return record
        self.touches += 1
        return replace(record, expires=_utc(written[0]))

    # ------------------------------------------------------------------ store protocol

    async def load(self, token: str) -> SessionRecord | None:
        """Look ``token`` up; extend the session first when it is due."""
        record = await self.store.load(token)
        now_ms = math.floor(self.clock() * 1000)
        if record is None or not self._due(token, record, now_ms):
            return record
        loop = asyncio.get_running_loop()
        key = (id(loop), token)
        pending = self._inflight.get(key)
        if pending is not None:  # another request of this loop is extending it
            new_ms = await asyncio.shield(pending)
            return record if new_ms is None else replace(record, expires=_utc(new_ms))
        future: asyncio.Future[int | None] = loop.create_future()
        self._inflight[key] = future
        written: list[int] = []
        try:
            decide, written = self._decide(now_ms)
            await self.store.update_expiry(token, decide)
        except (ProviderUnavailableError, ConfigurationError) as err:
            self._failed(token, err)
            written.clear()
        finally:
            future.set_result(written[0] if written else None)
            self._inflight.pop(key, None)
        return self._result(record, written)

    async def aclose(self) -> None:
        """Close the wrapped store."""
        await self.store.aclose()


class SyncTouchingStore(TouchingStore):
    """:class:`TouchingStore` over a store that also answers from the calling thread
    (SQLite): blocking callers look up and extend in their own thread."""

    def load_sync(self, token: str) -> SessionRecord | None:
        """Blocking :meth:`TouchingStore.load`."""
        store: Any = self.store
        record: SessionRecord | None = store.load_sync(token)
        now_ms = math.floor(self.clock() * 1000)
        if record is None or not self._due(token, record, now_ms):
            return record
        decide, written = self._decide(now_ms)
        try:
            store.update_expiry_sync(token, decide)
        except (ProviderUnavailableError, ConfigurationError) as err:
            self._failed(token, err)
            written.clear()
        return self._result(record, written)


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else value


def touching(
    store: ExpiryWriter,
    *,
    max_age: float | timedelta = 30 * DAY,
    update_age: float | timedelta = DAY,
    retry_after: float = 60.0,
    clock: Callable[[], float] = time.time,
) -> TouchingStore:
    """Wrap ``store`` so that due sessions are extended (see :class:`TouchingStore`)::

        store = touching(PostgresStore(DATABASE_URL, schema="authjs-prisma"),
                         max_age=30 * 86400, update_age=86400)
        auth = DatabaseSession(store)

    The result also answers from the calling thread when ``store`` does (SQLite).
    """
    sync = callable(getattr(store, "load_sync", None)) and callable(
        getattr(store, "update_expiry_sync", None)
    )
    cls = SyncTouchingStore if sync else TouchingStore
    return cls(store, max_age=max_age, update_age=update_age, retry_after=retry_after, clock=clock)
