"""``SessionCacheJWT``: Better Auth's JWKS-signed ``session_data`` cookie cache.

better-auth 1.7.25's ``jwt({ sessionCookieCache: true })`` (``plugins/jwt/cookie-cache``) signs
the cookie cache with the jwt plugin's key pair: header ``{alg, kid, typ:
"better-auth.session-cache+jwt"}``, claims = the cache payload + ``sid`` (session token), ``sub``
(user id), ``iss`` (the base URL origin), ``aud`` ``"better-auth:session-cache"``, ``iat``,
``exp``. It verifies with jose's ``jwtVerify`` (15 s tolerance) pinned to the key's algorithm.
This is the one Better Auth cache a service can verify with **no shared secret**: only the
public keys of ``{base}/api/auth/jwks``.

Checks, in this order: size cap, strict parse, ``alg`` in the pinned list (never taken from the
token), ``typ`` exactly the session-cache type and a ``kid`` (both before any key fetch), the key
for that ``kid`` from the :class:`~sessiongate.jwks.keys.KeySource` (a key listed for another
algorithm is refused), the signature, then ``iss`` / ``aud`` / ``exp`` / ``nbf``. Verified
tokens are remembered per key-set version, as :class:`~sessiongate.jwks.JWKSBearer` does. The
``sub`` / ``sid`` binding and everything ``/get-session`` checks next are
:class:`sessiongate.betterauth_cache.CookieCache`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from .._b64json import json_object
from .._tokencache import DecodedToken, TokenCache
from ..betterauth import MAX_COOKIE_CACHE_BYTES
from ..claims import ClaimRules
from ..errors import ConfigurationError, InvalidClaimError, MalformedTokenError
from .client import JWKSClient
from .fetch import check_url, origin
from .keys import JWKSKey, KeySource, SignatureVerifier, SignedToken, parse_signed_token

__all__ = [
    "SESSION_CACHE_AUDIENCE",
    "SESSION_CACHE_TYPE",
    "SessionCacheJWT",
    "better_auth_jwks_url",
]

SESSION_CACHE_TYPE = "better-auth.session-cache+jwt"
SESSION_CACHE_AUDIENCE = "better-auth:session-cache"


def better_auth_jwks_url(
    base_url: str, base_path: str, jwks_path: str, allow_http: bool
) -> tuple[str, str]:
    """``(jwks_url, base_origin)`` of the jwt plugin of an app at ``base_url``: Better Auth's
    ``withPath`` (a ``base_url`` that has a path is used as is, else ``base_path`` is added)
    then ``jwks_path``. :class:`ConfigurationError` for a URL that is not ``https`` (or ``http``
    with ``allow_http``) with a host."""
    try:
        check_url(base_url, allow_http, "base_url")
    except ValueError as err:
        raise ConfigurationError(str(err)) from None
    base_origin = origin(base_url)
    trimmed = base_url.rstrip("/")
    if urlsplit(trimmed).path in ("", "/"):
        path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        trimmed = base_origin + path
    return trimmed + "/" + jwks_path.lstrip("/"), base_origin


class SessionCacheJWT:
    """Verify Better Auth's JWKS-signed ``session_data`` cache (pass it as ``cookie_cache=`` to
    :class:`~sessiongate.sessions.BetterAuthSession`).

    Args:
        jwks_url: the jwt plugin's JWKS URL; or pass ``jwks=`` (a shared
            :class:`~sessiongate.jwks.JWKSClient` or :class:`~sessiongate.jwks.StaticKeys`).
        issuer: the required ``iss``: the app's base URL **origin** (what Better Auth writes);
            ``"better-auth:session-cache"`` when the app has no static base URL.
        algorithms: pinned algorithms (the plugin's ``keyPairConfig.alg``; default ``EdDSA``).
        leeway: clock tolerance (Better Auth: 15 s).
        cache_size: how many verified cache JWTs to remember (0 disables), per key-set version;
            a hit re-checks ``exp``/``nbf``.
        allow_http: with ``jwks_url``, accept an ``http`` URL (loopback development).
        clock: wall-clock UNIX time when ``now`` is not passed.
    """

    def __init__(
        self,
        jwks_url: str | None = None,
        *,
        jwks: KeySource | None = None,
        issuer: str,
        algorithms: Iterable[str] = ("EdDSA",),
        leeway: float = 15.0,
        cache_size: int = 4096,
        allow_http: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (jwks_url is None) == (jwks is None):
            raise ConfigurationError("SessionCacheJWT needs exactly one of jwks_url= or jwks=")
        if not isinstance(issuer, str) or not issuer:
            raise ConfigurationError("SessionCacheJWT needs the app's issuer (its base URL origin)")
        self._signatures = SignatureVerifier(algorithms)
        self.algorithms = self._signatures.algorithms
        self.jwks: KeySource = (
            jwks if jwks is not None else JWKSClient(jwks_url, allow_http=allow_http)
        )
        self.rules = ClaimRules(
            leeway=leeway, require_exp=True, issuer=issuer, audience=SESSION_CACHE_AUDIENCE
        )
        self.clock = clock
        self._cache = TokenCache(cache_size)

    def __repr__(self) -> str:
        return f"SessionCacheJWT({self.jwks!r}, algorithms={list(self.algorithms)})"

    @classmethod
    def for_better_auth(
        cls,
        base_url: str,
        *,
        base_path: str = "/api/auth",
        jwks_path: str = "/jwks",
        allow_http: bool = False,
        **options: Any,
    ) -> SessionCacheJWT:
        """The verifier for an app at ``base_url``: keys from ``{origin}{base_path}{jwks_path}``
        (a ``base_url`` with a path is used as is, as Better Auth does), ``iss`` = its origin."""
        jwks_url, base_origin = better_auth_jwks_url(base_url, base_path, jwks_path, allow_http)
        return cls(jwks_url, issuer=base_origin, allow_http=allow_http, **options)

    def _parse(self, token: str) -> SignedToken:
        parsed = parse_signed_token(token, self.algorithms, MAX_COOKIE_CACHE_BYTES)
        if parsed.header.get("typ") != SESSION_CACHE_TYPE:
            raise MalformedTokenError("the cookie cache JWT is not of the session-cache type")
        if not isinstance(parsed.kid, str) or not parsed.kid:
            raise MalformedTokenError("the cookie cache JWT has no kid")
        return parsed

    def _check(
        self, token: str, parsed: SignedToken, keys: tuple[JWKSKey, ...], version: int
    ) -> DecodedToken:
        self._signatures.verify(
            parsed.alg, parsed.kid, keys, parsed.signing_input, parsed.signature
        )
        claims = json_object(parsed.payload, "payload")
        exp, nbf = self.rules.check_static(claims)
        iss = claims.get("iss")
        if not isinstance(iss, str) or not iss:
            raise InvalidClaimError("the cookie cache JWT has no issuer")
        decoded = DecodedToken(claims, parsed.header, "better-auth", exp, nbf)
        self._cache.put((version, token), decoded)
        return decoded

    def _claims(self, decoded: DecodedToken, now: float | None) -> dict[str, Any]:
        self.rules.check_time(decoded.exp, decoded.nbf, self.clock() if now is None else now)
        return decoded.claims_copy()

    async def decode(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """Verify ``token`` (awaiting the key fetch if needed) and return its claims (a copy of
        their own to each caller); a token verified before is answered from the cache, its
        ``exp``/``nbf`` checked again."""
        decoded = self._cache.get((self.jwks.version, token))
        if decoded is None:
            parsed = self._parse(token)
            keys = await self.jwks.get_signing_keys(parsed.kid)
            decoded = self._check(token, parsed, keys, self.jwks.version)
        return self._claims(decoded, now)

    def decode_sync(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """Blocking :meth:`decode`."""
        decoded = self._cache.get((self.jwks.version, token))
        if decoded is None:
            parsed = self._parse(token)
            keys = self.jwks.get_signing_keys_sync(parsed.kid)
            decoded = self._check(token, parsed, keys, self.jwks.version)
        return self._claims(decoded, now)
