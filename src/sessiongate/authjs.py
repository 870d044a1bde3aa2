"""NextAuth.js v4 and Auth.js v5 session tokens (JWE ``dir``), as the JS libraries make them.

* **v4** (``next-auth@4``): key = HKDF-SHA-256(secret, salt ``""``,
  ``"NextAuth.js Generated Encryption Key"``, 32 bytes); header ``{"alg":"dir","enc":"A256GCM"}``
  with no ``kid``.
* **v5** (``@auth/core``): salt = the cookie name; key = HKDF-SHA-256(secret, salt,
  ``"Auth.js Generated Encryption Key (<salt>)"``, 64 bytes for A256CBC-HS512 or 32 for A256GCM);
  ``kid`` = RFC 7638 thumbprint of the derived key (SHA-512 for 64-byte keys, SHA-256 for 32).
  With several secrets the key is chosen by ``kid``; a token without ``kid`` is tried with the
  first secret only — exactly what ``@auth/core`` does.

Which token is accepted where:

* a v4 token has no salt, so it would decrypt under any cookie name; it is accepted only under a
  v4 cookie name (``[__Secure-]next-auth.session-token``), a configured custom name, or as a
  ``Bearer`` token — never under ``[__Secure-]authjs.session-token``, where ``@auth/core``
  cannot read it either;
* session cookies are looked up ``__Secure-`` first across every family: when any ``__Secure-``
  session cookie is present, no plain one is read (:meth:`RequestCredentials.session_cookies`);
* OAuth check values (``state``, PKCE ``code_verifier``, ``nonce``, the encoded ``state``
  parameter, the WebAuthn challenge) are JWEs under keys from the same secret; next-auth before
  4.24.5 sealed them with the session key itself. They are refused as ``not_a_session``.

Keys are derived once, at construction (per listed cookie name), never per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Literal

from ._b64json import json_compact, json_object
from ._secrets import secret_bytes, secret_list
from ._tokencache import DecodedToken, TokenCache, verify_session_cookies
from .claims import ClaimRules
from .cookies import (
    AUTHJS_COOKIE,
    AUTHJS_COOKIE_NAMES,
    DEFAULT_MAX_TOKEN_BYTES,
    SECURE_PREFIX,
    RequestCredentials,
    cookie_name_list,
)
from .errors import (
    AuthenticationError,
    ConfigurationError,
    DecryptionFailedError,
    MalformedTokenError,
    NotASessionError,
    UnknownKidError,
)
from .jwe import (
    A256CBC_HS512,
    A256GCM,
    KEY_LENGTHS,
    ContentKey,
    hkdf_sha256,
    oct_thumbprint,
    split_compact,
)
from .types import Claim, Verified, claim_by_shape

__all__ = [
    "V4_INFO",
    "AuthJSToken",
    "Generation",
    "refuse_check_value",
    "secrets_from_env",
    "v4_key",
    "v5_key",
]

Generation = Literal["nextauth-v4", "authjs-v5"]
V4_INFO = b"NextAuth.js Generated Encryption Key"
V5_INFO = "Auth.js Generated Encryption Key ({})"
_V5_DEFAULT_SALTS = (SECURE_PREFIX + AUTHJS_COOKIE, AUTHJS_COOKIE)
_THUMB_HASH = {64: "sha512", 32: "sha256"}

# What the JS libraries seal besides sessions, under keys from the same secret (claims other than
# the iat/exp/jti that `encode` adds). next-auth@4 `checks.js` signCookie: {value} with the
# session key itself (no salt) before 4.24.5, salted with the check cookie's name from 4.24.5,
# {value, provider} by 4.24.15; @auth/core `checks.js` sealCookie: {value, provider}; the
# encoded OAuth `state` parameter: {origin, random} (origin dropped when undefined); the
# WebAuthn challenge: {challenge, registerData}.
_CHECK_SHAPES = frozenset(
    frozenset(shape)
    for shape in (
        ("value",),
        ("value", "provider"),
        ("random",),
        ("origin", "random"),
        ("challenge",),
        ("challenge", "registerData"),
    )
)
_ENCODE_CLAIMS = frozenset({"iat", "exp", "jti"})


def refuse_check_value(claims: Mapping[str, Any]) -> None:
    """Raise :class:`NotASessionError` when ``claims`` are those of an OAuth check value."""
    if ("value" in claims or "random" in claims or "challenge" in claims) and frozenset(
        claims.keys() - _ENCODE_CLAIMS
    ) in _CHECK_SHAPES:
        raise NotASessionError()


def v4_key(secret: str | bytes) -> ContentKey:
    """The NextAuth v4 session key for ``secret`` (salt ``""``, A256GCM, no kid)."""
    return ContentKey(hkdf_sha256(secret_bytes(secret), b"", V4_INFO, 32), A256GCM)


def v5_key(secret: str | bytes, salt: str, enc: str = A256CBC_HS512) -> ContentKey:
    """The Auth.js v5 key for ``secret`` and ``salt`` (the cookie name), with its ``kid``."""
    length = KEY_LENGTHS.get(enc)
    if length is None:
        raise ConfigurationError(f"unsupported enc {enc!r}")
    raw = hkdf_sha256(secret_bytes(secret), salt.encode(), V5_INFO.format(salt).encode(), length)
    return ContentKey(raw, enc, kid=oct_thumbprint(raw, _THUMB_HASH[length]))


def secrets_from_env(env: Mapping[str, str]) -> list[str]:
    """The secrets a Next.js app would use, current first.

    ``AUTH_SECRET_3``, ``_2``, ``_1``, then ``AUTH_SECRET`` (Auth.js core's order: the
    highest-numbered secret encrypts), then ``NEXTAUTH_SECRET`` (v4). Duplicates are dropped.
    """
    names = ("AUTH_SECRET_3", "AUTH_SECRET_2", "AUTH_SECRET_1", "AUTH_SECRET", "NEXTAUTH_SECRET")
    out: list[str] = []
    for name in names:
        value = env.get(name)
        if value and value not in out:
            out.append(value)
    return out


def _is_jwe(value: str) -> bool:
    """The shape of a compact JWE: five dot-separated segments (a claim, not a verification)."""
    return value.count(".") == 4


def _not_jwe(value: str) -> bool:
    return value.count(".") != 4


@dataclass(frozen=True, slots=True)
class _Key:
    key: ContentKey
    generation: Generation
    salt: str | None
    secret_index: int


@dataclass(slots=True)
class _SaltKeys:
    """The v5 keys of one salt: by kid, and the first secret's key per enc (for no-kid tokens)."""

    by_kid: dict[str, _Key] = field(default_factory=dict)
    first: dict[str, _Key] = field(default_factory=dict)


