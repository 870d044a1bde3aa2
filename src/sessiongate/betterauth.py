"""Better Auth's session formats: HMAC-signed ``session_token`` cookies, the bearer plugin's
signed tokens and the ``session_data`` cookie cache (pure: no I/O, no store).

The authenticator that looks the signed token up in the ``session`` table is
:class:`sessiongate.sessions.BetterAuthSession`; this module only reads and checks values.

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
re-issues them. :class:`BetterAuthSecrets` prepares them once (UTF-8 bytes, the cache's JWE
keys); the module-level functions are one-shot conveniences over it.
"""

from __future__ import annotations

import binascii
import hmac
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal

from ._b64json import b64url_decode, json_compact, json_object
from ._secrets import secret_bytes, secret_list
from .baplugins import session_fields, timestamp
from .cookies import percent_decode, session_cookie_candidates
from .errors import (
    AuthenticationError,
    ConfigurationError,
    ExpiredTokenError,
    InvalidSignatureError,
    MalformedTokenError,
    SessionGateError,
)
from .jwe import A256CBC_HS512, ContentKey, hkdf_sha256, oct_thumbprint, parse_compact

__all__ = [
    "MAX_COOKIE_CACHE_BYTES",
    "BetterAuthSecrets",
    "CachedSession",
    "CookieCacheStrategy",
    "better_auth_jwe_key",
    "decode_cookie_cache",
    "sign_cookie_value",
    "verify_bearer_value",
    "verify_signed_cookie",
]

CookieCacheStrategy = Literal["compact", "jwt", "jwe"]
"""How Better Auth encodes the ``session_data`` cookie cache (``session.cookieCache.strategy``)."""

MAX_COOKIE_CACHE_BYTES = 100 * 4096
"""The largest ``session_data`` value read (Better Auth chunks it into at most 100 cookies)."""

_SIG_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_JWE_SALT = b"better-auth-session"
_JWE_INFO = b"BetterAuth.js Generated Encryption Key"
_STRATEGIES = ("compact", "jwt", "jwe")
_WHAT = "a Better Auth secret"


def _hmac256(key: bytes, message: str) -> bytes:
    return hmac.digest(key, message.encode("utf-8"), "sha256")


def _match(keys: Iterable[bytes], value: str, signature: bytes) -> bool:
    matched = False
    for key in keys:
        # no early exit: the time taken does not tell which secret matched
        matched |= hmac.compare_digest(_hmac256(key, value), signature)
    return matched


def better_auth_jwe_key(secret: str | bytes) -> ContentKey:
    """The A256CBC-HS512 key Better Auth derives for the ``session_data`` JWE cache.

    HKDF-SHA256(UTF-8(secret), salt ``better-auth-session``, info ``BetterAuth.js Generated
    Encryption Key``, 64 bytes); ``kid`` is its RFC 7638 thumbprint with SHA-256.
    """
    raw = hkdf_sha256(secret_bytes(secret, _WHAT), _JWE_SALT, _JWE_INFO, 64)
    return ContentKey(raw, A256CBC_HS512, kid=oct_thumbprint(raw, "sha256"))


def sign_cookie_value(value: str, secret: str | bytes) -> str:
    """``value.signature`` as better-call's ``signCookieValue`` builds it, before URL-encoding.

    Put it in a ``Cookie`` header percent-encoded (``urllib.parse.quote(v, safe="")``) or as
    is (the verifier accepts both); the bearer plugin's ``set-auth-token`` header carries it as
    is.
    """
    sig = binascii.b2a_base64(_hmac256(secret_bytes(secret, _WHAT), value), newline=False)
    return f"{value}.{sig.decode('ascii')}"


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


class CachedSession:
    """What a valid ``session_data`` cookie cache proves: the user's claims until ``expires_at``.

    ``claims`` are shaped like a database session's (``sub``/``id``, the user fields, a
    ``session`` object with ``expires`` and ``cached_until``, ``exp``); read-only.
    """

    __slots__ = ("claims", "expires_at")

    def __init__(self, claims: Mapping[str, Any], expires_at: float) -> None:
        self.claims = claims
        self.expires_at = expires_at


