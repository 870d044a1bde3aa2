"""What every probe shares: the setup, the app's gate, the clock, the report being written.

A :class:`Value` is one candidate session value with where it arrived (its cookie name, the v5
key-derivation salt, or ``None`` for a Bearer token) and the request headers that carry it
alone, so an authenticator can be asked about exactly this value.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from ..authjs import AuthJSToken
from ..cookies import AUTHJS_COOKIE, NEXTAUTH_COOKIE, SECURE_PREFIX
from ..errors import SessionGateError
from .app import AppGate, Outcome
from .explain import explain_code, truncation
from .inputs import Setup
from .report import Level, Report

__all__ = ["ANY_TIME", "Context", "Subject", "Value", "family"]

_MAX_SALTS = 24

ANY_TIME = sys.float_info.max
"""A reader's leeway: it reads a token's content whatever the clock says (the app's own
:class:`~sessiongate.claims.ClaimRules` judge the times afterwards)."""


def family(name: str | None) -> str | None:
    """``v5`` / ``v4`` for the Auth.js / NextAuth session cookie names, else ``None``."""
    base = (name or "").removeprefix(SECURE_PREFIX)
    return {AUTHJS_COOKIE: "v5", NEXTAUTH_COOKIE: "v4"}.get(base)


@dataclass(frozen=True, slots=True)
class Value:
    """One candidate value: its text (percent-decoded), its cookie name, its own headers."""

    text: str
    arrived: str | None
    headers: dict[str, str]
    label: str = ""


@dataclass(slots=True)
class Subject:
    """One credential of the input (a cookie family, the Authorization header, a bare token).

    ``values`` are the candidates in the order the verifiers try them; ``headers`` carry the
    whole credential (all its cookies) for the gate.
    """

    label: str
    headers: dict[str, str]
    values: list[Value] = field(default_factory=list)
    start: int = 0  # index of its first finding in the report (its cookie-jar findings)


@dataclass(slots=True)
class Context:
    """Shared by the probes of one diagnosis."""

    setup: Setup
    app: AppGate
    report: Report
    seen_cookie_names: list[str] = field(default_factory=list)

    @property
    def now(self) -> float:
        return self.app.now

    def add(
        self, level: Level, code: str, subject: str, message: str, hint: str | None = None
    ) -> None:
        self.report.add(level, code, subject, message, hint)

    def label(self, kind: str, index: int) -> str:
        return self.setup.label(kind, index)

    def salts(self, arrived: str | None) -> list[str]:
        """Cookie names a v5 token may have been made for (its HKDF salt), ``arrived`` first.

        The names the app reads, the configured custom names, and the session-looking cookie
        names of the input: a token copied under another name is still recognised.
        """
        auth = self.app.find(AuthJSToken)
        bases = auth.cookie_names if auth is not None else (AUTHJS_COOKIE, NEXTAUTH_COOKIE)
        names: list[str] = [arrived] if arrived else []
        for name in (*bases, *self.setup.cookie_names, *self.seen_cookie_names):
            base = name.removeprefix(SECURE_PREFIX)
            names += [SECURE_PREFIX + base, base]
        return list(dict.fromkeys(names))[:_MAX_SALTS]

    def ask(self, auth: object | None, value: Value) -> Outcome | None:
        """The app authenticator's answer for this value alone (``None``: no such verifier)."""
        return None if auth is None else self.app.run(auth, value.headers)

    def shape_error(self, subject: str, token: str, err: SessionGateError) -> None:
        """A value the verifiers refuse before any key is tried: cut off, too large, malformed."""
        cut = truncation(token)
        if cut is not None:
            self.add(
                "error",
                "truncated",
                subject,
                f"this looks truncated: {cut}",
                "copy the whole value (all cookie chunks); check proxy header size limits",
            )
        elif err.code == "token_too_large":
            self.add(
                "error", "too_large", subject, f"the token is {len(token)} characters: over the cap"
            )
        else:
            self.add("error", err.code, subject, f"{explain_code(err.code)}: {err.message}")
