"""Wire what many replicas need from what the database and Redis already hold (start-up I/O).

:func:`attach_replicas` is what ``sessiongate serve`` and :meth:`SessionGate.from_env` call
after building their authenticators. It looks, once, at start:

* **PostgreSQL** (``DATABASE_URL``): whether ``sessiongate db install-notify`` created the
  ``NOTIFY`` triggers (then a listener makes every PostgreSQL session cache forget deleted
  sessions) and the revocation table (then Auth.js JWE, HS256 and JWKS tokens are revocable:
  :class:`~sessiongate.revocation.Revocable`). A database that cannot be reached at start may
  have both: the listener is attached and revocable tokens answer 503 until the database
  answers (fail closed); if the table then turns out to be missing, there is nothing to revoke
  and tokens are accepted again.
* **Redis** (``REDIS_URL``): a listener for the keyspace notifications of Redis session caches
  and for the revocation channel; the ``sessiongate:revoked-*`` hashes make tokens revocable.

Nothing needs a flag once installed; :meth:`ReplicaSetup.describe` gives the banner lines.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._extras import require
from .stores.cache import CachedStore
from .stores.notify import Listener, PostgresListener

__all__ = ["ReplicaSetup", "attach_replicas", "replicated"]

logger = logging.getLogger("sessiongate")

_REVOCABLE = ("authjs", "jws", "jwks", "static-key")


@dataclass
class ReplicaSetup:
    """What :func:`attach_replicas` found and built."""

    authenticators: list[Any]
    listeners: list[Listener] = field(default_factory=list)
    mirrors: list[Any] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        """Banner lines (no URL, no secret)."""
        return list(self.lines)

    def start(self, *, wait: float = 0.0) -> bool:
        """Start every listener (on the process-wide background loop); with ``wait``, wait up
        to that many seconds for each to connect (and the mirrors to load). ``False`` when one
        did not in time: revocable tokens answer 503 until it does."""
        for listener in self.listeners:
            listener.start()
        return all(listener.wait_connected_sync(wait) for listener in self.listeners)

    async def aclose(self) -> None:
        """Stop every listener."""
        for listener in self.listeners:
            await listener.aclose()


async def _postgres_facts(dsn: str, table: str) -> tuple[bool, int]:
    asyncpg = require("asyncpg", "postgres")

    from .stores.urls import parse_postgres_url

    conn = await asyncpg.connect(parse_postgres_url(dsn).dsn, timeout=5)
    try:
        has_table = bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table))
        triggers = int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal "
                "AND tgname IN ('sessiongate_session_deleted', 'sessiongate_session_changed')"
            )
        )
        return has_table, triggers
    finally:
        await conn.close()


def _caches(authenticators: Sequence[Any], kind: type) -> list[CachedStore]:
    found: list[CachedStore] = []
    for auth in authenticators:
        store = getattr(auth, "store", None)
        if isinstance(store, CachedStore) and isinstance(store.store, kind):
            found.append(store)
    return found


def _wrap(authenticators: list[Any], mirror: Any) -> list[Any]:
    from .revocation import revocable

    return [revocable(a, mirror) if a.name in _REVOCABLE else a for a in authenticators]


def attach_replicas(
    authenticators: Sequence[Any],
    *,
    database_url: str | None,
    redis_url: str | None,
    redis_prefix: str = "sessiongate:",
    run: Any = None,
) -> ReplicaSetup:
    """Detect, build and wrap (see the module docstring); the listeners are not started yet.

    ``run`` executes a coroutine at start (default: ``asyncio.run``, or the background loop
    when called inside a running loop).
    """
    setup = ReplicaSetup(list(authenticators))
    run = run or _runner()
    stateless = any(a.name in _REVOCABLE for a in authenticators)
    if database_url and database_url.split(":", 1)[0].lower() in ("postgres", "postgresql"):
        _attach_postgres(setup, database_url, stateless, run)
    if redis_url:
        _attach_redis(setup, redis_url, redis_prefix, stateless)
    return setup


def replicated(config: Any, authenticators: Sequence[Any], *, wait: float = 3.0) -> ReplicaSetup:
    """:func:`attach_replicas` for a :class:`~sessiongate.config.GateConfig`, listeners started
    (waiting up to ``wait`` seconds for them to connect and the mirrors to load)."""
    setup = attach_replicas(
        authenticators, database_url=config.database_url, redis_url=config.redis_url
    )
    if setup.listeners:
        setup.start(wait=wait)
    return setup


def _runner() -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run
    from ._sync import default_loop

    return lambda coro: default_loop().run(coro, timeout=10)


def _attach_postgres(setup: ReplicaSetup, url: str, stateless: bool, run: Any) -> None:
    from .revocation import RevocationMirror
    from .revocation.postgres import PostgresRevocations
    from .stores.postgres import PostgresStore

    backend = PostgresRevocations(url)
    try:
        has_table, triggers = run(_postgres_facts(url, backend.table))
        known = True
    except Exception as exc:  # unreachable, refused, timed out: fail closed (see the module doc)
        logger.warning(
            "the database could not be inspected at start (%s): revocation assumed installed",
            type(exc).__name__,
        )
        has_table, triggers, known = True, 0, False
    caches = _caches(setup.authenticators, PostgresStore)
    if caches:
        if not known:
            state = "PostgreSQL NOTIFY (database unreachable at start)"
        elif triggers:
            state = "PostgreSQL NOTIFY (triggers installed)"
        else:
            state = "none, sessions cached up to cache_ttl (sessiongate db install-notify)"
        setup.lines.append(f"cross-replica invalidation: {state}")
    listen = bool(caches) and (triggers > 0 or not known)
    if not listen and not (stateless and has_table):
        return
    listener = PostgresListener(url)
    for cache in caches:
        listener.subscribe_cache(cache)
    setup.listeners.append(listener)
    if stateless and has_table:
        mirror = RevocationMirror(PostgresRevocations(url, required=known))
        listener.subscribe(mirror)
        mirror.listener = listener
        setup.mirrors.append(mirror)
        setup.authenticators = _wrap(setup.authenticators, mirror)
        setup.lines.append(
            "revocation: PostgreSQL table sessiongate_revocation"
            + ("" if known else " (database unreachable at start: 503 until it answers)")
        )


def _attach_redis(setup: ReplicaSetup, url: str, prefix: str, stateless: bool) -> None:
    from .revocation import RevocationMirror
    from .revocation.redis import RedisRevocations
    from .stores.redis import RedisStore
    from .stores.redis_notify import RedisListener

    caches = _caches(setup.authenticators, RedisStore)
    backend = RedisRevocations(url, prefix=prefix)
    listener = RedisListener(
        url,
        layouts=[c.store.layout for c in caches],  # type: ignore[attr-defined]
        revocation_channel=backend.channel if stateless else None,
    )
    for cache in caches:
        listener.subscribe_cache(cache)
    if not caches and not stateless:
        return
    setup.listeners.append(listener)
    if caches:
        setup.lines.append("cross-replica invalidation: Redis keyspace notifications")
    if stateless:
        mirror = RevocationMirror(backend)
        listener.subscribe(mirror)
        mirror.listener = listener
        setup.mirrors.append(mirror)
        setup.authenticators = _wrap(setup.authenticators, mirror)
        setup.lines.append(f"revocation: Redis hashes {prefix}revoked-users / -tokens")
