"""Better Auth sessions: HMAC-signed ``session_token`` cookies, the bearer plugin, cookie caches.

Formats (SPEC section 5, written from ``better-auth@1.7.25`` / ``better-call@1.4.5``):

* **Signed cookie** ``[__Secure-]<prefix>.session_token`` = ``encodeURIComponent(token + "." +
  base64(HMAC-SHA256(UTF-8(secret), token)))``. Verification percent-decodes, splits at the
  **last** ``.`` (index >= 1), requires a 44-character standard-base64 signature ending in ``=``
  and compares in constant time. The token is then looked up in the ``session`` table.
* **Bearer plugin**: ``Authorization: Bearer <token>.<sig>`` (the ``set-auth-token`` header);
  the signature may be base64 or base64url, padded or not. A bare token (no ``.``) is what the
  plugin accepts by default; here only with ``allow_unsigned_bearer=True``.
* **Cookie cache** ``<prefix>.session_data`` (opt-in ``cookie_cache=``): ``compact`` (base64url
  JSON + HMAC over its re-serialization), ``jwt`` (HS256) or ``jwe`` (dir, A256CBC-HS512, key
  from HKDF with salt ``better-auth-session``). A valid, unexpired cache whose
  ``session.token`` equals the signed token answers without the database, as Better Auth does.

Secrets: a list. Better Auth 1.7.25 checks signed cookies against its *current* secret only
(SPEC 5.9), so rotating ``BETTER_AUTH_SECRET`` there logs everyone out; listing the old secret
here lets this service keep accepting cookies signed before a rotation while the JS side
re-issues them.
"""

from __future__ import annotations

import binascii
import hmac
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal

from ._encoding import b64url_decode, json_compact, json_object, secret_bytes, secret_list
from .cookies import (
    BETTER_AUTH_COOKIE,
    SECURE_PREFIX,
    RequestCredentials,
    percent_decode,
    session_cookie_candidates,
)
from .dbsession import StoreBackedAuthenticator, check_token_shape
from .errors import (
    AuthenticationError,
    ConfigurationError,
    ExpiredTokenError,
    InvalidSignatureError,
    MalformedTokenError,
    SessionGateError,
    SessionNotFoundError,
)
from .gate import CredentialKind, Verified
from .jwe import A256CBC_HS512, ContentKey, hkdf_sha256, oct_thumbprint, parse_compact
from .stores.base import SessionStore
from .stores.bridge import BackgroundLoop

__all__ = [
    "BetterAuthSession",
    "CookieCacheStrategy",
    "better_auth_jwe_key",
    "decode_cookie_cache",
    "sign_cookie_value",
    "verify_bearer_value",
    "verify_signed_cookie",
]

CookieCacheStrategy = Literal["compact", "jwt", "jwe"]

_SIG_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_JWE_SALT = b"better-auth-session"
_JWE_INFO = b"BetterAuth.js Generated Encryption Key"
_MAX_CACHE_BYTES = 100 * 4096


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret_bytes(secret, "a Better Auth secret")


def _secrets(secret: str | bytes | Sequence[str | bytes]) -> tuple[bytes, ...]:
    return secret_list(secret, "a Better Auth secret")


def _hmac256(key: bytes, message: str) -> bytes:
    return hmac.digest(key, message.encode("utf-8"), "sha256")


def sign_cookie_value(value: str, secret: str | bytes) -> str:
    """``value.signature`` as better-call's ``signCookieValue`` builds it, before URL-encoding.

    Put it in a ``Cookie`` header percent-encoded (``urllib.parse.quote(v, safe="")``) or as
    is (the verifier accepts both); the bearer plugin's ``set-auth-token`` header carries it as
    is.
    """
    sig = binascii.b2a_base64(_hmac256(_secret_bytes(secret), value), newline=False)
    return f"{value}.{sig.decode('ascii')}"


def _match(keys: Iterable[bytes], value: str, signature: bytes) -> bool:
    matched = False
    for key in keys:
        # no early exit: the time taken does not tell which secret matched
        matched |= hmac.compare_digest(_hmac256(key, value), signature)
    return matched


