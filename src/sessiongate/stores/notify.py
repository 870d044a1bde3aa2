"""Cross-replica invalidation: a listener connection per process that tells every cache to forget.

Each process keeps its own caches (session records for ``cache_ttl`` seconds, the revocation
mirror). When the JavaScript side deletes a session row, moves its expiry, changes a user or
writes a revocation record, one connection per process hears about it and the caches forget
what changed, in well under a second, on every replica:

* **PostgreSQL** (:class:`PostgresListener`): ``LISTEN sessiongate``; the triggers that
  :func:`~.notify_sql.install_sql` prints (``sessiongate db install-notify``) send
  ``pg_notify`` on the session and user tables and on the revocation table.
* **Redis / Valkey** (:class:`~sessiongate.stores.redis_notify.RedisListener`): keyspace
  notifications for the session keys, and the ``sessiongate:revocation`` pub/sub channel.

Faults never extend a session: when the listener connection drops, every subscribed cache is
cleared at once (an event may be missed while it is down), caches fall back to their TTL, and
the listener reconnects with back-off; on reconnect the caches are cleared again and the
revocation mirror is reloaded. A ping every ``ping_interval`` seconds proves the connection, so a
connection that hangs silently is noticed too.

Events are JSON objects: ``{"t":"user","id":"<user id>"}`` (drop that user's cached sessions),
``{"t":"token","token":…}`` (Redis keyspace events only, never sent over ``NOTIFY``),
and the revocation events of :mod:`sessiongate.revocation.rules`. Session tokens are never put
in a ``NOTIFY`` payload: any database role may ``LISTEN``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from .._extras import require
from .._sync import BackgroundLoop, default_loop
from ..errors import ConfigurationError
from .schema import quote_identifier

__all__ = [
    "DEFAULT_CHANNEL",
    "CacheSubscriber",
    "Listener",
    "ListenerSubscriber",
    "PostgresListener",
]

logger = logging.getLogger("sessiongate")

DEFAULT_CHANNEL = "sessiongate"
_MAX_PAYLOAD = 8000


@runtime_checkable
class ListenerSubscriber(Protocol):
    """What a listener tells a cache or mirror (called on the listener's event loop)."""

    async def on_connected(self) -> None:
        """The listener is (re)subscribed: forget everything, reload what must be loaded."""
        ...

    def on_lost(self) -> None:
        """The listener connection is gone: events may be missed until it is back."""
        ...

    def on_event(self, event: Mapping[str, Any]) -> None:
        """One event (see the module docstring)."""
        ...

    def on_alive(self, at: float) -> None:
        """The connection was proven alive at monotonic time ``at``."""
        ...


class CacheSubscriber:
    """Adapts a :class:`~sessiongate.stores.cache.CachedStore` (or anything with
    ``invalidate(token=None)`` and ``invalidate_user(user_id)``) to a listener."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self.events = 0

    def __repr__(self) -> str:
        return f"CacheSubscriber({self.cache!r})"

    async def on_connected(self) -> None:
        self.cache.invalidate()

    def on_lost(self) -> None:
        self.cache.invalidate()

    def on_event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("t")
        if kind == "user" and isinstance(event.get("id"), str):
            self.events += 1
            self.cache.invalidate_user(event["id"])
        elif kind == "token" and isinstance(event.get("token"), str):
            self.events += 1
            self.cache.invalidate(event["token"])
        elif kind == "all":
            self.events += 1
            self.cache.invalidate()

    def on_alive(self, at: float) -> None:
        return None


_LISTENERS: weakref.WeakSet[Listener] = weakref.WeakSet()


class Listener:
    """The reconnecting listener loop shared by PostgreSQL and Redis (subclasses do the I/O).

    Args:
        ping_interval: seconds between liveness probes of the connection.
        ping_timeout: seconds a probe (or a connection attempt) may take.
        max_backoff: the longest pause between reconnection attempts.
        background_loop: where the listener runs (default: the process-wide background loop,
            so that ASGI and WSGI applications share it).
    """

    kind = "listener"

    def __init__(
        self,
        *,
        ping_interval: float = 1.0,
        ping_timeout: float = 2.0,
        max_backoff: float = 2.0,
        background_loop: BackgroundLoop | None = None,
    ) -> None:
        for label, value in (
            ("ping_interval", ping_interval),
            ("ping_timeout", ping_timeout),
            ("max_backoff", max_backoff),
        ):
            if not math.isfinite(value) or value <= 0:
                raise ConfigurationError(f"{label} must be a positive number of seconds")
        self.ping_interval = float(ping_interval)
        self.ping_timeout = float(ping_timeout)
        self.max_backoff = float(max_backoff)
        self._loop = background_loop
        self._subscribers: list[ListenerSubscriber] = []
        self._task: asyncio.Task[None] | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._stopping = False
        self.connected = False
        self.connections = 0
        """How many times the listener connected (for tests and the doctor)."""
        self.last_error: str | None = None
        _LISTENERS.add(self)

    # ---------------------------------------------------------------- subscribers

    def subscribe(self, subscriber: ListenerSubscriber) -> None:
        """Add a cache or mirror to tell about events (before or after :meth:`start`)."""
        if not isinstance(subscriber, ListenerSubscriber):
            raise ConfigurationError(f"{subscriber!r} cannot subscribe to a listener")
        self._subscribers.append(subscriber)

    def subscribe_cache(self, cache: Any) -> CacheSubscriber:
        """Subscribe a session cache (``CachedStore``); returns its adapter."""
        adapter = CacheSubscriber(cache)
        self.subscribe(adapter)
        return adapter

    def _dispatch(self, event: Mapping[str, Any]) -> None:
        now = time.monotonic()
        for subscriber in self._subscribers:
            try:
                subscriber.on_event(event)
                subscriber.on_alive(now)
            except Exception as exc:  # one subscriber's bug must not stop the others
                logger.error("listener subscriber failed on an event: %s", type(exc).__name__)

    def _dispatch_payload(self, payload: str | bytes) -> None:
        if len(payload) > _MAX_PAYLOAD:
            return
        try:
            event = json.loads(payload)
        except ValueError:
            return
        if isinstance(event, dict):
            self._dispatch(event)

    def _alive(self) -> None:
        now = time.monotonic()
        for subscriber in self._subscribers:
            subscriber.on_alive(now)

    def _lost(self) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber.on_lost()
            except Exception as exc:
                logger.error("listener subscriber failed on loss: %s", type(exc).__name__)

    # ---------------------------------------------------------------- life cycle

    def start(self) -> None:
        """Run the listener on the background loop (idempotent; restarts in a forked child)."""
        with self._lock:
            if self._task is not None and self._pid == os.getpid() and not self._task.done():
                return
            self._stopping = False
            loop = (self._loop or default_loop()).loop
            created: list[asyncio.Task[None]] = []
            ready = threading.Event()

            def create() -> None:
                created.append(loop.create_task(self._run()))
                ready.set()

            loop.call_soon_threadsafe(create)
            ready.wait(5)
            self._task = created[0] if created else None
            self._pid = os.getpid()

    def ensure_started(self) -> None:
        """Start the listener unless it is running in this process."""
        task = self._task
        if task is None or self._pid != os.getpid() or task.done():
            self.start()

    async def wait_connected(self, timeout: float) -> bool:
        """Wait (from any loop) until the listener has connected once; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        while not self.connected:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def wait_connected_sync(self, timeout: float) -> bool:
        """:meth:`wait_connected` for synchronous callers."""
        deadline = time.monotonic() + timeout
        while not self.connected:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    async def aclose(self) -> None:
        """Stop the listener and close its connection."""
        self._stopping = True
        task = self._task
        self._task = None
        if task is None or task.done() or self._pid != os.getpid():
            return
        loop = task.get_loop()
        if loop.is_closed():
            return

        async def cancel() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            for subscriber in self._subscribers:  # e.g. a mirror's pending confirmations
                close = getattr(subscriber, "aclose", None)
                if close is not None:
                    with contextlib.suppress(Exception):
                        await close()

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            await cancel()
        else:
            future = asyncio.run_coroutine_threadsafe(cancel(), loop)
            await asyncio.wrap_future(future)

    def close(self) -> None:
        """Synchronous :meth:`aclose` (never from the listener's own loop)."""
        self._stopping = True
        task = self._task
        self._task = None
        if task is None or task.done() or self._pid != os.getpid():
            return
        loop = task.get_loop()
        if not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)

    async def _run(self) -> None:
        backoff = 0.05
        while not self._stopping:
            try:
                await asyncio.wait_for(self._connect(), self.ping_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = type(exc).__name__
                logger.warning("%s listener cannot connect: %s", self.kind, self.last_error)
                await self._disconnect()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            try:
                for subscriber in self._subscribers:
                    await subscriber.on_connected()
                self.connected = True
                self.connections += 1
                self.last_error = None
                backoff = 0.05
                if self.connections > 1:
                    logger.warning("%s listener reconnected: caches cleared", self.kind)
                self._alive()
                await self._serve()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = type(exc).__name__
                logger.warning("%s listener lost: %s", self.kind, self.last_error)
            finally:
                was_connected = self.connected
                self.connected = False
                if not self._stopping or was_connected:
                    self._lost()
                await self._disconnect()
            if not self._stopping:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    # ---------------------------------------------------------------- subclass hooks

    async def _connect(self) -> None:
        raise NotImplementedError

    async def _serve(self) -> None:
        """Return (or raise) when the connection is lost; probe it every ping_interval."""
        raise NotImplementedError

    async def _disconnect(self) -> None:
        raise NotImplementedError


def _restart_after_fork() -> None:
    for listener in list(_LISTENERS):
        if listener._task is not None and not listener._stopping:
            listener._task = None
            listener.connected = False
            try:
                listener.start()
            except Exception as exc:  # pragma: no cover - best effort in a fresh child
                logger.error("listener restart after fork failed: %s", type(exc).__name__)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_after_fork)


