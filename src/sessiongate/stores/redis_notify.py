"""Cross-replica invalidation through Redis / Valkey (see :mod:`.notify` for the model).

One pub/sub connection per process subscribes to

* the **keyspace notifications** of the session keys of each watched layout
  (``__keyspace@<db>__:better-auth:*``...): Better Auth deletes a token's key on sign-out and
  writes ``revoked-sessions-before-<userId>`` on "log out everywhere"; the Auth.js adapters
  delete ``user:session:<token>``. They need ``notify-keyspace-events`` to include ``K``, ``g``,
  ``$`` and ``x`` (``sessiongate db install-notify --redis-url … --apply`` sets ``Kg$x``);
  without them the caches stay TTL-bounded and the listener says so once;
* the revocation channel ``sessiongate:revocation`` (:mod:`sessiongate.revocation.redis`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigurationError
from .notify import Listener
from .redis import check_redis_url, describe_redis_url, make_client, make_pool
from .redis_layouts import RedisLayout, resolve_layout

__all__ = ["KEYSPACE_FLAGS", "RedisListener", "keyspace_flags_missing"]

logger = logging.getLogger("sessiongate")

KEYSPACE_FLAGS = "Kg$x"
"""``notify-keyspace-events`` flags the listener needs: keyspace channel, generic commands
(``DEL``, ``EXPIRE``, ``RENAME``), string commands (``SET``), expirations."""


def keyspace_flags_missing(current: str) -> str:
    """The flags of :data:`KEYSPACE_FLAGS` that ``current`` lacks (``A`` stands for ``g$x``...)."""
    have = set(current)
    if "A" in have:
        have |= set("g$lshzxetd")
    return "".join(flag for flag in KEYSPACE_FLAGS if flag not in have)


class RedisListener(Listener):
    """Subscribe to keyspace notifications and the revocation channel on one connection.

    Args:
        url: the Redis URL.
        layouts: the session layouts whose keys to watch (e.g. ``[store.layout]``).
        revocation_channel: the revocation channel (``None``: not subscribed).
        **options: see :class:`~.notify.Listener`.
    """

    kind = "Redis"

    def __init__(
        self,
        url: str,
        *,
        layouts: Sequence[RedisLayout | str] = (),
        revocation_channel: str | None = "sessiongate:revocation",
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._url = check_redis_url(url)
        if isinstance(layouts, str):
            raise ConfigurationError("layouts must be a list")
        self.layouts = tuple(resolve_layout(layout) for layout in layouts)
        self.revocation_channel = revocation_channel
        self.location = describe_redis_url(self._url)
        self.keyspace_enabled: bool | None = None
        """Whether the server sends the keyspace notifications needed (``None``: unknown)."""
        self._client: Any = None
        self._pool: Any = None
        self._pubsub: Any = None
        self._prefix = ""

    def __repr__(self) -> str:
        return f"RedisListener({self.location!r}, connected={self.connected})"

    async def _connect(self) -> None:
        self._pool = make_pool(
            self._url,
            max_connections=2,
            timeout=self.ping_timeout,
            connect_timeout=self.ping_timeout,
        )
        self._client = make_client(self._pool)
        db = int(self._pool.connection_kwargs.get("db", 0) or 0)
        self._prefix = f"__keyspace@{db}__:"
        if self.layouts:
            await self._check_keyspace()
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._pubsub = pubsub
        patterns = [self._prefix + p for layout in self.layouts for p in layout.watch_patterns()]
        if patterns:
            await pubsub.psubscribe(*patterns)
        if self.revocation_channel:
            await pubsub.subscribe(self.revocation_channel)
        # wait for the subscriptions to be confirmed before announcing the connection
        await pubsub.ping()
        await self._next_message(self.ping_timeout, expect_pong=True)

    async def _check_keyspace(self) -> None:
        from redis.exceptions import ResponseError

        try:
            config = await self._client.config_get("notify-keyspace-events")
        except ResponseError:
            self.keyspace_enabled = None  # CONFIG is disabled (managed servers): assume set
            return
        value = config.get("notify-keyspace-events", config.get(b"notify-keyspace-events", ""))
        current = value.decode() if isinstance(value, bytes) else str(value)
        missing = keyspace_flags_missing(current)
        enabled = not missing
        if not enabled and self.keyspace_enabled is not False:
            logger.warning(
                "Redis keyspace notifications lack %s: sessions deleted in Redis stay cached "
                "up to cache_ttl (sessiongate db install-notify --redis-url ... --apply)",
                missing,
            )
        self.keyspace_enabled = enabled

    async def _next_message(self, timeout: float, *, expect_pong: bool = False) -> bool:
        """Handle messages for up to ``timeout`` seconds; ``True`` when one arrived."""
        deadline = time.monotonic() + timeout
        got = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if expect_pong and not got:
                    raise TimeoutError("no answer from the Redis listener connection")
                return got
            message = await self._pubsub.get_message(timeout=remaining)
            if message is None:
                continue
            got = True
            self._handle(message)
            if message.get("type") == "pong" or not expect_pong:
                return True

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "pong":
            self._alive()
            return
        channel = message.get("channel")
        if isinstance(channel, bytes):
            channel = channel.decode("utf-8", "replace")
        data = message.get("data")
        if kind == "message" and channel == self.revocation_channel:
            if isinstance(data, (bytes, str)):
                self._dispatch_payload(data)
            return
        if kind == "pmessage" and isinstance(channel, str) and channel.startswith(self._prefix):
            key = channel[len(self._prefix) :]
            for layout in self.layouts:
                event = layout.classify(key)
                if event is None:
                    continue
                if event[0] == "token":
                    self._dispatch({"t": "token", "token": event[1]})
                else:
                    self._dispatch({"t": "user", "id": event[1]})
                return

    async def _serve(self) -> None:
        while not self._stopping:
            if await self._next_message(self.ping_interval):
                continue
            await self._pubsub.ping()
            await self._next_message(self.ping_timeout, expect_pong=True)

    async def _disconnect(self) -> None:
        pubsub, client, pool = self._pubsub, self._client, self._pool
        self._pubsub = self._client = self._pool = None
        for closer in (
            getattr(pubsub, "aclose", None),
            getattr(client, "aclose", None),
            getattr(pool, "disconnect", None),
        ):
            if closer is None:
                continue
            try:
                await asyncio.wait_for(closer(), 1.0)
            except Exception as exc:  # best effort
                logger.debug("closing the Redis listener failed: %s", type(exc).__name__)


async def enable_keyspace_notifications(url: str, *, timeout: float = 5.0) -> str:
    """Add :data:`KEYSPACE_FLAGS` to the server's ``notify-keyspace-events``; returns the new
    value (``CONFIG SET``: not persisted in the server's configuration file)."""
    pool = make_pool(url, max_connections=1, timeout=timeout, connect_timeout=timeout)
    client = make_client(pool)
    try:
        config = await client.config_get("notify-keyspace-events")
        value = config.get("notify-keyspace-events", config.get(b"notify-keyspace-events", ""))
        current = value.decode() if isinstance(value, bytes) else str(value)
        missing = keyspace_flags_missing(current)
        if missing:
            current = current + missing
            await client.config_set("notify-keyspace-events", current)
        return current
    finally:
        await client.aclose()
        await pool.disconnect()
