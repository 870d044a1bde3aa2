"""Redis / Valkey session store: Better Auth ``secondaryStorage`` and the Auth.js Redis adapters.

The client is ``redis`` (redis-py, ``pip install 'sessiongate[redis]'``): the reference Python
client, maintained with the server, asyncio-native with a bounded blocking pool, typed, and
equally at home on Valkey (same protocol for every command used here: ``GET``, ``PUBLISH``,
``SUBSCRIBE``/``PSUBSCRIBE``, ``HGETALL``, ``CONFIG GET``). ``valkey-py`` is a fork of it and
``coredis`` a smaller alternative; neither would read these keys any differently.

* **Layouts** (:mod:`.redis_layouts`): ``better-auth`` (the raw token as key, ``{session,
  user}`` JSON, the ``revoked-sessions-before-<userId>`` mark honoured) and ``authjs``
  (``user:session:<token>`` + ``user:<id>``).
* **Bounded**: at most ``max_connections`` connections per event loop; a lookup that cannot get
  one within its deadline is answered 503, never queued forever.
* **Faults**: connection refused or lost, timeouts, a server that is loading or read-only, data
  the layout cannot explain: :class:`~sessiongate.errors.ProviderUnavailableError` (503, never
  401). Connections are opened on demand, so the store recovers by itself once Redis is back;
  a lookup on a connection the server dropped is retried once on a fresh one.
* It never writes: the JavaScript side owns the keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from typing import Any
from urllib.parse import urlsplit

from .._extras import require
from ..errors import ConfigurationError, ProviderUnavailableError
from .base import SessionRecord
from .redis_layouts import AuthJSRedisLayout, BetterAuthRedisLayout, RedisLayout, resolve_layout

__all__ = ["RedisStore", "check_redis_url", "redis_module"]

logger = logging.getLogger("sessiongate")

_SCHEMES = ("redis", "rediss", "valkey", "valkeys", "unix")


def redis_module() -> Any:
    """``redis.asyncio``, or the one-line error naming the extra to install."""
    return require("redis.asyncio", "redis")


def check_redis_url(url: str) -> str:
    """Validate a Redis URL (``redis://``, ``rediss://``, ``valkey://``, ``unix://``) and
    return it as redis-py reads it (``valkey`` schemes mapped to ``redis``)."""
    if not isinstance(url, str) or not url:
        raise ConfigurationError("the Redis URL is empty")
    scheme = urlsplit(url).scheme.lower()
    if scheme not in _SCHEMES:
        raise ConfigurationError(
            f"not a Redis URL (scheme {scheme or '(none)'!r}; expected redis://, rediss://, "
            "valkey://, valkeys:// or unix://)"
        )
    if scheme.startswith("valkey"):
        url = "redis" + url[len("valkey") :]
    return url


def describe_redis_url(url: str) -> str:
    """``host:port/db`` of a Redis URL, without user name or password (for banners, repr)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 6379}{parts.path or '/0'}"


