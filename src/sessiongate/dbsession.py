"""Auth.js / NextAuth database sessions: the cookie holds a raw ``sessionToken``.

With ``session: { strategy: "database" }`` the session cookie carries the token stored verbatim
in the ``Session`` table (a UUID by default). :class:`DatabaseSession` reads it from the standard
cookie names, looks it up through a :class:`~sessiongate.stores.SessionStore` (behind a TTL cache
with single-flight), rejects unknown (``session_not_found``) and expired (``expired``) sessions,
and shapes the joined user row into claims. It never writes to the database.

A cookie value that contains a ``.`` is a JWE (JWT strategy) and is left to
:class:`~sessiongate.authjs.AuthJSToken`: this authenticator answers ``None`` for it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from .cookies import (
    AUTHJS_COOKIE,
    NEXTAUTH_COOKIE,
    SECURE_PREFIX,
    RequestCredentials,
    secure_first,
)
from .errors import (
    ConfigurationError,
    ExpiredTokenError,
    MalformedTokenError,
    SessionNotFoundError,
)
from .gate import CredentialKind, Verified
from .stores.base import SessionRecord, SessionStore
from .stores.bridge import BackgroundLoop, default_loop
from .stores.cache import CachedStore
from .user import freeze_claims

__all__ = ["DEFAULT_COOKIE_NAMES", "DatabaseSession", "claims_from_record"]

DEFAULT_COOKIE_NAMES: tuple[str, ...] = (
    SECURE_PREFIX + AUTHJS_COOKIE,
    AUTHJS_COOKIE,
    SECURE_PREFIX + NEXTAUTH_COOKIE,
    NEXTAUTH_COOKIE,
)
"""Auth.js v5 and NextAuth v4 session cookie names, ``__Secure-`` first."""

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
    ``session.expires`` as ISO-8601 and ``exp`` as UNIX seconds. The session token itself is
    never part of the claims. Read-only all the way down: the record (and the claims built from
    it) is cached and shared by the requests that present the same token.
    """
    claims: dict[str, Any] = {"sub": record.user_id, "id": record.user_id}
    claims.update(record.user)
    claims.update(record.extra)
    expires = record.expires.isoformat().replace("+00:00", "Z")
    claims["session"] = MappingProxyType({"expires": expires})
    claims["exp"] = math.floor(record.expires_at)
    return freeze_claims(MappingProxyType(claims))


