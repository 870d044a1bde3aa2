"""A bounded TTL cache in front of a session store, with single-flight lookups.

* **Hits** are kept for ``ttl`` seconds in a ``cachetools.TTLCache`` of at most ``maxsize``
  entries. The authenticator re-checks expiry against the request clock on every hit, so a
  cached session still ends on time.
* **Misses** (no such token) are kept for ``negative_ttl`` seconds, which blunts floods of
  made-up tokens without keeping a fresh sign-in out for long.
* **Single-flight**: concurrent lookups of one token on one event loop share one query.
* **Blocking callers** (:meth:`CachedStore.load_sync`) share the same caches and ask a store
  that has ``load_sync`` (SQLite) in their own thread.
* Errors (:class:`~sessiongate.errors.ProviderUnavailableError`) are never cached.

The trade-off: a session deleted on the JavaScript side (sign-out, revocation) stays valid
here for up to ``ttl`` seconds. ``ttl=0`` disables caching (every request queries the
database, still single-flighted).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

from ..errors import ConfigurationError, ProviderUnavailableError
from ..observe import CacheStats
from .base import SessionRecord, SessionStore, SyncSessionStore

__all__ = ["CachedStore"]

_MISSING = object()


class CachedStore:
    """Wrap a :class:`SessionStore` with a hit cache, a negative cache and single-flight.

    Args:
        store: the store to query on a miss.
        ttl: seconds a found session is served from memory (0 disables the hit cache).
        negative_ttl: seconds an unknown token is remembered as unknown (0 disables).
        maxsize: most entries in each cache.
        monotonic: the clock the TTLs are measured with (monotonic seconds; injectable for
            tests).

    Expired sessions are cached like live ones (the verdict "expired" is re-derived from the
    request clock on every hit), which also spares the database a flood of stale cookies.
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        ttl: float = 5.0,
        negative_ttl: float = 2.0,
        maxsize: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        for label, value in (("ttl", ttl), ("negative_ttl", negative_ttl)):
            if not math.isfinite(value) or value < 0:
                raise ConfigurationError(f"{label} must be a finite number of seconds >= 0")
        if maxsize <= 0:
            raise ConfigurationError("maxsize must be positive")
        self.store = store
        self._sync_store = store if isinstance(store, SyncSessionStore) else None
        self.ttl = float(ttl)
        self.negative_ttl = float(negative_ttl)
        self._lock = threading.Lock()
        self._hits: TTLCache[str, SessionRecord] | None = (
            TTLCache(maxsize=maxsize, ttl=self.ttl, timer=monotonic) if self.ttl > 0 else None
        )
        self._misses: TTLCache[str, bool] | None = (
            TTLCache(maxsize=maxsize, ttl=self.negative_ttl, timer=monotonic)
            if self.negative_ttl > 0
            else None
        )
        self._inflight: dict[tuple[int, str], asyncio.Future[SessionRecord | None]] = {}
        # bumped by every invalidation: a lookup that started before one is not remembered
        self._generation = 0
        self.queries = 0
        """How many times the wrapped store was queried (for tests and benchmarks)."""
        self.hits = 0
        self.misses = 0
        self.errors = 0
        """Lookups answered from the cache, not, and failed in the store (for metrics)."""

    def __repr__(self) -> str:
        return f"CachedStore({self.store!r}, ttl={self.ttl}, negative_ttl={self.negative_ttl})"

    def get_cached(self, token: str) -> SessionRecord | object | None:
        """A cached answer: a record, ``None`` (known unknown), or a sentinel when not cached."""
        with self._lock:
            if self._hits is not None:
                try:
                    record = self._hits[token]  # one expiry check, not two as .get() does
                except KeyError:
                    pass
                else:
                    self.hits += 1
                    return record
            if self._misses is not None and token in self._misses:
                self.hits += 1
                return None
            self.misses += 1
        return _MISSING

    def cache_stats(self) -> list[CacheStats]:
        """Hits, misses and store errors (:class:`~sessiongate.observe.CacheStatsSource`)."""
        return [CacheStats("session_store", self.hits, self.misses, self.errors)]

    def is_missing(self, value: object) -> bool:
        """Whether :meth:`get_cached` found nothing."""
        return value is _MISSING

    async def load(self, token: str) -> SessionRecord | None:
        """Answer from the cache, or query once for all concurrent callers and remember it."""
        cached = self.get_cached(token)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        loop = asyncio.get_running_loop()
        key = (id(loop), token)
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[SessionRecord | None] = loop.create_future()
        self._inflight[key] = future
        generation = self._generation
        try:
            self.queries += 1
            record = await self.store.load(token)
        except BaseException as exc:
            self.errors += 1
            if not future.done():
                shared = (
                    ProviderUnavailableError("the session lookup was cancelled")
                    if isinstance(exc, asyncio.CancelledError)
                    else exc
                )
                future.set_exception(shared)
                future.exception()  # mark retrieved: there may be no waiter
            raise
        else:
            self._remember(token, record, generation)
            future.set_result(record)
            return record
        finally:
            self._inflight.pop(key, None)

    @property
    def answers_sync(self) -> bool:
        """Whether :meth:`load_sync` can ask the wrapped store from the calling thread."""
        return self._sync_store is not None

    def load_sync(self, token: str) -> SessionRecord | None:
        """Blocking :meth:`load` for a store that has ``load_sync`` (:attr:`answers_sync`).

        Answers from the cache, else asks the store in the calling thread and remembers the
        answer. Concurrent threads asking for the same uncached token may each query it.
        """
        cached = self.get_cached(token)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        store = self._sync_store
        if store is None:
            raise TypeError(f"{self.store!r} has no load_sync: use the background loop")
        generation = self._generation
        self.queries += 1
        try:
            record = store.load_sync(token)
        except BaseException:
            self.errors += 1
            raise
        self._remember(token, record, generation)
        return record

    def _remember(self, token: str, record: SessionRecord | None, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # invalidated while the query ran: the answer may predate the change
            if record is None:
                if self._misses is not None:
                    self._misses[token] = True
                return
            if self._hits is None:
                return
            if self._misses is not None:
                self._misses.pop(token, None)
            self._hits[token] = record

    def invalidate(self, token: str | None = None) -> None:
        """Forget one token (or everything), e.g. after a sign-out seen by this process."""
        with self._lock:
            self._generation += 1
            for cache in (self._hits, self._misses):
                if cache is None:
                    continue
                if token is None:
                    cache.clear()
                else:
                    cache.pop(token, None)

    def invalidate_user(self, user_id: str) -> None:
        """Forget every cached session of one user (a cross-replica event: sign-out, ban)."""
        with self._lock:
            self._generation += 1
            if self._hits is not None:
                for token in [t for t, r in self._hits.items() if r.user_id == user_id]:
                    self._hits.pop(token, None)

    async def aclose(self) -> None:
        """Close the wrapped store."""
        await self.store.aclose()
