"""The key-set cache of :class:`~sessiongate.jwks.JWKSClient`: its state and decisions (no I/O).

This module owns *when* keys are served, refetched or refused; the client does the fetching.
Time is always passed in (``now``, monotonic seconds), so every rule is testable without a
network or a sleeping test:

* a fetched key set is fresh for its TTL; fresh keys are served without any fetch;
* expired keys are refetched; while fetches fail, the last good keys are served for
  ``max_stale`` seconds past their expiry, and a failed fetch is retried at most once per
  ``retry_interval``. A failed fetch never empties the cache;
* an unknown ``kid`` triggers a refetch at most once per ``min_refetch_interval``. It is
  refused as :class:`UnknownKidError` (401) only when the latest fetch succeeded: while the
  endpoint fails (:attr:`KeyCache.failing`), the cached set may be out of date, so the answer
  is :class:`ProviderUnavailableError` (503), never a 401 (the verifier applies the same rule
  to a token without ``kid`` that no cached key fits);
* with no usable keys the answer is :class:`ProviderUnavailableError` (503);
* fetch results are applied in the order the fetches *started*: an older fetch that finishes
  late (say, one that read the key set before an operator removed a key) never replaces the
  result of a newer one;
* ``version`` changes exactly when a fetch brings a different set of usable keys; verifiers key
  their verified-token caches on it, so tokens verified with a removed key are forgotten.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import timedelta

from ..errors import ConfigurationError, ProviderUnavailableError, UnknownKidError
from .keys import JWKSKey, KeySet

__all__ = ["CachePolicy", "KeyCache", "seconds"]


def seconds(value: float | timedelta, what: str, *, positive: bool = False) -> float:
    """A duration option (seconds or ``timedelta``) as finite, non-negative float seconds."""
    total = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if not math.isfinite(total) or total < 0 or (positive and total == 0):
        kind = "positive" if positive else "non-negative"
        raise ConfigurationError(f"{what} must be a finite, {kind} number of seconds")
    return total


@dataclass(frozen=True, slots=True, init=False)
class CachePolicy:
    """The cache's timing rules, validated on construction (see
    :class:`~sessiongate.jwks.JWKSClient` for each option). Durations are seconds or
    ``timedelta``; raises :class:`ConfigurationError` for a negative, infinite or inconsistent one.
    """

    cache_ttl: float
    min_cache_ttl: float
    max_cache_ttl: float
    min_refetch_interval: float
    retry_interval: float
    max_stale: float

    def __init__(
        self,
        *,
        cache_ttl: float | timedelta = 600.0,
        min_cache_ttl: float | timedelta = 60.0,
        max_cache_ttl: float | timedelta = 3600.0,
        min_refetch_interval: float | timedelta = 30.0,
        retry_interval: float | timedelta = 5.0,
        max_stale: float | timedelta = 3600.0,
    ) -> None:
        values = {
            "cache_ttl": seconds(cache_ttl, "cache_ttl", positive=True),
            "min_cache_ttl": seconds(min_cache_ttl, "min_cache_ttl"),
            "max_cache_ttl": seconds(max_cache_ttl, "max_cache_ttl", positive=True),
            "min_refetch_interval": seconds(min_refetch_interval, "min_refetch_interval"),
            "retry_interval": seconds(retry_interval, "retry_interval"),
            "max_stale": seconds(max_stale, "max_stale"),
        }
        if values["min_cache_ttl"] > values["max_cache_ttl"]:
            raise ConfigurationError("min_cache_ttl must not exceed max_cache_ttl")
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def ttl(self, max_age: float | None) -> float:
        """How long a fetched set is fresh: the server's ``max-age`` within bounds, or the TTL."""
        if max_age is None:
            return self.cache_ttl
        return min(max(max_age, self.min_cache_ttl), self.max_cache_ttl)


@dataclass(frozen=True, slots=True)
class _Entry:
    keyset: KeySet
    expires_at: float  # monotonic