class PostgresListener(Listener):
    """``LISTEN`` on a dedicated PostgreSQL connection (not from a pool; not through a
    transaction-mode PgBouncer, which cannot keep a ``LISTEN``).

    Args:
        dsn: the database URL, as for :class:`~sessiongate.stores.postgres.PostgresStore`.
        channel: the ``NOTIFY`` channel of :func:`~.notify_sql.install_sql` (default
            ``sessiongate``).
        **options: see :class:`Listener`.
    """

    kind = "PostgreSQL"

    def __init__(self, dsn: str, *, channel: str = DEFAULT_CHANNEL, **options: Any) -> None:
        from .urls import parse_postgres_url

        super().__init__(**options)
        self._dsn = parse_postgres_url(dsn).dsn
        quote_identifier(channel)
        self.channel = channel
        self._conn: Any = None
        self._gone: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"PostgresListener(channel={self.channel!r}, connected={self.connected})"

    async def _connect(self) -> None:
        asyncpg = require("asyncpg", "postgres")

        self._gone = asyncio.Event()
        conn = await asyncpg.connect(
            self._dsn,
            timeout=self.ping_timeout,
            server_settings={"application_name": "sessiongate-listener"},
        )
        self._conn = conn
        gone = self._gone
        conn.add_termination_listener(lambda _conn: gone.set())
        await conn.add_listener(self.channel, self._on_notify)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._dispatch_payload(payload)

    async def _serve(self) -> None:
        assert self._gone is not None
        while not self._stopping:
            try:
                await asyncio.wait_for(self._gone.wait(), self.ping_interval)
                return  # the server closed the connection
            except TimeoutError:
                pass
            await self._conn.fetchval("SELECT 1", timeout=self.ping_timeout)
            self._alive()

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await asyncio.wait_for(conn.close(), 1.0)
        except Exception:
            conn.terminate()
