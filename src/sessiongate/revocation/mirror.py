"""The per-process mirror of the revocation list: checked on every request, no I/O on the way.

A :class:`RevocationMirror` holds an immutable :class:`~.rules.RevocationSet` and answers
:meth:`RevocationMirror.check` from memory. It is a listener subscriber
(:mod:`sessiongate.stores.notify`): loaded when the listener connects (after ``LISTEN`` /
``SUBSCRIBE``, so no record can fall between the load and the first event), updated by each
revocation event, and *proven fresh* by the listener's pings.

Freshness, and what happens without it:

* loaded and proven within ``max_stale`` seconds (default 5, the session cache's TTL): checked
  from memory;
* never loaded (the revocation store unreachable at start): every check raises
  :class:`~sessiongate.errors.ProviderUnavailableError` (503), fail closed;
* not proven for longer than ``max_stale`` (the listener lost, the store unreachable): 503 by
  default; with ``stale_grace=N`` the last mirror keeps being served for ``N`` more seconds
  (a revocation written meanwhile is not seen on this process), then 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from ..errors import ConfigurationError, ProviderUnavailableError
from ..user import ClaimMapping
from .rules import Revocation, RevocationSet, decode_event, token_keys

__all__ = ["RevocationBackend", "RevocationMirror"]

logger = logging.getLogger("sessiongate")


@runtime_checkable
class RevocationBackend(Protocol):
    """Where revocation records live (PostgreSQL, Redis)."""

    async def load(self) -> list[Revocation]:
        """Every live record; raises :class:`ProviderUnavailableError` when unreachable."""
        ...

    async def write(self, record: Revocation) -> None:
        """Store ``record`` (merged with an existing one) and announce it to every process."""
        ...

    async def remove(self, kind: str, subject: str) -> bool:
        """Delete a record and announce it; ``True`` when there was one."""
        ...

    async def fetch(self, kind: str, subject: str) -> Revocation | None:
        """The stored record of one subject (``None``: none, or expired)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class RevocationMirror:
    """The local copy of the revocation list (a listener subscriber).

    Args:
        backend: where the records live (:class:`~.postgres.PostgresRevocations`,
            :class:`~.redis.RedisRevocations`).
        max_stale: seconds the mirror is trusted after the listener last proved its
            connection (pings every second by default).
        stale_grace: extra seconds to keep serving the last mirror once it is stale (0: fail
            closed with 503 as soon as it is stale).
        claim_mapping: which claim is the user id (the gate's mapping; default ``sub``, ``id``,
            ``userId``...).
        timer: monotonic clock (injectable for tests).
    """

    def __init__(
        self,
        backend: RevocationBackend,
        *,
        max_stale: float = 5.0,
        stale_grace: float = 0.0,
        claim_mapping: ClaimMapping | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(backend, RevocationBackend):
            raise ConfigurationError(f"{backend!r} is not a revocation backend")
        for label, value in (("max_stale", max_stale), ("stale_grace", stale_grace)):
            if not math.isfinite(value) or value < 0:
                raise ConfigurationError(f"{label} must be a finite number of seconds >= 0")
        if max_stale <= 0:
            raise ConfigurationError("max_stale must be positive")
        self.backend = backend
        self.max_stale = float(max_stale)
        self.stale_grace = float(stale_grace)
        self._user_id = (claim_mapping or ClaimMapping()).user_id
        self._timer = timer
        self._set = RevocationSet()
        self._loaded = False
        self._absent = False
        self._fresh_until = -math.inf
        self._pending: list[tuple[Revocation, bool]] | None = None
        self._warned_stale = False
        self._queue: asyncio.Queue[tuple[str, str]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.loads = 0
        self.confirmed = 0
        """How many events were checked against the store (for tests)."""
        self.listener: Any = None

    def __repr__(self) -> str:
        return f"RevocationMirror({self.backend!r}, records={len(self._set)})"

    @property
    def records(self) -> RevocationSet:
        """The current snapshot."""
        return self._set

    @property
    def loaded(self) -> bool:
        """Whether the mirror was loaded at least once."""
        return self._loaded

    # ---------------------------------------------------------------- the hot path

    def check(self, claims: Mapping[str, Any]) -> None:
        """Raise :class:`SessionRevokedError` for revoked claims, 503 when the mirror cannot be
        trusted; return ``None`` otherwise. No I/O."""
        self.check_keys(*self.keys(claims))

    def keys(self, claims: Mapping[str, Any]) -> tuple[str | None, str | None, float | None]:
        """``(user id, jti, iat)`` of verified claims: what :meth:`check_keys` compares. The
        claims of a verdict are read-only, so a caller may compute this once per verdict."""
        return (self._user_id(claims), *token_keys(claims))

    def check_keys(self, user_id: str | None, jti: str | None, iat: float | None) -> None:
        """:meth:`check` with the keys extracted beforehand (the per-request hot path)."""
        if self._timer() > self._fresh_until:
            self._stale()
        self._set.check_keys(user_id, jti, iat)

    def _stale(self) -> None:
        listener = self.listener
        if listener is not None:
            listener.ensure_started()  # a forked child, or a listener never started
        if not self._loaded:
            raise ProviderUnavailableError("the revocation list is not loaded yet")
        if self._timer() <= self._fresh_until + self.stale_grace:
            if not self._warned_stale:
                self._warned_stale = True
                logger.warning("serving the last revocation list while its store is unreachable")
            return
        raise ProviderUnavailableError("the revocation list could not be refreshed in time")

    # ---------------------------------------------------------------- updates

    async def reload(self) -> None:
        """Load every record from the backend and replace the mirror (events that arrive
        meanwhile are applied on top)."""
        self._pending = []
        try:
            records = await self.backend.load()
        except BaseException:
            self._pending = None
            raise
        pending, self._pending = self._pending, None
        snapshot = RevocationSet.of(records, now_ms=int(time.time() * 1000))
        for record, removed in pending:
            snapshot = snapshot.with_record(record, removed=removed)
        self._set = snapshot
        self._loaded = True
        # a store that turned out to hold no revocation list at all (start-up detection could
        # not tell): nothing to mirror, so nothing to keep fresh, until a revocation event
        self._absent = getattr(self.backend, "found_table", True) is False and not len(snapshot)
        self.loads += 1
        self._prove(self._timer())

    def apply(self, record: Revocation, *, removed: bool = False) -> None:
        """Apply one record to the mirror (what an event does; also for tests)."""
        if self._pending is not None:
            self._pending.append((record, removed))
        self._set = self._set.with_record(record, removed=removed)

    def _prove(self, at: float) -> None:
        if self._loaded:
            self._fresh_until = math.inf if self._absent else at + self.max_stale
            self._warned_stale = False

    # ---------------------------------------------------------------- listener subscriber

    async def on_connected(self) -> None:
        await self.reload()

    def on_lost(self) -> None:
        return None  # freshness runs out by itself after max_stale

    def on_event(self, event: Mapping[str, Any]) -> None:
        """An event is a hint, never the truth: any database role may ``NOTIFY`` and any Redis
        client may ``PUBLISH``. A revocation is applied at once (it only makes the mirror
        stricter) and then checked against the store; a removal only after the store confirms
        it. Checks run one at a time, in the order the events came."""
        try:
            decoded = decode_event(event)
        except (ValueError, ConfigurationError):
            logger.error("malformed revocation event ignored")
            return
        if decoded is None:
            return
        record, removed = decoded
        if self._absent:  # the list exists after all
            self._absent = False
            self._prove(self._timer())
        if not removed:
            self.apply(record)
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # called from plain code (tests, scripts): confirm in place
            asyncio.run(self.confirm(record.kind, record.subject))
            return
        queue = self._queue
        if queue is None or self._worker is None or self._worker.done():
            queue = self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._confirm_all(queue))
        queue.put_nowait((record.kind, record.subject))

    async def _confirm_all(self, queue: asyncio.Queue[tuple[str, str]]) -> None:
        while True:
            kind, subject = await queue.get()
            try:
                await self.confirm(kind, subject)
            except Exception as exc:  # the store is unreachable: keep the stricter state
                logger.warning("revocation event not confirmed: %s", type(exc).__name__)

    async def confirm(self, kind: str, subject: str) -> None:
        """Make the mirror's record of one subject what the store holds."""
        stored = await self.backend.fetch(kind, subject)
        if stored is None:
            before = 0 if kind == "user" else None
            self.apply(Revocation(kind, subject, 0, before), removed=True)  # type: ignore[arg-type]
        else:
            if self._pending is not None:
                self._pending.append((stored, False))
            self._set = self._set.with_record(stored, replace=True)
        self.confirmed += 1

    def on_alive(self, at: float) -> None:
        self._prove(at)

    async def aclose(self) -> None:
        """Stop confirming events (the listener calls this when it stops)."""
        worker, self._worker, self._queue = self._worker, None, None
        if worker is not None and not worker.done():
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def wait_loaded(self, timeout: float) -> bool:
        """Wait until the first load; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        while not self._loaded:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True
