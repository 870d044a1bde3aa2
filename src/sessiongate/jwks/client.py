"""The JWKS key-set client: one cache, shared by async and sync callers, and its fetch locks.

:class:`JWKSClient` composes the pure cache rules of :mod:`sessiongate.jwks.cache` (when to
serve, refetch or refuse) with the HTTP fetch of :mod:`sessiongate.jwks.fetch`, and owns only
what joins them:

* single-flight refreshes: check, take the lock, check again, so concurrent callers share one
  fetch (an ``asyncio.Lock`` per event loop for async callers, a ``threading.Lock`` for sync
  callers). While one caller refreshes expired keys, others keep verifying with the
  still-usable ones instead of queueing behind it;
* the sync path runs the async fetch on the shared background loop, so a server that drips
  its response holds a WSGI worker for at most ``timeout`` seconds, as on the async path;
* :meth:`JWKSClient.force_refresh` / :meth:`JWKSClient.force_refresh_sync`: fetch now,
  ignoring the TTL and the refetch rate limits, for an operator who removed a key (for
  instance a compromised one) from the JWKS. Without it, a removed key is still served until
  the cached set expires (``cache_ttl``, or the server's ``max-age`` within
  ``min_cache_ttl``..``max_cache_ttl``), and for up to ``max_stale`` more while the endpoint
  fails.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable
from datetime import timedelta

from .._sync import default_loop
from ..errors import ConfigurationError, ProviderUnavailableError
from .cache import CachePolicy, KeyCache
from .fetch import FetchError, FetchOptions, check_url, fetch_key_set
from .keys import JWKSKey

__all__ = ["JWKSClient"]

logger = logging.getLogger("sessiongate")


class JWKSClient:
    """A JWKS cache shared by async and sync callers.

    The rules: :mod:`sessiongate.jwks.cache` (serving, refetching, outages),
    :mod:`sessiongate.jwks.fetch` (the network), :mod:`sessiongate.jwks.keys` (which keys are
    usable).

    Args:
        url: the JWKS URL. Give either this or ``issuer``.
        issuer: an OpenID Connect issuer: the JWKS URL is read from
            ``{issuer}/.well-known/openid-configuration`` (``jwks_uri``) on the first fetch, and
            the document's ``issuer`` must equal this value.
        cache_ttl: how long fetched keys are fresh when the server sends no ``max-age``.
        min_cache_ttl, max_cache_ttl: bounds applied to a server's ``Cache-Control: max-age``.
        min_refetch_interval: at most one refetch per this many seconds for an unknown ``kid``.
        retry_interval: after a failed fetch, wait this long before trying again.
        max_stale: serve the last good keys this long past their expiry while fetches fail.
        timeout: bound on one whole fetch (connect, redirects, body), in seconds; at most 60.
        max_response_bytes: body size cap (at most 16 MiB).
        allow_http: accept ``http`` URLs (tests on loopback, local development).
        monotonic: the clock of the cache's TTLs and intervals (monotonic seconds); injectable
            for tests.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        issuer: str | None = None,
        cache_ttl: float | timedelta = 600,
        min_cache_ttl: float | timedelta = 60,
        max_cache_ttl: float | timedelta = 3600,
        min_refetch_interval: float | timedelta = 30,
        retry_interval: float | timedelta = 5,
        max_stale: float | timedelta = 3600,
        timeout: float | timedelta = 5,
        max_response_bytes: int = 512 * 1024,
        allow_http: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if (url is None) == (issuer is None):
            raise ConfigurationError("JWKSClient needs exactly one of url= or issuer=")
        try:
            if url is not None:
                check_url(url, allow_http, "the JWKS URL")
            if issuer is not None:
                check_url(issuer, allow_http, "the issuer URL")
        except ValueError as err:
            raise ConfigurationError(str(err)) from None
        self.url = url
        self.issuer = issuer
        self.policy = CachePolicy(
            cache_ttl=cache_ttl,
            min_cache_ttl=min_cache_ttl,
            max_cache_ttl=max_cache_ttl,
            min_refetch_interval=min_refetch_interval,
            retry_interval=retry_interval,
            max_stale=max_stale,
        )
        self.options = FetchOptions(
            timeout=timeout, max_response_bytes=max_response_bytes, allow_http=allow_http
        )
        self.monotonic = monotonic
        self._jwks_uri: str | None = url
        self._cache = KeyCache(self.policy)
        self._loop_locks_guard = threading.Lock()
        self._sync_lock = threading.Lock()
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        where = f"url={self.url!r}" if self.url is not None else f"issuer={self.issuer!r}"
        return f"JWKSClient({where})"

    # ------------------------------------------------------------------ introspection

    @property
    def version(self) -> int:
        """Bumped each time a fetch brings a *different* set of usable keys."""
        return self._cache.version

    @property
    def fetch_count(self) -> int:
        """How many fetch attempts completed (successful or not); for metrics and tests."""
        return self._cache.fetch_count

    @property
    def kids(self) -> tuple[str | None, ...]:
        """The ``kid`` of each cached key (stale or fresh); empty before the first fetch."""
        return self._cache.kids

    @property
    def failing(self) -> bool:
        """Whether the newest fetch failed (the cached keys may be out of date)."""
        return self._cache.failing

    # ------------------------------------------------------------------ fetching

    async def _fetch_once(self, ticket: int, started: float) -> bool:
        """One fetch; never raises. Returns whether it brought a key set."""
        try:
            fetched = await fetch_key_set(self.options, jwks_uri=self._jwks_uri, issuer=self.issuer)
        except FetchError as err:
            reason = str(err)
        except TimeoutError:
            reason = "timed out"
        except Exception as err:  # any failure keeps the cache: report it, never raise it
            reason = type(err).__name__
        else:
            self._jwks_uri = fetched.jwks_uri
            ttl = self.policy.ttl(fetched.max_age)
            self._cache.record_success(ticket, started, fetched.keyset, ttl, self.monotonic())
            return True
        self._record_failure(ticket, started, reason)
        return False

    def _record_failure(self, ticket: int, started: float, reason: str) -> None:
        cached = self._cache.record_failure(ticket, started, self.monotonic())
        logger.warning(
            "JWKS fetch from %s failed (%s); %s",
            self._jwks_uri or self.issuer,
            reason,
            "keeping the cached keys" if cached else "no keys are cached",
        )

    async def _fetch_async(self) -> bool:
        return await self._fetch_once(self._cache.begin(), self.monotonic())

    def _fetch_sync(self) -> bool:
        """The synchronous fetch: the async fetch run on the shared background loop.

        httpx's sync timeouts apply per operation (connect, each read), so a server that drips
        its headers and body could hold a WSGI worker for several times ``timeout``. The async
        fetch enforces one total deadline (``asyncio.timeout``); running it on the background
        loop gives sync callers the same bound.
        """
        ticket, started = self._cache.begin(), self.monotonic()
        try:
            return default_loop().run(
                self._fetch_once(ticket, started), timeout=self.options.timeout + 1.0
            )
        except Exception as err:  # never raise from a fetch: keep the cache, report the failure
            self._record_failure(ticket, started, type(err).__name__)
            return False

    def _async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._loop_locks_guard:
            lock = self._async_locks.get(loop)
            if lock is None:
                lock = self._async_locks[loop] = asyncio.Lock()
        return lock

    # ------------------------------------------------------------------ public API

    async def get_signing_keys(self, kid: str | None) -> tuple[JWKSKey, ...]:
        """The keys for ``kid`` (all keys when ``None``), fetching if needed.

        Raises :class:`UnknownKidError` (401) or :class:`ProviderUnavailableError` (503).
        """
        cache = self._cache
        now = self.monotonic()
        keys = cache.lookup(kid, now)
        if keys is not None:
            return keys
        generation, fetch = cache.plan(kid, now)
        if fetch:
            lock = self._async_lock()
            if not (lock.locked() and cache.stale_usable(kid, now)):
                async with lock:
                    if cache.still_needed(generation, kid, self.monotonic()):
                        await self._fetch_async()
        return cache.serve(kid, self.monotonic())

    def get_signing_keys_sync(self, kid: str | None) -> tuple[JWKSKey, ...]:
        """Blocking :meth:`get_signing_keys` (same cache, same rules)."""
        cache = self._cache
        now = self.monotonic()
        keys = cache.lookup(kid, now)
        if keys is not None:
            return keys
        generation, fetch = cache.plan(kid, now)
        if fetch:
            lock = self._sync_lock
            if lock.acquire(blocking=not cache.stale_usable(kid, now)):
                try:
                    if cache.still_needed(generation, kid, self.monotonic()):
                        self._fetch_sync()
                finally:
                    lock.release()
        return cache.serve(kid, self.monotonic())

    async def force_refresh(self) -> tuple[str | None, ...]:
        """Fetch the key set now and serve only what it holds; returns the cached ``kid``\\ s.

        For an operator who removed a key from the JWKS (a compromised one, say) and wants it
        refused at once rather than when the cached set expires. The TTL and the refetch rate
        limits are ignored; a fetch already under way is waited for and then repeated (it may
        have read the set before the key was removed, and its result, finishing late, can
        never replace this one). Tokens verified earlier with a removed key are forgotten by
        every :class:`~sessiongate.jwks.JWKSBearer` sharing this client.

        Raises :class:`ProviderUnavailableError` when the fetch fails: the cached keys,
        including the one removed, are then kept (a failed fetch never empties the cache), so
        retry until it succeeds.
        """
        async with self._async_lock():
            fetched = await self._fetch_async()
        if not fetched:
            raise ProviderUnavailableError("the JWKS refresh failed; the cached keys were kept")
        return self.kids

    def force_refresh_sync(self) -> tuple[str | None, ...]:
        """Blocking :meth:`force_refresh` (same cache, same rules)."""
        with self._sync_lock:
            fetched = self._fetch_sync()
        if not fetched:
            raise ProviderUnavailableError("the JWKS refresh failed; the cached keys were kept")
        return self.kids
