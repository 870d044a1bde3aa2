"""The shared types: what an authenticator proves, the authenticator protocols, the gate's result.

Token formats, session authenticators and the gate all speak these types, so they live apart from
the gate: a format imports this module, never :mod:`sessiongate.gate`. Nothing here does I/O or
imports a framework.

The naming rule (CONTRIBUTING.md): async is the plain verb, the blocking twin ends in ``_sync``.
Every authenticator has :meth:`Authenticator.authenticate_sync`; one that does I/O (a session
database, a JWKS endpoint) is an :class:`AsyncAuthenticator` and also has the awaitable
:meth:`AsyncAuthenticator.authenticate`. Formats that only compute (JWE, HS256) implement only the
former.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .cookies import RequestCredentials

__all__ = [
    "AsyncAuthenticator",
    "AuthResult",
    "Authenticator",
    "Claim",
    "ClaimingAuthenticator",
    "CredentialKind",
    "Headers",
    "Verified",
    "claim_by_shape",
]

CredentialKind = Literal["cookie", "bearer"]
"""Where a proof came from: a session cookie or an ``Authorization: Bearer`` header."""

Claim = Literal["mine", "foreign", "absent"]
"""What an authenticator makes of a request before verifying anything (see
:class:`ClaimingAuthenticator`): ``"mine"``, a credential in its format is present;
``"foreign"``, a credential sits where it looks (its cookie names, the ``Bearer`` header) but in
another format (a database session id where a JWE belongs); ``"absent"``, nothing of the kind."""

Headers = Mapping[str, str] | Iterable[tuple[bytes, bytes]] | Iterable[tuple[str, str]]
"""A mapping of header names to values, or ASGI/WSGI-style ``(name, value)`` pairs."""


@dataclass(slots=True)
class Verified:
    """What an authenticator proved.

    Attributes:
        claims: the verified claims (for database sessions: the user row shaped as claims).
        source: format name (``authjs-v5``, ``nextauth-v4``, ``jws``, ``database``...).
        credential: whether the proof came from a cookie or a Bearer header.
        expires_at: when the credential stops being valid (UNIX seconds), if known.
        memo: a slot the gate uses to cache the built user on cached verifications.
        recheck: for stateless credentials (tokens), re-validates the time claims at ``now`` and
            raises when they no longer hold. When set, the gate may answer a later request that
            presents the very same credential headers from its memo, calling only this.
    """

    claims: Mapping[str, Any]
    source: str
    credential: CredentialKind
    expires_at: float | None = None
    memo: tuple[object, Any] | None = None
    recheck: Callable[[float], None] | None = None


@runtime_checkable
class Authenticator(Protocol):
    """Anything the gate can ask: a token format, a session lookup, a JWKS verifier.

    ``authenticate_sync`` answers ``None`` when the request carries nothing it reads, a
    :class:`Verified` when it proved a session, and raises an
    :class:`~sessiongate.errors.AuthenticationError` when its credential is present but bad (or
    :class:`~sessiongate.errors.ProviderUnavailableError` when it cannot decide). ``now`` is
    wall-clock UNIX seconds.
    """

    name: str

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """``None``: not mine. ``Verified``: proven. Raise: present but bad / undecidable."""
        ...


@runtime_checkable
class AsyncAuthenticator(Authenticator, Protocol):
    """An authenticator that does I/O (session stores, JWKS): it can also be awaited.

    :meth:`authenticate` and :meth:`Authenticator.authenticate_sync` give the same answers;
    the blocking one serves WSGI code, the CLI and plain scripts.
    """

    async def authenticate(self, credentials: RequestCredentials, now: float) -> Verified | None:
        """Like :meth:`Authenticator.authenticate_sync`, awaiting the I/O."""
        ...


@runtime_checkable
class ClaimingAuthenticator(Authenticator, Protocol):
    """An authenticator that says, from the shape alone, whether a credential is its format.

    The gate asks only the authenticators that answer ``"mine"``, so the format owner, not the
    order of the list, decides the error code; a credential every authenticator calls
    ``"foreign"`` is ``malformed``, not ``missing_credentials``. ``claims`` does no crypto and
    no I/O, and answers ``"mine"`` whenever ``authenticate_sync`` could prove a session.
    Authenticators without it are always asked (as if they answered ``"mine"``).
    """

    def claims(self, credentials: RequestCredentials) -> Claim:
        """``"mine"``, ``"foreign"`` or ``"absent"``: see :data:`Claim`."""
        ...


def claim_by_shape(
    credentials: RequestCredentials,
    *,
    cookie_names: Sequence[str] = (),
    cookie_is_mine: Callable[[str], bool] | None = None,
    bearer_is_mine: Callable[[str], bool] | None = None,
) -> Claim:
    """:meth:`ClaimingAuthenticator.claims` for a format recognised by its shape alone.

    ``"mine"`` when a session cookie under ``cookie_names`` (read like the authenticators read
    them: ``__Secure-`` first, chunks joined) or the ``Bearer`` token passes the matching
    predicate; ``"foreign"`` when one is present but none passes; else ``"absent"``. A
    ``None`` predicate means that place is not read at all.
    """
    found: Claim = "absent"
    if cookie_is_mine is not None and cookie_names and credentials.cookies:
        for _name, values in credentials.session_cookies(cookie_names):
            if any(cookie_is_mine(value) for value in values):
                return "mine"
            found = "foreign"
    if bearer_is_mine is not None:
        token = credentials.bearer_token()
        if token is not None:
            if bearer_is_mine(token):
                return "mine"
            found = "foreign"
    return found


@dataclass(frozen=True, slots=True)
class AuthResult:
    """A successful authentication: the user, how it was proven and by whom.

    Attributes:
        user: what the gate's user factory built (a :class:`~sessiongate.user.User` by default).
        credential: ``"cookie"`` or ``"bearer"``.
        authenticator: the ``name`` of the authenticator that proved it.
    """

    user: Any
    credential: CredentialKind
    authenticator: str
