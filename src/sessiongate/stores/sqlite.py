"""SQLite session store (stdlib ``sqlite3``): the embedded default for development, demos, tests.

Async lookups (:meth:`SQLiteStore.load`) run in a small thread pool, off the event loop;
blocking ones (:meth:`SQLiteStore.load_sync`, used by WSGI code) run in the calling thread. One
connection per thread. Each
lookup has a deadline enforced with SQLite's progress handler, so a query stuck behind a lock
or a runaway view is interrupted and answered 503 like PostgreSQL's timeout.

The file is named the way the JS side names it (``file:./dev.db``, ``sqlite:///app.db``, a
path: see :mod:`.urls`), resolved against the working directory once, at construction, and
opened **read-only** (``mode=ro``): a file that does not exist is a
:class:`~sessiongate.errors.ConfigurationError` naming the absolute path, never an empty
database created by mistake. Timestamps are read row by row in whatever form the JS side
wrote them (see :mod:`.timestamps`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import ConfigurationError, ProviderUnavailableError
from .base import SessionRecord
from .schema import SchemaMapping, resolve_schema
from .urls import SQLiteURL, parse_sqlite_url

__all__ = ["SQLiteStore"]

logger = logging.getLogger("sessiongate")


def _missing_file(target: SQLiteURL) -> ConfigurationError:
    message = f"the SQLite database {target.path} does not exist"
    if target.relative:
        message += (
            f" (the relative path {target.written!r} is resolved against the working directory)"
        )
        # Prisma 6 and older resolved file: URLs against the folder of prisma/schema.prisma
        beside_schema = os.path.normpath(
            os.path.join(os.path.dirname(target.path), "prisma", os.path.basename(target.path))
        )
        if os.path.isfile(beside_schema):
            message += (
                f"; {beside_schema} exists: Prisma 6 and older resolve a relative file: URL "
                "against the folder of schema.prisma, so pass file:./prisma/"
                f"{os.path.basename(target.path)} or an absolute path"
            )
    return ConfigurationError(message)


class SQLiteStore:
    """Look sessions up in an SQLite database file.

    Args:
        path: the database file: a path, a ``file:`` URL (Prisma, Drizzle, libSQL) or an
            ``sqlite:///`` URL (see :mod:`.urls`). Relative paths are resolved against the
            working directory now; the file must exist.
        schema: a :class:`~sessiongate.stores.schema.SchemaMapping` or a preset name.
        timeout: seconds for one lookup (busy waits on a locked database included).
        max_workers: threads (and connections) used for lookups.
        read_only: open with ``mode=ro`` (the default); ``False`` opens ``mode=rw``, which
            still never creates the file.

    Raises:
        ConfigurationError: an unsupported URL, an in-memory database, or a missing file.
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
        self.schema = resolve_schema(schema)
        target = parse_sqlite_url(os.fspath(path))
        if not os.path.exists(target.path):
            raise _missing_file(target)
        if not os.path.isfile(target.path):
            raise ConfigurationError(f"the SQLite database {target.path} is not a file")
        if target.ignored:
            logger.info(
                "SQLite URL parameters ignored (the file is opened %s with sessiongate's own "
                "timeout): %s",
                "read-only" if read_only else "read-write",
                ", ".join(target.ignored),
            )
        self.path = Path(target.path)
        """The absolute path of the database file."""
        mode = "ro" if read_only else "rw"
        self._target = f"file:{quote(target.path)}?mode={mode}"
        self.sql = self.schema.select_sql("?")
        self.read_only = read_only
        self._expiry_sql = self.schema.expiry_sql("?")
        self._update_sql = self.schema.update_expiry_sql(("?", "?"))
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
                self._target, timeout=self.timeout, uri=True, check_same_thread=False
            )
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _query(self, token: str) -> SessionRecord | None:
        row = self._guarded(lambda conn: conn.execute(self.sql, (token,)).fetchone())
        if row is None:
            return None
        return self.schema.record_from_row(row)

    def fetch_sync(self, sql: str, *args: Any, limit: int | None = None) -> list[tuple[Any, ...]]:
        """Run one read-only query in the calling thread, with the lookup's deadline and fault
        handling (the Better Auth plugin lookups of :mod:`.ba_plugins` use it)."""
        if self._closed:
            raise ProviderUnavailableError("the session store is closed")

        def work(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            cursor = conn.execute(sql, args)
            rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit)
            return [tuple(row) for row in rows]

        rows: list[tuple[Any, ...]] = self._guarded(work)
        return rows

    async def fetch(self, sql: str, *args: Any, limit: int | None = None) -> list[tuple[Any, ...]]:
        """:meth:`fetch_sync` in a worker thread."""
        if self._closed:
            raise ProviderUnavailableError("the session store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor, lambda: self.fetch_sync(sql, *args, limit=limit)
            )
        except RuntimeError:  # executor shut down concurrently
            raise ProviderUnavailableError("the session store is closed") from None

    def _guarded(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``work`` on this thread's connection within the deadline; faults are 503."""
        deadline = time.monotonic() + self.timeout

        def past_deadline() -> int:
            return 1 if time.monotonic() > deadline else 0

        try:
            conn = self._connection()
            conn.set_progress_handler(past_deadline, 1000)
            try:
                return work(conn)
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

    def update_expiry_sync(self, token: str, decide: Callable[[Any], Any]) -> bool:
        """The opt-in touch (:mod:`.touch`), in the calling thread: in one ``BEGIN IMMEDIATE``
        transaction, read the stored expiry, pass it to ``decide`` and write what it returns
        (nothing for ``None``). Needs ``read_only=False``."""
        if self._closed:
            raise ProviderUnavailableError("the session store is closed")
        if self.read_only:
            raise ConfigurationError("the SQLite store is read-only (read_only=True)")

        def work(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")
            try:
                stored = conn.execute(self._expiry_sql, (token,)).fetchone()
                value = None if stored is None else decide(stored[0])
                if value is not None:
                    conn.execute(self._update_sql, (value, token))
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            return value is not None

        written: bool = self._guarded(work)
        return written

    async def update_expiry(self, token: str, decide: Callable[[Any], Any]) -> bool:
        """:meth:`update_expiry_sync` in a worker thread."""
        if self._closed:
            raise ProviderUnavailableError("the session store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor, self.update_expiry_sync, token, decide
            )
        except RuntimeError:  # executor shut down concurrently
            raise ProviderUnavailableError("the session store is closed") from None

    async def load(self, token: str) -> SessionRecord | None:
        """Run the lookup in a worker thread."""
        if self._closed:
            raise ProviderUnavailableError("the session store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._query, token)
        except RuntimeError:  # executor shut down concurrently
            raise ProviderUnavailableError("the session store is closed") from None

    def load_sync(self, token: str) -> SessionRecord | None:
        """Blocking :meth:`load`, in the calling thread (no event loop, no worker thread)."""
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
