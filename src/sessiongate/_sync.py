"""The background event loop that lets blocking code (WSGI, Flask, the CLI) run async I/O.

Blocking callers do not get a second database driver or HTTP client: a lookup that only exists
as a coroutine (an asyncpg query, a JWKS fetch) is submitted to one event loop running in a
daemon thread, where the same pools and caches serve it. The loop is created on first use (so
``import sessiongate`` starts no thread) and re-created in a forked child (gunicorn
``--preload``). A store that can answer from the calling thread (``SQLiteStore.load_sync``) is
asked directly instead; see :class:`sessiongate.sessions.SessionLookup`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .errors import ProviderUnavailableError

__all__ = ["BackgroundLoop", "default_loop"]

T = TypeVar("T")


class BackgroundLoop:
    """An asyncio event loop in a daemon thread; :meth:`run` waits for a coroutine's result."""

    def __init__(self, name: str = "sessiongate-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0

    def _ensure(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and self._pid == os.getpid() and not loop.is_closed():
            return loop
        with self._lock:
            if self._loop is not None and self._pid == os.getpid() and not self._loop.is_closed():
                return self._loop
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def main() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=main, name=self._name, daemon=True)
            thread.start()
            ready.wait()
            self._loop, self._thread, self._pid = loop, thread, os.getpid()
            return loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The background loop (started on first access)."""
        return self._ensure()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the background loop and return its result (or raise its error).

        Waiting longer than ``timeout`` seconds cancels it and raises
        :class:`ProviderUnavailableError`. Calling from the loop's own thread is refused
        (it would deadlock).
        """
        loop = self._ensure()
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("BackgroundLoop.run() called from its own loop thread")
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ProviderUnavailableError("the session store did not answer in time") from None

    def close(self) -> None:
        """Stop the loop and join its thread (it is started again on next use)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or loop.is_closed():
            return
        if thread is not None and self._pid == os.getpid():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()


_default: BackgroundLoop | None = None
_default_lock = threading.Lock()


def default_loop() -> BackgroundLoop:
    """The process-wide background loop shared by every store used from sync code."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = BackgroundLoop()
    return _default
