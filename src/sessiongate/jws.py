"""Bearer JWTs (JWS compact) signed with a shared secret: HS256, HS384, HS512.

Algorithms are pinned by configuration and never taken from the token: ``none``, an
asymmetric ``alg`` or any ``alg`` outside the allow-list is refused before any crypto, so the
classic "HS256 signed with the RSA public key" confusion cannot happen here. Signatures are
computed with the stdlib's OpenSSL-backed ``hmac.digest`` and compared in constant time.
Asymmetric tokens (RS/PS/ES/EdDSA from a JWKS) live in :mod:`sessiongate.jwks`.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from ._b64json import b64url_decode, b64url_encode, json_compact, json_object
from ._secrets import secret_list
from ._tokencache import DecodedToken, TokenCache, verify_session_cookies
from .claims import ClaimRules
from .cookies import DEFAULT_MAX_TOKEN_BYTES, RequestCredentials, cookie_name_list
from .errors import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    InvalidSignatureError,
    MalformedTokenError,
    TokenTooLargeError,
)
from .types import Claim, Verified, claim_by_shape

__all__ = ["HMAC_ALGORITHMS", "BearerJWT", "is_jws", "parse_jws_header"]

HMAC_ALGORITHMS = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "HS256": hashes.SHA256,
    "HS384": hashes.SHA384,
    "HS512": hashes.SHA512,
}
_MAX_HEADER_CHARS = 1024
_HEADER_CACHE_MAX = 256
# Header parameters a plain JWT may carry. ``crit``/``b64`` (RFC 7797) and key-carrying
# parameters (``jwk``, ``jku``, ``x5u``, ``x5c``) are refused: no verifier here trusts them.
_REFUSED_HEADER_PARAMS = frozenset({"crit", "b64", "jwk", "jku", "x5u", "x5c", "enc", "zip"})

_header_cache: dict[str, Mapping[str, Any]] = {}


def parse_jws_header(segment: str) -> Mapping[str, Any]:
    """Decode and shape-check a JWS protected header (cached by its encoded form).

    The result is a read-only view: it is shared by every later token with the same header
    segment (and handed out in :attr:`DecodedToken.header`), so no caller may change it.
    """
    cached = _header_cache.get(segment)
    if cached is not None:
        return cached
    if len(segment) > _MAX_HEADER_CHARS:
        raise MalformedTokenError("the JWT header is too large")
    parsed = json_object(b64url_decode(segment, "header"), "header")
    alg = parsed.get("alg")
    if not isinstance(alg, str):
        raise MalformedTokenError("the JWT header has no 'alg'")
    if parsed.keys() & _REFUSED_HEADER_PARAMS:
        raise MalformedTokenError("the JWT header has parameters this verifier refuses")
    kid = parsed.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid or len(kid) > 256):
        raise MalformedTokenError("the JWT 'kid' must be a non-empty string")
    header = MappingProxyType(parsed)
    if len(_header_cache) >= _HEADER_CACHE_MAX:
        _header_cache.clear()
    _header_cache[segment] = header
    return header


def is_jws(value: str) -> bool:
    """The shape of a compact JWS: three dot-separated segments (a claim, not a verification)."""
    return value.count(".") == 2


class BearerJWT:
    """Verify HS256/384/512 JWTs signed with a shared secret (``jsonwebtoken``, ``jose``).

    Args:
        secret: the shared secret (UTF-8 string as typed, or bytes), or a list for rotation.
        algorithms: the accepted algorithms; default ``["HS256"]``. Only HS* are allowed here.
        cookie_names: the complete list of cookies to read the token from (for apps that
            replaced NextAuth's ``jwt.encode``/``decode`` with ``jsonwebtoken``); default
            ``None``: none, the ``Bearer`` header only. ``__Secure-`` names are read first.
        leeway, require_exp, issuer, audience: claim checks, see :class:`ClaimRules`.
        cache_size: how many verified tokens to remember (0 disables); expiry re-checked per hit.
        max_token_bytes: size cap, checked before any crypto.
        clock: wall-clock UNIX seconds (default ``time.time``); injectable for tests.
    """

    name = "jws"

    def __init__(
        self,
        secret: str | bytes | Sequence[str | bytes],
        *,
        algorithms: Iterable[str] = ("HS256",),
        cookie_names: Iterable[str] | None = None,
        leeway: float | timedelta = 15,
        require_exp: bool = True,
        issuer: str | Collection[str] | None = None,
        audience: str | Collection[str] | None = None,
        cache_size: int = 4096,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        keys = secret_list(secret)
        algs = tuple(algorithms) if not isinstance(algorithms, str) else (algorithms,)
        if not algs:
            raise ConfigurationError("algorithms must not be empty")
        for alg in algs:
            if alg not in HMAC_ALGORITHMS:
                raise ConfigurationError(
                    f"BearerJWT accepts only HS256/HS384/HS512, not {alg!r} "
                    "(use JWKSBearer for asymmetric keys)"
                )
        self.algorithms = algs
        self._keys = tuple(keys)
        # HMAC contexts keyed once per (secret, alg); each verification copies one (C-level),
        # which is cheaper than hmac.digest's per-call digest lookup and key schedule.
        self._macs = {
            alg: tuple(crypto_hmac.HMAC(k, _HASHES[alg]()) for k in self._keys) for alg in algs
        }
        self.cookie_names = cookie_name_list(cookie_names, ())
        self.rules = ClaimRules(
            leeway=leeway, require_exp=require_exp, issuer=issuer, audience=audience
        )
        self.max_token_bytes = max_token_bytes
        self.clock = clock
        self._cache = TokenCache(cache_size)

    def __repr__(self) -> str:
        return (
            f"BearerJWT(secrets=<{len(self._keys)} redacted>, algorithms={list(self.algorithms)})"
        )

    def _verify_cookie(self, value: str, name: str) -> DecodedToken:
        return self._verify(value)  # the cookie's name plays no part in a JWS

    def _verify(self, token: str) -> DecodedToken:
        hit = self._cache.get(token)
        return self._verify_new(token) if hit is None else hit

    def _verify_new(self, token: str, now: float | None = None) -> DecodedToken:
        """Verify a token the cache does not hold, and remember it when the cache admits it.

        With ``now``, ``exp``/``nbf`` are checked too, in the same pass as the other claims.
        """
        decoded = self._record(token, now)
        if self._cache.admit(token):
            self._cache.put(token, decoded, len(token))
        return decoded

    def _record(self, token: str, now: float | None) -> DecodedToken:
        """Verify a token into the read-only record the cache would keep (nothing stored)."""
        claims, header, exp, nbf = self._check(token, now)
        return DecodedToken(MappingProxyType(claims), header, "jws", exp, nbf)

    def _check(
        self, token: str, now: float | None
    ) -> tuple[dict[str, Any], Mapping[str, Any], float | None, float | None]:
        """Size, shape, pinned algorithm, MAC, claims: ``(claims, header, exp, nbf)``."""
        if len(token) > self.max_token_bytes:
            raise TokenTooLargeError()
        first = token.find(".")
        last = token.rfind(".")
        if first <= 0 or first == last or token.count(".") != 2:
            raise MalformedTokenError("a JWT has three dot-separated segments")
        header = parse_jws_header(token[:first])
        alg = header["alg"]
        if alg not in self.algorithms:
            raise AlgorithmNotAllowedError(f"the JWT algorithm {alg[:16]!r} is not allowed")
        signature = b64url_decode(token[last + 1 :], "signature")
        payload = b64url_decode(token[first + 1 : last], "payload")
        signing_input = token[:last].encode("ascii")
        for keyed in self._macs[alg]:
            mac = keyed.copy()
            mac.update(signing_input)
            if hmac.compare_digest(mac.finalize(), signature):
                break
        else:
            raise InvalidSignatureError()
        claims = json_object(payload, "payload")
        exp, nbf = self.rules.check(claims, now)
        return claims, header, exp, nbf

    def decode_full(self, token: str, *, now: float | None = None) -> DecodedToken:
        """Like :meth:`decode`, also returning the header."""
        if not isinstance(token, str) or not token:
            raise MalformedTokenError("the token is empty")
        decoded = self._verify(token)
        self.rules.check_time(decoded.exp, decoded.nbf, self.clock() if now is None else now)
        return decoded

    def decode(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """Verify ``token`` and return its claims. Raises a ``SessionGateError``."""
        if not isinstance(token, str) or not token:
            raise MalformedTokenError("the token is empty")
        if now is None:
            now = self.clock()
        cache = self._cache
        decoded = cache.get(token)
        if decoded is None:  # one lookup per new token; exp/nbf checked with the other claims
            if not cache.admit(token):  # cache off or first sight: no record, no copy needed
                return self._check(token, now)[0]
            decoded = self._record(token, now)
            cache.put(token, decoded, len(token))
        else:
            self.rules.check_time(decoded.exp, decoded.nbf, now)
        if decoded.nested:
            return decoded.claims_copy()
        # MappingProxyType.copy() copies the dict underneath (C, ~10x cheaper than dict())
        claims: dict[str, Any] = decoded.claims.copy()  # type: ignore[attr-defined]
        return claims

    def claims(self, credentials: RequestCredentials) -> Claim:
        """``"mine"`` for a three-segment JWS in a configured cookie or the ``Bearer`` header."""
        return claim_by_shape(
            credentials,
            cookie_names=self.cookie_names,
            cookie_is_mine=is_jws,
            bearer_is_mine=is_jws,
        )

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """Authenticator protocol: configured cookies, then a three-segment ``Bearer`` token.

        Cookies are read like the session cookies of :class:`~sessiongate.authjs.AuthJSToken`:
        every ``__Secure-`` name first, and once one is present no plain one is read, whatever
        the order of ``cookie_names`` (a plain cookie can be planted by a sibling subdomain).
        """
        if self.cookie_names:
            verified = verify_session_cookies(
                credentials, self.cookie_names, self._verify_cookie, self.rules, now
            )
            if verified is not None:
                return verified
        token = credentials.bearer_token()
        if token is None or token.count(".") != 2:
            return None
        decoded = self._verify(token)
        self.rules.check_time(decoded.exp, decoded.nbf, now)
        return decoded.as_verified("bearer", self.rules)

    def encode(
        self,
        claims: Mapping[str, Any],
        *,
        algorithm: str | None = None,
        expires_in: float | None = 3600,
        now: float | None = None,
    ) -> str:
        """Sign ``claims`` like ``jsonwebtoken.sign`` (``iat`` added; ``exp`` unless ``None``)."""
        alg = algorithm or self.algorithms[0]
        if alg not in HMAC_ALGORITHMS:
            raise ConfigurationError(f"cannot sign with {alg!r}")
        issued = math.floor(self.clock() if now is None else now)
        body: dict[str, Any] = {**claims, "iat": issued}
        if expires_in is not None:
            body["exp"] = issued + int(expires_in)
        signing_input = (
            b64url_encode(json_compact({"alg": alg, "typ": "JWT"}))
            + "."
            + b64url_encode(json_compact(body))
        )
        sig = hmac.digest(self._keys[0], signing_input.encode("ascii"), HMAC_ALGORITHMS[alg])
        return signing_input + "." + b64url_encode(sig)