def verify_signed_cookie(cookie_value: str, secrets: str | bytes | Sequence[str | bytes]) -> str:
    """Verify a signed ``session_token`` cookie value and return the session token.

    ``cookie_value`` may be percent-encoded (as sent) or decoded. Raises
    :class:`MalformedTokenError` when it is not ``token.<44-char base64>`` (Better Auth treats
    such a cookie as absent) and :class:`InvalidSignatureError` when no secret matches.
    """
    keys = _secrets(secrets)
    decoded = percent_decode(cookie_value)
    if decoded is None:
        raise MalformedTokenError("the signed cookie has a malformed percent-escape")
    cut = decoded.rfind(".")
    if cut < 1:
        raise MalformedTokenError("the signed cookie has no signature")
    value, sig = decoded[:cut], decoded[cut + 1 :]
    if len(sig) != 44 or sig[43] != "=" or not _SIG_CHARS.issuperset(sig[:43]):
        raise MalformedTokenError("the cookie signature is not 44 characters of base64")
    signature = binascii.a2b_base64(sig)
    if len(signature) != 32 or not _match(keys, value, signature):
        raise InvalidSignatureError("the session cookie signature is not valid")
    return value


def _decode_any_base64(sig: str) -> bytes | None:
    body = sig.rstrip("=")
    if len(sig) - len(body) > 2:
        return None
    body = body.replace("-", "+").replace("_", "/")
    if not body or not _SIG_CHARS.issuperset(body) or len(body) % 4 == 1:
        return None
    try:
        return binascii.a2b_base64(body + "=" * (-len(body) % 4))
    except binascii.Error:
        return None


def verify_bearer_value(value: str, secrets: str | bytes | Sequence[str | bytes]) -> str | None:
    """Verify the bearer plugin's ``token.signature`` and return the token.

    Returns ``None`` when the value does not have that shape (one ``.``, a signature decoding
    to 32 bytes in base64 or base64url, padded or not); raises :class:`InvalidSignatureError`
    when it does but no secret matches.
    """
    keys = _secrets(secrets)
    if value.count(".") != 1:
        return None
    token, sig = value.split(".")
    signature = _decode_any_base64(sig)
    if not token or signature is None or len(signature) != 32:
        return None
    if not _match(keys, token, signature):
        raise InvalidSignatureError("the bearer token signature is not valid")
    return token


# ------------------------------------------------------------------------------ cookie cache


def better_auth_jwe_key(secret: str | bytes) -> ContentKey:
    """The A256CBC-HS512 key Better Auth derives for the ``session_data`` JWE cache.

    HKDF-SHA256(UTF-8(secret), salt ``better-auth-session``, info ``BetterAuth.js Generated
    Encryption Key``, 64 bytes); ``kid`` is its RFC 7638 thumbprint with SHA-256.
    """
    raw = hkdf_sha256(_secret_bytes(secret), _JWE_SALT, _JWE_INFO, 64)
    return ContentKey(raw, A256CBC_HS512, kid=oct_thumbprint(raw, "sha256"))


def _decode_compact(value: str, keys: Sequence[bytes]) -> tuple[dict[str, Any], float]:
    outer = json_object(b64url_decode(value, "cookie cache"), "cookie cache")
    session, expires_at, signature = (
        outer.get("session"),
        outer.get("expiresAt"),
        outer.get("signature"),
    )
    if (
        not isinstance(session, dict)
        or isinstance(expires_at, bool)
        or not isinstance(expires_at, (int, float))
        or not isinstance(signature, str)
    ):
        raise MalformedTokenError("the cookie cache is not of the compact shape")
    sig = b64url_decode(signature, "cookie cache signature")
    signed = json_compact({**session, "expiresAt": expires_at}).decode("utf-8")
    if len(sig) != 32 or not _match(keys, signed, sig):
        raise InvalidSignatureError("the cookie cache signature is not valid")
    return session, _finite(expires_at) / 1000.0


