"""Asymmetric Bearer JWTs verified against a JSON Web Key Set: the key-set client and verifier.

This package is the I/O side of token verification (it imports ``httpx`` and PyJWT, so
``import sessiongate`` loads it only when one of its names is used). One module per concern:

* :mod:`~sessiongate.jwks.keys` (pure): which JWKs are usable, the pinned algorithms, key
  selection and the signature check;
* :mod:`~sessiongate.jwks.cache` (pure): when keys are served, refetched or refused (TTL,
  stale keys during outages, rate-limited refetch on an unknown ``kid``, 503 versus 401);
* :mod:`~sessiongate.jwks.fetch`: the HTTP fetch (``https`` only, same-scheme redirects, size
  and time caps, OpenID Connect discovery);
* :mod:`~sessiongate.jwks.client`: :class:`JWKSClient`, one cache shared by async and sync
  callers, single-flight refreshes, :meth:`JWKSClient.force_refresh`;
* :mod:`~sessiongate.jwks.bearer`: :class:`JWKSBearer`, the authenticator (source ``"jwks"``);
  :meth:`JWKSBearer.for_better_auth` configures it for Better Auth's ``jwt`` plugin;
* :mod:`~sessiongate.jwks.static`: :class:`StaticKeys` (public keys from PEM, a JWK or a JWK
  set, in place of a JWKS URL) and :class:`StaticKeyJWT`, the authenticator for cookies and
  Bearer tokens signed with them (a custom Auth.js ``jwt.encode``);
* :mod:`~sessiongate.jwks.session_cache`: :class:`SessionCacheJWT`, Better Auth's JWKS-signed
  ``session_data`` cookie cache (``jwt({ sessionCookieCache: true })``).
"""

from __future__ import annotations

from .bearer import JWKSBearer
from .client import JWKSClient
from .keys import ASYMMETRIC_ALGORITHMS, JWKSKey, KeySet, KeySource, parse_jwk_set
from .session_cache import SessionCacheJWT
from .static import StaticKeyJWT, StaticKeys

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "JWKSBearer",
    "JWKSClient",
    "JWKSKey",
    "KeySet",
    "KeySource",
    "SessionCacheJWT",
    "StaticKeyJWT",
    "StaticKeys",
    "parse_jwk_set",
]
