"""Fetching a JWKS over HTTP (``httpx``): URL rules, redirects, size and time caps, discovery.

This module owns the network side of the JWKS client and nothing about caching:

* only ``https`` URLs unless ``allow_http=True`` (loopback tests, local development); no
  credentials or fragment in a URL;
* redirects are followed by hand, only to the same scheme, at most 3;
* the body is capped at ``max_response_bytes`` (``Content-Length`` checked first, then while
  streaming) and the whole fetch, discovery included, at ``timeout`` seconds
  (``asyncio.timeout``, one deadline rather than httpx's per-operation timeouts);
* OpenID Connect discovery: ``{issuer}/.well-known/openid-configuration`` must name the same
  ``issuer`` and an acceptable ``jwks_uri``;
* ``Cache-Control: max-age`` / ``no-store`` / ``no-cache`` are read for the cache to bound.

Every failure is a :class:`FetchError` whose message is a short reason safe to log (never a
body, a header value or key material), or an exception the caller treats the same way.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, NamedTuple
from urllib.parse import urljoin, urlsplit

from .._extras import missing_extra

try:
    import httpx
except ModuleNotFoundError as err:
    raise missing_extra(err, "jwks") from None

from .._b64json import json_object
from ..errors import ConfigurationError, MalformedTokenError
from .cache import seconds
from .keys import KeySet, parse_jwk_set

__all__ = ["FetchError", "FetchOptions", "Fetched", "check_url", "fetch_key_set", "origin"]

_MAX_REDIRECTS: Final = 3
_MAX_TIMEOUT: Final = 60.0
_MAX_BODY_CAP: Final = 16 << 20
_REQUEST_HEADERS: Final = {
    "accept": "application/jwk-set+json, application/json",
    "accept-encoding": "identity",
    "user-agent": "sessiongate-jwks",
}


class FetchError(Exception):
    """A fetch failed; the message is a short reason safe to log."""


def check_url(url: object, allow_http: bool, what: str) -> str:
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


def origin(url: str) -> str:
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


@dataclass(frozen=True, slots=True, init=False)
class FetchOptions:
    """Transport limits, validated on construction (see :class:`~sessiongate.jwks.JWKSClient`);
    raises :class:`ConfigurationError`."""

    timeout: float
    max_response_bytes: int
    allow_http: bool

    def __init__(
        self,
        *,
        timeout: float | timedelta = 5.0,
        max_response_bytes: int = 512 * 1024,
        allow_http: bool = False,
    ) -> None:
        total = seconds(timeout, "timeout", positive=True)
        if total > _MAX_TIMEOUT:
            raise ConfigurationError("timeout must be at most 60 seconds")
        if (
            not isinstance(max_response_bytes, int)
            or isinstance(max_response_bytes, bool)
            or not 0 < max_response_bytes <= _MAX_BODY_CAP
        ):
            raise ConfigurationError("max_response_bytes must be between 1 and 16 MiB")
        object.__setattr__(self, "timeout", total)
        object.__setattr__(self, "max_response_bytes", max_response_bytes)
        object.__setattr__(self, "allow_http", bool(allow_http))


class Fetched(NamedTuple):
    """A successful fetch: the keys, the server's ``max-age`` (if any), the JWKS URL used."""

    keyset: KeySet
    max_age: float | None
    jwks_uri: str


def _next_url(url: str, response: httpx.Response, options: FetchOptions) -> str:
    location = response.headers.get("location")
    if not location:
        raise FetchError("redirect without a location")
    target = urljoin(url, location)
    if urlsplit(target).scheme.lower() != urlsplit(url).scheme.lower():
        raise FetchError("redirect to another scheme refused")
    try:
        return check_url(target, options.allow_http, "the redirect target")
    except ValueError:
        raise FetchError("redirect to an unacceptable URL refused") from None


async def _get(
    client: httpx.AsyncClient, url: str, options: FetchOptions
) -> tuple[bytes, httpx.Headers]:
    for _ in range(_MAX_REDIRECTS + 1):
        async with client.stream("GET", url) as response:
            if response.is_redirect:
                url = _next_url(url, response, options)
                continue
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code}")
            length = response.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > options.max_response_bytes:
                raise FetchError("response larger than max_response_bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > options.max_response_bytes:
                    raise FetchError("response larger than max_response_bytes")
            return bytes(body), response.headers
    raise FetchError("too many redirects")


def _discovered(body: bytes, issuer: str, options: FetchOptions) -> str:
    try:
        doc = json_object(body, "OpenID configuration")
    except MalformedTokenError:
        raise FetchError("the OpenID configuration is not a JSON object") from None
    if doc.get("issuer") != issuer:
        raise FetchError("the OpenID configuration names another issuer")
    try:
        return check_url(doc.get("jwks_uri"), options.allow_http, "jwks_uri")
    except ValueError:
        raise FetchError("the OpenID configuration has no acceptable jwks_uri") from None


async def fetch_key_set(
    options: FetchOptions, *, jwks_uri: str | None, issuer: str | None
) -> Fetched:
    """Fetch and parse the key set, discovering its URL from ``issuer`` when ``jwks_uri`` is None.

    Raises :class:`FetchError`, ``TimeoutError`` (past ``options.timeout``) or an ``httpx``
    transport error.
    """
    async with (
        asyncio.timeout(options.timeout),
        httpx.AsyncClient(
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=False,
            headers=_REQUEST_HEADERS,
        ) as client,
    ):
        if jwks_uri is None:
            if issuer is None:
                raise FetchError("no JWKS URL and no issuer")
            discovery = issuer.rstrip("/") + "/.well-known/openid-configuration"
            body, _ = await _get(client, discovery, options)
            jwks_uri = _discovered(body, issuer, options)
        body, headers = await _get(client, jwks_uri, options)
    try:
        keyset = parse_jwk_set(body)
    except ValueError as err:
        raise FetchError(str(err)) from None
    return Fetched(keyset, _max_age(headers), jwks_uri)
