"""Statically keyed JWTs: public keys configured once (PEM, JWK, JWK set), no JWKS endpoint.

Teams that replace Auth.js's ``jwt.encode`` / ``jwt.decode`` with their own JWS (``jose``'s
``SignJWT`` with an RS256/ES256/EdDSA private key) put that JWS in the session cookie; others
sign Bearer tokens with a key pair whose public half they hand out as a PEM file. Two pieces:

* :class:`StaticKeys`: the public keys, read once at construction (a PEM file with one or more
  keys or certificates, a JWK, a JWK set, from a file or given as data) and held to the rules of
  :mod:`~sessiongate.jwks.keys` (:func:`~sessiongate.jwks.keys.parse_public_keys`); a
  :class:`~sessiongate.jwks.keys.KeySource`, so it also plugs into
  :class:`~sessiongate.jwks.JWKSBearer` in place of a fetched JWKS (``jwks=StaticKeys(...)``);
* :class:`StaticKeyJWT`: the authenticator for cookies *and* Bearer tokens. It reads the
  Auth.js session cookie names by default, ``__Secure-`` names first (once one is present no
  plain one is read), then a three-segment ``Bearer`` token. No I/O: it is a plain synchronous
  authenticator, so the gate may memoise its verdicts like those of the other token formats.

The rules are those of the JWKS path, from the same functions: algorithms pinned by
configuration (HS* and ``none`` refused: HS256 secrets go to :class:`~sessiongate.jws.BearerJWT`),
the token parsed strictly before any crypto (:func:`~sessiongate.jwks.keys.parse_signed_token`),
a key used only for the algorithms its type and curve allow
(:class:`~sessiongate.jwks.keys.SignatureVerifier`), ``iss``/``aud``/``exp``/``nbf`` through
:class:`~sessiongate.claims.ClaimRules`. A token naming a ``kid`` the configured keys do not
have is tried against the keys configured without a ``kid`` (a PEM carries none), and refused
when there are none.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from .._b64json import json_object
from .._tokencache import DecodedToken, TokenCache, verify_session_cookies
from ..claims import ClaimRules
from ..cookies import (
    AUTHJS_COOKIE_NAMES,
    DEFAULT_MAX_TOKEN_BYTES,
    RequestCredentials,
    cookie_name_list,
)
from ..errors import ConfigurationError, UnknownKidError
from ..types import Verified
from .keys import JWKSKey, KeySet, SignatureVerifier, parse_public_keys, parse_signed_token

__all__ = ["StaticKeyJWT", "StaticKeys"]

_MAX_FILE_BYTES = 1024 * 1024


class StaticKeys:
    """Public keys configured once: a :class:`~sessiongate.jwks.keys.KeySource` with no I/O.

    Args:
        data: PEM text, JSON text of a JWK or a JWK set, or a parsed JWK / JWK set.
        path: a file holding any of those (read now, at most 1 MiB); give ``data`` or ``path``.
        kid: the key id of a single PEM key (PEM carries none; JWKs keep their own).

    Raises :class:`ConfigurationError` at construction for a missing file, a private or
    symmetric key, or a key no pinned algorithm may use.
    """

    def __init__(
        self,
        data: bytes | str | Mapping[str, Any] | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        kid: str | None = None,
    ) -> None:
        if (data is None) == (path is None):
            raise ConfigurationError("StaticKeys needs exactly one of data or path=")
        self.path = None if path is None else os.path.abspath(os.fspath(path))
        if self.path is not None:
            data = self._read(self.path)
        assert data is not None
        self.keyset: KeySet = parse_public_keys(data, kid=kid)
        self._kidless = tuple(k for k in self.keyset.keys if k.kid is None)

    @staticmethod
    def _read(path: str) -> bytes:
        try:
            with open(path, "rb") as handle:
                data = handle.read(_MAX_FILE_BYTES + 1)
        except OSError as err:
            raise ConfigurationError(
                f"cannot read the key file {path} ({err.strerror or type(err).__name__})"
            ) from None
        if len(data) > _MAX_FILE_BYTES:
            raise ConfigurationError(f"the key file {path} is larger than 1 MiB")
        return data

    def __repr__(self) -> str:
        where = f"path={self.path!r}, " if self.path else ""
        return f"StaticKeys({where}kids={list(self.kids)!r})"

    @property
    def version(self) -> int:
        """Always 0: static keys never change."""
        return 0

    @property
    def failing(self) -> bool:
        """Always ``False``: nothing is fetched."""
        return False

    @property
    def kids(self) -> tuple[str | None, ...]:
        """The ``kid`` of each key (``None`` for a PEM key configured without one)."""
        return self.keyset.kids

    def get_signing_keys_sync(self, kid: str | None) -> tuple[JWKSKey, ...]:
        """The keys for ``kid``: those with that ``kid``, else the keys without one.

        Raises :class:`UnknownKidError` (401) when neither exists.
        """
        keys = self.keyset.lookup(kid)
        if keys is not None:
            return keys
        if self._kidless:
            return self._kidless
        raise UnknownKidError()

    async def get_signing_keys(self, kid: str | None) -> tuple[JWKSKey, ...]:
        """:meth:`get_signing_keys_sync` (nothing to await: the keys are in memory)."""
        return self.get_signing_keys_sync(kid)


class StaticKeyJWT:
    """Verify JWTs signed with a configured key pair, from the session cookie or ``Bearer``.

    Args:
        keys: the public keys (:class:`StaticKeys`).
        algorithms: the accepted algorithms, required and never taken from the token: any of
            :data:`~sessiongate.jwks.ASYMMETRIC_ALGORITHMS` (``RS256``, ``ES256``, ``EdDSA``...).
        issuer / audience: accepted ``iss`` / ``aud`` value(s); required, pass ``None``
            explicitly to skip the check (tokens from a custom Auth.js ``jwt.encode`` usually
            carry neither).
        cookie_names: the complete list of cookies to read; default the Auth.js v5 and NextAuth
            v4 session cookie names (what a custom ``jwt.encode`` writes); ``()`` for Bearer
            tokens only. ``__Secure-`` names are read first, and once one is present no plain
            one is read.
        accept_bearer: also read ``Authorization: Bearer <JWT>``.
        leeway, require_exp: claim checks, see :class:`~sessiongate.claims.ClaimRules`
            (``require_exp=False`` for an ``encode`` that writes no ``exp``).
        cache_size: how many verified tokens to remember (0 disables); a hit re-checks
            ``exp``/``nbf``.
        max_token_bytes: size cap, checked before any parsing.
        clock: wall-clock UNIX seconds for :meth:`decode`; injectable for tests.
    """

    name = "static-key"

    def __init__(
        self,
        keys: StaticKeys,
        *,
        algorithms: Iterable[str],
        issuer: str | Collection[str] | None,
        audience: str | Collection[str] | None,
        cookie_names: Iterable[str] | None = None,
        accept_bearer: bool = True,
        leeway: float | timedelta = 15,
        require_exp: bool = True,
        cache_size: int = 4096,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(keys, StaticKeys):
            raise ConfigurationError("keys must be StaticKeys (a JWKS URL goes to JWKSBearer)")
        if max_token_bytes <= 0:
            raise ConfigurationError("max_token_bytes must be positive")
        self._signatures = SignatureVerifier(algorithms)
        self.algorithms = self._signatures.algorithms
        fitting = {alg for key in keys.keyset.keys for alg in key.algorithms}
        if not fitting & set(self.algorithms):
            raise ConfigurationError(
                f"no configured key can verify {list(self.algorithms)} "
                f"(the keys allow {sorted(fitting)})"
            )
        self.keys = keys
        self.cookie_names = cookie_name_list(cookie_names, AUTHJS_COOKIE_NAMES)
        self.accept_bearer = accept_bearer
        self.rules = ClaimRules(
            leeway=leeway, require_exp=require_exp, issuer=issuer, audience=audience
        )
        self.max_token_bytes = max_token_bytes
        self.clock = clock
        # Stored on the first miss: a signature check (RSA, ECDSA, EdDSA) costs tens of
        # microseconds, so an insertion is cheap next to it and a second check is not.
        self._cache = TokenCache(cache_size, second_sight=False)

    def __repr__(self) -> str:
        return f"StaticKeyJWT({self.keys!r}, algorithms={list(self.algorithms)})"

    def _verify_cookie(self, value: str, name: str) -> DecodedToken:
        return self._verify(value)  # the cookie's name plays no part in a JWS

    def _verify(self, token: str) -> DecodedToken:
        hit = self._cache.get(token)
        if hit is not None:
            return hit
        parsed = parse_signed_token(token, self.algorithms, self.max_token_bytes)
        keys = self.keys.get_signing_keys_sync(parsed.kid)
        self._signatures.verify(
            parsed.alg, parsed.kid, keys, parsed.signing_input, parsed.signature
        )
        claims = json_object(parsed.payload, "payload")
        exp, nbf = self.rules.check_static(claims)
        decoded = DecodedToken(MappingProxyType(claims), parsed.header, self.name, exp, nbf)
        self._cache.put(token, decoded)
        return decoded

    def decode(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """Verify ``token`` and return a mutable copy of its claims."""
        decoded = self._verify(token)
        self.rules.check_time(decoded.exp, decoded.nbf, self.clock() if now is None else now)
        return decoded.claims_copy()

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """Authenticator protocol: the session cookies, then a three-segment ``Bearer`` token.

        The first cookie that verifies wins; when cookies are present and none verifies, the
        first error is raised (the Bearer header is then not read, as Auth.js reads it only
        without a cookie).
        """
        if self.cookie_names:
            verified = verify_session_cookies(
                credentials, self.cookie_names, self._verify_cookie, self.rules, now
            )
            if verified is not None:
                return verified
        if not self.accept_bearer:
            return None
        token = credentials.bearer_token()
        if token is None or token.count(".") != 2:
            return None
        decoded = self._verify(token)
        self.rules.check_time(decoded.exp, decoded.nbf, now)
        return decoded.as_verified("bearer", self.rules)
