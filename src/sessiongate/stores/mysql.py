"""MySQL and MariaDB session store on an ``asyncmy`` pool.

The driver is `asyncmy <https://github.com/long2ice/asyncmy>`_: maintained (several releases a
month in 2026), tested against MySQL and MariaDB, typed (``py.typed``), with a bounded pool
inherited from aiomysql. aiomysql itself went two years without a release before 0.3 (2025)
and ships no type information.

* **Same semantics as PostgreSQL**: the presets read the tables Prisma, Drizzle and Better
  Auth create on MySQL; identifiers are quoted with backticks. Date columns are read as the
  JS drivers read them: naive ``DATETIME`` (Prisma's ``DATETIME(3)``) holds UTC wall time;
  ``TIMESTAMP`` (Drizzle's Auth.js schema, Better Auth's ``timestamp(3)``) is converted by the
  server into the connection's time zone, which is left at the server's default as mysql2 and
  the mariadb connector leave it, and that wall time is read as UTC, as Drizzle and Kysely
  (Node in UTC) read it back. So a session row means the same instant here as on the JS side
  even when the server's time zone is not UTC. ``TINYINT(1)`` (MySQL's ``BOOLEAN``) arrives
  as ``bool`` and native ``JSON`` columns (MySQL) as parsed values; MariaDB's ``JSON`` is
  text: name it in ``json_columns``.
* **Bounded**: at most ``max_size`` connections per event loop; a request that cannot get one
  within the deadline is answered 503 (``provider_unavailable``), never queued forever.
* **Deadline**: ``timeout`` seconds cover getting a connection and running the query. The
  server is told too (MariaDB ``SET STATEMENT max_statement_time``, MySQL
  ``MAX_EXECUTION_TIME``, ``lock_wait_timeout`` on both), so a query stuck behind a lock is
  also stopped server-side; the connection it ran on is closed, never reused.
* **Faults**: connection refused or lost, server shut down, timeouts, pool exhaustion and
  schema mismatches all become :class:`~sessiongate.errors.ProviderUnavailableError` (fail
  closed, never 401). Connections are opened lazily, so the store recovers by itself once the
  database is back; a lookup that hits a connection the server dropped is retried on a fresh
  one within the same deadline.
* **Sync callers** (WSGI, Flask, the CLI): like :class:`~sessiongate.stores.PostgresStore`, the
  store has no ``load_sync`` (its driver is async only); blocking callers run :meth:`load` on the
  background loop and with the ``blocking_timeout`` of the ``DatabaseSession`` /
  ``BetterAuthSession`` that owns it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import ssl as ssl_module
import time
from typing import Any

from .._extras import missing_extra

try:
    import asyncmy
    from asyncmy.constants import FIELD_TYPE
except ModuleNotFoundError as err:
    raise missing_extra(err, "mysql") from None

from ..errors import ConfigurationError, ProviderUnavailableError
from .base import SessionRecord
from .loop_pools import LoopPools
from .schema import SchemaMapping, resolve_schema
from .urls import MySQLURL, parse_mysql_url

__all__ = ["MySQLStore"]

logger = logging.getLogger("sessiongate")

# client error codes (CR_*) for a connection that is gone; the lookup is retried on a new one
_CONNECTION_LOST = frozenset({2006, 2013, 2014, 2055})
# server error codes: statement or lock wait stopped by the server's own deadline
_SERVER_TIMEOUT = frozenset({1205, 1317, 1969, 3024})
# server error codes met while connecting: credentials, database, host not allowed
_REFUSED = frozenset({1044, 1045, 1049, 1130, 1698, 1251})
# server error codes for a query the schema mapping got wrong (table, column, ambiguity)
_SCHEMA = frozenset({1054, 1064, 1146, 1052})


def _error_code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


class _Retry(Exception):
    """A pooled connection turned out to be dead: try again on a fresh one."""


def _tls_context(url: MySQLURL) -> ssl_module.SSLContext | None:
    if url.tls == "off":
        return None
    context = ssl_module.create_default_context(cafile=url.ssl_ca)
    if url.tls == "unverified":
        logger.warning("MySQL TLS without certificate verification (the database URL asks for it)")
        context.check_hostname = False
        context.verify_mode = ssl_module.CERT_NONE
    elif url.tls == "verify-ca":
        context.check_hostname = False
    return context


class MySQLStore:
    """Look sessions up in MySQL or MariaDB.

    Args:
        url: ``mysql://user:pass@host:3306/db`` (never logged) as Prisma, Drizzle (mysql2) or
            Better Auth write it; also ``mariadb://``. Its parameters are read as described
            in :mod:`.urls` (``connection_limit``/``connectionLimit``, ``connect_timeout``,
            ``sslaccept``, ``ssl``, ``socket``...).
        schema: a :class:`~sessiongate.stores.schema.SchemaMapping` or a preset name
            (``authjs-prisma``, ``authjs-drizzle``, ``better-auth``...). A mapping's
            ``db_schema`` is the MySQL database to read the tables from.
        min_size: connections :meth:`connect` opens ahead of the first request.
        max_size: the most connections the pool (per event loop) ever holds (default 10, or
            the URL's ``connection_limit``).
        timeout: seconds for one lookup, waiting for a connection included.
        connect_timeout: seconds to open one connection (default 2, or the URL's).
        ssl: an ``ssl.SSLContext`` that replaces the URL's TLS settings, or ``False`` to turn
            TLS off; ``None`` (default) follows the URL.
        pool_recycle: seconds after which an idle connection is closed instead of reused
            (below the server's ``wait_timeout``).

    Arguments given here win over the URL's parameters.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: SchemaMapping | str = "authjs-prisma",
        min_size: int = 1,
        max_size: int | None = None,
        timeout: float = 2.0,
        connect_timeout: float | None = None,
        ssl: ssl_module.SSLContext | bool | None = None,
        pool_recycle: float = 300.0,
    ) -> None:
        target = parse_mysql_url(url)
        if target.ignored:
            logger.info(
                "database URL parameters ignored (sessiongate's per-lookup timeout bounds the "
                "wait; it reads utf8mb4 in UTC): %s",
                ", ".join(target.ignored),
            )
        pool_size: int = max_size if max_size is not None else target.options.get("max_size", 10)
        open_timeout: float = (
            connect_timeout
            if connect_timeout is not None
            else target.options.get("connect_timeout", 2.0)
        )
        if not 0 <= min_size <= pool_size or pool_size < 1:
            raise ConfigurationError("pool sizes must satisfy 0 <= min_size <= max_size, max >= 1")
        if not timeout > 0 or not open_timeout > 0 or not pool_recycle > 0:
            raise ConfigurationError("timeouts must be positive")
        if ssl is True:
            raise ConfigurationError("ssl must be an ssl.SSLContext, False or None")
        tls = (
            None
            if ssl is False
            else ssl
            if isinstance(ssl, ssl_module.SSLContext)
            else _tls_context(target)
        )
        mapping = resolve_schema(schema)
        self.schema = mapping
        self.timeout = float(timeout)
        self.min_size = min_size
        self.max_size = int(pool_size)
        self.connect_timeout = float(open_timeout)
        self.pool_recycle = float(pool_recycle)
        self.database = target.database
        select = mapping.select_sql("%s", dialect="mysql")
        self.sql = select
        # the server's own deadline, a little after ours so the client's fires first
        seconds = self.timeout + 0.5
        self._sql_mariadb = f"SET STATEMENT max_statement_time={seconds:.3f} FOR {select}"
        self._sql_mysql = select.replace(
            "SELECT ", f"SELECT /*+ MAX_EXECUTION_TIME({math.ceil(seconds * 1000)}) */ ", 1
        )
        self._connect_args: dict[str, Any] = {
            "host": target.host,
            "port": target.port,
            "user": target.user,
            "password": target.password,
            "db": target.database,
            "unix_socket": target.unix_socket,
            "ssl": tls,
            "charset": "utf8mb4",
            "autocommit": True,
            "connect_timeout": self.connect_timeout,
            "init_command": f"SET lock_wait_timeout = {math.ceil(seconds)}",
        }
        self._pools = LoopPools(self._create_pool, _close_pool, _terminate_pool, self.timeout)

    def __repr__(self) -> str:
        return f"MySQLStore(schema={self.schema.name!r}, max_size={self.max_size})"

    # ------------------------------------------------------------------------------ pools

    async def _pool(self) -> Any:
        return await self._pools.get()

    async def _create_pool(self) -> Any:
        # minsize=0: creating the pool does no I/O, so it cannot fail, and every connection is
        # opened (and re-opened after an outage) on demand
        return await asyncmy.create_pool(
            minsize=0,
            maxsize=self.max_size,
            pool_recycle=max(1, int(self.pool_recycle)),
            **self._connect_args,
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
                pool.release(conn)

    # ----------------------------------------------------------------------------- lookups

    async def load(self, token: str) -> SessionRecord | None:
        """Run the lookup; see the module docstring for how faults are answered."""
        rows = await self._run((self._sql_mariadb, self._sql_mysql), (token,), 1)
        return self.schema.record_from_row(rows[0]) if rows else None

    async def fetch(self, sql: str, *args: Any, limit: int | None = None) -> list[tuple[Any, ...]]:
        """Run one read-only query (``%s`` placeholders) on the lookup's pool, deadline,
        retries and fault handling (the Better Auth plugin lookups of :mod:`.ba_plugins`)."""
        return await self._run((sql, sql), args, limit)

    async def _run(
        self, sql: tuple[str, str], args: tuple[Any, ...], limit: int | None
    ) -> list[tuple[Any, ...]]:
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._fetch_once(sql, args, deadline, limit)
            except ProviderUnavailableError:
                raise
            except _Retry as retry:
                if attempt < 3 and deadline - time.monotonic() > 0.01:
                    continue
                cause = retry.__cause__ if retry.__cause__ is not None else retry
                raise self._unavailable(cause) from None
            except Exception as exc:  # a store never lets a driver error escape: fail closed
                raise self._unavailable(exc) from None

    async def _fetch_once(
        self, sql: tuple[str, str], args: tuple[Any, ...], deadline: float, limit: int | None
    ) -> list[tuple[Any, ...]]:
        pool = await self._pool()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProviderUnavailableError("the session database did not answer in time")
        full = pool.size >= pool.maxsize and pool.freesize == 0
        try:
            async with asyncio.timeout(remaining):
                conn = await pool.acquire()
        except TimeoutError:
            if full:  # waited for a busy connection, not for a server that does not answer
                raise ProviderUnavailableError(
                    "no session database connection was free in time (pool exhausted)"
                ) from None
            raise
        except asyncmy.errors.OperationalError as exc:
            if _error_code(exc) in _REFUSED:
                # refused while connecting (credentials, unknown database, host not allowed):
                # not a schema mapping problem
                logger.error("session database refused the connection: %s", _error_code(exc))
                raise ProviderUnavailableError(
                    f"the session database refused the connection (error {_error_code(exc)}; "
                    "check the database URL and its credentials)"
                ) from None
            raise
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                text = sql[0] if "MariaDB" in (conn.get_server_info() or "") else sql[1]
                async with conn.cursor() as cursor:
                    await cursor.execute(text, args)
                    rows = await (cursor.fetchall() if limit is None else cursor.fetchmany(limit))
                    description = cursor.description
        except BaseException as exc:
            conn.close()  # protocol state unknown: never hand it to the next caller
            pool.release(conn)
            if isinstance(exc, asyncmy.errors.Error) and _error_code(exc) in _CONNECTION_LOST:
                raise _Retry() from exc
            if isinstance(exc, asyncmy.errors.InterfaceError):
                raise _Retry() from exc
            raise
        pool.release(conn)
        return [_typed_row(row, description) for row in rows or ()]

    def _unavailable(self, exc: BaseException) -> ProviderUnavailableError:
        code = _error_code(exc) if isinstance(exc, asyncmy.errors.Error) else None
        if isinstance(exc, TimeoutError) or code in _SERVER_TIMEOUT:
            message = "the session database did not answer in time"
        elif code in _SCHEMA or isinstance(exc, asyncmy.errors.ProgrammingError):
            # a query error (missing table or column...) is a schema mismatch: say which kind
            message = f"the session query failed (error {code}; check the schema mapping)"
            logger.error("session store query failed: error %s", code)
        else:
            message = "the session database is unreachable"
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("session store unavailable: %s %s", type(exc).__name__, code)
        return ProviderUnavailableError(message)

    def pool_stats(self) -> dict[str, int]:
        """Size and idle connections of the current loop's pool (for benchmarks and doctor)."""
        pool = self._pools.current()
        if pool is None:
            return {"size": 0, "idle": 0, "max_size": self.max_size}
        return {"size": pool.size, "idle": pool.freesize, "max_size": self.max_size}

    async def aclose(self) -> None:
        """Close every pool this store opened (on whichever loop owns it)."""
        await self._pools.aclose()


def _typed_row(row: Any, description: Any) -> tuple[Any, ...]:
    """``TINYINT(1)`` as ``bool`` (MySQL's ``BOOLEAN``, Better Auth's ``emailVerified``) and
    MySQL's native ``JSON`` parsed, as the JS drivers' type casts do."""
    values = list(row)
    for index, column in enumerate(description or ()):
        value = values[index]
        if value is None:
            continue
        type_code, length = column[1], column[3]
        if type_code == FIELD_TYPE.TINY and length == 1 and isinstance(value, int):
            values[index] = bool(value)
        elif type_code == FIELD_TYPE.JSON and isinstance(value, (str, bytes)):
            try:
                values[index] = json.loads(value)
            except ValueError:
                raise ProviderUnavailableError("a JSON user column does not hold JSON") from None
    return tuple(values)


async def _close_pool(pool: Any) -> None:
    pool.close()
    await pool.wait_closed()


def _terminate_pool(pool: Any) -> None:
    pool.terminate()
