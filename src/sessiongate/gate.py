"""SessionGate: the one core entry point.

A gate holds a list of authenticators. For each request it extracts the credentials once
(:class:`~sessiongate.cookies.RequestCredentials`), asks the authenticators whose format the
credential has, and returns the first verified user. Two entry points, one per calling world:
:meth:`SessionGate.authenticate` (async) and :meth:`SessionGate.authenticate_sync` (blocking),
both answering an :class:`~sessiongate.types.AuthResult` (``.user`` is the user).

An authenticator that is a :class:`~sessiongate.types.ClaimingAuthenticator` first says, from
the shape alone, whether the request's credential is its format (``"mine"``), in a place it reads
but another format (``"foreign"``: a database session id in the Auth.js cookie, for
``AuthJSToken``), or absent; only the ``"mine"`` ones are asked (one without ``claims`` is
always asked). An authenticator asked answers ``None`` when the request carries nothing it
understands, returns a :class:`~sessiongate.types.Verified` when it proved a session, and raises
an :class:`~sessiongate.errors.AuthenticationError` when its credential is present but bad, or
:class:`~sessiongate.errors.ProviderUnavailableError` when it cannot decide (database/JWKS
down). A proof that yields no usable identity (the user factory raises an
``AuthenticationError``, e.g. ``invalid_claim`` for claims without a user id) counts as that
authenticator's rejection: the next authenticator is still asked. The gate's verdict when
nobody succeeds does not depend on the order the authenticators were listed in:

* any ``ProviderUnavailableError`` -> that error (503: an outage never logs users out);
* otherwise the rejection that got furthest into verification (an ``expired`` or
  ``session_not_found`` beats an ``invalid_signature``, which beats a ``malformed``), ties
  broken by code and authenticator name;
* a credential that every authenticator reading it calls ``"foreign"``, or a ``Bearer`` token
  nobody recognised -> ``malformed``;
* nothing presented at all -> ``missing_credentials``.

When one request carries two different valid credentials (a session cookie and a ``Bearer``
token of two formats), the first authenticator listed that proves one wins: list order is the
tie-break between valid credentials, never between a refusal and an acceptance.

A ``user_factory`` that raises anything but a :class:`~sessiongate.errors.SessionGateError`
(a ``TypeError`` from a wrong signature, a ``KeyError`` on a missing claim) is a bug in the
application's set-up: it becomes a :class:`~sessiongate.errors.ConfigurationError` (500
``configuration_error``) that names the factory, with the original exception chained.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from ._lru import ByteBudgetLRU
from .config import GateConfig, better_auth_plugins, build_authenticators
from .cookies import DEFAULT_MAX_COOKIE_HEADER_BYTES, DEFAULT_MAX_TOKEN_BYTES, RequestCredentials
from .errors import (
    AuthenticationError,
    ConfigurationError,
    MalformedTokenError,
    MissingCredentialsError,
    ProviderUnavailableError,
    SessionGateError,
)
from .types import (
    AsyncAuthenticator,
    Authenticator,
    AuthResult,
    Claim,
    ClaimingAuthenticator,
    Headers,
    Verified,
)
from .user import ClaimMapping, UserFactory

__all__ = ["SessionGate"]

logger = logging.getLogger("sessiongate")

_MEMO_MAX_KEY_CHARS = 8 * 1024

_MemoEntry = tuple[AuthResult, Callable[[float], None]]

# how far into verification a rejection got: the furthest one names the problem best
_DEPTH: dict[str, int] = {
    "malformed": 0,
    "token_too_large": 1,
    "algorithm_not_allowed": 2,
    "unknown_kid": 3,
    "decryption_failed": 4,
    "invalid_signature": 4,
    "invalid_token": 5,
    "invalid_claim": 6,
    "not_a_session": 6,
    "not_yet_valid": 7,
    "expired": 7,
    "session_not_found": 7,
    "revoked": 8,
}

_Claims = Callable[[RequestCredentials], Claim]
_Link = tuple[Authenticator, bool, _Claims | None]
_Rejection = tuple[Authenticator, SessionGateError]


def _rank(rejection: _Rejection) -> tuple[int, int, str, str, str]:
    """Sort key of the verdict: outages first, then the deepest rejection; the rest only makes
    the choice independent of the order the authenticators were listed in."""
    auth, err = rejection
    outage = 0 if isinstance(err, ProviderUnavailableError) else 1
    return (outage, -_DEPTH.get(err.code, 5), err.code, auth.name, err.message)


class SessionGate:
    """Verify a request's session against an ordered list of authenticators.

    Args:
        *authenticators: e.g. ``AuthJSToken(secret=...)``, ``BearerJWT(secret=...)``, a
            database store authenticator. Those whose format the credential has are asked, in
            order; the first success wins. A refusal's code does not depend on the order.
        claim_mapping: how claims become a :class:`~sessiongate.user.User`.
        user_factory: ``(claims, source, expires_at) -> your user type``; replaces
            ``claim_mapping`` when given. An ``AuthenticationError`` it raises is that
            authenticator's rejection; any other exception becomes a ``ConfigurationError``
            (500) naming the factory.
        clock: wall-clock UNIX seconds (default ``time.time``); injectable for tests.
        max_cookie_header_bytes / max_token_bytes: size caps checked before any parsing.
        memo_size: how many recent successful verdicts to remember, keyed by the exact
            ``Cookie`` + ``Authorization`` bytes (0 disables). Only verdicts reached by stateless
            token checks are kept (never database sessions), only credential headers up to
            8 KiB, and a hit still re-checks ``exp``/``nbf``. A hit skips cookie parsing,
            decryption and user building. The memo's estimated memory is bounded by
            ``memo_size`` x 4 KiB: long credential headers take several entries' share.
        secure_only: read only cookies named ``__Secure-...`` / ``__Host-...`` (see
            :class:`~sessiongate.cookies.RequestCredentials`): a plain-name cookie tossed from a
            sibling subdomain or a plain-HTTP response is never read.
    """

    def __init__(
        self,
        *authenticators: Authenticator,
        claim_mapping: ClaimMapping | None = None,
        user_factory: UserFactory | None = None,
        clock: Callable[[], float] = time.time,
        max_cookie_header_bytes: int = DEFAULT_MAX_COOKIE_HEADER_BYTES,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        memo_size: int = 2048,
        secure_only: bool = False,
    ) -> None:
        if not authenticators:
            raise ConfigurationError("SessionGate needs at least one authenticator")
        for auth in authenticators:
            if not isinstance(auth, Authenticator):
                raise ConfigurationError(f"{auth!r} is not an authenticator")
        if max_cookie_header_bytes <= 0 or max_token_bytes <= 0:
            raise ConfigurationError("size caps must be positive")
        if memo_size < 0:
            raise ConfigurationError("memo_size must be >= 0")
        self._memo: ByteBudgetLRU[tuple[str | None, str | None], _MemoEntry] | None = (
            # the memo also keeps the built user (its roles and permissions sets): 10 B/char
            ByteBudgetLRU(memo_size, bytes_per_char=10) if memo_size else None
        )
        self.authenticators: tuple[Authenticator, ...] = tuple(authenticators)
        self.claim_mapping = claim_mapping or ClaimMapping()
        self._build: UserFactory = user_factory or self.claim_mapping.build_user
        self._user_token = object()
        self.clock = clock
        self.max_cookie_header_bytes = max_cookie_header_bytes
        self.max_token_bytes = max_token_bytes
        self.secure_only = bool(secure_only)
        # the Protocol isinstance checks are slow: decide once, not per request
        self._chain: tuple[_Link, ...] = tuple(
            (
                a,
                isinstance(a, AsyncAuthenticator),
                a.claims if isinstance(a, ClaimingAuthenticator) else None,
            )
            for a in authenticators
        )
        self.has_async = any(link[1] for link in self._chain)
        self.better_auth_plugins: Any = None
        """What :meth:`from_env` detected of the Better Auth plugins
        (:class:`~sessiongate.ba_detect.BetterAuthPlugins`), else ``None``."""
        # the cross-replica listeners from_env started (stopped by aclose)
        self._replicas: Any = None

    def __repr__(self) -> str:
        names = ", ".join(a.name for a in self.authenticators)
        return f"SessionGate({names})"

    # ---------------------------------------------------------------- construction helpers

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> SessionGate:
        """Build a gate from the variables the Next.js app uses (``options`` go to the gate).

        ``AUTH_SECRET_3..1``, ``AUTH_SECRET``, ``NEXTAUTH_SECRET`` (current first, as Auth.js):
        JWE session cookies; ``SESSIONGATE_JWT_SECRET`` (else ``JWT_SECRET``), with optional
        ``SESSIONGATE_JWT_AUDIENCE`` / ``_ISSUER``: HS256 Bearer JWTs, off without a dedicated
        secret; ``DATABASE_URL`` + ``SESSIONGATE_SCHEMA``: database sessions;
        ``BETTER_AUTH_SECRETS`` / ``BETTER_AUTH_SECRET`` (else ``AUTH_SECRET`` for a Better Auth
        app), ``BETTER_AUTH_URL``: Better Auth signed cookies in that database, names and secret
        order as Better Auth uses them; ``SESSIONGATE_SECURE_ONLY`` (default: every base URL
        ``https://``): only ``__Secure-`` / ``__Host-`` cookies (``options`` may override);
        ``SESSIONGATE_JWKS_URL`` + ``_ISSUER`` + ``_AUDIENCE``: asymmetric Bearer JWTs;
        ``REDIS_URL``: Better Auth sessions in Redis. The Better Auth plugins the database
        shows (admin, organization, api-key) are detected now and enforced
        (``SESSIONGATE_BA_*`` pin them; :attr:`better_auth_plugins`). What
        ``sessiongate db install-notify`` installed (and ``REDIS_URL``) is detected at start:
        cross-replica invalidation and revocation (:mod:`sessiongate.replicas`). The same
        reader configures ``sessiongate serve`` (see :mod:`sessiongate.config`).
        """
        from .replicas import replicated

        config = GateConfig.from_sources(environ=os.environ if environ is None else environ)
        options.setdefault("secure_only", config.secure_only)
        authenticators = build_authenticators(config, flags=False)
        plugins = better_auth_plugins(config, authenticators)  # detected now, at start
        setup = replicated(config, authenticators)
        gate = cls(*setup.authenticators, **options)
        gate._replicas = setup if setup.listeners else None
        gate.better_auth_plugins = plugins
        return gate

    # ---------------------------------------------------------------- the verdict

    def credentials(self, headers: Headers) -> RequestCredentials:
        """Parse the request's credentials once, with this gate's size caps."""
        return RequestCredentials.from_headers(
            headers,
            max_cookie_header_bytes=self.max_cookie_header_bytes,
            max_token_bytes=self.max_token_bytes,
            secure_only=self.secure_only,
        )

    def _user(self, verified: Verified) -> Any:
        memo = verified.memo
        if memo is not None and memo[0] is self._user_token:
            return memo[1]
        try:
            user = self._build(verified.claims, verified.source, verified.expires_at)
        except SessionGateError:
            raise
        except Exception as err:
            name = getattr(self._build, "__qualname__", type(self._build).__name__)
            raise ConfigurationError(
                f"the user factory {name} raised {type(err).__name__}; it is called as "
                "user_factory(claims, source, expires_at) and must return a user or raise an "
                "AuthenticationError"
            ) from err
        verified.memo = (self._user_token, user)
        return user

    def _conclude(
        self,
        creds: RequestCredentials,
        rejections: list[_Rejection],
        foreign: bool,
    ) -> SessionGateError:
        if rejections:
            return min(rejections, key=_rank)[1]
        if foreign:
            return MalformedTokenError(
                "the credential is in no format the configured authenticators read "
                "(e.g. a database session token without a database store)"
            )
        if creds.authorization is not None:
            try:
                bearer = creds.bearer_token()
            except SessionGateError as err:
                return err
            if bearer is not None:
                return MalformedTokenError("the bearer token is of no format this server accepts")
        return MissingCredentialsError()

    @staticmethod
    def _claim(claims: _Claims | None, creds: RequestCredentials) -> Claim:
        """What one authenticator makes of the request (raises like reading the credential)."""
        return "mine" if claims is None else claims(creds)

    def _log(self, auth: Authenticator, err: SessionGateError) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("authenticator %s rejected the request: %s", auth.name, err.code)

    def _memo_key(self, creds: RequestCredentials) -> tuple[str | None, str | None] | None:
        if self._memo is None:
            return None
        cookie, authorization = creds.cookie_header, creds.authorization
        if cookie is None and authorization is None:
            return None
        if len(cookie or "") + len(authorization or "") > _MEMO_MAX_KEY_CHARS:
            return None
        return (cookie, authorization)

    def _memo_get(self, key: tuple[str | None, str | None], now: float) -> AuthResult | None:
        assert self._memo is not None
        entry = self._memo.get(key)
        if entry is None:
            return None
        result, recheck = entry
        try:
            recheck(now)
        except SessionGateError:
            self._memo.pop(key)
            return None  # the full path reports the precise error
        return result

    def _memo_put(
        self, key: tuple[str | None, str | None], result: AuthResult, verified: Verified
    ) -> None:
        assert self._memo is not None
        assert verified.recheck is not None
        self._memo.put(key, (result, verified.recheck))

    def memo_check(self, headers: Headers, result: AuthResult) -> Callable[[float], bool] | None:
        """A cheap re-check of a verdict this gate keeps in its memo, for a caller that keeps
        what it made of ``result`` (the sidecar's response memo); ``None`` when the memo does not
        hold ``result`` for these headers (a database session, a lookup, the memo off).

        The function returned answers, at ``now``, whether that verdict still stands: it runs
        the re-check the gate runs on each hit of its memo (expiry; revocation when tokens are
        revocable). A memoised verdict depends on nothing else (no database or JWKS lookup took
        part in it), so the caller may keep using what it made of ``result`` while the function
        answers ``True``, even after this memo let the entry go; a failed re-check also drops
        the gate's entry, as a memo hit would. It costs the re-check alone, not a new reading
        of the credentials.
        """
        memo = self._memo
        if memo is None:
            return None
        try:
            key = self._memo_key(self.credentials(headers))
        except SessionGateError:
            return None
        if key is None:
            return None
        entry = memo.get(key)
        if entry is None or entry[0] is not result:
            return None
        recheck = entry[1]

        def still_valid(now: float) -> bool:
            try:
                recheck(now)
            except SessionGateError:
                held = memo.get(key)
                if held is not None and held[1] is recheck:
                    memo.pop(key)
                return False
            return True

        return still_valid

    def _begin(
        self, headers: Headers
    ) -> tuple[float, RequestCredentials, tuple[str | None, str | None] | None, AuthResult | None]:
        """Clock, parsed credentials, memo key and (on a memo hit) the remembered result."""
        now = self.clock()
        creds = self.credentials(headers)
        key = self._memo_key(creds)
        return now, creds, key, (self._memo_get(key, now) if key is not None else None)

    def _accept(
        self,
        auth: Authenticator,
        verified: Verified,
        key: tuple[str | None, str | None] | None,
        stateless: bool,
    ) -> AuthResult:
        result = AuthResult(self._user(verified), verified.credential, auth.name)
        # remember only verdicts that no database or JWKS lookup took part in
        if key is not None and stateless and verified.recheck is not None:
            self._memo_put(key, result, verified)
        return result

    async def authenticate(self, headers: Headers) -> AuthResult:
        """The verified user for these request headers, with how it was proven and by whom.

        ``headers`` is a mapping (any case) or ASGI-style ``(bytes, bytes)`` pairs. Raises a
        :class:`~sessiongate.errors.SessionGateError` (see the module docs for which one).
        """
        now, creds, key, hit = self._begin(headers)
        if hit is not None:
            return hit
        rejections: list[_Rejection] = []
        foreign = False
        stateless = True
        for auth, is_async, claims in self._chain:
            try:
                claim = self._claim(claims, creds)
                if claim != "mine":
                    foreign = foreign or claim == "foreign"
                    continue
                if is_async:
                    stateless = False
                    verified = await auth.authenticate(creds, now)  # type: ignore[attr-defined]
                else:
                    verified = auth.authenticate_sync(creds, now)
                if verified is not None:
                    # no usable identity (no id claim...) is this authenticator's rejection
                    return self._accept(auth, verified, key, stateless)
            except (AuthenticationError, ProviderUnavailableError) as err:
                self._log(auth, err)
                rejections.append((auth, err))
        raise self._conclude(creds, rejections, foreign)

    def authenticate_sync(self, headers: Headers) -> AuthResult:
        """Blocking :meth:`authenticate` (WSGI, the CLI, plain scripts): the same answers."""
        now, creds, key, hit = self._begin(headers)
        if hit is not None:
            return hit
        rejections: list[_Rejection] = []
        foreign = False
        stateless = True
        for auth, is_async, claims in self._chain:
            try:
                claim = self._claim(claims, creds)
                if claim != "mine":
                    foreign = foreign or claim == "foreign"
                    continue
                if is_async:
                    stateless = False
                verified = auth.authenticate_sync(creds, now)
                if verified is not None:
                    # no usable identity (no id claim...) is this authenticator's rejection
                    return self._accept(auth, verified, key, stateless)
            except (AuthenticationError, ProviderUnavailableError) as err:
                self._log(auth, err)
                rejections.append((auth, err))
        raise self._conclude(creds, rejections, foreign)

    async def aclose(self) -> None:
        """Close the authenticators that hold resources (pools, HTTP clients), and stop the
        cross-replica listeners :meth:`from_env` started."""
        replicas, self._replicas = self._replicas, None
        if replicas is not None:
            await replicas.aclose()
        for auth in self.authenticators:
            close = getattr(auth, "aclose", None)
            if close is not None:
                result = close()
                if result is not None:  # an ``async def aclose`` (a plain one returns None)
                    await result