class BetterAuthSecrets:
    """Better Auth secrets prepared once: checks signed cookies, bearer tokens and cookie caches.

    Args:
        secret: ``BETTER_AUTH_SECRET``, or a list ``[current, previous, ...]``: a value signed by
            any of them is accepted. UTF-8 bytes of the string as typed.

    Raises :class:`ConfigurationError` for an empty secret or list. The cookie cache's JWE keys
    are derived on first use (HKDF per secret), never per request.
    """

    __slots__ = ("_jwe_keys", "keys")

    def __init__(self, secret: str | bytes | Sequence[str | bytes]) -> None:
        self.keys: tuple[bytes, ...] = secret_list(secret, _WHAT)
        self._jwe_keys: tuple[ContentKey, ...] | None = None

    def __repr__(self) -> str:
        return f"BetterAuthSecrets(<{len(self.keys)} redacted>)"

    @property
    def jwe_keys(self) -> tuple[ContentKey, ...]:
        """The ``session_data`` JWE keys, one per secret (derived once)."""
        keys = self._jwe_keys
        if keys is None:  # deterministic: two threads deriving at once get equal keys
            keys = self._jwe_keys = tuple(better_auth_jwe_key(k) for k in self.keys)
        return keys

    def verify_signed_cookie(self, cookie_value: str) -> str:
        """Verify a signed ``session_token`` cookie value and return the session token.

        ``cookie_value`` may be percent-encoded (as sent) or decoded. Raises
        :class:`MalformedTokenError` when it is not ``token.<44-char base64>`` (Better Auth
        treats such a cookie as absent) and :class:`InvalidSignatureError` when no secret
        matches.
        """
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
        if len(signature) != 32 or not _match(self.keys, value, signature):
            raise InvalidSignatureError("the session cookie signature is not valid")
        return value

    def verify_bearer_value(self, value: str) -> str | None:
        """Verify the bearer plugin's ``token.signature`` and return the token.

        Returns ``None`` when the value does not have that shape (one ``.``, a signature
        decoding to 32 bytes in base64 or base64url, padded or not); raises
        :class:`InvalidSignatureError` when it does but no secret matches.
        """
        if value.count(".") != 1:
            return None
        token, sig = value.split(".")
        signature = _decode_any_base64(sig)
        if not token or signature is None or len(signature) != 32:
            return None
        if not _match(self.keys, token, signature):
            raise InvalidSignatureError("the bearer token signature is not valid")
        return token

    def decode_cookie_cache(
        self, value: str, strategy: CookieCacheStrategy, *, now: float, leeway: float = 15.0
    ) -> tuple[dict[str, Any], float]:
        """Verify a ``session_data`` cookie and return ``(sessionData, cache_expires_at)``.

        ``sessionData`` is ``{"session": {...}, "user": {...}, "updatedAt": ms, "version":
        "1"}`` (the jwt/jwe payloads also carry ``iat``/``exp``); ``cache_expires_at`` is UNIX
        seconds. Raises an :class:`AuthenticationError` when the cache is malformed, forged or
        expired.
        """
        if len(value) > MAX_COOKIE_CACHE_BYTES:
            raise MalformedTokenError("the cookie cache is too large")
        if strategy == "compact":
            return _decode_compact(value, self.keys)
        if strategy == "jwt":
            return _decode_jwt(value, self.keys, now)
        if strategy == "jwe":
            return _decode_jwe(value, self.jwe_keys, now, leeway)
        raise ConfigurationError(f"unknown cookie cache strategy {strategy!r}")

    def read_cookie_cache(
        self,
        cookies: Mapping[str, str],
        names: Sequence[str],
        strategy: CookieCacheStrategy,
        *,
        token: str,
        version: str,
        now: float,
        leeway: float,
    ) -> CachedSession | None:
        """The session a ``session_data`` cookie cache proves for ``token``, as Better Auth
        reads it; ``None`` when there is none or it does not hold (then ask the database).

        ``names`` are the cache cookie names, ``__Secure-`` first: the first one present is the
        only one read (a ``__Secure-`` cache is never downgraded to the plain one). A cache is
        used only when it verifies, is not stale, names this very ``token`` and has the
        expected ``version``.
        """
        for name in names:
            try:
                candidates = session_cookie_candidates(
                    cookies, name, max_chunks=100, max_bytes=MAX_COOKIE_CACHE_BYTES
                )
            except SessionGateError:
                return None
            if not candidates:
                continue
            for value in candidates:
                found = self._cached_session(value, strategy, token, version, now, leeway)
                if found is not None:
                    return found
            return None
        return None

    def _cached_session(
        self,
        value: str,
        strategy: CookieCacheStrategy,
        token: str,
        version: str,
        now: float,
        leeway: float,
    ) -> CachedSession | None:
        try:
            payload, cache_exp = self.decode_cookie_cache(value, strategy, now=now, leeway=leeway)
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
        if (payload.get("version") or "1") != version:
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


def verify_signed_cookie(cookie_value: str, secrets: str | bytes | Sequence[str | bytes]) -> str:
    """One-shot :meth:`BetterAuthSecrets.verify_signed_cookie` (prepares ``secrets`` each call)."""
    return BetterAuthSecrets(secrets).verify_signed_cookie(cookie_value)


def verify_bearer_value(value: str, secrets: str | bytes | Sequence[str | bytes]) -> str | None:
    """One-shot :meth:`BetterAuthSecrets.verify_bearer_value` (prepares ``secrets`` each call)."""
    return BetterAuthSecrets(secrets).verify_bearer_value(value)


def decode_cookie_cache(
    value: str,
    strategy: CookieCacheStrategy,
    secrets: str | bytes | Sequence[str | bytes],
    *,
    now: float,
    leeway: float = 15.0,
) -> tuple[dict[str, Any], float]:
    """One-shot :meth:`BetterAuthSecrets.decode_cookie_cache` (prepares ``secrets`` each call)."""
    if strategy not in _STRATEGIES:
        raise ConfigurationError(f"unknown cookie cache strategy {strategy!r}")
    return BetterAuthSecrets(secrets).decode_cookie_cache(value, strategy, now=now, leeway=leeway)


# ------------------------------------------------------------------------------ cookie cache


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
    jwe = parse_compact(
        value, max_bytes=MAX_COOKIE_CACHE_BYTES, allowed_enc=frozenset({A256CBC_HS512})
    )
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
