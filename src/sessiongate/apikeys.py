"""API keys of ``@better-auth/api-key``: machine clients sending ``x-api-key``, verified read-only.

What the plugin (1.7.5, ``validateApiKey`` and its ``before`` hook) does, and what is done here:

* the key is looked up by ``base64url(SHA-256(key))`` without padding (``defaultKeyHasher``;
  the raw key with ``disableKeyHashing``) in ``apikey.key`` (:func:`hash_api_key`);
* the hook refuses a key shorter than ``defaultKeyLength`` (64) before any lookup;
* a key of another ``configId`` is unknown (``null`` and ``"default"`` are the same);
* ``enabled = false`` -> ``KEY_DISABLED``; ``expiresAt`` in the past (``now > expiresAt``)
  -> ``KEY_EXPIRED``; ``remaining = 0`` without ``refillAmount`` -> ``USAGE_EXCEEDED`` (429);
* requested ``permissions`` are checked against the key's JSON statements with the access
  control's ``role(...).authorize`` (:func:`api_key_allows`); a key without statements grants
  nothing;
* the owner is ``referenceId``: a user (the ``user`` row, one JOIN in the same round trip) or,
  with ``references="organization"``, an organization principal. Stricter than the plugin: a
  banned owner (admin plugin columns read by the store's mapping) is refused, 401 ``banned``.

**Not enforced** (they need writes): decrementing ``remaining``, refills, rate limits
(``rateLimitEnabled``/``requestCount``), deleting expired keys, ``customAPIKeyValidator``.
A team that needs them uses :class:`~sessiongate.apikeys_remote.RemoteApiKeyVerifier`, which
asks the Better Auth server itself. Found keys (and unknown ones) are cached for ``cache_ttl``
seconds under their hash: a key disabled on the JS side keeps working that long.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal

from cachetools import TTLCache

from ._sync import BackgroundLoop, default_loop
from .access import Role
from .baplugins import check_not_banned
from .errors import AuthenticationError, ConfigurationError, ProviderUnavailableError
from .stores.ba_plugins import PluginNames, dialect_of, fetch, fetch_sync
from .stores.timestamps import decode_timestamp
from .types import AuthResult, Headers
from .user import ClaimMapping, freeze_claims

__all__ = [
    "ApiKeyDisabledError",
    "ApiKeyExpiredError",
    "ApiKeyRecord",
    "ApiKeyUsageExceededError",
    "ApiKeyVerifier",
    "InvalidApiKeyError",
    "api_key_allows",
    "api_key_from_headers",
    "api_key_user_allows",
    "hash_api_key",
    "judge_api_key",
]

MAX_KEY_BYTES = 512
"""Longest key read from the header (before hashing, before any lookup)."""
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


class InvalidApiKeyError(AuthenticationError):
    """The API key is unknown, too short, of another configuration, or its owner is gone."""

    code = "invalid_api_key"
    default_message = "the API key is not valid"


class ApiKeyDisabledError(AuthenticationError):
    """``apikey.enabled`` is false (``KEY_DISABLED``)."""

    code = "api_key_disabled"
    default_message = "the API key is disabled"


class ApiKeyExpiredError(AuthenticationError):
    """``apikey.expiresAt`` has passed (``KEY_EXPIRED``)."""

    code = "api_key_expired"
    default_message = "the API key has expired"


class ApiKeyUsageExceededError(AuthenticationError):
    """``remaining`` is 0 and the key never refills (``USAGE_EXCEEDED``, 429 as in the plugin)."""

    code = "usage_exceeded"
    status_code = 429
    default_message = "the API key has no requests left"


def api_key_from_headers(
    headers: Headers, names: Sequence[str], min_length: int = 64
) -> str | None:
    """The API key a request presents (the first of the lowercase header ``names`` present),
    or ``None``. Raises :class:`InvalidApiKeyError` for one shorter than ``min_length`` (the
    plugin's ``defaultKeyLength``) or longer than :data:`MAX_KEY_BYTES`: nothing is hashed or
    looked up."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name = raw_name.decode("latin-1") if isinstance(raw_name, bytes) else raw_name
        lname = name.lower()
        if lname in names and lname not in found:
            value = raw_value
            found[lname] = value.decode("latin-1") if isinstance(value, bytes) else value
    for name in names:
        key = found.get(name)
        if key:
            if len(key) > MAX_KEY_BYTES or len(key) < min_length:
                raise InvalidApiKeyError()
            return key
    return None


def hash_api_key(key: str) -> str:
    """``defaultKeyHasher``: base64url (no padding) of the SHA-256 of the key's UTF-8 bytes."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """One ``apikey`` row joined with its owner.

    Attributes:
        id / config_id / reference_id: the row's ids (``configId`` ``None`` is the default).
        enabled: ``None`` when the column is null (the plugin then does not refuse).
        expires_at: UNIX seconds, ``None`` for a key that never expires.
        permissions: the key's statements, ``None`` when absent or not valid JSON.
        remaining / refill_amount: the quota columns.
        owner: the owner's claims (user or organization principal), ``None`` when the
            referenced row does not exist.
    """

    id: str
    config_id: str | None
    reference_id: str
    enabled: bool | None
    expires_at: float | None
    permissions: Mapping[str, tuple[str, ...]] | None
    remaining: int | None
    refill_amount: int | None
    owner: Mapping[str, Any] | None


def _permissions(value: Any) -> Mapping[str, tuple[str, ...]] | None:
    """``safeJSONParse`` of the ``permissions`` text: ``None`` unless ``{str: [str]}``."""
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    out: dict[str, tuple[str, ...]] = {}
    for resource, actions in value.items():
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            return None
        out[str(resource)] = tuple(actions)
    return MappingProxyType(out)


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    return int(value)


def _enabled(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, (bool, int)):
        return bool(value)
    raise ProviderUnavailableError("apikey.enabled holds a value that is not a boolean")


def judge_api_key(
    record: ApiKeyRecord | None,
    now: float,
    *,
    config_id: str | None = None,
    permissions: Mapping[str, Sequence[str]] | None = None,
) -> AuthenticationError | None:
    """Why the plugin would refuse this key at ``now`` (UNIX seconds), ``None`` when it passes
    (pure; the order of ``validateApiKey``)."""
    if record is None:
        return InvalidApiKeyError()
    if (record.config_id or "default") != (config_id or "default"):
        return InvalidApiKeyError()
    if record.enabled is False:
        return ApiKeyDisabledError()
    if record.expires_at is not None and now > record.expires_at:
        return ApiKeyExpiredError()
    if permissions is not None and not api_key_allows(record.permissions, permissions):
        return InvalidApiKeyError("the API key does not grant the requested permissions")
    if record.remaining == 0 and record.refill_amount is None:
        return ApiKeyUsageExceededError()
    if record.owner is None:
        return InvalidApiKeyError("the API key's owner does not exist")
    return None


def api_key_allows(
    statements: Mapping[str, Sequence[str]] | None, request: Mapping[str, Sequence[str]]
) -> bool:
    """``role(apiKeyPermissions).authorize(request).success``; no statements grant nothing."""
    if not statements:
        return False
    return Role(statements).authorize(request).success


class ApiKeyVerifier:
    """Verify ``x-api-key`` headers against the ``apikey`` table (read-only).

    Args:
        store: the session store whose database holds ``apikey`` (its pool, deadline, 503).
        header: the request header (``apiKeyHeaders``; several names: the first present).
        references: ``"user"`` (default) or ``"organization"``: what ``referenceId`` names.
        config_id: the ``configId`` keys must have (default: the default configuration).
        disable_key_hashing: keys are stored in clear (``disableKeyHashing: true``).
        min_key_length: the hook's ``defaultKeyLength`` (64): shorter keys are refused unread.
        names: the plugin tables' names (default: read off the store's mapping).
        claims: which claims build the :class:`~sessiongate.user.User` (default mapping).
        cache_ttl / negative_cache_ttl / cache_size: the cache keyed by the key's hash.
    """

    name = "api-key"

    def __init__(
        self,
        store: Any,
        *,
        header: str | Sequence[str] = "x-api-key",
        references: Literal["user", "organization"] = "user",
        config_id: str | None = None,
        disable_key_hashing: bool = False,
        min_key_length: int = 64,
        names: PluginNames | None = None,
        claims: ClaimMapping | None = None,
        cache_ttl: float = 5.0,
        negative_cache_ttl: float = 2.0,
        cache_size: int = 10_000,
        background_loop: BackgroundLoop | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        inner = getattr(store, "store", store)
        self.store = inner
        dialect = dialect_of(inner)
        mapping = getattr(inner, "schema", None)
        if names is None:
            if mapping is None:
                raise ConfigurationError("the store has no schema mapping: pass names=")
            names = PluginNames(mapping)
        if references not in ("user", "organization"):
            raise ConfigurationError("references must be 'user' or 'organization'")
        headers = (header,) if isinstance(header, str) else tuple(header)
        if not headers or not all(isinstance(h, str) and h for h in headers):
            raise ConfigurationError("header must name at least one request header")
        if not 0 < min_key_length <= MAX_KEY_BYTES:
            raise ConfigurationError(f"min_key_length must be between 1 and {MAX_KEY_BYTES}")
        if not cache_ttl >= 0 or not negative_cache_ttl >= 0 or cache_size < 1:
            raise ConfigurationError("cache TTLs must be >= 0 and cache_size >= 1")
        self.names = names
        self.headers = tuple(h.lower() for h in headers)
        self._raw_headers = tuple(h.encode("latin-1") for h in self.headers)
        self.references = references
        self.config_id = config_id
        self.disable_key_hashing = disable_key_hashing
        self.min_key_length = min_key_length
        self.query = names.apikey_sql(dialect, references)
        self.claim_mapping = claims or ClaimMapping()
        self.cache_ttl = float(cache_ttl)
        self.negative_cache_ttl = float(negative_cache_ttl)
        self._hits: TTLCache[str, ApiKeyRecord] = TTLCache(
            cache_size, max(self.cache_ttl, 1e-9), timer=clock
        )
        self._misses: TTLCache[str, bool] = TTLCache(
            cache_size, max(self.negative_cache_ttl, 1e-9), timer=clock
        )
        self._lock = threading.Lock()
        self._loop = background_loop

    def __repr__(self) -> str:
        return f"ApiKeyVerifier(header={self.headers[0]!r}, references={self.references!r})"

    # ------------------------------------------------------------------ request -> key

    def key_from(self, headers: Headers) -> str | None:
        """:func:`api_key_from_headers` with this verifier's header names and length floor."""
        return api_key_from_headers(headers, self.headers, self.min_key_length)

    # ------------------------------------------------------------------ rows

    def _record(self, row: tuple[Any, ...]) -> ApiKeyRecord:
        key_id, config_id, reference_id, enabled, expires, perms, remaining, refill = row[:8]
        expires_at: float | None = None
        if expires is not None:
            parsed = decode_timestamp(expires, unit="ms")
            if parsed is None:
                raise ProviderUnavailableError("apikey.expiresAt holds no timestamp")
            expires_at = parsed.timestamp()
        owner = self._owner(row[8:])
        return ApiKeyRecord(
            id=str(key_id),
            config_id=None if config_id is None else str(config_id),
            reference_id=str(reference_id),
            enabled=_enabled(enabled),
            expires_at=expires_at,
            permissions=_permissions(perms),
            remaining=_int(remaining),
            refill_amount=_int(refill),
            owner=owner,
        )

    def _owner(self, owner: tuple[Any, ...]) -> Mapping[str, Any] | None:
        if not owner or owner[0] is None:
            return None
        if self.references == "organization":
            org_id, name, slug = owner[:3]
            claims: dict[str, Any] = {
                "sub": str(org_id),
                "id": str(org_id),
                "organizationId": str(org_id),
                "principal": "organization",
            }
            if name is not None:
                claims["name"] = str(name)
            if slug is not None:
                claims["slug"] = str(slug)
            return claims
        mapping = self.names.mapping
        no_session = (None,) * len(getattr(mapping, "extra_session_columns", ()))
        record = mapping.record_from_row(("", _FAR_FUTURE, *owner, *no_session))
        return {"sub": record.user_id, "id": record.user_id, **record.user, **record.extra}

    def _cached(self, hashed: str) -> tuple[bool, ApiKeyRecord | None]:
        with self._lock:
            if self.cache_ttl > 0:
                found = self._hits.get(hashed)
                if found is not None:
                    return True, found
            if self.negative_cache_ttl > 0 and hashed in self._misses:
                return True, None
        return False, None

    def _remember(self, hashed: str, rows: list[tuple[Any, ...]]) -> ApiKeyRecord | None:
        record = self._record(rows[0]) if rows else None
        with self._lock:
            if record is not None and self.cache_ttl > 0:
                self._hits[hashed] = record
            elif record is None and self.negative_cache_ttl > 0:
                self._misses[hashed] = True
        return record

    def _stored_form(self, key: str) -> str:
        return key if self.disable_key_hashing else hash_api_key(key)

    async def lookup(self, key: str) -> ApiKeyRecord | None:
        """The key's row and owner (cache first); 503 when the database cannot answer."""
        hashed = self._stored_form(key)
        hit, record = self._cached(hashed)
        if hit:
            return record
        return self._remember(hashed, await fetch(self.store, self.query, (hashed,)))

    def lookup_sync(self, key: str) -> ApiKeyRecord | None:
        """Blocking :meth:`lookup`."""
        hashed = self._stored_form(key)
        hit, record = self._cached(hashed)
        if hit:
            return record
        rows = fetch_sync(self.store, self.query, (hashed,), self._loop or default_loop())
        return self._remember(hashed, rows)

    # ------------------------------------------------------------------ verdicts

    def result(self, record: ApiKeyRecord | None, now: float) -> AuthResult:
        """The :class:`AuthResult` for a looked-up key at ``now``; raises when refused."""
        error = judge_api_key(record, now, config_id=self.config_id)
        if error is not None:
            raise error
        assert record is not None  # judge_api_key refused None
        assert record.owner is not None  # and a key without an owner
        # stricter than the plugin's hook, which does not look at bans: a banned owner's keys
        # are refused whenever the store reads the admin plugin's columns
        check_not_banned(record.owner, now)
        claims = dict(record.owner)
        claims["apiKey"] = {
            "id": record.id,
            "referenceId": record.reference_id,
            "permissions": None
            if record.permissions is None
            else {k: list(v) for k, v in record.permissions.items()},
        }
        user = self.claim_mapping.build_user(
            freeze_claims(claims), source="api-key", expires_at=record.expires_at
        )
        return AuthResult(user=user, credential="bearer", authenticator=self.name)

    async def authenticate(self, headers: Headers, now: float | None = None) -> AuthResult | None:
        """``None`` without an API key header; the result, or raises (401/429/503)."""
        key = self.key_from(headers)
        if key is None:
            return None
        return self.result(await self.lookup(key), time.time() if now is None else now)

    def authenticate_sync(self, headers: Headers, now: float | None = None) -> AuthResult | None:
        """Blocking :meth:`authenticate`."""
        key = self.key_from(headers)
        if key is None:
            return None
        return self.result(self.lookup_sync(key), time.time() if now is None else now)

    def invalidate(self) -> None:
        """Forget every cached key."""
        with self._lock:
            self._hits.clear()
            self._misses.clear()


def api_key_user_allows(user: Any, request: Mapping[str, Sequence[str]]) -> bool:
    """Whether an API-key user's key grants ``request`` (``{"project": ["read"]}``): the
    statements the plugin's ``verifyApiKey({permissions})`` checks. ``False`` for any other
    user."""
    claims = getattr(user, "claims", None)
    if getattr(user, "source", None) != "api-key" or not isinstance(claims, Mapping):
        return False
    info = claims.get("apiKey")
    statements = info.get("permissions") if isinstance(info, Mapping) else None
    return api_key_allows(statements if isinstance(statements, Mapping) else None, request)
