"""PostgreSQL session store on an ``asyncpg`` pool.

* **Bounded**: at most ``max_size`` connections; a request that cannot get one within the
  deadline is answered 503 (``provider_unavailable``), never queued forever.
* **One round trip**: one ``SELECT … JOIN`` per lookup; asyncpg keeps it as a named prepared
  statement per connection (its statement cache), so a warm lookup is Bind/Execute/Sync.
  Set ``statement_cache_size=0`` behind PgBouncer in transaction mode.
* **Deadline**: ``timeout`` seconds cover getting a connection and running the query; a query
  that hangs is cancelled server-side and answered 503.
* **Faults**: connection refused or lost, server shutting down, timeouts, pool exhaustion and
  schema mismatches all become :class:`~sessiongate.errors.ProviderUnavailableError` (fail
  closed, never 401). The pool opens connections lazily, so it recovers by itself once the
  database is back; a lookup that hits a connection the server killed is retried on a fresh
  one within the same deadline.
* **Event loops**: an asyncpg pool belongs to one loop. The store keeps one pool per loop, so
  the same store serves an ASGI app and the background loop used by WSGI code.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .._extras import missing_extra

try:
    import asyncpg  # type: ignore[import-untyped]
except ModuleNotFoundError as err:
    raise missing_extra(err, "postgres") from None

from ..errors import ConfigurationError, ProviderUnavailableError
from .base import SessionRecord
from .loop_pools import LoopPools
from .schema import SchemaMapping, resolve_schema
from .urls import parse_postgres_url

__all__ = ["PostgresStore"]

logger = logging.getLogger("sessiongate")

_RETRYABLE = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    # e.g. "cannot switch to state 12; another operation is in progress" when the server dies
    # mid-query: neither an InterfaceError nor a PostgresError
    asyncpg.exceptions.InternalClientError,
    ConnectionResetError,
    BrokenPipeError,
)


async def _init_connection(conn: Any) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


class PostgresStore:
    """Look sessions up in PostgreSQL.

    Args:
        dsn: ``postgresql://user:pass@host:port/db`` (never logged), as the JS side writes it:
            Prisma's parameters are taken out first (``?schema=`` picks the PostgreSQL schema
            of the tables, ``connection_limit`` the pool size, ``pgbouncer=true`` turns the
            statement cache off, pool timeouts are ignored with a log line; see :mod:`.urls`).
        schema: a :class:`~sessiongate.stores.schema.SchemaMapping` or a preset name
            (``authjs-prisma``, ``authjs-pg``, ``better-auth``...).
        min_size: connections :meth:`connect` opens ahead of the first request.
        max_size: the most connections the pool (per event loop) ever holds (default 10, or
            the URL's ``connection_limit``).
        timeout: seconds for one lookup, waiting for a connection included.
        connect_timeout: seconds to open one connection (default 2, or the URL's).
        statement_cache_size: asyncpg's prepared-statement cache (default 100; 0 for
            PgBouncer, also set by the URL's ``pgbouncer=true``).
        server_settings: extra ``SET`` values per connection (``{"search_path": "auth"}``).
        max_inactive_connection_lifetime: seconds an idle connection is kept open.

    Arguments given here win over the URL's parameters. A mapping with its own ``db_schema``
    that differs from the URL's ``?schema=`` is refused (:class:`ConfigurationError`).
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: SchemaMapping | str = "authjs-prisma",
        min_size: int = 1,
        max_size: int | None = None,
        timeout: float = 2.0,
        connect_timeout: float | None = None,
        statement_cache_size: int | None = None,
        server_settings: dict[str, str] | None = None,
        max_inactive_connection_lifetime: float = 300.0,
    ) -> None:
        url = parse_postgres_url(dsn)
        if url.ignored:
            logger.info(
                "database URL parameters ignored (sessiongate's per-lookup timeout bounds the "
                "wait): %s",
                ", ".join(url.ignored),
            )
        from_url = url.options
        pool_size: int = max_size if max_size is not None else from_url.get("max_size", 10)
        open_timeout: float = (
            connect_timeout if connect_timeout is not None else from_url.get("connect_timeout", 2.0)
        )
        cache_size: int = (
            statement_cache_size
            if statement_cache_size is not None
            else from_url.get("statement_cache_size", 100)
        )
        if not 0 <= min_size <= pool_size or pool_size < 1:
            raise ConfigurationError("pool sizes must satisfy 0 <= min_size <= max_size, max >= 1")
        if not timeout > 0 or not open_timeout > 0:
            raise ConfigurationError("timeouts must be positive")
        mapping = resolve_schema(schema)
        if url.db_schema is not None:
            if mapping.db_schema is None:
                mapping = replace(mapping, db_schema=url.db_schema)
            elif mapping.db_schema != url.db_schema:
                raise ConfigurationError(
                    f"the database URL reads schema {url.db_schema!r} but the schema mapping "
                    f"names {mapping.db_schema!r}"
                )
        self._dsn = url.dsn
        self.schema = mapping
        self.sql = self.schema.select_sql("$1")
        self._expiry_sql = self.schema.expiry_sql("$1", for_update=True)
        self._update_sql = self.schema.update_expiry_sql(("$1", "$2"))
        self.min_size = min_size
        self.max_size = int(pool_size)
        self.timeout = float(timeout)
        self.connect_timeout = float(open_timeout)
        self.statement_cache_size = int(cache_size)
        self.server_settings = dict(server_settings or {})
        self.max_inactive_connection_lifetime = float(max_inactive_connection_lifetime)
        self._pools = LoopPools(self._create_pool, _close_pool, _terminate_pool, self.timeout)

    def __repr__(self) -> str:
        return f"PostgresStore(schema={self.schema.name!r}, max_size={self.max_size})"

    async def _pool(self) -> Any:
        return await self._pools.get()

    async def _create_pool(self) -> Any:
        # min_size=0 at creation: opening the pool does no I/O, so it cannot fail, and every
        # connection is opened (and re-opened after an outage) on demand.
        return await asyncpg.create_pool(
            self._dsn,
            min_size=0,
            max_size=self.max_size,
            timeout=self.connect_timeout,
            statement_cache_size=self.statement_cache_size,
            max_inactive_connection_lifetime=self.max_inactive_connection_lifetime,
            server_settings=self.server_settings or None,
            init=_init_connection,
        )

    async def connect(self) -> None:
        """Open ``min_size`` connections and run the lookup once (fail fast at start-up).

        Raises :class:`ProviderUnavailableError` when the database or the tables are not there.
        """
        await self.load("sessiongate-startup-probe")
        pool = await self._pool()
        async with asyncio.timeout(self.timeout * max(1, self.min_size)):
            conns = [await pool.acquire() for _ in range(self.min_size)]
            for conn in conns:
                await pool.release(conn)

    async def load(self, token: str) -> SessionRecord | None:
        """Run the lookup; see the module docstring for how faults are answered."""
        rows = await self.fetch(self.sql, token, limit=1)
        return self.schema.record_from_row(rows[0]) if rows else None

    async def fetch(self, sql: str, *args: Any, limit: int | None = None) -> list[tuple[Any, ...]]:
        """Run one read-only query on the lookup's pool, deadline, retries and fault handling
        (the Better Auth plugin lookups of :mod:`.ba_plugins` use it); rows as tuples."""
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._fetch_once(sql, args, deadline, limit)
            except ProviderUnavailableError:
                raise
            except _RETRYABLE as exc:
                if attempt < 3 and deadline - time.monotonic() > 0.01:
                    continue
                raise self._unavailable(exc) from None
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                raise self._unavailable(exc) from None
            except Exception as exc:  # a store never lets a driver error escape: fail closed, 503
                raise self._unavailable(exc) from None

    async def _fetch_once(
        self, sql: str, args: tuple[Any, ...], deadline: float, limit: int | None
    ) -> list[tuple[Any, ...]]:
        pool = await self._pool()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProviderUnavailableError("the session database did not answer in time")
        try:
            conn = await pool.acquire(timeout=remaining)
        except TimeoutError:
            raise ProviderUnavailableError(
                "no session database connection was free in time (pool exhausted)"
            ) from None
        except asyncpg.PostgresError as exc:
            if isinstance(exc, asyncpg.exceptions.PostgresConnectionError):
                raise
            # refused while connecting (authentication, unknown database, a URL parameter the
            # server does not accept as a setting): not a schema mapping problem
            logger.error("session database refused the connection: %s", type(exc).__name__)
            raise ProviderUnavailableError(
                f"the session database refused the connection ({type(exc).__name__}; check "
                "the database URL, its credentials and parameters)"
            ) from None
        try:
            remaining = max(deadline - time.monotonic(), 0.001)
            if limit == 1:
                row = await conn.fetchrow(sql, *args, timeout=remaining)
                rows = [] if row is None else [row]
            else:
                rows = await conn.fetch(sql, *args, timeout=remaining)
        except BaseException:
            conn.terminate()  # protocol state unknown: never hand it to the next caller
            await pool.release(conn)
            raise
        await pool.release(conn)
        return [tuple(row.values()) for row in rows]

    async def update_expiry(self, token: str, decide: Callable[[Any], Any]) -> bool:
        """The opt-in touch (:mod:`.touch`): in one transaction, lock the session row, pass its
        stored expiry to ``decide`` and write what it returns (nothing for ``None``).

        Returns whether a row was written; faults raise :class:`ProviderUnavailableError`.
        """
        pool = await self._pool()
        conn = None
        try:
            async with asyncio.timeout(self.timeout):
                conn = await pool.acquire()
                async with conn.transaction():
                    stored = await conn.fetchrow(self._expiry_sql, token)
                    value = None if stored is None else decide(stored[0])
                    if value is None:
                        return False
                    await conn.execute(self._update_sql, token, value)
                    return True
        except ProviderUnavailableError:
            raise
        except Exception as exc:  # fail closed, as the lookup does
            if conn is not None:
                conn.terminate()
            raise self._unavailable(exc) from None
        finally:
            if conn is not None:
                await pool.release(conn)

    def _unavailable(self, exc: BaseException) -> ProviderUnavailableError:
        if isinstance(exc, TimeoutError):
            message = "the session database did not answer in time"
        elif isinstance(exc, asyncpg.PostgresError) and not isinstance(
            exc, asyncpg.exceptions.PostgresConnectionError
        ):
            # a query error (missing table or column...) is a schema mismatch: say which kind
            message = f"the session query failed ({type(exc).__name__}; check the schema mapping)"
            logger.error("session store query failed: %s", type(exc).__name__)
        else:
            message = "the session database is unreachable"
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("session store unavailable: %s", type(exc).__name__)
        return ProviderUnavailableError(message)

    def pool_stats(self) -> dict[str, int]:
        """Size and idle connections of the current loop's pool (for benchmarks and doctor)."""
        pool = self._pools.current()
        if pool is None:
            return {"size": 0, "idle": 0, "max_size": self.max_size}
        return {"size": pool.get_size(), "idle": pool.get_idle_size(), "max_size": self.max_size}

    async def aclose(self) -> None:
        """Close every pool this store opened (on whichever loop owns it)."""
        await self._pools.aclose()


async def _close_pool(pool: Any) -> None:
    await pool.close()


def _terminate_pool(pool: Any) -> None:
    pool.terminate()
