"""The gate the app would build, and the answers of it and of each of its authenticators.

:class:`AppGate` builds the gate from :func:`sessiongate.config.build_authenticators` (the
builder behind ``sessiongate serve`` and :meth:`SessionGate.from_env`), adding only what
:class:`~sessiongate.config.GateConfig` cannot express yet (custom cookie names, Better Auth's
cookie cache). Its :meth:`~AppGate.verdict` is the doctor's verdict; :meth:`~AppGate.run`
asks one authenticator about one credential, which is how the probes learn *which* rule
refused a value. When the configuration is incomplete (for example a Better Auth secret but no
database) there is no gate and the verdict is that configuration error; the parts that can be
built are kept as *helpers*, so tokens are still explained, but nothing is called accepted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from ..authjs import AuthJSToken
from ..config import GateConfig, build_authenticators
from ..cookies import AUTHJS_COOKIE_NAMES, RequestCredentials
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    ProviderUnavailableError,
    SessionGateError,
)
from ..gate import SessionGate
from ..sessions import BetterAuthSession, DatabaseSession
from ..types import Authenticator, AuthResult, Verified
from ..user import ClaimMapping
from .explain import explain_code
from .inputs import Setup
from .report import Verdict

__all__ = ["AppGate", "Outcome"]

A = TypeVar("A")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One authenticator's (or the gate's) answer for one credential.

    ``verified``/``result`` when it proved a session, ``error`` when it refused, neither when
    the credential is not one it reads. ``blocked``: the answer came from a helper, not from a
    gate the app can build, so it must not be reported as accepted.
    """

    verified: Verified | None = None
    result: AuthResult | None = None
    error: SessionGateError | None = None
    blocked: bool = False

    @property
    def accepted(self) -> bool:
        return not self.blocked and (self.verified is not None or self.result is not None)

    @property
    def read(self) -> bool:
        """The authenticator looked at the credential (accepted or refused it)."""
        return self.verified is not None or self.result is not None or self.error is not None

    @property
    def code(self) -> str | None:
        return None if self.error is None else self.error.code


def _with_cookie_names(
    auth: AuthJSToken, secrets: tuple[str, ...], names: tuple[str, ...]
) -> AuthJSToken:
    """``auth`` (as build_authenticators made it) that also reads the app's custom cookie names."""
    rules = auth.rules
    return AuthJSToken(
        list(secrets),
        cookie_names=[*AUTHJS_COOKIE_NAMES, *names],
        accept_v4=auth.accept_v4,
        accept_v5=auth.accept_v5,
        leeway=rules.leeway,
        require_exp=rules.require_exp,
        issuer=rules.issuer,
        audience=rules.audience,
        max_token_bytes=auth.max_token_bytes,
    )


def _authenticators(setup: Setup) -> list[Authenticator]:
    """The app's authenticators: build_authenticators', plus the settings GateConfig lacks."""
    config = setup.config
    cache = setup.better_auth_cookie_cache
    cache_only = cache is not None and bool(config.better_auth_secrets) and not config.database_url
    base = replace(config, better_auth_secrets=()) if cache_only else config
    auths: list[Authenticator] = []
    if cache_only and not (base.secrets or base.jwt_secrets or base.jwks_url):
        pass  # build_authenticators would find nothing to build besides the cookie cache
    else:
        auths = build_authenticators(base)
    for i, auth in enumerate(auths):
        if isinstance(auth, AuthJSToken) and setup.cookie_names:
            auths[i] = _with_cookie_names(auth, config.secrets, setup.cookie_names)
        elif isinstance(auth, DatabaseSession) and setup.cookie_names:
            auths[i] = DatabaseSession(
                auth.store, cookie_names=[*AUTHJS_COOKIE_NAMES, *setup.cookie_names]
            )
        elif isinstance(auth, BetterAuthSession) and cache is not None:
            auths[i] = BetterAuthSession(
                secret=list(config.better_auth_secrets), store=auth.store, cookie_cache=cache
            )
    if cache_only:
        auths.append(BetterAuthSession(secret=list(config.better_auth_secrets), cookie_cache=cache))
    return auths


def _helpers(config: GateConfig) -> tuple[Authenticator, ...]:
    """What can be built without the store-backed parts, to explain tokens with."""
    try:
        stateless = replace(config, better_auth_secrets=(), database_url=None, jwks_url=None)
        return tuple(build_authenticators(stateless))
    except ConfigurationError:
        return ()


class AppGate:
    """The gate for a :class:`Setup`, with a frozen clock (``now``) and no verdict memo."""

    def __init__(self, setup: Setup, now: float) -> None:
        self.setup = setup
        self.now = now
        self.error: ConfigurationError | None = None
        self.gate: SessionGate | None = None
        try:
            self.gate = SessionGate(*_authenticators(setup), clock=lambda: now, memo_size=0)
        except ConfigurationError as err:
            self.error = err
        self.authenticators: tuple[Authenticator, ...] = (
            self.gate.authenticators if self.gate is not None else _helpers(setup.config)
        )
        self.claim_mapping = self.gate.claim_mapping if self.gate is not None else ClaimMapping()

    def find(self, kind: type[A]) -> A | None:
        """The first authenticator of ``kind`` (the gate's, or a helper without a gate)."""
        for auth in self.authenticators:
            if isinstance(auth, kind):
                return auth
        return None

    def credentials(self, headers: Mapping[str, str]) -> RequestCredentials:
        """Parse ``headers`` with the gate's size caps (raises ``token_too_large``)."""
        if self.gate is not None:
            return self.gate.credentials(headers)
        return RequestCredentials.from_headers(headers)

    def run(self, auth: object, headers: Mapping[str, str]) -> Outcome:
        """Ask one authenticator about ``headers``, as the gate would ask it."""
        blocked = self.gate is None
        try:
            creds = self.credentials(headers)
            if not isinstance(auth, Authenticator):  # pragma: no cover - the gate refuses it
                raise TypeError(f"{auth!r} is not an authenticator")
            verified = auth.authenticate_sync(creds, self.now)
        except (AuthenticationError, ProviderUnavailableError) as err:
            return Outcome(error=err, blocked=blocked)
        return Outcome(verified=verified, blocked=blocked)

    def outcome(self, headers: Mapping[str, str]) -> Outcome:
        """The whole gate's answer for ``headers`` (users built, errors ranked as it ranks)."""
        if self.gate is None:
            assert self.error is not None
            return Outcome(error=self.error, blocked=True)
        try:
            return Outcome(result=self.gate.authenticate_sync(headers))
        except SessionGateError as err:
            return Outcome(error=err)

    def verdict(self, headers: Mapping[str, str]) -> Verdict:
        """The doctor's verdict: exactly what the gate answers for ``headers``."""
        outcome = self.outcome(headers)
        result = outcome.result
        if result is not None:
            user = result.user
            return Verdict(
                True,
                user_id=str(getattr(user, "id", "")),
                source=str(getattr(user, "source", "")),
                credential=result.credential,
                authenticator=result.authenticator,
            )
        err = outcome.error
        assert err is not None
        return Verdict(False, err.code, err.message, explain_code(err.code))

    def close(self) -> None:
        """Close stores and pools on the loop that used them."""
        if self.gate is None or not self.gate.has_async:
            return
        from .._sync import default_loop

        with contextlib.suppress(SessionGateError, OSError):  # best effort on the way out
            default_loop().run(self.gate.aclose(), timeout=10.0)