def _finite(value: float) -> float:
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        raise MalformedTokenError("the cookie cache holds an out-of-range time") from None
    if not math.isfinite(number):
        raise MalformedTokenError("the cookie cache holds an out-of-range time")
    return number


def _decode_jwt(value: str, keys: Sequence[bytes], now: float) -> tuple[dict[str, Any], float]:
    parts = value.split(".")
    if len(parts) != 3:
        raise MalformedTokenError("the cookie cache is not a JWT")
    header = json_object(b64url_decode(parts[0], "header"), "header")
    if header.get("alg") != "HS256" or "crit" in header:
        raise MalformedTokenError("the cookie cache JWT must be HS256")
    sig = b64url_decode(parts[2], "signature")
    if len(sig) != 32 or not _match(keys, parts[0] + "." + parts[1], sig):
        raise InvalidSignatureError("the cookie cache signature is not valid")
    payload = json_object(b64url_decode(parts[1], "payload"))
    return payload, _exp(payload, now, leeway=0.0)


def _exp(payload: Mapping[str, Any], now: float, *, leeway: float) -> float:
    raw = payload.get("exp")
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise MalformedTokenError("the cookie cache has no 'exp'")
    exp = _finite(raw)
    if exp <= math.floor(now) - leeway:
        raise ExpiredTokenError("the cookie cache has expired")
    nbf = payload.get("nbf")
    if isinstance(nbf, (int, float)) and _finite(nbf) > math.floor(now) + leeway:
        raise ExpiredTokenError("the cookie cache is not valid yet")
    return exp


def _decode_jwe(
    value: str, keys: Sequence[ContentKey], now: float, leeway: float
) -> tuple[dict[str, Any], float]:
    jwe = parse_compact(value, max_bytes=_MAX_CACHE_BYTES, allowed_enc=frozenset({A256CBC_HS512}))
    kid = jwe.kid
    candidates = [k for k in keys if k.kid == kid] if kid is not None else list(keys)
    for key in candidates:
        try:
            plaintext = key.decrypt(jwe)
        except AuthenticationError:
            continue
        payload = json_object(plaintext)
        return payload, _exp(payload, now, leeway=leeway)
    raise InvalidSignatureError("the cookie cache does not decrypt with the configured secrets")


def decode_cookie_cache(
    value: str,
    strategy: CookieCacheStrategy,
    secrets: str | bytes | Sequence[str | bytes],
    *,
    now: float,
    leeway: float = 15.0,
) -> tuple[dict[str, Any], float]:
    """Verify a ``session_data`` cookie and return ``(sessionData, cache_expires_at)``.

    ``sessionData`` is ``{"session": {...}, "user": {...}, "updatedAt": ms, "version": "1"}``
    (the jwt/jwe payloads also carry ``iat``/``exp``); ``cache_expires_at`` is UNIX seconds.
    Raises an :class:`AuthenticationError` when the cache is malformed, forged or expired.
    """
    keys = _secrets(secrets)
    if len(value) > _MAX_CACHE_BYTES:
        raise MalformedTokenError("the cookie cache is too large")
    if strategy == "compact":
        return _decode_compact(value, keys)
    if strategy == "jwt":
        return _decode_jwt(value, keys, now)
    if strategy == "jwe":
        return _decode_jwe(value, [better_auth_jwe_key(k) for k in keys], now, leeway)
    raise ConfigurationError(f"unknown cookie cache strategy {strategy!r}")


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


# ------------------------------------------------------------------------------ authenticator


