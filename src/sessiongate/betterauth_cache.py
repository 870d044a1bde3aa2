"""Reading Better Auth's ``session_data`` cookie cache as ``GET /get-session`` does (pure: no I/O).

Read from better-auth 1.7.25 (``api/routes/session``, ``cookies/index``, ``cookies/jwt``,
``plugins/jwt/cookie-cache``). A cache answers without the database only when all of this holds:

* it is the first cache cookie name present (``__Secure-`` first), its value whole or joined
  from ``name.0``, ``name.1``, ... chunks by :func:`sessiongate.cookies.session_cookie_candidates`
  (the same code path as Auth.js chunks; at most 100 chunks, as Better Auth writes);
* it decodes: ``compact`` / ``jwt`` / ``jwe`` (:meth:`BetterAuthSecrets.decode_cookie_cache`),
  or the ``jwt`` plugin's JWKS-signed form (``jwt({ sessionCookieCache: true })``), checked by a
  :class:`CacheTokenVerifier` (:class:`sessiongate.jwks.SessionCacheJWT`: ``typ``, ``kid``,
  pinned algorithm, ``iss``, ``aud``, ``exp``) and here: ``sub`` is the cached user's id and
  ``sid`` the cached session's token;
* ``session.token`` is the token of the (verified) session cookie;
* ``version`` (default ``"1"``) equals the expected version: a string, or a callable of
  ``(session, user)`` as ``session.cookieCache.version`` may be in the TS config;
* the cache's expiry and the embedded ``session.expiresAt`` are not in the past.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from .baplugins import session_fields, timestamp
from .betterauth import MAX_COOKIE_CACHE_BYTES, BetterAuthSecrets, CookieCacheStrategy
from .cookies import session_cookie_candidates
from .errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidClaimError,
    ProviderUnavailableError,
    SessionGateError,
)

__all__ = [
    "CacheTokenVerifier",
    "CacheVersion",
    "CachedSession",
    "CookieCache",
]

CacheVersion = str | Callable[[Mapping[str, Any], Mapping[str, Any]], str]
"""``session.cookieCache.version``: a string, or a function of the cached ``(session, user)``
returning one (a Python callable standing for the TS function)."""

_STRATEGIES: tuple[CookieCacheStrategy, ...] = ("compact", "jwt", "jwe")


@runtime_checkable
class CacheTokenVerifier(Protocol):
    """Verifies the ``jwt`` plugin's session-cache JWT and returns its claims (signature,
    ``typ``, ``kid``, ``iss``, ``aud``, ``exp``/``nbf`` checked); raises an
    :class:`~sessiongate.errors.AuthenticationError` when it does not hold, or
    :class:`~sessiongate.errors.ProviderUnavailableError` when the keys cannot be had."""

    async def decode(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """Verify ``token`` (awaiting keys if needed)."""
        ...

    def decode_sync(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """Blocking :meth:`decode`."""
        ...


class CachedSession:
    """What a valid ``session_data`` cookie cache proves: the user's claims until ``expires_at``.

    ``claims`` are shaped like a database session's (``sub``/``id``, the user fields, a
    ``session`` object with ``expires`` and ``cached_until``, ``exp``); read-only.
    """

    __slots__ = ("claims", "expires_at")

    def __init__(self, claims: Mapping[str, Any], expires_at: float) -> None:
        self.claims = claims
        self.expires_at = expires_at


class CookieCache:
    """Better Auth's ``session_data`` cache, read as ``/get-session`` reads it.

    Args:
        secrets: the app's secrets (``None`` only with a ``verifier``: the JWKS-signed cache
            needs no shared secret).
        strategy: ``"compact"``, ``"jwt"`` or ``"jwe"`` (``session.cookieCache.strategy``), or
            a :class:`CacheTokenVerifier` for ``jwt({ sessionCookieCache: true })``.
        names: the cache cookie names in lookup order (``__Secure-`` first).
        version: the expected ``version``: a string or a callable of ``(session, user)``.
        leeway: clock tolerance for the ``jwe`` cache's ``exp`` (Better Auth: 15 s).
    """

    __slots__ = ("leeway", "names", "secrets", "strategy", "verifier", "version")

    def __init__(
        self,
        secrets: BetterAuthSecrets | None,
        strategy: CookieCacheStrategy | CacheTokenVerifier,
        *,
        names: Sequence[str],
        version: CacheVersion = "1",
        leeway: float = 15.0,
    ) -> None:
        verifier = strategy if isinstance(strategy, CacheTokenVerifier) else None
        kind: CookieCacheStrategy | None = "jwt" if verifier is not None else None
        for known in _STRATEGIES:
            kind = known if strategy == known else kind
        if kind is None:
            raise ConfigurationError(
                "cookie_cache must be 'compact', 'jwt', 'jwe', a SessionCacheJWT or None"
            )
        if verifier is None and secrets is None:
            raise ConfigurationError(f"the {kind!r} cookie cache needs the Better Auth secret")
        if not (isinstance(version, str) and version) and not callable(version):
            raise ConfigurationError("the cookie cache version must be a string or a callable")
        self.secrets = secrets
        self.verifier = verifier
        self.strategy: CookieCacheStrategy = kind
        self.names = tuple(names)
        self.version = version
        self.leeway = float(leeway)
        if self.strategy == "jwe" and secrets is not None:
            _ = secrets.jwe_keys  # derive the cache keys now, not on the first request

    def __repr__(self) -> str:
        kind = repr(self.verifier) if self.verifier is not None else repr(self.strategy)
        return f"CookieCache({kind}, names={list(self.names)!r})"

    def values(self, cookies: Mapping[str, str]) -> list[str]:
        """The candidate values of the first cache cookie present (whole and/or joined chunks);
        ``[]`` when none is, or when its chunks are broken (then ask the database)."""
        for name in self.names:
            try:
                found = session_cookie_candidates(
                    cookies, name, max_chunks=100, max_bytes=MAX_COOKIE_CACHE_BYTES
                )
            except SessionGateError:
                return []
            if found:
                return found
        return []

    def read(
        self, cookies: Mapping[str, str], token: str, now: float, *, fall_back: bool
    ) -> CachedSession | None:
        """The session the cache proves for ``token``; ``None``: ask the database (blocking key
        fetch for the JWKS-signed cache). ``fall_back``: a database can answer, so a key-set
        outage means "ask it" rather than :class:`ProviderUnavailableError` (503)."""
        for value in self.values(cookies):
            try:
                payload, cache_exp = self._decode_sync(value, now)
            except AuthenticationError:
                continue  # Better Auth drops a bad cache and asks the database
            except ProviderUnavailableError:
                if fall_back:
                    return None
                raise
            found = self.accept(payload, cache_exp, token, now)
            if found is not None:
                return found
        return None

    async def aread(
        self, cookies: Mapping[str, str], token: str, now: float, *, fall_back: bool
    ) -> CachedSession | None:
        """:meth:`read`, awaiting the key fetch of the JWKS-signed cache."""
        verifier = self.verifier
        if verifier is None:
            return self.read(cookies, token, now, fall_back=fall_back)
        for value in self.values(cookies):
            try:
                payload, cache_exp = _plugin_payload(await verifier.decode(value, now=now))
            except AuthenticationError:
                continue
            except ProviderUnavailableError:
                if fall_back:
                    return None
                raise
            found = self.accept(payload, cache_exp, token, now)
            if found is not None:
                return found
        return None

    def _decode_sync(self, value: str, now: float) -> tuple[dict[str, Any], float]:
        if self.verifier is not None:
            return _plugin_payload(self.verifier.decode_sync(value, now=now))
        assert self.secrets is not None  # checked in __init__
        return self.secrets.decode_cookie_cache(value, self.strategy, now=now, leeway=self.leeway)

    def expected_version(self, session: Mapping[str, Any], user: Mapping[str, Any]) -> str:
        """The version a cache of ``(session, user)`` must carry."""
        version = self.version
        if isinstance(version, str):
            return version
        expected = version(MappingProxyType(session), MappingProxyType(user))
        if not isinstance(expected, str):
            raise ConfigurationError("the cookie cache version callable must return a string")
        return expected

    def accept(
        self, payload: Mapping[str, Any], cache_exp: float, token: str, now: float
    ) -> CachedSession | None:
        """The checks ``/get-session`` makes on a decoded cache; ``None`` when one fails."""
        session, user = payload.get("session"), payload.get("user")
        if not isinstance(session, dict) or not isinstance(user, dict):
            return None
        cached_token = session.get("token")
        if not isinstance(cached_token, str) or not hmac.compare_digest(
            cached_token.encode("utf-8"), token.encode("utf-8")
        ):
            return None
        if (payload.get("version") or "1") != self.expected_version(session, user):
            return None
        session_exp = _iso_to_ts(session.get("expiresAt"))
        # Better Auth: the cache is stale when expiresAt < now (milliseconds)
        if session_exp is None or cache_exp < now or session_exp < now:
            return None
        user_id = user.get("id")
        if not isinstance(user_id, (str, int)) or isinstance(user_id, bool):
            return None
        claims: dict[str, Any] = {k: v for k, v in user.items() if k not in ("id",)}
        claims["sub"] = claims["id"] = str(user_id)
        # the session columns (createdAt, impersonatedBy...) and when the cache was written
        written = payload.get("updatedAt")
        claims["session"] = MappingProxyType(
            {
                **session_fields(session),
                "expires": session.get("expiresAt"),
                "cached_until": cache_exp,
                "cached_at": timestamp(written) if isinstance(written, (int, float)) else None,
            }
        )
        claims["exp"] = math.floor(session_exp)
        return CachedSession(MappingProxyType(claims), session_exp)


def _plugin_payload(claims: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
    """``parseSessionCookieJwtPayload``: the verified claims of a JWKS-signed cache as
    ``(sessionData, exp)``, or :class:`AuthenticationError` when ``sub`` is not the cached
    user's id or ``sid`` not the cached session's token."""
    session, user, exp = claims.get("session"), claims.get("user"), claims.get("exp")
    if not isinstance(session, dict) or not isinstance(user, dict):
        raise InvalidClaimError("the session-cache JWT has no session and user")
    sub, sid = claims.get("sub"), claims.get("sid")
    if not isinstance(sub, str) or sub != user.get("id"):
        raise InvalidClaimError("the session-cache JWT's sub is not the cached user")
    if not isinstance(sid, str) or sid != session.get("token"):
        raise InvalidClaimError("the session-cache JWT's sid is not the cached session")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise InvalidClaimError("the session-cache JWT has no exp")
    return dict(claims), float(exp)


def _iso_to_ts(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
