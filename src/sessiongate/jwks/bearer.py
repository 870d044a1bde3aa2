"""The ``JWKSBearer`` authenticator: asymmetric Bearer JWTs verified against a JWKS.

This module owns the token side of the JWKS path, in this order, for each token:

1. everything checkable before any I/O: size cap, three segments, strict base64url, the
   protected header (:func:`sessiongate.jws.parse_jws_header`: key-carrying and ``crit``
   parameters refused), ``alg`` in the configured list (never taken from the token);
2. the keys for the token's ``kid`` from a :class:`~sessiongate.jwks.JWKSClient` (the only I/O);
3. the signature, with a key whose type and curve fit the ``alg``
   (:class:`~sessiongate.jwks.keys.SignatureVerifier`);
4. ``iss``/``aud``/``exp``/``nbf`` through :class:`~sessiongate.claims.ClaimRules`.

Verified tokens are remembered per key-set ``version``: when a fetch brings different keys (a
key removed, for instance), every remembered verdict is dropped. A hit still re-checks
``exp``/``nbf``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from .._b64json import json_object
from .._tokencache import DecodedToken, TokenCache
from ..claims import ClaimRules
from ..cookies import DEFAULT_MAX_TOKEN_BYTES, RequestCredentials
from ..errors import (
    ConfigurationError,
    ProviderUnavailableError,
    UnknownKidError,
)
from ..jws import is_jws
from ..types import Claim, Verified, claim_by_shape
from .client import JWKSClient
from .keys import JWKSKey, KeySource, SignatureVerifier, SignedToken, parse_signed_token
from .session_cache import better_auth_jwks_url

__all__ = ["JWKSBearer"]


class JWKSBearer:
    """Verify asymmetric Bearer JWTs against the keys of a JWKS (an async authenticator).

    Args:
        jwks_url: the JWKS URL; or pass a shared ``jwks=JWKSClient(...)`` instead.
        jwks: where the keys come from: a :class:`JWKSClient` (share one between verifiers of
            the same provider) or :class:`~sessiongate.jwks.StaticKeys` (public keys
            configured once, no endpoint); any :class:`~sessiongate.jwks.keys.KeySource`.
        algorithms: the accepted algorithms, required and never taken from the token; any of
            :data:`~sessiongate.jwks.ASYMMETRIC_ALGORITHMS`. HS* and ``none`` are refused (use
            ``BearerJWT``).
        issuer: accepted ``iss`` value(s). Required: pass ``None`` explicitly to skip the check.
        audience: accepted ``aud`` value(s). Required: pass ``None`` explicitly to skip it
            (without it, a token the same provider minted for another application passes).
        leeway, require_exp: claim checks, see :class:`~sessiongate.claims.ClaimRules`.
        cache_size: how many verified tokens to remember (0 disables); a hit re-checks
            ``exp``/``nbf`` and is dropped when the key set changes.
        max_token_bytes: size cap, checked before any parsing.
        allow_http: with ``jwks_url``, accept an ``http`` URL (loopback, development).
        clock: returns wall-clock UNIX time for :meth:`decode` / :meth:`decode_sync`;
            injectable for tests.
    """

    name = "jwks"

    def __init__(
        self,
        jwks_url: str | None = None,
        *,
        jwks: KeySource | None = None,
        algorithms: Iterable[str],
        issuer: str | Collection[str] | None,
        audience: str | Collection[str] | None,
        leeway: float | timedelta = 15,
        require_exp: bool = True,
        cache_size: int = 4096,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        allow_http: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (jwks_url is None) == (jwks is None):
            raise ConfigurationError("JWKSBearer needs exactly one of jwks_url= or jwks=")
        if jwks is not None and not isinstance(jwks, KeySource):
            raise ConfigurationError("jwks= must be a JWKSClient or StaticKeys")
        self._signatures = SignatureVerifier(algorithms)
        if max_token_bytes <= 0:
            raise ConfigurationError("max_token_bytes must be positive")
        self.jwks: KeySource = (
            jwks if jwks is not None else JWKSClient(jwks_url, allow_http=allow_http)
        )
        self.algorithms = self._signatures.algorithms
        self.rules = ClaimRules(
            leeway=leeway, require_exp=require_exp, issuer=issuer, audience=audience
        )
        self.max_token_bytes = max_token_bytes
        self.clock = clock
        # Stored on the first miss: a signature check (RSA, ECDSA, EdDSA) costs tens of
        # microseconds, so an insertion is cheap next to it and a second check is not.
        self._cache = TokenCache(cache_size, second_sight=False)

    def __repr__(self) -> str:
        return f"JWKSBearer({self.jwks!r}, algorithms={list(self.algorithms)})"

    @classmethod
    def for_better_auth(
        cls,
        base_url: str,
        *,
        base_path: str = "/api/auth",
        jwks_path: str = "/jwks",
        algorithms: Iterable[str] = ("EdDSA",),
        issuer: str | Collection[str] | None = None,
        audience: str | Collection[str] | None = None,
        allow_http: bool = False,
        **options: Any,
    ) -> JWKSBearer:
        """A verifier for Better Auth's ``jwt`` plugin.

        The JWKS is ``{base_url}{base_path}{jwks_path}`` (as Better Auth builds it, a
        ``base_url`` that already has a path is used as is), the algorithm is ``EdDSA`` and
        ``iss`` = ``aud`` = the origin of ``base_url`` unless ``issuer``/``audience`` say
        otherwise (the plugin's ``jwt.issuer``/``jwt.audience``). ``options`` go to
        :class:`JWKSBearer` (``leeway``, ``cache_size``, ...).
        """
        jwks_url, base_origin = better_auth_jwks_url(base_url, base_path, jwks_path, allow_http)
        return cls(
            jwks_url,
            algorithms=algorithms,
            issuer=base_origin if issuer is None else issuer,
            audience=base_origin if audience is None else audience,
            allow_http=allow_http,
            **options,
        )

    @classmethod
    def from_oidc_issuer(
        cls,
        issuer: str,
        *,
        algorithms: Iterable[str],
        audience: str | Collection[str] | None,
        allow_http: bool = False,
        **options: Any,
    ) -> JWKSBearer:
        """A verifier for an OpenID Connect provider: keys found through discovery, ``iss`` checked.

        ``options`` go to :class:`JWKSBearer`.
        """
        client = JWKSClient(issuer=issuer, allow_http=allow_http)
        return cls(jwks=client, algorithms=algorithms, issuer=issuer, audience=audience, **options)

    # ------------------------------------------------------------------ verification

    def _parse(self, token: str) -> SignedToken:
        """Everything checkable before any I/O (:func:`.keys.parse_signed_token`)."""
        return parse_signed_token(token, self.algorithms, self.max_token_bytes)

    def _check(
        self, token: str, parsed: SignedToken, keys: tuple[JWKSKey, ...], version: int
    ) -> DecodedToken:
        """Signature with the resolved key(s), then the claims."""
        try:
            self._signatures.verify(
                parsed.alg, parsed.kid, keys, parsed.signing_input, parsed.signature
            )
        except UnknownKidError:
            if self.jwks.failing:  # no cached key fits, and the cached set may be out of date
                raise ProviderUnavailableError(
                    "no cached key fits the token and the JWKS endpoint is unavailable"
                ) from None
            raise
        claims = json_object(parsed.payload, "payload")
        exp, nbf = self.rules.check_static(claims)
        decoded = DecodedToken(MappingProxyType(claims), parsed.header, "jwks", exp, nbf)
        self._cache.put((version, token), decoded)
        return decoded

    def _verify_sync(self, token: str) -> DecodedToken:
        version = self.jwks.version
        hit = self._cache.get((version, token))
        if hit is not None:
            return hit
        parsed = self._parse(token)
        keys = self.jwks.get_signing_keys_sync(parsed.kid)
        return self._check(token, parsed, keys, self.jwks.version)

    async def _verify(self, token: str) -> DecodedToken:
        version = self.jwks.version
        hit = self._cache.get((version, token))
        if hit is not None:
            return hit
        parsed = self._parse(token)
        keys = await self.jwks.get_signing_keys(parsed.kid)
        return self._check(token, parsed, keys, self.jwks.version)

    async def decode(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """Verify ``token`` (awaiting the key fetch if needed) and return its claims."""
        decoded = await self._verify(token)
        self.rules.check_time(decoded.exp, decoded.nbf, self.clock() if now is None else now)
        return dict(decoded.claims)

    def decode_sync(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """Blocking :meth:`decode` (fetches keys in a blocking way if needed)."""
        decoded = self._verify_sync(token)
        self.rules.check_time(decoded.exp, decoded.nbf, self.clock() if now is None else now)
        return dict(decoded.claims)

    def claims(self, credentials: RequestCredentials) -> Claim:
        """``"mine"`` for a three-segment ``Bearer`` token (no cookie is read)."""
        return claim_by_shape(credentials, bearer_is_mine=is_jws)

    async def authenticate(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """Authenticator protocol: a three-segment ``Bearer`` token, else ``None``."""
        token = credentials.bearer_token()
        if token is None or token.count(".") != 2:
            return None
        decoded = await self._verify(token)
        self.rules.check_time(decoded.exp, decoded.nbf, now)
        return decoded.as_verified("bearer")

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """Blocking :meth:`authenticate` (WSGI); shares the key cache."""
        token = credentials.bearer_token()
        if token is None or token.count(".") != 2:
            return None
        decoded = self._verify_sync(token)
        self.rules.check_time(decoded.exp, decoded.nbf, now)
        return decoded.as_verified("bearer")