class BetterAuthSession(StoreBackedAuthenticator):
    """Verify Better Auth sessions (signed cookie or bearer plugin, then the ``session`` table).

    Args:
        secret: ``BETTER_AUTH_SECRET``, or a list ``[current, previous, ...]``: a signature by
            any of them is accepted.
        store: where sessions live (``PostgresStore(dsn, schema="better-auth")``...). May be
            ``None`` only with ``cookie_cache``: then a session is proven by the cache alone.
        cookie_prefix: ``advanced.cookiePrefix`` (default ``better-auth``).
        cookie_name: ``advanced.cookies.session_token.name`` (replaces ``<prefix>.session_token``;
            the ``__Secure-`` variant is still read first).
        accept_bearer: accept the bearer plugin's ``Authorization: Bearer token.signature``.
        allow_unsigned_bearer: also accept a bare session token as bearer credential (what the
            plugin does unless ``requireSignature: true``). Off by default.
        cookie_cache: trust the ``session_data`` cookie cache in this encoding (``compact``,
            ``jwt`` or ``jwe``) until it expires; ``None`` (default) always asks the store.
        cookie_cache_version: the expected ``version`` (``session.cookieCache.version``).
        leeway: clock tolerance for the jwe cache's ``exp`` (Better Auth uses 15 s).
        cache_ttl / negative_cache_ttl / cache_size / background_loop / blocking_timeout:
            as for :class:`~sessiongate.dbsession.DatabaseSession`.
    """

    name = "better-auth"
    source = "better-auth"

    def __init__(
        self,
        *,
        secret: str | bytes | Sequence[str | bytes],
        store: SessionStore | None = None,
        cookie_prefix: str = "better-auth",
        cookie_name: str | None = None,
        accept_bearer: bool = True,
        allow_unsigned_bearer: bool = False,
        cookie_cache: CookieCacheStrategy | None = None,
        cookie_cache_version: str = "1",
        leeway: float = 15.0,
        cache_ttl: float = 5.0,
        negative_cache_ttl: float = 2.0,
        cache_size: int = 10_000,
        background_loop: BackgroundLoop | None = None,
        blocking_timeout: float | None = None,
    ) -> None:
        self._keys = _secrets(secret)
        if cookie_cache not in (None, "compact", "jwt", "jwe"):
            raise ConfigurationError("cookie_cache must be 'compact', 'jwt', 'jwe' or None")
        if store is None and cookie_cache is None:
            raise ConfigurationError("BetterAuthSession needs a store (or a trusted cookie_cache)")
        if not cookie_prefix or not isinstance(cookie_prefix, str):
            raise ConfigurationError("cookie_prefix must be a non-empty string")
        self._has_store = store is not None
        if store is not None:
            super().__init__(
                store,
                cache_ttl=cache_ttl,
                negative_cache_ttl=negative_cache_ttl,
                cache_size=cache_size,
                background_loop=background_loop,
                blocking_timeout=blocking_timeout,
            )
        else:
            self._loop = background_loop
            self._memo_key = object()
            self.blocking_timeout = blocking_timeout or 5.0
        default_name = (
            BETTER_AUTH_COOKIE
            if cookie_prefix == "better-auth"
            else f"{cookie_prefix}.session_token"
        )
        base = cookie_name or default_name
        if base.startswith(SECURE_PREFIX):
            base = base[len(SECURE_PREFIX) :]
        self.cookie_names = (SECURE_PREFIX + base, base)
        data = f"{cookie_prefix}.session_data"
        self.data_cookie_names = (SECURE_PREFIX + data, data)
        self.accept_bearer = accept_bearer
        self.allow_unsigned_bearer = allow_unsigned_bearer
        self.cookie_cache: CookieCacheStrategy | None = cookie_cache
        self.cookie_cache_version = cookie_cache_version
        self.leeway = float(leeway)
        self._jwe_keys = (
            tuple(better_auth_jwe_key(k) for k in self._keys) if cookie_cache == "jwe" else ()
        )

    def __repr__(self) -> str:
        return (
            f"BetterAuthSession(cookie={self.cookie_names[1]!r}, secrets=<{len(self._keys)}>, "
            f"cookie_cache={self.cookie_cache!r})"
        )

    # ------------------------------------------------------------------ credentials

    def token(self, credentials: RequestCredentials) -> tuple[str, CredentialKind] | None:
        """The verified session token this request presents, or ``None`` when none is ours."""
        cookies = credentials.cookies
        for name in self.cookie_names:
            value = cookies.get(name)
            if value:
                token = verify_signed_cookie(value, self._keys)
                check_token_shape(token)
                return token, "cookie"
        if not self.accept_bearer:
            return None
        bearer = credentials.bearer_token()
        if bearer is None:
            return None
        if "." in bearer:
            token_or_none = verify_bearer_value(bearer, self._keys)
            if token_or_none is None:
                return None
            check_token_shape(token_or_none)
            return token_or_none, "bearer"
        if not self.allow_unsigned_bearer:
            return None
        check_token_shape(bearer)
        return bearer, "bearer"

    def _from_cookie_cache(
        self, credentials: RequestCredentials, token: str, credential: CredentialKind, now: float
    ) -> Verified | None:
        strategy = self.cookie_cache
        if strategy is None or credential != "cookie":
            return None
        cookies = credentials.cookies
        for name in self.data_cookie_names:
            try:
                candidates = session_cookie_candidates(
                    cookies, name, max_chunks=100, max_bytes=_MAX_CACHE_BYTES
                )
            except SessionGateError:
                return None
            if not candidates:
                continue
            for value in candidates:
                verified = self._verify_cache(value, strategy, token, credential, now)
                if verified is not None:
                    return verified
            return None  # a __Secure- cache is never downgraded to the plain one
        return None

    def _verify_cache(
        self,
        value: str,
        strategy: CookieCacheStrategy,
        token: str,
        credential: CredentialKind,
        now: float,
    ) -> Verified | None:
        try:
            if strategy == "jwe":
                payload, cache_exp = _decode_jwe(value, self._jwe_keys, now, self.leeway)
            else:
                payload, cache_exp = decode_cookie_cache(
                    value, strategy, self._keys, now=now, leeway=self.leeway
                )
        except AuthenticationError:
            return None  # Better Auth drops a bad cache and asks the database
        session, user = payload.get("session"), payload.get("user")
        if not isinstance(session, dict) or not isinstance(user, dict):
            return None
        cached_token = session.get("token")
        if not isinstance(cached_token, str) or not hmac.compare_digest(
            cached_token.encode("utf-8"), token.encode("utf-8")
        ):
            return None
        if (payload.get("version") or "1") != self.cookie_cache_version:
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
        claims["session"] = MappingProxyType(
            {"expires": session.get("expiresAt"), "cached_until": cache_exp}
        )
        claims["exp"] = math.floor(session_exp)
        return Verified(
            claims=MappingProxyType(claims),
            source=self.source,
            credential=credential,
            expires_at=session_exp,
        )

    # ------------------------------------------------------------------ protocol

    async def authenticate_async(
        self, credentials: RequestCredentials, now: float
    ) -> Verified | None:
        """``None``: no Better Auth credential. Raises when it is forged, unknown or expired."""
        found = self.token(credentials)
        if found is None:
            return None
        token, credential = found
        answer = self._without_store(credentials, token, credential, now)
        if answer is not None:
            return answer
        return await self.lookup(token, credential, now)

    def _without_store(
        self, credentials: RequestCredentials, token: str, credential: CredentialKind, now: float
    ) -> Verified | None:
        """The answer from the trusted cookie cache, if any; raises when a store is needed but
        none is configured. ``None``: look the token up in the store."""
        cached = self._from_cookie_cache(credentials, token, credential, now)
        if cached is not None:
            return cached
        if not self._has_store:
            raise SessionNotFoundError("no valid cookie cache and no session store configured")
        return None

    def authenticate_blocking(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """The same from synchronous code: cache hits answer in place, misses use the loop."""
        found = self.token(credentials)
        if found is None:
            return None
        token, credential = found
        answer = self._without_store(credentials, token, credential, now)
        if answer is not None:
            return answer
        hit = self.cached(token, credential, now)
        if hit is not None:
            return hit
        result: Verified = self.run_blocking(self.lookup(token, credential, now))
        return result

    def invalidate(self, token: str | None = None) -> None:
        """Drop a token (or all) from the session cache."""
        if self._has_store:
            super().invalidate(token)

    async def aclose(self) -> None:
        """Close the store, if any."""
        if self._has_store:
            await super().aclose()
