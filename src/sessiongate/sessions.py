"""Database-backed sessions: Auth.js / NextAuth database sessions and Better Auth sessions.

Both authenticators find a session token in the request, look it up in the session table and
shape the joined user row into claims. They share that second half by composition: each holds
a :class:`SessionLookup` (the store behind a TTL cache, the verdict on a row, the way blocking
callers reach the store). Neither ever writes to the database.

* :class:`DatabaseSession`: ``session: { strategy: "database" }`` in Auth.js / NextAuth. The
  cookie holds the raw ``sessionToken``. A cookie value that contains a ``.`` is a JWE (JWT
  strategy) and is left to :class:`~sessiongate.authjs.AuthJSToken`: the answer is ``None``.
* :class:`BetterAuthSession`: Better Auth's HMAC-signed cookie or bearer-plugin token (the
  format: :mod:`sessiongate.betterauth`), optionally answered from the ``session_data`` cookie
  cache without the database, as Better Auth does.

Blocking callers (WSGI, the CLI) use ``authenticate_sync``: a cache hit answers in place, a store
with ``load_sync`` (SQLite) is asked in the calling thread, any other store (PostgreSQL) runs on
the background loop of :mod:`sessiongate._sync`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ._sync import BackgroundLoop, default_loop
from .baplugins import PluginRules
from .betterauth import BetterAuthSecrets, CookieCacheStrategy
from .cookies import (
    AUTHJS_COOKIE_NAMES,
    BETTER_AUTH_COOKIE,
    SECURE_PREFIX,
    RequestCredentials,
    cookie_name_list,
)
from .errors import (
    ConfigurationError,
    ExpiredTokenError,
    MalformedTokenError,
    SessionNotFoundError,
)
from .stores.base import SessionRecord, SessionStore
from .stores.cache import CachedStore
from .stores.schema import SchemaMapping
from .types import CredentialKind, Verified
from .user import freeze_claims

__all__ = [
    "BetterAuthSession",
    "DatabaseSession",
    "SessionLookup",
    "check_token_shape",
    "claims_from_record",
]

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


class DatabaseSession:
    """Verify Auth.js / NextAuth database sessions (``session.strategy = "database"``).

    Args:
        store: where the sessions live (``PostgresStore(dsn, schema="authjs-prisma")``,
            ``SQLiteStore(path, schema=...)``, or ``open_store(DATABASE_URL, schema=...)``).
        cookie_names: the complete list of session cookie names to read; default
            :data:`~sessiongate.cookies.AUTHJS_COOKIE_NAMES`. To add the app's
            ``cookies.sessionToken.name``: ``[*AUTHJS_COOKIE_NAMES, "my.session"]``. ``__Secure-``
            names are always read first: when one is present the plain names are not read
            (no downgrade).
        accept_bearer: also accept ``Authorization: Bearer <sessionToken>`` when no session
            cookie is present.
        cache_ttl: seconds a found session is served from memory; a session deleted on the JS
            side (sign-out) stays valid here that long. 0 disables the hit cache.
        negative_cache_ttl: seconds an unknown token is remembered as unknown.
        cache_size: entries in each cache.
        background_loop / blocking_timeout: see :class:`SessionLookup`.
    """

    name = "database"

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
        self.sessions = SessionLookup(
            store,
            source="database",
            cache_ttl=cache_ttl,
            negative_cache_ttl=negative_cache_ttl,
            cache_size=cache_size,
            background_loop=background_loop,
            blocking_timeout=blocking_timeout,
        )
        self.cookie_names = cookie_name_list(cookie_names, AUTHJS_COOKIE_NAMES)
        self.accept_bearer = accept_bearer

    def __repr__(self) -> str:
        return f"DatabaseSession({self.store.store!r})"

    @property
    def store(self) -> CachedStore:
        """The cached store the sessions are looked up in."""
        return self.sessions.store

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

    async def authenticate(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """``None``: no database session token. Raises when the token is unknown or expired."""
        found = self.token(credentials)
        if found is None:
            return None
        return await self.sessions.verify(found[0], found[1], now)

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """Blocking :meth:`authenticate` (see :meth:`SessionLookup.verify_sync`)."""
        found = self.token(credentials)
        if found is None:
            return None
        return self.sessions.verify_sync(found[0], found[1], now)

    def invalidate(self, token: str | None = None) -> None:
        """Drop a token (or all) from the cache."""
        self.sessions.invalidate(token)

    async def aclose(self) -> None:
        """Close the store (pools, threads)."""
        await self.sessions.aclose()


def _require_ban_columns(store: SessionStore) -> None:
    schema = getattr(getattr(store, "store", store), "schema", None)
    if isinstance(schema, SchemaMapping) and "banned" not in dict(schema.extra_user_columns):
        raise ConfigurationError(
            "admin=True needs a schema that reads the ban columns: "
            "schema.with_better_auth_columns(admin=True)"
        )


class BetterAuthSession:
    """Verify Better Auth sessions (signed cookie or bearer plugin, then the ``session`` table).

    Args:
        secret: ``BETTER_AUTH_SECRET``, or a list ``[current, previous, ...]``: a signature by
            any of them is accepted. Prepared once, here.
        store: where sessions live (``PostgresStore(dsn, schema="better-auth")``...). May be
            ``None`` only with ``cookie_cache``: then a session is proven by the cache alone.
        cookie_prefix: ``advanced.cookiePrefix`` (default ``better-auth``): the default cookie
            names are ``[__Secure-]<prefix>.session_token`` and the cache is
            ``[__Secure-]<prefix>.session_data``.
        cookie_names: the complete list of session cookie names to read (for
            ``advanced.cookies.session_token.name``); default the prefix's two names
            (:data:`~sessiongate.cookies.BETTER_AUTH_COOKIE_NAMES` for ``better-auth``).
            ``__Secure-`` names are always read first.
        accept_bearer: accept the bearer plugin's ``Authorization: Bearer token.signature``.
        allow_unsigned_bearer: also accept a bare session token as bearer credential (what the
            plugin does unless ``requireSignature: true``). Off by default.
        cookie_cache: trust the ``session_data`` cookie cache in this encoding (``compact``,
            ``jwt`` or ``jwe``); ``None`` (default) always asks the store. A cache is a
            snapshot: a ban or sign-out reaches it only when it is rewritten, and a cache written
            before a second factor was checked looks like any other (GHSA-xg6x-h9c9-2m83).
            Hence ``cookie_cache_max_age`` (default 60 s) and ``confirm_two_factor``.
        admin / confirm_two_factor / cookie_cache_max_age: the plugins' rules
            (:class:`~sessiongate.baplugins.PluginRules`): bans refused on every lookup and cache
            hit (``admin=True`` needs a schema reading the ban columns).
        cookie_cache_version: the expected ``version`` (``session.cookieCache.version``).
        leeway: clock tolerance for the jwe cache's ``exp`` (Better Auth uses 15 s).
        cache_ttl / negative_cache_ttl / cache_size / background_loop / blocking_timeout:
            as for :class:`DatabaseSession`.
    """

    name = "better-auth"

    def __init__(
        self,
        *,
        secret: str | bytes | Sequence[str | bytes],
        store: SessionStore | None = None,
        cookie_prefix: str = "better-auth",
        cookie_names: Iterable[str] | None = None,
        accept_bearer: bool = True,
        allow_unsigned_bearer: bool = False,
        cookie_cache: CookieCacheStrategy | None = None,
        cookie_cache_version: str = "1",
        cookie_cache_max_age: float | None = 60.0,
        admin: bool | None = None,
        confirm_two_factor: bool = True,
        leeway: float = 15.0,
        cache_ttl: float = 5.0,
        negative_cache_ttl: float = 2.0,
        cache_size: int = 10_000,
        background_loop: BackgroundLoop | None = None,
        blocking_timeout: float | None = None,
    ) -> None:
        self.secrets = BetterAuthSecrets(secret)
        if cookie_cache not in (None, "compact", "jwt", "jwe"):
            raise ConfigurationError("cookie_cache must be 'compact', 'jwt', 'jwe' or None")
        if store is None and cookie_cache is None:
            raise ConfigurationError("BetterAuthSession needs a store (or a trusted cookie_cache)")
        if not cookie_prefix or not isinstance(cookie_prefix, str):
            raise ConfigurationError("cookie_prefix must be a non-empty string")
        self.rules = PluginRules(admin, confirm_two_factor, cookie_cache_max_age)
        if admin and store is not None:
            _require_ban_columns(store)
        self.sessions: SessionLookup | None = (
            None
            if store is None
            else SessionLookup(
                store,
                source="better-auth",
                cache_ttl=cache_ttl,
                negative_cache_ttl=negative_cache_ttl,
                cache_size=cache_size,
                background_loop=background_loop,
                blocking_timeout=blocking_timeout,
                check=self.rules.check,
            )
        )
        token_name = (
            BETTER_AUTH_COOKIE
            if cookie_prefix == "better-auth"
            else f"{cookie_prefix}.session_token"
        )
        self.cookie_names = cookie_name_list(cookie_names, (SECURE_PREFIX + token_name, token_name))
        data = f"{cookie_prefix}.session_data"
        self.data_cookie_names = (SECURE_PREFIX + data, data)
        self.accept_bearer = accept_bearer
        self.allow_unsigned_bearer = allow_unsigned_bearer
        self.cookie_cache: CookieCacheStrategy | None = cookie_cache
        self.cookie_cache_version = cookie_cache_version
        self.leeway = float(leeway)
        if cookie_cache == "jwe":
            _ = self.secrets.jwe_keys  # derive the cache keys now, not on the first request

    def __repr__(self) -> str:
        return (
            f"BetterAuthSession(cookies={list(self.cookie_names)!r}, "
            f"secrets=<{len(self.secrets.keys)}>, cookie_cache={self.cookie_cache!r})"
        )

    @property
    def store(self) -> CachedStore | None:
        """The cached store the sessions are looked up in (``None``: cookie cache only)."""
        return None if self.sessions is None else self.sessions.store

    # ------------------------------------------------------------------ credentials

    def token(self, credentials: RequestCredentials) -> tuple[str, CredentialKind] | None:
        """The verified session token this request presents, or ``None`` when none is ours."""
        cookies = credentials.cookies
        secrets = self.secrets
        for name in self.cookie_names:
            value = cookies.get(name)
            if value:
                token = secrets.verify_signed_cookie(value)
                check_token_shape(token)
                return token, "cookie"
        if not self.accept_bearer:
            return None
        bearer = credentials.bearer_token()
        if bearer is None:
            return None
        if "." in bearer:
            token_or_none = secrets.verify_bearer_value(bearer)
            if token_or_none is None:
                return None
            check_token_shape(token_or_none)
            return token_or_none, "bearer"
        if not self.allow_unsigned_bearer:
            return None
        check_token_shape(bearer)
        return bearer, "bearer"

    def _without_store(
        self, credentials: RequestCredentials, token: str, credential: CredentialKind, now: float
    ) -> Verified | None:
        """The answer from the trusted cookie cache, if any; raises when a store is needed but
        none is configured. ``None``: look the token up in the store."""
        strategy = self.cookie_cache
        if strategy is not None and credential == "cookie":
            cached = self.secrets.read_cookie_cache(
                credentials.cookies,
                self.data_cookie_names,
                strategy,
                token=token,
                version=self.cookie_cache_version,
                now=now,
                leeway=self.leeway,
            )
            if cached is not None and self.rules.trust_cache(cached.claims, now):
                return Verified(
                    claims=cached.claims,
                    source="better-auth",
                    credential=credential,
                    expires_at=cached.expires_at,
                )
        if self.sessions is None:
            raise SessionNotFoundError("no valid cookie cache and no session store configured")
        return None

    # ------------------------------------------------------------------ protocol

    async def authenticate(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """``None``: no Better Auth credential. Raises when it is forged, unknown or expired."""
        found = self.token(credentials)
        if found is None:
            return None
        token, credential = found
        answer = self._without_store(credentials, token, credential, now)
        if answer is not None:
            return answer
        assert self.sessions is not None  # _without_store raised otherwise
        return await self.sessions.verify(token, credential, now)

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """Blocking :meth:`authenticate` (see :meth:`SessionLookup.verify_sync`)."""
        found = self.token(credentials)
        if found is None:
            return None
        token, credential = found
        answer = self._without_store(credentials, token, credential, now)
        if answer is not None:
            return answer
        assert self.sessions is not None  # _without_store raised otherwise
        return self.sessions.verify_sync(token, credential, now)

    def invalidate(self, token: str | None = None) -> None:
        """Drop a token (or all) from the session cache."""
        if self.sessions is not None:
            self.sessions.invalidate(token)

    async def aclose(self) -> None:
        """Close the store, if any."""
        if self.sessions is not None:
            await self.sessions.aclose()
