"""The shared half of the database-backed authenticators: a session token's lookup and verdict.

:class:`SessionLookup` owns the store behind a TTL cache, the verdict on a row (expired, missing,
the plugins' checks) and the way blocking callers reach the store; :func:`claims_from_record`
shapes a row into claims. :mod:`sessiongate.sessions` composes it into ``DatabaseSession`` and
``BetterAuthSession``. No I/O of its own beyond the store it is given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ._sync import BackgroundLoop, default_loop
from .errors import ConfigurationError, ExpiredTokenError, MalformedTokenError, SessionNotFoundError
from .stores.base import SessionRecord, SessionStore
from .stores.cache import CachedStore
from .types import CredentialKind, Verified
from .user import freeze_claims

__all__ = ["SessionLookup", "check_token_shape", "claims_from_record"]

# an opaque session token: printable ASCII, no separators a cookie could not carry
_TOKEN = re.compile(r"[!#-+\--:<-~]{1,512}\Z")


def check_token_shape(token: str) -> None:
    """Refuse values that cannot be a session token before touching the database."""
    if not _TOKEN.match(token):
        raise MalformedTokenError("the session token is not of the expected shape")


def claims_from_record(record: SessionRecord) -> Mapping[str, Any]:
    """The claims a session row yields.

    ``sub`` (and ``id``) is the user id; ``email``, ``name``, ``image``, ``emailVerified`` when
    present; extra user columns (``role``, ``permissions``...) under their claim names;
    ``session.expires`` as ISO-8601 (with the extra session columns: ``createdAt``,
    ``impersonatedBy``...) and ``exp`` as UNIX seconds. The session token itself is
    never part of the claims. Read-only all the way down: the record (and the claims built from
    it) is cached and shared by the requests that present the same token.
    """
    claims: dict[str, Any] = {"sub": record.user_id, "id": record.user_id}
    claims.update(record.user)
    claims.update(record.extra)
    expires = record.expires.isoformat().replace("+00:00", "Z")
    claims["session"] = MappingProxyType({**record.session, "expires": expires})
    claims["exp"] = math.floor(record.expires_at)
    return freeze_claims(MappingProxyType(claims))


class SessionLookup:
    """A session store behind a cache, asked from async or blocking code.

    Owns what the database-backed authenticators share: the :class:`CachedStore`, the verdict on
    a row (none: ``session_not_found``; past ``expires``: ``expired``), the :class:`Verified`
    built once per cached row, and how blocking callers reach the store: in their own thread
    when it has ``load_sync`` (SQLite), else on the background loop.

    Args:
        store: the store (wrapped in a :class:`CachedStore` unless it is one).
        source: the ``source`` of the results (``database``, ``better-auth``).
        cache_ttl / negative_cache_ttl / cache_size: the cache in front of the store.
        background_loop: the loop blocking callers use for stores without ``load_sync``
            (default: the process-wide one, started on first use).
        blocking_timeout: how long a blocking caller waits for that loop (default: twice the
            store's own ``timeout`` plus one second).
        claims: how a row becomes claims (default :func:`claims_from_record`).
        check: ``(claims, now) -> None``, run on every verdict (cache hits too); raises to
            refuse the session (Better Auth's ban).
    """

    def __init__(
        self,
        store: SessionStore,
        *,
        source: str,
        cache_ttl: float = 5.0,
        negative_cache_ttl: float = 2.0,
        cache_size: int = 10_000,
        background_loop: BackgroundLoop | None = None,
        blocking_timeout: float | None = None,
        claims: Callable[[SessionRecord], Mapping[str, Any]] = claims_from_record,
        check: Callable[[Mapping[str, Any], float], None] | None = None,
    ) -> None:
        if not isinstance(store, SessionStore):
            raise ConfigurationError(f"{store!r} is not a session store")
        self.store: CachedStore = (
            store
            if isinstance(store, CachedStore)
            else CachedStore(
                store, ttl=cache_ttl, negative_ttl=negative_cache_ttl, maxsize=cache_size
            )
        )
        if blocking_timeout is None:
            inner_timeout = getattr(self.store.store, "timeout", 5.0)
            blocking_timeout = float(inner_timeout) * 2 + 1.0
        if not blocking_timeout > 0:
            raise ConfigurationError("blocking_timeout must be positive")
        self.source = source
        self.blocking_timeout = blocking_timeout
        self._loop = background_loop
        self._claims = claims
        self._check = check
        self._memo_key = object()

    def __repr__(self) -> str:
        return f"SessionLookup({self.store.store!r})"

    def verified(
        self, record: SessionRecord | None, credential: CredentialKind, now: float
    ) -> Verified:
        """The verdict on a looked-up row at ``now`` (UNIX seconds); raises when it fails."""
        if record is None:
            raise SessionNotFoundError()
        if record.is_expired(now):
            raise ExpiredTokenError()
        key = (self._memo_key, credential)
        verified: Verified | None = record.memo.get(key)
        if verified is None:
            verified = Verified(
                claims=self._claims(record),
                source=self.source,
                credential=credential,
                expires_at=record.expires_at,
            )
            record.memo[key] = verified
        if self._check is not None:
            self._check(verified.claims, now)
        return verified

    async def verify(self, token: str, credential: CredentialKind, now: float) -> Verified:
        """Look ``token`` up (cache first) and verify the session it names."""
        return self.verified(await self.store.load(token), credential, now)

    def verify_sync(self, token: str, credential: CredentialKind, now: float) -> Verified:
        """Blocking :meth:`verify`: the cache, then the store's ``load_sync`` or the loop."""
        store = self.store
        if store.answers_sync:
            return self.verified(store.load_sync(token), credential, now)
        cached = store.get_cached(token)
        if not store.is_missing(cached):
            return self.verified(cached, credential, now)  # type: ignore[arg-type]
        loop = self._loop or default_loop()
        record = loop.run(store.load(token), timeout=self.blocking_timeout)
        return self.verified(record, credential, now)

    def invalidate(self, token: str | None = None) -> None:
        """Drop a token (or all) from the cache."""
        self.store.invalidate(token)

    async def aclose(self) -> None:
        """Close the store (pools, threads)."""
        await self.store.aclose()
