"""Registered-claim checks (``exp``, ``nbf``, ``iat``, ``iss``, ``aud``), kept apart from crypto.

Semantics follow ``jose`` (what Auth.js and Better Auth use): with ``now`` floored to whole
seconds, a token is expired when ``exp <= now - leeway`` and not yet valid when
``nbf > now + leeway``. Unlike ``jose``, ``exp`` is required by default.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .errors import ConfigurationError, ExpiredTokenError, InvalidClaimError, NotYetValidError

__all__ = ["ClaimRules", "leeway_seconds"]


def leeway_seconds(leeway: float | timedelta) -> float:
    """Normalise a leeway given as seconds or a ``timedelta``; negative values are refused."""
    if isinstance(leeway, bool) or not isinstance(leeway, (int, float, timedelta)):
        raise ConfigurationError("leeway must be a number of seconds or a timedelta")
    seconds = leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigurationError("leeway must be a finite, non-negative number of seconds")
    return seconds


_INT_LIMIT = 1 << 1000  # well inside float range: float() of these never overflows


def _numeric(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        if name in claims:
            raise InvalidClaimError(f"the {name!r} claim must be a number")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidClaimError(f"the {name!r} claim must be a number")
    try:
        number = float(value)  # an int beyond float range raises OverflowError
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidClaimError(f"the {name!r} claim must be a finite number")
    return number


def _accepted_values(value: str | Collection[str] | None, what: str) -> frozenset[str] | None:
    """``None``, or a non-empty set of non-empty strings (one string is a set of one)."""
    if value is None:
        return None
    if isinstance(value, str):
        values: frozenset[Any] = frozenset((value,))
    elif isinstance(value, Collection) and not isinstance(value, (bytes, Mapping)):
        values = frozenset(value)
    else:
        raise ConfigurationError(f"{what} must be a string or a collection of strings")
    if not values or not all(isinstance(x, str) and x for x in values):
        raise ConfigurationError(f"{what} must be non-empty strings")
    return values


@dataclass(frozen=True, slots=True, init=False)
class ClaimRules:
    """How claims are checked. Validated on construction.

    Args:
        leeway: clock skew tolerated, in seconds or as a ``timedelta`` (Auth.js uses 15 s).
        require_exp: reject tokens without ``exp`` (default ``True``; NextAuth always sets it).
        issuer: accepted ``iss`` value(s); ``None`` skips the check. A string is one accepted
            value (compared whole, never as a substring).
        audience: accepted ``aud`` value(s); the token's ``aud`` (string or list) must contain one.
    """

    leeway: float
    require_exp: bool
    issuer: frozenset[str] | None
    audience: frozenset[str] | None
    _plain: bool = field(repr=False, compare=False)

    def __init__(
        self,
        *,
        leeway: float | timedelta = 15.0,
        require_exp: bool = True,
        issuer: str | Collection[str] | None = None,
        audience: str | Collection[str] | None = None,
    ) -> None:
        if not isinstance(require_exp, bool):
            raise ConfigurationError("require_exp must be True or False")
        seconds = leeway_seconds(leeway)
        issuers = _accepted_values(issuer, "issuer")
        audiences = _accepted_values(audience, "audience")
        object.__setattr__(self, "leeway", seconds)
        object.__setattr__(self, "require_exp", require_exp)
        object.__setattr__(self, "issuer", issuers)
        object.__setattr__(self, "audience", audiences)
        object.__setattr__(self, "_plain", issuers is None and audiences is None)

    def check_static(self, claims: Mapping[str, Any]) -> tuple[float | None, float | None]:
        """Check what does not depend on time and the claims' types. Returns ``(exp, nbf)``."""
        return self.check(claims, None)

    def check(
        self, claims: Mapping[str, Any], now: float | None
    ) -> tuple[float | None, float | None]:
        """Check the claim types, ``iss``/``aud`` and, unless ``now`` is None, ``exp``/``nbf``.

        Runs for every new token, so the shape every Auth.js/jsonwebtoken token has (integer
        ``exp`` and ``iat``, no ``nbf``, no iss/aud rules) is decided inline; anything else goes
        through the general path, which gives the same verdict.
        """
        exp_v = claims.get("exp")
        iat_v = claims.get("iat", 0)
        if (
            type(exp_v) is int
            and type(iat_v) is int
            and self._plain
            and "nbf" not in claims
            and -_INT_LIMIT < exp_v < _INT_LIMIT
            and -_INT_LIMIT < iat_v < _INT_LIMIT
        ):
            if now is not None and exp_v <= math.floor(now) - self.leeway:
                raise ExpiredTokenError()
            return float(exp_v), None
        exp, nbf = self._check_static_general(claims)
        if now is not None:
            self.check_time(exp, nbf, now)
        return exp, nbf

    def _check_static_general(self, claims: Mapping[str, Any]) -> tuple[float | None, float | None]:
        exp = _numeric(claims, "exp")
        nbf = _numeric(claims, "nbf")
        _numeric(claims, "iat")
        if exp is None and self.require_exp:
            raise InvalidClaimError("the token has no 'exp' claim")
        if self.issuer is not None:
            iss = claims.get("iss")
            if not isinstance(iss, str) or iss not in self.issuer:
                raise InvalidClaimError("the token issuer ('iss') is not accepted")
        if self.audience is not None:
            aud = claims.get("aud")
            auds = (aud,) if isinstance(aud, str) else aud if isinstance(aud, list) else ()
            if not any(isinstance(a, str) and a in self.audience for a in auds):
                raise InvalidClaimError("the token audience ('aud') is not accepted")
        return exp, nbf

    def check_time(self, exp: float | None, nbf: float | None, now: float) -> None:
        """Check ``exp``/``nbf`` against ``now`` (UNIX seconds). Cheap: run on every cache hit."""
        current = math.floor(now)
        if exp is not None and exp <= current - self.leeway:
            raise ExpiredTokenError()
        if nbf is not None and nbf > current + self.leeway:
            raise NotYetValidError()