class KeyCache:
    """The cached key set and the bookkeeping that decides fetches (thread-safe, no I/O).

    Reads of the current entry are lock-free (one attribute read); every change happens under
    one ``threading.Lock``.
    """

    def __init__(self, policy: CachePolicy) -> None:
        self.policy = policy
        self._entry: _Entry | None = None
        self._version = 0
        self._generation = 0  # bumped by every completed fetch (the "check again" token)
        self._tickets = 0  # fetch start order
        self._applied_ticket = 0  # the ticket of the fetch whose keys are cached
        self._failed_ticket = 0  # the ticket of the newest failed fetch
        self._last_attempt = -math.inf
        self._last_failure: float | None = None
        self._fetch_count = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ introspection

    @property
    def version(self) -> int:
        """Bumped each time a fetch brings a *different* set of usable keys."""
        return self._version

    @property
    def fetch_count(self) -> int:
        """How many fetches completed (successful or not)."""
        return self._fetch_count

    @property
    def kids(self) -> tuple[str | None, ...]:
        """The ``kid`` of each cached key (stale or fresh); empty before the first fetch."""
        entry = self._entry
        return entry.keyset.kids if entry is not None else ()

    @property
    def failing(self) -> bool:
        """Whether the newest fetch failed: the cached set (if any) may be out of date."""
        return self._last_failure is not None

    # ------------------------------------------------------------------ serving

    def lookup(self, kid: str | None, now: float) -> tuple[JWKSKey, ...] | None:
        """The fast path: the keys for ``kid`` when the cached set is fresh and knows it."""
        entry = self._entry
        if entry is None or now >= entry.expires_at:
            return None
        return entry.keyset.lookup(kid)

    def stale_usable(self, kid: str | None, now: float) -> bool:
        """Whether the cached set can answer for ``kid`` now, fresh or within ``max_stale``."""
        entry = self._entry
        return (
            entry is not None
            and now < entry.expires_at + self.policy.max_stale
            and entry.keyset.lookup(kid) is not None
        )

    def serve(self, kid: str | None, now: float) -> tuple[JWKSKey, ...]:
        """The keys for ``kid`` after any fetch: fresh or stale keys, else the right error."""
        entry = self._entry
        if entry is None or now >= entry.expires_at + self.policy.max_stale:
            raise ProviderUnavailableError(
                "the JWKS endpoint is unavailable and no keys are cached"
            )
        keys = entry.keyset.lookup(kid)
        if keys is None:
            if self.failing:
                raise ProviderUnavailableError(
                    "the token's key is not in the cached key set and the JWKS endpoint is "
                    "unavailable"
                )
            raise UnknownKidError()
        return keys

    # ------------------------------------------------------------------ fetch decisions

    def _should_fetch(self, kid: str | None, now: float) -> bool:
        entry = self._entry
        if entry is None or now >= entry.expires_at:
            failed = self._last_failure
            return failed is None or now - failed >= self.policy.retry_interval
        if kid is not None and kid not in entry.keyset.by_kid:
            return now - self._last_attempt >= self.policy.min_refetch_interval
        return False

    def plan(self, kid: str | None, now: float) -> tuple[int, bool]:
        """The first check: the current generation and whether a fetch is due for ``kid``."""
        with self._lock:
            return self._generation, self._should_fetch(kid, now)

    def still_needed(self, generation: int, kid: str | None, now: float) -> bool:
        """The check again, under the fetch lock: nobody fetched meanwhile and one is still due."""
        with self._lock:
            return self._generation == generation and self._should_fetch(kid, now)

    # ------------------------------------------------------------------ fetch results

    def begin(self) -> int:
        """A ticket for a fetch about to start; results are applied in ticket order."""
        with self._lock:
            self._tickets += 1
            return self._tickets

    def record_success(
        self, ticket: int, started: float, keyset: KeySet, ttl: float, now: float
    ) -> bool:
        """Cache ``keyset`` unless a newer fetch's result is already cached.

        Returns whether ``keyset`` was applied (``False`` for a late, superseded result).
        """
        with self._lock:
            self._finish(started)
            if ticket < self._applied_ticket:
                return False
            entry = self._entry
            if entry is None or entry.keyset.fingerprint != keyset.fingerprint:
                self._version += 1
            self._entry = _Entry(keyset, now + ttl)
            self._applied_ticket = ticket
            if ticket > self._failed_ticket:
                self._last_failure = None
            return True

    def record_failure(self, ticket: int, started: float, now: float) -> bool:
        """Note a failed fetch; the cached keys stay. Returns whether any keys are cached.

        A failure of a fetch older than the cached result does not mark an outage.
        """
        with self._lock:
            self._finish(started)
            if ticket > self._applied_ticket and ticket > self._failed_ticket:
                self._last_failure = now
                self._failed_ticket = ticket
            return self._entry is not None

    def _finish(self, started: float) -> None:
        self._last_attempt = max(self._last_attempt, started)
        self._generation += 1
        self._fetch_count += 1