class AuthJSToken:
    """Verify NextAuth v4 and Auth.js v5 session tokens (cookies and ``Bearer``).

    Args:
        secret: the ``AUTH_SECRET``/``NEXTAUTH_SECRET`` string, or a list for rotation (current
            first, as ``secret: [new, old]`` in Auth.js). Used as UTF-8 bytes, never base64-decoded.
        cookie_names: the complete list of session cookie names to read; default
            :data:`~sessiongate.cookies.AUTHJS_COOKIE_NAMES` (the four standard names). For the
            app's ``cookies.sessionToken.name``: ``[*AUTHJS_COOKIE_NAMES, "my.session"]``. Every
            ``__Secure-`` name is read before any plain one. Each name is also the Auth.js v5
            salt its tokens are made for.
        accept_v4 / accept_v5: which generations to accept. A v4 token is accepted under any
            listed name but the two Auth.js v5 names (``[__Secure-]authjs.session-token``), or as
            a ``Bearer`` token.
        leeway: clock tolerance in seconds or a ``timedelta`` (default 15 s, as Auth.js).
        require_exp: reject tokens without ``exp`` (default ``True``).
        issuer / audience: optional ``iss``/``aud`` checks.
        cache_size: how many verified tokens to remember (0 disables). Expiry is re-checked on
            every hit; a hit skips the decryption. The cache's estimated memory is bounded by
            ``cache_size`` x 4 KiB (16 MiB by default): large tokens take more of it.
        max_token_bytes: size cap, checked before any crypto.
        clock: wall-clock UNIX seconds (default ``time.time``); injectable for tests.
    """

    name = "authjs"

    def __init__(
        self,
        secret: str | bytes | Sequence[str | bytes],
        *,
        cookie_names: Iterable[str] | None = None,
        accept_v4: bool = True,
        accept_v5: bool = True,
        leeway: float | timedelta = 15,
        require_exp: bool = True,
        issuer: str | Collection[str] | None = None,
        audience: str | Collection[str] | None = None,
        cache_size: int = 4096,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if secret is None or not isinstance(secret, (str, bytes, Sequence)) or not secret:
            raise ConfigurationError(
                "AuthJSToken needs secret=: the Next.js app's AUTH_SECRET (Auth.js v5) or "
                "NEXTAUTH_SECRET (NextAuth v4); os.environ.get() gives None when the variable "
                "is not set (SessionGate.from_env() reads both)"
            )
        self._secrets = list(secret_list(secret))
        if not (accept_v4 or accept_v5):
            raise ConfigurationError("accept at least one of v4 and v5")
        if cache_size < 0 or max_token_bytes <= 0:
            raise ConfigurationError("cache_size must be >= 0 and max_token_bytes > 0")
        self.cookie_names: tuple[str, ...] = cookie_name_list(cookie_names, AUTHJS_COOKIE_NAMES)
        self.accept_v4 = accept_v4
        self.accept_v5 = accept_v5
        self.rules = ClaimRules(
            leeway=leeway, require_exp=require_exp, issuer=issuer, audience=audience
        )
        self.max_token_bytes = max_token_bytes
        self.clock = clock
        # where a (salt-less) v4 token may arrive: the v4 names and the custom names, never the
        # v5 names (their salt is the name; @auth/core cannot read a v4 token there either)
        self._v4_salts = frozenset(
            n for n in self.cookie_names if n.removeprefix(SECURE_PREFIX) != AUTHJS_COOKIE
        )
        self._v4: tuple[_Key, ...] = tuple(
            _Key(v4_key(s), "nextauth-v4", None, i) for i, s in enumerate(self._secrets)
        )
        self._salts: dict[str, _SaltKeys] = {}
        self._salt_lock = threading.Lock()
        self._all_by_kid: dict[str, _Key] = {}
        self._nokid_memo: dict[tuple[str | None, str], tuple[_Key, ...]] = {}
        for name in (*self.cookie_names, *_V5_DEFAULT_SALTS):
            self._salt_keys(name)
        self._cache = TokenCache(cache_size)

    def __repr__(self) -> str:
        return (
            f"AuthJSToken(secrets=<{len(self._secrets)} redacted>, "
            f"cookies={list(self.cookie_names)!r}, v4={self.accept_v4}, v5={self.accept_v5})"
        )

    # ------------------------------------------------------------------ keys

    def _salt_keys(self, salt: str) -> _SaltKeys:
        keys = self._salts.get(salt)
        if keys is not None:
            return keys
        with self._salt_lock:
            keys = self._salts.get(salt)
            if keys is not None:
                return keys
            if len(self._salts) >= 64:
                raise ConfigurationError("too many distinct cookie names")
            keys = _SaltKeys()
            for index, secret in enumerate(self._secrets):
                for enc in (A256CBC_HS512, A256GCM):
                    k = _Key(v5_key(secret, salt, enc), "authjs-v5", salt, index)
                    assert k.key.kid is not None
                    keys.by_kid.setdefault(k.key.kid, k)
                    self._all_by_kid.setdefault(k.key.kid, k)
                    if index == 0:
                        keys.first[enc] = k
            self._salts[salt] = keys
            return keys

    def _candidate_keys(self, header: Mapping[str, Any], salt: str | None) -> Sequence[_Key]:
        """Keys to try, in order. ``salt=None``: the token's cookie name is unknown (Bearer)."""
        kid = header.get("kid")
        enc = header["enc"]
        if kid is not None:
            if not self.accept_v5:
                raise UnknownKidError("this verifier does not accept Auth.js v5 tokens")
            found = (
                self._all_by_kid.get(kid) if salt is None else self._salt_keys(salt).by_kid.get(kid)
            )
            if found is None:
                other = self._all_by_kid.get(kid)
                if other is not None and other.salt is not None:
                    raise UnknownKidError(
                        f"the token was issued for the cookie name {other.salt!r}, not {salt!r}"
                    )
                raise UnknownKidError(
                    "no configured secret decrypts it (wrong secret, or a token for another "
                    "cookie name)"
                )
            if found.key.enc != enc:
                raise DecryptionFailedError()
            return [found]
        memo_key = (salt, enc)
        memo = self._nokid_memo.get(memo_key)
        if memo is not None:
            return memo
        keys: list[_Key] = []
        if enc == A256GCM and self.accept_v4 and (salt is None or salt in self._v4_salts):
            keys.extend(self._v4)
        if self.accept_v5:
            salts = _V5_DEFAULT_SALTS if salt is None else (salt,)
            for s in salts:
                k = self._salt_keys(s).first.get(enc)
                if k is not None:
                    keys.append(k)
        if not keys:
            raise DecryptionFailedError("no configured key can decrypt this kind of token")
        if len(self._nokid_memo) < 256:  # salts are bounded by _salt_keys (64) x 2 encs
            self._nokid_memo[memo_key] = tuple(keys)
        return keys

    # ------------------------------------------------------------------ decoding

    def _open(self, token: str, salt: str | None) -> tuple[dict[str, Any], Mapping[str, Any], _Key]:
        """Parse, pick the key, decrypt, parse the claims: ``(claims, header, key)``.

        No claim checks and no cache. Kept to few frames: it runs for every new token.
        """
        header, protected, iv, ciphertext, tag = split_compact(token, self.max_token_bytes)
        memo = None if "kid" in header else self._nokid_memo.get((salt, header["enc"]))
        keys = self._candidate_keys(header, salt) if memo is None else memo
        error: AuthenticationError | None = None
        for key in keys:
            try:
                plaintext = key.key.open(protected, iv, ciphertext, tag)
            except DecryptionFailedError as err:
                error = error or err
                continue
            return json_object(plaintext, "claims"), header, key
        assert error is not None
        raise error

    def _verify(self, token: str, salt: str | None) -> DecodedToken:
        hit = self._cache.get((token, salt))
        return self._verify_new(token, salt) if hit is None else hit

    def _verify_new(self, token: str, salt: str | None, now: float | None = None) -> DecodedToken:
        """Verify a token the cache does not hold, and remember it (a no-op with the cache off).

        With ``now``, ``exp``/``nbf`` are checked too, in the same pass as the other claims.
        """
        decoded = self._record(token, salt, now)
        if self._cache.admit((token, salt)):
            self._cache.put((token, salt), decoded, len(token))
        return decoded

    def _record(self, token: str, salt: str | None, now: float | None) -> DecodedToken:
        """Verify a token into the read-only record the cache would keep (nothing stored)."""
        claims, header, key = self._open(token, salt)
        exp, nbf = self.rules.check(claims, now)
        refuse_check_value(claims)
        return DecodedToken(MappingProxyType(claims), header, key.generation, exp, nbf, key.salt)

    def decode_full(
        self, token: str, *, cookie_name: str | None = None, now: float | None = None
    ) -> DecodedToken:
        """Like :meth:`decode` but also returns the header and which generation matched.

        The record is read-only (it may be the cached one); ``claims_copy()`` gives a mutable copy.
        """
        if not isinstance(token, str) or not token:
            raise MalformedTokenError("the token is empty")
        decoded = self._verify(token, cookie_name)
        self.rules.check_time(decoded.exp, decoded.nbf, self.clock() if now is None else now)
        return decoded

    def decode(
        self, token: str, *, cookie_name: str | None = None, now: float | None = None
    ) -> dict[str, Any]:
        """Decrypt and validate ``token``; return its claims. Raises a ``SessionGateError``.

        ``cookie_name`` is the cookie the token arrived in: it is the v5 salt, so a token made
        for ``__Secure-authjs.session-token`` does not verify as ``authjs.session-token``. With
        ``None`` (a Bearer token, or unknown) every configured name is accepted.
        """
        if not isinstance(token, str) or not token:
            raise MalformedTokenError("the token is empty")
        if now is None:
            now = self.clock()
        cache = self._cache
        key = (token, cookie_name)
        decoded = cache.get(key)
        if decoded is None:  # exp/nbf checked with the other claims
            if not cache.admit(key):
                # not to be stored (cache off, or the token's first sight): nothing else holds
                # these claims, so no read-only view, no record and no copy are needed
                fresh = self._open(token, cookie_name)[0]
                self.rules.check(fresh, now)
                refuse_check_value(fresh)
                return fresh
            decoded = self._record(token, cookie_name, now)
            cache.put(key, decoded, len(token))
        else:  # the hot path: no parse, no crypto; time claims re-checked
            self.rules.check_time(decoded.exp, decoded.nbf, now)
        if decoded.nested:
            return decoded.claims_copy()
        # MappingProxyType.copy() copies the dict underneath (C, ~10x cheaper than dict())
        claims: dict[str, Any] = decoded.claims.copy()  # type: ignore[attr-defined]
        return claims

    # ------------------------------------------------------------------ gate protocol

    def claims(self, credentials: RequestCredentials) -> Claim:
        """``"mine"`` when a session cookie or the ``Bearer`` token holds a compact JWE (five
        segments); ``"foreign"`` when they hold something else (a database session id)."""
        return claim_by_shape(
            credentials,
            cookie_names=self.cookie_names,
            cookie_is_mine=_is_jwe,
            bearer_is_mine=_is_jwe,
        )

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """Authenticator protocol: session cookies first, then a JWE ``Bearer`` token.

        The first cookie that verifies wins; when cookies are present and none verifies, the
        first error is raised. A cookie value that is not a JWE (a database session id) is not
        this format's: it is skipped, not an error. No downgrade: when any ``__Secure-`` session
        cookie is present, plain ones are not read, whatever their family.
        """
        # a cookie value that is not a JWE is a database session id: the database strategy's
        verified = verify_session_cookies(
            credentials, self.cookie_names, self._verify, self.rules, now, skip=_not_jwe
        )
        if verified is not None:
            return verified
        token = credentials.bearer_token()
        if token is None or not _is_jwe(token):
            return None
        decoded = self._verify(token, None)
        self.rules.check_time(decoded.exp, decoded.nbf, now)
        return decoded.as_verified("bearer", self.rules)

    # ------------------------------------------------------------------ encoding

    def encode(
        self,
        claims: Mapping[str, Any],
        *,
        generation: Generation = "authjs-v5",
        cookie_name: str = AUTHJS_COOKIE,
        enc: str = A256CBC_HS512,
        max_age: float = 30 * 24 * 3600,
        now: float | None = None,
    ) -> str:
        """Mint a token as the JS library would (``iat``, ``exp`` and ``jti`` added).

        v5 tokens use the first (current) secret and carry its ``kid``. Meant for tests and
        tools; production tokens are minted by the Next.js app.
        """
        import math
        import uuid

        issued = math.floor(self.clock() if now is None else now)
        body = {**claims, "iat": issued, "exp": issued + int(max_age), "jti": str(uuid.uuid4())}
        payload = json_compact(body)
        if generation == "nextauth-v4":
            return self._v4[0].key.encrypt(payload, {})
        key = self._salt_keys(cookie_name).first[enc].key
        return key.encrypt(payload, {"kid": key.kid})
