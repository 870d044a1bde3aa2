"""One connection pool per event loop, for the async drivers (asyncpg, asyncmy).

A driver's pool belongs to the loop that created it: the application's loop and the background
loop of blocking callers (:mod:`sessiongate._sync`) each get their own, created on first use
(creation does no I/O: connections open on demand). :meth:`LoopPools.aclose` closes every pool
on the loop that owns it: gracefully on the current loop or on another running one, by
terminating it when that does not finish in time or the loop is not running, not at all when
the loop is already closed (its sockets went with it).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

from ..errors import ProviderUnavailableError

__all__ = ["LoopPools"]


class LoopPools:
    """The pools of one store, keyed by event loop (weakly: a finished loop drops its pool).

    Args:
        create: opens a pool (no I/O); called once per loop.
        close: closes a pool gracefully (``await pool.close()``...).
        terminate: closes a pool at once, without waiting (sync).
        timeout: seconds a graceful close may take before the pool is terminated.
    """

    def __init__(
        self,
        create: Callable[[], Coroutine[Any, Any, Any]],
        close: Callable[[Any], Coroutine[Any, Any, None]],
        terminate: Callable[[Any], None],
        timeout: float,
    ) -> None:
        self._create = create
        self._close = close
        self._terminate = terminate
        self.timeout = timeout
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[Any]] = (
            weakref.WeakKeyDictionary()
        )
        self.closed = False

    async def get(self) -> Any:
        """The running loop's pool (created now if it has none)."""
        loop = asyncio.get_running_loop()
        creating = self._pools.get(loop)
        if creating is None:
            if self.closed:
                raise ProviderUnavailableError("the session store is closed")
            creating = loop.create_task(self._create())
            self._pools[loop] = creating
        return await asyncio.shield(creating)

    def current(self) -> Any | None:
        """The running loop's pool if it exists, else ``None`` (never creates one)."""
        try:
            task = self._pools.get(asyncio.get_running_loop())
        except RuntimeError:
            return None
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    async def aclose(self) -> None:
        """Close every pool, each on the loop that owns it; later :meth:`get` calls fail."""
        self.closed = True
        pools = list(self._pools.items())
        self._pools.clear()
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, task in pools:
            if not task.done() or task.cancelled() or task.exception() is not None:
                continue
            pool = task.result()
            if loop.is_closed():
                continue
            if loop is current:
                try:
                    async with asyncio.timeout(self.timeout):
                        await self._close(pool)
                except Exception:  # best effort at shutdown: a driver error or the timeout
                    self._terminate(pool)
            elif loop.is_running():
                future = asyncio.run_coroutine_threadsafe(self._close(pool), loop)
                try:
                    await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
                except Exception:  # best effort at shutdown
                    loop.call_soon_threadsafe(self._terminate, pool)
            else:
                self._terminate(pool)
