"""SQLite session store (stdlib ``sqlite3``): the embedded default for development, demos, tests.

Queries run in a small thread pool, off the event loop, one connection per worker thread. Each
lookup has a deadline enforced with SQLite's progress handler, so a query stuck behind a lock
or a runaway view is interrupted and answered 503 like PostgreSQL's timeout.

Timestamps in SQLite are whatever the JS side wrote: ISO-8601 text (read as UTC when it has no
offset) with the default ``expires_format="timestamp"``, or integers with
``expires_format="epoch_ms"`` (Drizzle's ``mode: "timestamp_ms"``) / ``"epoch_s"``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import ConfigurationError, ProviderUnavailableError
from .base import SessionRecord
from .schema import SchemaMapping, resolve_schema

__all__ = ["SQLiteStore"]

logger = logging.getLogger("sessiongate")


class SQLiteStore:
    """Look sessions up in an SQLite database file.

    Args:
        path: the database file, or a ``file:`` URI (``uri=True`` is implied for those).
            The file is opened read-only unless ``read_only=False``.
        schema: a :class:`~sessiongate.stores.schema.SchemaMapping` or a preset name.
        timeout: seconds for one lookup (busy waits on a locked database included).
        max_workers: threads (and connections) used for lookups.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        schema: SchemaMapping | str = "authjs-prisma",
        timeout: float = 2.0,
        max_workers: int = 4,
        read_only: bool = True,
    ) -> None:
        if not timeout > 0:
            raise ConfigurationError("timeout must be positive")
        if max_workers < 1:
            raise ConfigurationError("max_workers must be at least 1")
        raw = os.fspath(path)
        if raw in ("", ":memory:"):
            raise ConfigurationError("SQLiteStore needs a database file (not :memory:)")
        if raw.startswith("file:"):
            self._target, self._uri = raw, True
        elif read_only:
            self._target, self._uri = Path(raw).resolve().as_uri() + "?mode=ro", True
        else:
            self._target, self._uri = raw, False
        self.schema = resolve_schema(schema)
        self.sql = self.schema.select_sql("?")
        self.timeout = float(timeout)
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="sessiongate-sqlite")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLiteStore(schema={self.schema.name!r})"

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self._target, timeout=self.timeout, uri=self._uri, check_same_thread=False
            )
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _query(self, token: str) -> SessionRecord | None:
        deadline = time.monotonic() + self.timeout

        def past_deadline() -> int:
            return 1 if time.monotonic() > deadline else 0

        try:
            conn = self._connection()
            conn.set_progress_handler(past_deadline, 1000)
            try:
                row = conn.execute(self.sql, (token,)).fetchone()
            finally:
                conn.set_progress_handler(None, 0)
        except sqlite3.Error as exc:
            if isinstance(exc, sqlite3.OperationalError) and "interrupted" in str(exc):
                raise ProviderUnavailableError(
                    "the session database did not answer in time"
                ) from None
            logger.error("session store query failed: %s", type(exc).__name__)
            raise ProviderUnavailableError(
                f"the session query failed ({type(exc).__name__}; check the path and schema)"
            ) from None
        if row is None:
            return None
        return self.schema.record_from_row(row)

    async def load(self, token: str) -> SessionRecord | None:
        """Run the lookup in a worker thread."""
        if self._closed:
            raise ProviderUnavailableError("the session store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._query, token)
        except RuntimeError:  # executor shut down concurrently
            raise ProviderUnavailableError("the session store is closed") from None

    def load_blocking(self, token: str) -> SessionRecord | None:
        """The same lookup from synchronous code, in the calling thread."""
        if self._closed:
            raise ProviderUnavailableError("the session store is closed")
        return self._query(token)

    async def aclose(self) -> None:
        """Close the connections and stop the worker threads."""
        self._closed = True
        self._executor.shutdown(wait=True)
        with self._lock:
            conns, self._connections = self._connections, []
        for conn in conns:
            conn.close()
