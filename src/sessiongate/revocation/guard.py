"""``Revocable``: an authenticator wrapper that refuses revoked stateless tokens.

Composition instead of a change to the gate: ``Revocable(AuthJSToken(...), mirror)`` answers
like the inner authenticator, then checks the verdict's ``jti`` / user id / ``iat`` against the
:class:`~.mirror.RevocationMirror` (memory only). The :class:`~sessiongate.gate.Verified` it
returns carries a ``recheck`` that runs the inner one (``exp``/``nbf``) *and* the revocation
check, so the gate's memo, which answers repeated requests from ``recheck`` alone, never serves
a revoked token either.

For Auth.js / NextAuth JWE cookies, HS256 Bearer JWTs (``BearerJWT``) and JWKS Bearer JWTs
(``JWKSBearer``). Database sessions are revoked by deleting their row (see
:mod:`sessiongate.stores.notify`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from ..cookies import RequestCredentials
from ..errors import ConfigurationError
from ..types import AsyncAuthenticator, Authenticator, Claim, Verified
from .mirror import RevocationMirror

__all__ = ["Revocable", "RevocableAsync", "revocable"]

_WRAPPED_MAX = 4096


class _Wrapping:
    """The shared part: check a verdict, hand out a Verified whose recheck checks too."""

    def __init__(self, inner: Any, mirror: RevocationMirror) -> None:
        if not isinstance(mirror, RevocationMirror):
            raise ConfigurationError(f"{mirror!r} is not a RevocationMirror")
        self.inner = inner
        self.mirror = mirror
        self.name: str = inner.name
        # inner Verified (by identity) -> ours; the inner object is kept so its id stays unique
        self._wrapped: dict[int, tuple[Verified, Verified, tuple[Any, ...]]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    def _guard(self, verified: Verified | None) -> Verified | None:
        if verified is None:
            return None
        entry = self._wrapped.get(id(verified))
        if entry is not None and entry[0] is verified:
            self.mirror.check_keys(*entry[2])
            return entry[1]
        keys = self.mirror.keys(verified.claims)  # read-only claims: extracted once
        self.mirror.check_keys(*keys)
        ours = Verified(
            claims=verified.claims,
            source=verified.source,
            credential=verified.credential,
            expires_at=verified.expires_at,
            recheck=self._recheck(verified, keys),
        )
        if len(self._wrapped) >= _WRAPPED_MAX:
            self._wrapped.clear()
        self._wrapped[id(verified)] = (verified, ours, keys)
        return ours

    def _recheck(
        self, verified: Verified, keys: tuple[str | None, str | None, float | None]
    ) -> Callable[[float], None] | None:
        inner = verified.recheck
        if inner is None:
            return None
        check = self.mirror.check_keys
        user_id, jti, iat = keys

        def recheck(now: float) -> None:
            inner(now)
            check(user_id, jti, iat)

        return recheck

    def claims(self, credentials: RequestCredentials) -> Claim:
        """The inner authenticator's claim (``"mine"`` when it has none: always asked)."""
        claims = getattr(self.inner, "claims", None)
        return "mine" if claims is None else cast(Claim, claims(credentials))

    async def aclose(self) -> None:
        """Close the inner authenticator when it holds resources."""
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()


class Revocable(_Wrapping):
    """Wrap a synchronous authenticator (``AuthJSToken``, ``BearerJWT``)."""

    def __init__(self, inner: Authenticator, mirror: RevocationMirror) -> None:
        if not isinstance(inner, Authenticator) or isinstance(inner, AsyncAuthenticator):
            raise ConfigurationError(f"{inner!r} is not a synchronous authenticator")
        super().__init__(inner, mirror)

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """The inner verdict, refused when revoked."""
        return self._guard(self.inner.authenticate_sync(credentials, now))


class RevocableAsync(_Wrapping):
    """Wrap an authenticator that does I/O (``JWKSBearer``)."""

    def __init__(self, inner: AsyncAuthenticator, mirror: RevocationMirror) -> None:
        if not isinstance(inner, AsyncAuthenticator):
            raise ConfigurationError(f"{inner!r} is not an asynchronous authenticator")
        super().__init__(inner, mirror)

    async def authenticate(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """The inner verdict, refused when revoked."""
        return self._guard(await self.inner.authenticate(credentials, now))

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """The same from synchronous code."""
        return self._guard(self.inner.authenticate_sync(credentials, now))


def revocable(inner: Any, mirror: RevocationMirror) -> Revocable | RevocableAsync:
    """The right wrapper for ``inner``: :class:`Revocable` or :class:`RevocableAsync`."""
    if isinstance(inner, AsyncAuthenticator):
        return RevocableAsync(inner, mirror)
    return Revocable(inner, mirror)
