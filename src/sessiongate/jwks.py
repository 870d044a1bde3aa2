"""Asymmetric Bearer JWTs verified against a JWKS: a caching key-set client and a verifier.

:class:`JWKSClient` fetches a JSON Web Key Set over ``httpx`` and keeps one cache shared by its
async and sync callers:

* keys are parsed once into ``cryptography`` public keys (via ``jwt.PyJWK``); keys meant for
  encryption (``use`` other than ``sig``), symmetric keys, keys carrying private members, RSA
  keys under 2048 bits and keys whose ``alg`` does not fit their type are ignored;
* the cache lives for ``cache_ttl`` on a monotonic clock (a ``Cache-Control: max-age`` from the
  server is honoured within ``min_cache_ttl``..``max_cache_ttl``);
* refreshes are single-flight: check, take the lock, check again, so concurrent callers share
  one fetch (an ``asyncio.Lock`` per event loop for async callers, a ``threading.Lock`` for
  sync callers);
* an unknown ``kid`` triggers a refetch, at most once per ``min_refetch_interval`` (a flood of
  random ``kid`` values never becomes a flood of fetches);
* a failed fetch (network error, timeout, non-200, oversized body, not a key set, no usable
  key) never empties the cache: the last good keys are served for ``max_stale`` seconds past
  their expiry, and a failed fetch is retried at most once per ``retry_interval``. With no
  usable keys the caller gets :class:`~sessiongate.errors.ProviderUnavailableError` (503);
* only ``https`` URLs unless ``allow_http=True`` (loopback tests, development); redirects are
  followed only to the same scheme (at most 3); the body is capped at ``max_response_bytes``
  and the whole fetch at ``timeout`` seconds.

:class:`JWKSBearer` is the authenticator (source ``"jwks"``): RS256/384/512, PS256/384/512,
ES256/384/512 and EdDSA, algorithms pinned by configuration (symmetric ones refused), the key's
type checked against the token's ``alg``, signatures checked with ``jwt.api_jws``, then
``iss``/``aud``/``exp``/``nbf`` through :class:`~sessiongate.claims.ClaimRules`.
:meth:`JWKSBearer.for_better_auth` configures it for Better Auth's ``jwt`` plugin.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Final, NamedTuple
from urllib.parse import urljoin, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.api_jws import PyJWS

from ._encoding import b64url_decode, json_object
from ._tokencache import DecodedToken, TokenCache
from .claims import ClaimRules
from .cookies import DEFAULT_MAX_TOKEN_BYTES, RequestCredentials
from .errors import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    InvalidSignatureError,
    MalformedTokenError,
    ProviderUnavailableError,
    TokenTooLargeError,
    UnknownKidError,
)
from .gate import Verified
from .jws import HMAC_ALGORITHMS, parse_jws_header

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "JWKSBearer",
    "JWKSClient",
    "JWKSKey",
    "parse_jwk_set",
]

logger = logging.getLogger("sessiongate")

_RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHMS: Final = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
ASYMMETRIC_ALGORITHMS: Final = _RSA_ALGORITHMS | frozenset(_EC_ALGORITHMS.values()) | {"EdDSA"}
"""The algorithms :class:`JWKSBearer` can be configured with."""

_MIN_RSA_BITS: Final = 2048
_MAX_KEYS: Final = 100
_MAX_KIDLESS_CANDIDATES: Final = 4
_MAX_REDIRECTS: Final = 3
# JWK members that only a private (or symmetric) key has: a key set publishing them is broken.
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_REQUEST_HEADERS: Final = {
    "accept": "application/jwk-set+json, application/json",
    "accept-encoding": "identity",
    "user-agent": "sessiongate-jwks",
}


# --------------------------------------------------------------------------------------------
# key parsing (no I/O)


@dataclass(frozen=True, slots=True)
class JWKSKey:
    """One usable verification key from a key set.

    Attributes:
        kid: the key id, or ``None`` when the JWK has none.
        kty: ``RSA``, ``EC`` or ``OKP``.
        algorithms: the JWS algorithms this key may verify (its ``alg`` when the JWK names one,
            otherwise every algorithm its type and curve allow).
        key: the ``cryptography`` public key object.
    """

    kid: str | None
    kty: str
    algorithms: frozenset[str]
    key: Any = field(repr=False)


def _key_algorithms(key: object) -> frozenset[str]:
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA_ALGORITHMS if key.key_size >= _MIN_RSA_BITS else frozenset()
    if isinstance(key, ec.EllipticCurvePublicKey):
        name = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(
            key.curve.name
        )
        return frozenset({_EC_ALGORITHMS[name]}) if name else frozenset()
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return frozenset({"EdDSA"})
    return frozenset()


def _parse_jwk(jwk: object) -> JWKSKey | None:
    """One JWK -> a usable key, or ``None`` when it must be ignored (never raises)."""
    if not isinstance(jwk, dict):
        return None
    kty = jwk.get("kty")
    if kty not in ("RSA", "EC", "OKP"):
        return None  # symmetric ("oct") and unknown key types are never trusted from a JWKS
    use = jwk.get("use")
    if use is not None and use != "sig":
        return None
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None
    kid = jwk.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid or len(kid) > 256):
        return None
    if jwk.keys() & _PRIVATE_MEMBERS:
        logger.warning("JWKS key %r carries private key members; ignored", kid)
        return None
    alg = jwk.get("alg")
    if alg is not None and alg not in ASYMMETRIC_ALGORITHMS:
        return None
    try:
        parsed = jwt.PyJWK(jwk, algorithm=alg or ("EdDSA" if kty == "OKP" else None))
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError):
        return None
    algorithms = _key_algorithms(parsed.key)
    if alg is not None:
        algorithms &= {alg}
    if not algorithms:
        return None
    return JWKSKey(kid, kty, algorithms, parsed.key)


def _loads(data: bytes) -> Any:
    def reject(name: str) -> Any:
        raise ValueError(name)

    return json.loads(data.decode("utf-8"), parse_constant=reject)


def parse_jwk_set(data: bytes | Mapping[str, Any]) -> tuple[tuple[JWKSKey, ...], str]:
    """Parse a JWKS document into its usable keys and a fingerprint of them.

    Raises ``ValueError`` when ``data`` is not a key set (not JSON, no ``keys`` list) or when it
    holds no usable key. The fingerprint changes exactly when the usable keys change.
    """
    doc = _loads(data) if isinstance(data, bytes) else data
    if not isinstance(doc, Mapping) or not isinstance(doc.get("keys"), list):
        raise ValueError("not a JSON Web Key Set")
    keys: list[JWKSKey] = []
    accepted: list[Any] = []
    for jwk in doc["keys"]:
        key = _parse_jwk(jwk)
        if key is None:
            continue
        if len(keys) >= _MAX_KEYS:
            logger.warning("JWKS has more than %d usable keys; the rest are ignored", _MAX_KEYS)
            break
        keys.append(key)
        accepted.append(jwk)
    if not keys:
        raise ValueError("the key set has no usable signature key")
    fingerprint = hashlib.sha256(
        json.dumps(accepted, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ).hexdigest()
    return tuple(keys), fingerprint


# --------------------------------------------------------------------------------------------
# the client


def _seconds(value: float | timedelta, what: str, *, positive: bool = False) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if not math.isfinite(seconds) or seconds < 0 or (positive and seconds == 0):
        kind = "positive" if positive else "non-negative"
        raise ConfigurationError(f"{what} must be a finite, {kind} number of seconds")
    return seconds


def _check_url(url: object, allow_http: bool, what: str) -> str:
    """Validate a JWKS/issuer URL; raises ``ValueError`` (callers map it)."""
    if not isinstance(url, str) or not url:
        raise ValueError(f"{what} must be a non-empty URL")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_http):
        raise ValueError(
            f"{what} must be an https URL (http only with allow_http=True), "
            f"got {scheme or 'none'!r}"
        )
    if not parts.hostname or "@" in parts.netloc or parts.fragment:
        raise ValueError(f"{what} must be an absolute URL with a host, no credentials or fragment")
    return url


def _max_age(headers: httpx.Headers) -> float | None:
    value = headers.get("cache-control")
    if not value:
        return None
    max_age: float | None = None
    for directive in value.lower().split(","):
        name, _, arg = directive.strip().partition("=")
        if name in ("no-store", "no-cache"):
            return 0.0
        if name == "max-age":
            try:
                max_age = float(int(arg.strip().strip('"')))
            except ValueError:
                return None
    return max_age


class _FetchError(Exception):
    """A fetch failed; the message is a short reason safe to log."""


@dataclass(frozen=True, slots=True)
class _KeySet:
    keys: tuple[JWKSKey, ...]
    by_kid: Mapping[str, tuple[JWKSKey, ...]]
    fingerprint: str
    expires_at: float  # monotonic


class JWKSClient:
    """A JWKS cache shared by async and sync callers (see the module docstring for the rules).

    Args:
        url: the JWKS URL. Give either this or ``issuer``.
        issuer: an OpenID Connect issuer: the JWKS URL is read from
            ``{issuer}/.well-known/openid-configuration`` (``jwks_uri``) on the first fetch, and
            the document's ``issuer`` must equal this value.
        cache_ttl: how long fetched keys are fresh when the server sends no ``max-age``.
        min_cache_ttl, max_cache_ttl: bounds applied to a server's ``Cache-Control: max-age``.
        min_refetch_interval: at most one refetch per this many seconds for an unknown ``kid``.
        retry_interval: after a failed fetch, wait this long before trying again.
        max_stale: serve the last good keys this long past their expiry while fetches fail.
        timeout: bound on one whole fetch (connect, redirects, body), in seconds.
        max_response_bytes: body size cap.
        allow_http: accept ``http`` URLs (tests on loopback, local development).
        clock: a monotonic clock; injectable for tests.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        issuer: str | None = None,
        cache_ttl: float | timedelta = 600,
        min_cache_ttl: float | timedelta = 60,
        max_cache_ttl: float | timedelta = 3600,
        min_refetch_interval: float | timedelta = 30,
        retry_interval: float | timedelta = 5,
        max_stale: float | timedelta = 3600,
        timeout: float | timedelta = 5,
        max_response_bytes: int = 512 * 1024,
        allow_http: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (url is None) == (issuer is None):
            raise ConfigurationError("JWKSClient needs exactly one of url= or issuer=")
        try:
            if url is not None:
                _check_url(url, allow_http, "the JWKS URL")
            if issuer is not None:
                _check_url(issuer, allow_http, "the issuer URL")
        except ValueError as err:
            raise ConfigurationError(str(err)) from None
        self.url = url
        self.issuer = issuer
        self.cache_ttl = _seconds(cache_ttl, "cache_ttl", positive=True)
        self.min_cache_ttl = _seconds(min_cache_ttl, "min_cache_ttl")
        self.max_cache_ttl = _seconds(max_cache_ttl, "max_cache_ttl", positive=True)
        if self.min_cache_ttl > self.max_cache_ttl:
            raise ConfigurationError("min_cache_ttl must not exceed max_cache_ttl")
        self.min_refetch_interval = _seconds(min_refetch_interval, "min_refetch_interval")
        self.retry_interval = _seconds(retry_interval, "retry_interval")
        self.max_stale = _seconds(max_stale, "max_stale")
        self.timeout = _seconds(timeout, "timeout", positive=True)
        if self.timeout > 60:
            raise ConfigurationError("timeout must be at most 60 seconds")
        if not isinstance(max_response_bytes, int) or not 0 < max_response_bytes <= 16 << 20:
            raise ConfigurationError("max_response_bytes must be between 1 and 16 MiB")
        self.max_response_bytes = max_response_bytes
        self.allow_http = allow_http
        self.clock = clock

        self._jwks_uri: str | None = url
        self._keyset: _KeySet | None = None
        self._version = 0
        self._generation = 0
        self._last_attempt = -math.inf
        self._last_failure: float | None = None
        self._fetch_count = 0
        self._state_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        where = f"url={self.url!r}" if self.url is not None else f"issuer={self.issuer!r}"
        return f"JWKSClient({where})"

    # ------------------------------------------------------------------ introspection

    @property
    def version(self) -> int:
        """Bumped each time a fetch brings a *different* set of usable keys."""
        return self._version

    @property
    def fetch_count(self) -> int:
        """How many fetch attempts completed (successful or not); for metrics and tests."""
        return self._fetch_count

    @property
    def kids(self) -> tuple[str | None, ...]:
        """The ``kid`` of each cached key (stale or fresh); empty before the first fetch."""
        keyset = self._keyset
        return tuple(k.kid for k in keyset.keys) if keyset else ()

    # ------------------------------------------------------------------ decisions (no I/O)

    def _lookup(self, kid: str | None, now: float) -> tuple[JWKSKey, ...] | None:
        keyset = self._keyset
        if keyset is None or now >= keyset.expires_at:
            return None
        if kid is None:
            return keyset.keys
        return keyset.by_kid.get(kid)

    def _should_fetch(self, kid: str | None, now: float) -> bool:
        keyset = self._keyset
        if keyset is None or now >= keyset.expires_at:
            failed = self._last_failure
            return failed is None or now - failed >= self.retry_interval
        if kid is not None and kid not in keyset.by_kid:
            return now - self._last_attempt >= self.min_refetch_interval
        return False

    def _stale_usable(self, kid: str | None, now: float) -> bool:
        keyset = self._keyset
        return (
            keyset is not None
            and now < keyset.expires_at + self.max_stale
            and (kid is None or kid in keyset.by_kid)
        )

    def _serve(self, kid: str | None, now: float) -> tuple[JWKSKey, ...]:
        keyset = self._keyset
        if keyset is None or now >= keyset.expires_at + self.max_stale:
            raise ProviderUnavailableError(
                "the JWKS endpoint is unavailable and no keys are cached"
            )
        if kid is None:
            return keyset.keys
        keys = keyset.by_kid.get(kid)
        if keys is None:
            raise UnknownKidError()
        return keys

    def _plan(self, kid: str | None, now: float) -> tuple[int, bool]:
        with self._state_lock:
            return self._generation, self._should_fetch(kid, now)

    def _still_needed(self, generation: int, kid: str | None) -> bool:
        """The "check again" after taking the fetch lock: nobody fetched meanwhile."""
        with self._state_lock:
            return self._generation == generation and self._should_fetch(kid, self.clock())

    def _record_success(
        self, started: float, keys: tuple[JWKSKey, ...], fp: str, ttl: float
    ) -> None:
        by_kid: dict[str, tuple[JWKSKey, ...]] = {}
        for key in keys:
            if key.kid is not None:
                by_kid[key.kid] = (*by_kid.get(key.kid, ()), key)
        with self._state_lock:
            old = self._keyset
            if old is None or old.fingerprint != fp:
                self._version += 1
            self._keyset = _KeySet(keys, MappingProxyType(by_kid), fp, self.clock() + ttl)
            self._last_attempt = started
            self._last_failure = None
            self._generation += 1
            self._fetch_count += 1

    def _record_failure(self, started: float, reason: str) -> None:
        with self._state_lock:
            self._last_attempt = started
            self._last_failure = self.clock()
            self._generation += 1
            self._fetch_count += 1
            stale = self._keyset is not None
        logger.warning(
            "JWKS fetch from %s failed (%s); %s",
            self._jwks_uri or self.issuer,
            reason,
            "keeping the cached keys" if stale else "no keys are cached",
        )

    def _ttl(self, headers: httpx.Headers) -> float:
        max_age = _max_age(headers)
        if max_age is None:
            return self.cache_ttl
        return min(max(max_age, self.min_cache_ttl), self.max_cache_ttl)

    # ------------------------------------------------------------------ HTTP

    def _next_url(self, url: str, response: httpx.Response) -> str:
        location = response.headers.get("location")
        if not location:
            raise _FetchError("redirect without a location")
        target = urljoin(url, location)
        if urlsplit(target).scheme.lower() != urlsplit(url).scheme.lower():
            raise _FetchError("redirect to another scheme refused")
        try:
            return _check_url(target, self.allow_http, "the redirect target")
        except ValueError:
            raise _FetchError("redirect to an unacceptable URL refused") from None

    def _check_length(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise _FetchError(f"HTTP {response.status_code}")
        length = response.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_response_bytes:
            raise _FetchError("response larger than max_response_bytes")

    def _client_options(self) -> dict[str, Any]:
        return {
            "timeout": httpx.Timeout(self.timeout),
            "follow_redirects": False,
            "headers": _REQUEST_HEADERS,
        }

    async def _get_async(self, client: httpx.AsyncClient, url: str) -> tuple[bytes, httpx.Headers]:
        for _ in range(_MAX_REDIRECTS + 1):
            async with client.stream("GET", url) as response:
                if response.is_redirect:
                    url = self._next_url(url, response)
                    continue
                self._check_length(response)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_response_bytes:
                        raise _FetchError("response larger than max_response_bytes")
                return bytes(body), response.headers
        raise _FetchError("too many redirects")

    def _discovered(self, body: bytes) -> str:
        try:
            doc = _loads(body)
        except ValueError:
            raise _FetchError("the OpenID configuration is not JSON") from None
        if not isinstance(doc, dict) or doc.get("issuer") != self.issuer:
            raise _FetchError("the OpenID configuration names another issuer")
        uri = doc.get("jwks_uri")
        try:
            return _check_url(uri, self.allow_http, "jwks_uri")
        except ValueError:
            raise _FetchError("the OpenID configuration has no acceptable jwks_uri") from None

    def _discovery_url(self) -> str:
        assert self.issuer is not None
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def _parse(self, body: bytes) -> tuple[tuple[JWKSKey, ...], str]:
        try:
            return parse_jwk_set(body)
        except (ValueError, RecursionError) as err:
            raise _FetchError(str(err) if isinstance(err, ValueError) else "bad JSON") from None

    def _fetch(self) -> None:
        """The synchronous fetch: the async fetch run on the shared background loop.

        httpx's sync timeouts apply per operation (connect, each read), so a server that drips
        its headers and body could hold a WSGI worker for several times ``timeout``. The async
        fetch enforces one total deadline (``asyncio.timeout``); running it on the background
        loop gives sync callers the same bound.
        """
        from .stores.bridge import default_loop

        started = self.clock()
        try:
            default_loop().run(self._fetch_async(), timeout=self.timeout + 1.0)
        except Exception as err:  # never raise from a fetch: keep the cache, report the failure
            self._record_failure(started, type(err).__name__)

    async def _fetch_async(self) -> None:
        started = self.clock()
        try:
            async with (
                asyncio.timeout(self.timeout),
                httpx.AsyncClient(**self._client_options()) as client,
            ):
                if self._jwks_uri is None:
                    body, _ = await self._get_async(client, self._discovery_url())
                    self._jwks_uri = self._discovered(body)
                body, headers = await self._get_async(client, self._jwks_uri)
            keys, fp = self._parse(body)
        except _FetchError as err:
            self._record_failure(started, str(err))
            return
        except TimeoutError:
            self._record_failure(started, "timed out")
            return
        except Exception as err:  # any failure keeps the cache: report it, never raise it
            self._record_failure(started, type(err).__name__)
            return
        self._record_success(started, keys, fp, self._ttl(headers))

    # ------------------------------------------------------------------ public API

    def _async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._state_lock:
            lock = self._async_locks.get(loop)
            if lock is None:
                lock = self._async_locks[loop] = asyncio.Lock()
        return lock

    async def get_signing_keys_async(self, kid: str | None) -> tuple[JWKSKey, ...]:
        """The keys for ``kid`` (all keys when ``None``), fetching if needed.

        Raises :class:`UnknownKidError` (401) or :class:`ProviderUnavailableError` (503).
        """
        now = self.clock()
        keys = self._lookup(kid, now)
        if keys is not None:
            return keys
        generation, fetch = self._plan(kid, now)
        if fetch:
            lock = self._async_lock()
            if not (lock.locked() and self._stale_usable(kid, now)):
                async with lock:
                    if self._still_needed(generation, kid):
                        await self._fetch_async()
        return self._serve(kid, self.clock())

    def get_signing_keys(self, kid: str | None) -> tuple[JWKSKey, ...]:
        """Synchronous :meth:`get_signing_keys_async` (same cache, same rules)."""
        now = self.clock()
        keys = self._lookup(kid, now)
        if keys is not None:
            return keys
        generation, fetch = self._plan(kid, now)
        if fetch:
            lock = self._sync_lock
            if lock.acquire(blocking=not self._stale_usable(kid, now)):
                try:
                    if self._still_needed(generation, kid):
                        self._fetch()
                finally:
                    lock.release()
        return self._serve(kid, self.clock())


# --------------------------------------------------------------------------------------------
# the verifier


def _origin(url: str) -> str:
    """``new URL(url).origin``: lower-case scheme and host, default port dropped."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


class _Parsed(NamedTuple):
    header: dict[str, Any]
    alg: str
    kid: str | None
    payload: bytes
    signing_input: bytes
    signature: bytes


class JWKSBearer:
    """Verify asymmetric Bearer JWTs against the keys of a JWKS (an async authenticator).

    Args:
        jwks_url: the JWKS URL; or pass a shared ``jwks=JWKSClient(...)`` instead.
        jwks: a :class:`JWKSClient` (share one between verifiers of the same provider).
        algorithms: the accepted algorithms, required and never taken from the token; any of
            :data:`ASYMMETRIC_ALGORITHMS`. HS* and ``none`` are refused (use ``BearerJWT``).
        issuer: accepted ``iss`` value(s). Required: pass ``None`` explicitly to skip the check.
        audience: accepted ``aud`` value(s). Required: pass ``None`` explicitly to skip it
            (without it, a token the same provider minted for another application passes).
        leeway, require_exp: claim checks, see :class:`~sessiongate.claims.ClaimRules`.
        cache_size: how many verified tokens to remember (0 disables); a hit re-checks
            ``exp``/``nbf`` and is dropped when the key set changes.
        max_token_bytes: size cap, checked before any parsing.
        allow_http: with ``jwks_url``, accept an ``http`` URL (loopback, development).
        clock: returns UNIX time for :meth:`decode`; injectable for tests.
    """

    name = "jwks"

    def __init__(
        self,
        jwks_url: str | None = None,
        *,
        jwks: JWKSClient | None = None,
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
        algs = (algorithms,) if isinstance(algorithms, str) else tuple(algorithms)
        if not algs:
            raise ConfigurationError("algorithms must not be empty")
        for alg in algs:
            if alg in HMAC_ALGORITHMS:
                raise ConfigurationError(
                    f"JWKSBearer verifies asymmetric signatures only, not {alg!r} "
                    "(use BearerJWT for shared-secret tokens)"
                )
            if alg not in ASYMMETRIC_ALGORITHMS:
                raise ConfigurationError(f"unsupported algorithm {alg!r}")
        if max_token_bytes <= 0:
            raise ConfigurationError("max_token_bytes must be positive")
        self.jwks = jwks if jwks is not None else JWKSClient(jwks_url, allow_http=allow_http)
        self.algorithms = algs
        self.rules = ClaimRules.build(
            leeway=leeway, require_exp=require_exp, issuer=issuer, audience=audience
        )
        self.max_token_bytes = max_token_bytes
        self.clock = clock
        self._cache = TokenCache(cache_size)
        # PyJWT's algorithm objects, limited to the pinned list. The token was already parsed
        # strictly (base64url, header, size) in ``_parse``, so the signature is checked with
        # them directly rather than through ``PyJWS.decode_complete``, which would parse it again.
        jws = PyJWS(algorithms=list(algs))
        self._verifiers = {alg: jws.get_algorithm_by_name(alg) for alg in algs}

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
        try:
            _check_url(base_url, allow_http, "base_url")
        except ValueError as err:
            raise ConfigurationError(str(err)) from None
        origin = _origin(base_url)
        trimmed = base_url.rstrip("/")
        if urlsplit(trimmed).path in ("", "/"):
            path = "/" + base_path.strip("/") if base_path.strip("/") else ""
            trimmed = origin + path
        jwks_url = trimmed + "/" + jwks_path.lstrip("/")
        return cls(
            jwks_url,
            algorithms=algorithms,
            issuer=origin if issuer is None else issuer,
            audience=origin if audience is None else audience,
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

    def _parse(self, token: str) -> _Parsed:
        """Everything checkable before any I/O: size, shape, strict base64url, header, alg."""
        if not isinstance(token, str) or not token:
            raise MalformedTokenError("the token is empty")
        if len(token) > self.max_token_bytes:
            raise TokenTooLargeError()
        first = token.find(".")
        last = token.rfind(".")
        if first <= 0 or token.count(".") != 2:
            raise MalformedTokenError("a JWT has three dot-separated segments")
        header = parse_jws_header(token[:first])
        alg = header["alg"]
        if alg not in self.algorithms:
            raise AlgorithmNotAllowedError(f"the JWT algorithm {alg[:16]!r} is not allowed")
        payload = b64url_decode(token[first + 1 : last], "payload")
        signature = b64url_decode(token[last + 1 :], "signature")
        if not signature:
            raise MalformedTokenError("the JWT has an empty signature")
        signing_input = token[:last].encode("ascii")
        return _Parsed(header, alg, header.get("kid"), payload, signing_input, signature)

    def _check(
        self, token: str, parsed: _Parsed, keys: tuple[JWKSKey, ...], version: int
    ) -> DecodedToken:
        """Signature with the resolved key(s), then the claims."""
        header, alg, kid, payload = parsed.header, parsed.alg, parsed.kid, parsed.payload
        candidates = [k for k in keys if alg in k.algorithms]
        if not candidates:
            if kid is not None:
                raise AlgorithmNotAllowedError("the token's key cannot verify its algorithm")
            raise UnknownKidError("no key in the key set can verify the token's algorithm")
        if kid is None and len(candidates) > _MAX_KIDLESS_CANDIDATES:
            raise UnknownKidError("the token has no 'kid' and the key set has several keys")
        verifier = self._verifiers[alg]
        for key in candidates:
            try:
                prepared = verifier.prepare_key(key.key)  # re-checks the key type and curve
                if verifier.check_key_length(prepared) is None and verifier.verify(
                    parsed.signing_input, prepared, parsed.signature
                ):
                    break
            except (jwt.PyJWTError, ValueError, TypeError):
                continue
        else:
            raise InvalidSignatureError()
        claims = json_object(payload, "payload")
        exp, nbf = self.rules.check_static(claims)
        decoded = DecodedToken(MappingProxyType(claims), header, "jwks", exp, nbf)
        self._cache.put((version, token), decoded)
        return decoded

    def _verify(self, token: str) -> DecodedToken:
        version = self.jwks.version
        hit = self._cache.get((version, token))
        if hit is not None:
            return hit
        parsed = self._parse(token)
        keys = self.jwks.get_signing_keys(parsed.kid)
        return self._check(token, parsed, keys, self.jwks.version)

    async def _verify_async(self, token: str) -> DecodedToken:
        version = self.jwks.version
        hit = self._cache.get((version, token))
        if hit is not None:
            return hit
        parsed = self._parse(token)
        keys = await self.jwks.get_signing_keys_async(parsed.kid)
        return self._check(token, parsed, keys, self.jwks.version)

    def decode(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """Verify ``token`` (fetching keys synchronously if needed) and return its claims."""
        decoded = self._verify(token)
        self.rules.check_time(decoded.exp, decoded.nbf, self.clock() if now is None else now)
        return dict(decoded.claims)

    async def decode_async(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """Verify ``token`` (awaiting the key fetch if needed) and return its claims."""
        decoded = await self._verify_async(token)
        self.rules.check_time(decoded.exp, decoded.nbf, self.clock() if now is None else now)
        return dict(decoded.claims)

    async def authenticate_async(
        self, credentials: RequestCredentials, now: float
    ) -> Verified | None:
        """Authenticator protocol: a three-segment ``Bearer`` token, else ``None``."""
        token = credentials.bearer_token()
        if token is None or token.count(".") != 2:
            return None
        decoded = await self._verify_async(token)
        self.rules.check_time(decoded.exp, decoded.nbf, now)
        return decoded.as_verified("bearer")

    def authenticate_blocking(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """Synchronous :meth:`authenticate_async` (WSGI); shares the key cache."""
        token = credentials.bearer_token()
        if token is None or token.count(".") != 2:
            return None
        decoded = self._verify(token)
        self.rules.check_time(decoded.exp, decoded.nbf, now)
        return decoded.as_verified("bearer")