def connection_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a Redis call raises when the server cannot answer."""
    from redis.exceptions import RedisError

    return (RedisError, OSError, TimeoutError, EOFError)


def make_pool(url: str, *, max_connections: int, timeout: float, connect_timeout: float) -> Any:
    """A blocking connection pool: waits at most ``timeout`` for a free connection."""
    aioredis = redis_module()
    return aioredis.BlockingConnectionPool.from_url(
        check_redis_url(url),
        max_connections=max_connections,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=connect_timeout,
        socket_keepalive=True,
        health_check_interval=0,
    )


def make_client(pool: Any) -> Any:
    """A client on ``pool`` that never retries by itself (the caller owns the deadline)."""
    aioredis = redis_module()
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return aioredis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))


class RedisStore:
    """Look sessions up in Redis or Valkey.

    Args:
        url: ``redis://[user:password@]host:port/db``, ``rediss://`` (TLS), ``valkey://``,
            ``unix:///path/to.sock`` (the password is never logged).
        layout: ``"better-auth"`` (default: ``@better-auth/redis-storage``'s ``better-auth:``
            prefix), ``"authjs"``, or a :class:`~.redis_layouts.BetterAuthRedisLayout` /
            :class:`~.redis_layouts.AuthJSRedisLayout` with other prefixes or extra fields.
        max_connections: the most connections per event loop (default 10).
        timeout: seconds for one lookup, waiting for a connection included.
        connect_timeout: seconds to open one connection.
    """

    def __init__(
        self,
        url: str,
        *,
        layout: RedisLayout | str = "better-auth",
        max_connections: int = 10,
        timeout: float = 2.0,
        connect_timeout: float = 2.0,
    ) -> None:
        self._url = check_redis_url(url)
        redis_module()  # fail at construction when the package is missing
        if max_connections < 1:
            raise ConfigurationError("max_connections must be >= 1")
        if not timeout > 0 or not connect_timeout > 0:
            raise ConfigurationError("timeouts must be positive")
        self.layout: RedisLayout = resolve_layout(layout)
        self.max_connections = int(max_connections)
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.location = describe_redis_url(self._url)
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._closed = False
        self._errors = connection_errors()

    def __repr__(self) -> str:
        return f"RedisStore({self.location!r}, layout={self.layout.name!r})"

    @property
    def url(self) -> str:
        """The URL (with its password: never print it)."""
        return self._url

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            if self._closed:
                raise ProviderUnavailableError("the session store is closed")
            pool = make_pool(
                self._url,
                max_connections=self.max_connections,
                timeout=self.timeout,
                connect_timeout=self.connect_timeout,
            )
            client = make_client(pool)
            self._clients[loop] = client
        return client

    async def connect(self) -> None:
        """Run one lookup (fail fast at start-up): 503 when Redis cannot be reached."""
        await self.load("sessiongate-startup-probe")

    async def load(self, token: str) -> SessionRecord | None:
        """The session stored under ``token`` (and its user), or ``None``."""
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                    return await self._load_once(token)
            except ProviderUnavailableError:
                raise
            except TimeoutError:
                raise ProviderUnavailableError("the session store did not answer in time") from None
            except self._errors as exc:
                if attempt < 2 and _is_connection_error(exc) and deadline > time.monotonic():
                    continue  # a pooled connection the server closed: once more on a fresh one
                raise self._unavailable(exc) from None

    async def _load_once(self, token: str) -> SessionRecord | None:
        client = self._client()
        layout = self.layout
        value = await client.get(layout.session_key(token))
        if value is None:
            return None
        user_id, parsed = layout.parse_session(value)
        if isinstance(layout, BetterAuthRedisLayout):
            mark = await client.get(layout.revoked_key(user_id))
            return layout.record(token, parsed, mark)
        assert isinstance(layout, AuthJSRedisLayout)
        return layout.record(token, parsed, await client.get(layout.user_key(user_id)))

    def _unavailable(self, exc: BaseException) -> ProviderUnavailableError:
        kind = type(exc).__name__
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("session store unavailable: %s", kind)
        if "no connection available" in str(exc).lower():
            return ProviderUnavailableError("no session store connection was free in time")
        if _is_connection_error(exc) or isinstance(exc, OSError):
            return ProviderUnavailableError("the session store (Redis) is unreachable")
        logger.error("session store (Redis) failed: %s", kind)
        return ProviderUnavailableError(f"the session store (Redis) failed ({kind})")

    async def aclose(self) -> None:
        """Close every pool this store opened (on whichever loop owns it)."""
        self._closed = True
        clients = list(self._clients.items())
        self._clients.clear()
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, client in clients:
            if loop.is_closed():
                continue
            if loop is current:
                await _close_client(client)
            elif loop.is_running():
                future = asyncio.run_coroutine_threadsafe(_close_client(client), loop)
                with contextlib.suppress(Exception):  # best effort at shutdown
                    await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)


async def _close_client(client: Any) -> None:
    try:
        await client.aclose()
        await client.connection_pool.disconnect()
    except Exception as exc:  # best effort at shutdown
        logger.debug("closing the Redis client failed: %s", type(exc).__name__)


def _is_connection_error(exc: BaseException) -> bool:
    from redis.exceptions import ConnectionError as RedisConnectionError

    return isinstance(exc, (RedisConnectionError, ConnectionResetError, BrokenPipeError, EOFError))
