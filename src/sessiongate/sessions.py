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

from collections.abc import Iterable, Sequence
from typing import Literal

from ._sync import BackgroundLoop
from .baplugins import DEFAULT_CACHE_MAX_AGE, PluginRules
from .betterauth import (
    BetterAuthSecrets,
    CookieCacheStrategy,
    better_auth_cookie_names,
    split_signed_cookie,
)
from .betterauth_cache import CachedSession, CacheTokenVerifier, CacheVersion, CookieCache
from .cookies import AUTHJS_COOKIE_NAMES, RequestCredentials, cookie_name_list
from .errors import (
    ConfigurationError,
    SessionNotFoundError,
)
from .session_lookup import SessionLookup, check_token_shape, claims_from_record
from .stores.base import SessionStore
from .stores.cache import CachedStore
from .stores.schema import SchemaMapping
from .types import Claim, CredentialKind, Verified

__all__ = [
    "BetterAuthSession",
    "DatabaseSession",
    "SessionLookup",
    "check_token_shape",
    "claims_from_record",
]


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

    def claims(self, credentials: RequestCredentials) -> Claim:
        """Like :meth:`token` without the shape check: the first session cookie decides
        (``"foreign"`` when it holds a JWE), else a dot-free ``Bearer`` token if accepted."""
        cookies = credentials.session_cookies(self.cookie_names) if credentials.cookies else None
        first = None if cookies is None else next(cookies, None)
        if first is not None:
            return "foreign" if "." in first[1][0] else "mine"
        if not self.accept_bearer:
            return "absent"
        bearer = credentials.bearer_token()
        if bearer is None:
            return "absent"
        return "foreign" if "." in bearer else "mine"

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
        secret: ``BETTER_AUTH_SECRET``, or a list ``[current, *older]``: the current one
            verifies signed cookies and tokens (an older one's signature is refused, as Better
            Auth does), all of them decrypt the ``jwe`` cache. ``None`` only with a
            :class:`~sessiongate.jwks.SessionCacheJWT` cache and no store: the JWKS-signed cache
            is then the whole proof and the session cookie's token is only matched to its
            ``sid``.
        store: where sessions live (``PostgresStore(dsn, schema="better-auth")``...). May be
            ``None`` only with ``cookie_cache``: then a session is proven by the cache alone.
        cookie_prefix: ``advanced.cookiePrefix`` (default ``better-auth``).
        cookie_names: the complete list of session cookie names to read (for
            ``advanced.cookies.session_token.name``, ``__Secure-`` / ``__Host-`` included);
            default from the prefix and ``secure_cookies``.
        secure_cookies: whether the app writes ``__Secure-`` cookies
            (:func:`sessiongate.betterauth.secure_cookies`): then only those names are read, and
            only plain ones when ``False``; ``None`` (default) reads both, ``__Secure-`` first.
        accept_bearer: accept the bearer plugin's ``Authorization: Bearer token.signature``.
        allow_unsigned_bearer: also accept a bare session token as bearer credential (what the
            plugin does unless ``requireSignature: true``). Off by default.
        cookie_cache: trust the ``session_data`` cookie cache: ``"compact"``, ``"jwt"``,
            ``"jwe"`` or a :class:`~sessiongate.jwks.SessionCacheJWT`; ``None`` (default) always
            asks the store. A cache is a snapshot: a ban or sign-out reaches it only when it is
            rewritten, and a cache written before a second factor was checked looks like any
            other (GHSA-xg6x-h9c9-2m83). Hence ``cookie_cache_max_age`` and
            ``confirm_two_factor``.
        admin / confirm_two_factor / cookie_cache_max_age: the plugins' rules
            (:class:`~sessiongate.baplugins.PluginRules`): bans refused on every lookup and cache
            hit (``admin=True`` needs a schema reading the ban columns). ``cookie_cache_max_age``
            ``"auto"``: 60 s with a store (an older cache is confirmed by it), ``None`` without
            one (nothing else could answer: a cache is then trusted until it expires).
        cookie_cache_version: the expected ``version``: a string or a callable of the cached
            ``(session, user)`` (``session.cookieCache.version``).
        cookie_cache_name: ``advanced.cookies.session_data.name``, if set.
        leeway: clock tolerance for the jwe cache's ``exp`` (Better Auth uses 15 s).
        cache_ttl / negative_cache_ttl / cache_size / background_loop / blocking_timeout:
            as for :class:`DatabaseSession`.
    """

    name = "better-auth"

    def __init__(
        self,
        *,
        secret: str | bytes | Sequence[str | bytes] | None,
        store: SessionStore | None = None,
        cookie_prefix: str = "better-auth",
        cookie_names: Iterable[str] | None = None,
        secure_cookies: bool | None = None,
        accept_bearer: bool = True,
        allow_unsigned_bearer: bool = False,
        cookie_cache: CookieCacheStrategy | CacheTokenVerifier | None = None,
        cookie_cache_version: CacheVersion = "1",
        cookie_cache_name: str | None = None,
        cookie_cache_max_age: float | Literal["auto"] | None = "auto",
        admin: bool | None = None,
        confirm_two_factor: bool = True,
        leeway: float = 15.0,
        cache_ttl: float = 5.0,
        negative_cache_ttl: float = 2.0,
        cache_size: int = 10_000,
        background_loop: BackgroundLoop | None = None,
        blocking_timeout: float | None = None,
    ) -> None:
        self.secrets = None if secret is None else BetterAuthSecrets(secret)
        if store is None and cookie_cache is None:
            raise ConfigurationError("BetterAuthSession needs a store (or a trusted cookie_cache)")
        if self.secrets is None and (store is not None or isinstance(cookie_cache, str)):
            raise ConfigurationError("without a secret only a SessionCacheJWT cache can prove")
        if not cookie_prefix or not isinstance(cookie_prefix, str):
            raise ConfigurationError("cookie_prefix must be a non-empty string")
        if cookie_cache_max_age == "auto":
            cookie_cache_max_age = None if store is None else DEFAULT_CACHE_MAX_AGE
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
        names = better_auth_cookie_names
        self.cookie_names = cookie_name_list(
            cookie_names, names("session_token", prefix=cookie_prefix, secure=secure_cookies)
        )
        self.data_cookie_names = names(
            "session_data", prefix=cookie_prefix, name=cookie_cache_name, secure=secure_cookies
        )
        self.accept_bearer = accept_bearer and self.secrets is not None
        self.allow_unsigned_bearer = allow_unsigned_bearer
        self.cookie_cache: CookieCache | None = (
            None
            if cookie_cache is None
            else CookieCache(
                self.secrets,
                cookie_cache,
                names=self.data_cookie_names,
                version=cookie_cache_version,
                leeway=leeway,
            )
        )

    def __repr__(self) -> str:
        return (
            f"BetterAuthSession(cookies={list(self.cookie_names)!r}, "
            f"secrets=<{len(self.secrets.keys) if self.secrets else 0}>, "
            f"cookie_cache={self.cookie_cache!r})"
        )

    @property
    def store(self) -> CachedStore | None:
        """The cached store the sessions are looked up in (``None``: cookie cache only)."""
        return None if self.sessions is None else self.sessions.store

    # ------------------------------------------------------------------ credentials

    def token(self, credentials: RequestCredentials) -> tuple[str, CredentialKind] | None:
        """The verified session token this request presents, or ``None`` when none is ours.

        Only the exact session cookie names are read: the multi-session plugin's
        ``<name>_multi-<token>`` cookies are never taken for the session."""
        cookies = credentials.cookies
        secrets = self.secrets
        for name in self.cookie_names:
            value = cookies.get(name)
            if value:
                token = (
                    split_signed_cookie(value)[0]  # only matched to the JWKS-signed cache's sid
                    if secrets is None
                    else secrets.verify_signed_cookie(value)
                )
                check_token_shape(token)
                return token, "cookie"
        if not self.accept_bearer or secrets is None:
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
        self, cached: CachedSession | None, credential: CredentialKind, now: float
    ) -> Verified | None:
        """The answer from the trusted cookie cache (``cached``, read for a cookie credential),
        if any and the plugins' rules trust it (bans, age, two-factor); raises when a store is
        needed but none is configured. ``None``: look the token up in the store."""
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

    def claims(self, credentials: RequestCredentials) -> Claim:
        """``"mine"`` for a cookie under its names, or a ``Bearer`` token of the bearer
        plugin's ``token.signature`` shape (a dot-free one with ``allow_unsigned_bearer``)."""
        cookies = credentials.cookies
        if any(cookies.get(name) for name in self.cookie_names):
            return "mine"
        if not self.accept_bearer:
            return "absent"
        bearer = credentials.bearer_token()
        if bearer is None:
            return "absent"
        if "." in bearer:
            return "mine" if bearer.count(".") == 1 else "foreign"
        return "mine" if self.allow_unsigned_bearer else "foreign"

    async def authenticate(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """``None``: no Better Auth credential. Raises when it is forged, unknown or expired."""
        found = self.token(credentials)
        if found is None:
            return None
        token, credential = found
        cache, fall_back = self.cookie_cache, self.sessions is not None
        cached = (
            await cache.aread(credentials.cookies, token, now, fall_back=fall_back)
            if cache is not None and credential == "cookie"
            else None
        )
        answer = self._without_store(cached, credential, now)
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
        cache, fall_back = self.cookie_cache, self.sessions is not None
        cached = (
            cache.read(credentials.cookies, token, now, fall_back=fall_back)
            if cache is not None and credential == "cookie"
            else None
        )
        answer = self._without_store(cached, credential, now)
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
