"""Opt-in: API keys verified by the Better Auth server itself (quotas and rate limits enforced).

:class:`~sessiongate.apikeys.ApiKeyVerifier` reads the ``apikey`` table and never writes, so
``remaining``, refills and rate limits are not enforced there. A team that needs them lets the
Better Auth server decide: with ``apiKey({ enableSessionForAPIKeys: true })`` its
``GET /api/auth/get-session`` runs the plugin's whole ``validateApiKey`` for a request carrying
the key header (spending the quota, counting the rate limit) and answers the owner's session.
:class:`RemoteApiKeyVerifier` forwards the key there, one HTTP round trip per request (no
cache: a cached answer would not spend the quota).

The plugin's ``POST /api-key/verify`` is ``createAuthEndpoint.serverOnly`` in
``@better-auth/api-key`` 1.7: it is not on the HTTP router, so another process cannot call it.

Answers: 200 with a user -> the user (``source="api-key"``); 401/403/404 and an empty session
-> 401 with the plugin's reason (``api_key_disabled``, ``api_key_expired``,
``invalid_api_key``); 429 -> ``usage_exceeded``; anything else (5xx, timeouts, refused
connections, a body that is not the expected JSON) -> 503 ``provider_unavailable``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._extras import missing_extra

try:
    import httpx
except ModuleNotFoundError as err:
    raise missing_extra(err, "jwks") from None

from .apikeys import (
    ApiKeyDisabledError,
    ApiKeyExpiredError,
    ApiKeyUsageExceededError,
    InvalidApiKeyError,
    api_key_from_headers,
)
from .errors import AuthenticationError, ConfigurationError, ProviderUnavailableError
from .types import AuthResult, Headers
from .user import ClaimMapping, freeze_claims

__all__ = ["RemoteApiKeyVerifier"]

MAX_BODY_BYTES = 64 * 1024
_CODES: Mapping[str, type[AuthenticationError]] = {
    "KEY_DISABLED": ApiKeyDisabledError,
    "KEY_EXPIRED": ApiKeyExpiredError,
    "USAGE_EXCEEDED": ApiKeyUsageExceededError,
    "RATE_LIMIT_EXCEEDED": ApiKeyUsageExceededError,
}


class RemoteApiKeyVerifier:
    """Ask the Better Auth server to verify ``x-api-key`` (see the module docstring).

    Args:
        base_url: the Better Auth app's URL (``BETTER_AUTH_URL``); ``https://`` unless
            ``allow_http`` (loopback development).
        path: the session endpoint (``basePath`` + ``/get-session``).
        header: the key header(s) (``apiKeyHeaders``); the key is forwarded under the first.
        min_key_length: ``defaultKeyLength``: shorter keys are refused without a request.
        timeout: seconds for one verification.
        claims: which claims build the user (the server's ``user`` object is the claims).
    """

    name = "api-key-remote"

    def __init__(
        self,
        base_url: str,
        *,
        path: str = "/api/auth/get-session",
        header: str | Sequence[str] = "x-api-key",
        min_key_length: int = 64,
        timeout: float = 5.0,
        allow_http: bool = False,
        claims: ClaimMapping | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not base_url.startswith("https://") and not (
            allow_http and base_url.startswith("http://")
        ):
            raise ConfigurationError("base_url must be https:// (allow_http=True for http://)")
        if not path.startswith("/"):
            raise ConfigurationError("path must start with '/'")
        if not timeout > 0:
            raise ConfigurationError("timeout must be positive")
        names = (header,) if isinstance(header, str) else tuple(header)
        if not names or not all(isinstance(h, str) and h for h in names):
            raise ConfigurationError("header must name at least one request header")
        self.url = base_url.rstrip("/") + path
        self.headers = tuple(h.lower() for h in names)
        self.min_key_length = min_key_length
        self.timeout = float(timeout)
        self.claim_mapping = claims or ClaimMapping()
        self._client = client

    def __repr__(self) -> str:
        return f"RemoteApiKeyVerifier({self.url!r})"

    def _answer(self, status: int, body: bytes) -> AuthResult:
        if status == 429:
            raise ApiKeyUsageExceededError()
        try:
            data: Any = json.loads(body) if body else None
        except ValueError:
            raise ProviderUnavailableError("the Better Auth server answered no JSON") from None
        if status in (401, 403, 404):
            code = data.get("code") if isinstance(data, dict) else None
            raise _CODES.get(str(code), InvalidApiKeyError)()
        if status != 200:
            raise ProviderUnavailableError(f"the Better Auth server answered {status}")
        if data is None:
            raise InvalidApiKeyError()
        user = data.get("user") if isinstance(data, dict) else None
        if not isinstance(user, dict):
            raise ProviderUnavailableError("the Better Auth server answered no user")
        claims = {"sub": user.get("id"), **user}
        built = self.claim_mapping.build_user(freeze_claims(claims), source="api-key")
        return AuthResult(user=built, credential="bearer", authenticator=self.name)

    async def authenticate(self, headers: Headers, now: float | None = None) -> AuthResult | None:
        """``None`` without a key header; the owner's user, or raises (401/429/503)."""
        key = api_key_from_headers(headers, self.headers, self.min_key_length)
        if key is None:
            return None
        client = self._client or httpx.AsyncClient(timeout=self.timeout)
        try:
            async with client.stream(
                "GET", self.url, headers={self.headers[0]: key}, timeout=self.timeout
            ) as response:
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise ProviderUnavailableError("the Better Auth answer is too large")
                status = response.status_code
        except httpx.HTTPError as exc:
            raise ProviderUnavailableError(
                f"the Better Auth server could not be reached ({type(exc).__name__})"
            ) from None
        finally:
            if self._client is None:
                await client.aclose()
        return self._answer(status, body)
