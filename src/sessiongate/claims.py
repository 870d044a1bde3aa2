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


@dataclass(frozen=True, slots=True)
class ClaimRules:
    """How claims are checked.

    Args:
        leeway: clock skew tolerated, in seconds or as a ``timedelta`` (Auth.js uses 15 s).
        require_exp: reject tokens without ``exp`` (default ``True``; NextAuth always sets it).
        issuer: accepted ``iss`` value(s); ``None`` skips the check.
        audience: accepted ``aud`` value(s); the token's ``aud`` (string or list) must contain one.
    """

    leeway: float = 15.0
    require_exp: bool = True
    issuer: frozenset[str] | None = None
    audience: frozenset[str] | None = None
    _leeway: float = field(init=False, repr=False, compare=False, default=0.0)
    _plain: bool = field(init=False, repr=False, compare=False, default=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_leeway", leeway_seconds(self.leeway))
        object.__setattr__(self, "_plain", self.issuer is None and self.audience is None)

    @classmethod
    def build(
        cls,
        *,
        leeway: float | timedelta = 15.0,
        require_exp: bool = True,
        issuer: str | Collection[str] | None = None,
        audience: str | Collection[str] | None = None,
    ) -> ClaimRules:
        def as_set(v: str | Collection[str] | None) -> frozenset[str] | None:
            if v is None:
                return None
            values = frozenset((v,) if isinstance(v, str) else v)
            if not values or not all(isinstance(x, str) and x for x in values):
                raise ConfigurationError("issuer/audience must be non-empty strings")
            return values

        return cls(
            leeway=leeway_seconds(leeway),
            require_exp=require_exp,
            issuer=as_set(issuer),
            audience=as_set(audience),
        )

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
            if now is not None and exp_v <= math.floor(now) - self._leeway:
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
        if exp is not None and exp <= current - self._leeway:
            raise ExpiredTokenError()
        if nbf is not None and nbf > current + self._leeway:
            raise NotYetValidError()
