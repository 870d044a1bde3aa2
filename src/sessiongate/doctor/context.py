"""What every probe shares: the setup, the app's gate, the clock, the report being written.

A :class:`Value` is one candidate session value with where it arrived (its cookie name, the v5
key-derivation salt, or ``None`` for a Bearer token) and the request headers that carry it
alone, so an authenticator can be asked about exactly this value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..authjs import AuthJSToken
from ..cookies import AUTHJS_COOKIE, NEXTAUTH_COOKIE, SECURE_PREFIX
from .app import AppGate
from .inputs import Setup
from .report import Level, Report

__all__ = ["Context", "Subject", "Value"]

_MAX_SALTS = 24


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
        bases = auth.cookie_bases if auth is not None else (AUTHJS_COOKIE, NEXTAUTH_COOKIE)
        names: list[str] = [arrived] if arrived else []
        for name in (*bases, *self.setup.cookie_names, *self.seen_cookie_names):
            base = name.removeprefix(SECURE_PREFIX)
            names += [SECURE_PREFIX + base, base]
        return list(dict.fromkeys(names))[:_MAX_SALTS]