class StoreBackedAuthenticator:
    """Shared machinery: a cached store, verification of a record, the sync bridge."""

    name = "database"
    source = "database"

    def __init__(
        self,
        store: SessionStore,
        *,
        cache_ttl: float,
        negative_cache_ttl: float,
        cache_size: int,
        background_loop: BackgroundLoop | None,
        blocking_timeout: float | None,
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
        self._loop = background_loop
        if blocking_timeout is None:
            inner_timeout = getattr(self.store.store, "timeout", 5.0)
            blocking_timeout = float(inner_timeout) * 2 + 1.0
        self.blocking_timeout = blocking_timeout
        self._memo_key = object()

    def _verified(
        self, record: SessionRecord | None, credential: CredentialKind, now: float
    ) -> Verified:
        if record is None:
            raise SessionNotFoundError()
        if record.is_expired(now):
            raise ExpiredTokenError()
        key = (self._memo_key, credential)
        verified = record.memo.get(key)
        if verified is None:
            verified = Verified(
                claims=self._claims(record),
                source=self.source,
                credential=credential,
                expires_at=record.expires_at,
            )
            record.memo[key] = verified
        return verified

    def _claims(self, record: SessionRecord) -> Mapping[str, Any]:
        return claims_from_record(record)

    async def lookup(self, token: str, credential: CredentialKind, now: float) -> Verified:
        """Look ``token`` up (cache first) and verify the session it names."""
        return self._verified(await self.store.load(token), credential, now)

    def cached(self, token: str, credential: CredentialKind, now: float) -> Verified | None:
        """The verdict from the cache alone, or ``None`` when the token is not cached."""
        cached = self.store.get_cached(token)
        if self.store.is_missing(cached):
            return None
        return self._verified(cached, credential, now)  # type: ignore[arg-type]

    def run_blocking(self, coro: Any) -> Any:
        """Run a coroutine on the background loop (sync callers)."""
        loop = self._loop or default_loop()
        return loop.run(coro, timeout=self.blocking_timeout)

    def invalidate(self, token: str | None = None) -> None:
        """Drop a token (or all) from the cache."""
        self.store.invalidate(token)

    async def aclose(self) -> None:
        """Close the store (pools, threads)."""
        await self.store.aclose()


class DatabaseSession(StoreBackedAuthenticator):
    """Verify Auth.js / NextAuth database sessions (``session.strategy = "database"``).

    Args:
        store: where the sessions live (``PostgresStore(dsn, schema="authjs-prisma")``,
            ``SQLiteStore(path, schema=...)``).
        cookie_names: more cookie names to read (``cookies.sessionToken.name``), besides
            :data:`DEFAULT_COOKIE_NAMES`. ``__Secure-`` names are always preferred: when one is
            present the plain names are not read (no downgrade).
        accept_bearer: also accept ``Authorization: Bearer <sessionToken>`` when no session
            cookie is present.
        cache_ttl: seconds a found session is served from memory; a session deleted on the JS
            side (sign-out) stays valid here that long. 0 disables the hit cache.
        negative_cache_ttl: seconds an unknown token is remembered as unknown.
        cache_size: entries in each cache.
        background_loop: the loop sync callers use (default: the process-wide one).
        blocking_timeout: how long a sync caller waits for the background loop.
    """

    name = "database"
    source = "database"

    def __init__(
        self,
        store: SessionStore,
        *,
        cookie_names: Iterable[str] | None = None,
        accept_bearer: bool = True,
        cache_ttl: float = 5.0,
        negative_cache_ttl: float = 2.0,
        cache_size: int = 10_000,
        background_loop: BackgroundLoop | None = None,
        blocking_timeout: float | None = None,
    ) -> None:
        super().__init__(
            store,
            cache_ttl=cache_ttl,
            negative_cache_ttl=negative_cache_ttl,
            cache_size=cache_size,
            background_loop=background_loop,
            blocking_timeout=blocking_timeout,
        )
        extra = () if cookie_names is None else tuple(cookie_names)
        if isinstance(cookie_names, str) or not all(isinstance(n, str) and n for n in extra):
            raise ConfigurationError("cookie_names must be a list of cookie names")
        self.cookie_names = secure_first((*DEFAULT_COOKIE_NAMES, *extra))
        self.accept_bearer = accept_bearer

    def __repr__(self) -> str:
        return f"DatabaseSession({self.store.store!r})"

    def token(self, credentials: RequestCredentials) -> tuple[str, CredentialKind] | None:
        """The session token this request presents, or ``None`` when it has none for us.

        The first session cookie present (``__Secure-`` names first, across every family)
        decides; chunks are read like Auth.js does. A cookie holding a JWE belongs to the JWT
        strategy: ``None``.
        """
        cookies = credentials.session_cookies(self.cookie_names) if credentials.cookies else None
        first = None if cookies is None else next(cookies, None)
        if first is not None:
            value = first[1][0]
            if "." in value:
                return None  # a JWE: the JWT strategy's cookie, not ours
            check_token_shape(value)
            return value, "cookie"
        if self.accept_bearer:
            bearer = credentials.bearer_token()
            if bearer is None or "." in bearer:
                return None
            check_token_shape(bearer)
            return bearer, "bearer"
        return None

    async def authenticate_async(
        self, credentials: RequestCredentials, now: float
    ) -> Verified | None:
        """``None``: no database session token. Raises when the token is unknown or expired."""
        found = self.token(credentials)
        if found is None:
            return None
        return await self.lookup(found[0], found[1], now)

    def authenticate_blocking(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """The same from synchronous code: cache hits answer in place, misses use the loop."""
        found = self.token(credentials)
        if found is None:
            return None
        hit = self.cached(found[0], found[1], now)
        if hit is not None:
            return hit
        result: Verified = self.run_blocking(self.lookup(found[0], found[1], now))
        return result
