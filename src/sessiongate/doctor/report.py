"""The doctor's report: findings, the gate's verdict, and how both are rendered.

A :class:`Finding` is one explanation (``level``, a stable ``code``, the credential it is about,
a message and an optional hint). The :class:`Verdict` is not an explanation: it is what the
gate the app would build answered for the whole input, and :attr:`Report.ok` is that verdict.
Nothing here prints a secret or a token: messages carry fingerprints, cookie names and lengths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Finding", "Level", "Report", "Verdict", "format_report"]

Level = Literal["ok", "info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the doctor found.

    ``level``: ``ok`` (verified), ``info``, ``warning`` (works here, may bite elsewhere) or
    ``error`` (this is why it fails). ``code`` is stable for scripts; ``subject`` names the
    credential (``cookie authjs.session-token``, ``Authorization header``, ``token``).
    """

    level: Level
    code: str
    message: str
    subject: str
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "level": self.level,
            "code": self.code,
            "subject": self.subject,
            "message": self.message,
        }
        if self.hint:
            out["hint"] = self.hint
        return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the gate answered: accepted (with the user) or rejected (with the error code).

    ``explanation`` turns the code into words (see :mod:`sessiongate.doctor.explain`);
    ``message`` is the gate's own error message.
    """

    accepted: bool
    code: str | None = None
    message: str = ""
    explanation: str = ""
    user_id: str | None = None
    source: str | None = None
    credential: str | None = None
    authenticator: str | None = None

    def line(self) -> str:
        """``sessiongate accepts it: …`` / ``sessiongate rejects it: …``."""
        if self.accepted:
            return (
                f"sessiongate accepts it: user `{self.user_id}` ({self.source}, "
                f"{self.credential}, authenticator {self.authenticator})"
            )
        if self.code == "configuration_error":
            return f"sessiongate cannot be set up from what was given: {self.message}"
        return f"sessiongate rejects it: {self.explanation} [{self.code}]"

    def to_dict(self) -> dict[str, Any]:
        if self.accepted:
            return {
                "accepted": True,
                "user_id": self.user_id,
                "source": self.source,
                "credential": self.credential,
                "authenticator": self.authenticator,
            }
        return {
            "accepted": False,
            "code": self.code,
            "message": self.message,
            "explanation": self.explanation,
        }


@dataclass(slots=True)
class Report:
    """Every finding, in order, the fingerprints of the secrets tried, and the verdict."""

    findings: list[Finding] = field(default_factory=list)
    secrets: list[dict[str, Any]] = field(default_factory=list)
    verdict: Verdict = field(default_factory=lambda: Verdict(False, "no_input"))

    def add(
        self, level: Level, code: str, subject: str, message: str, hint: str | None = None
    ) -> None:
        self.findings.append(Finding(level, code, message, subject, hint))

    @property
    def ok(self) -> bool:
        """The verdict of the gate the app would build: it accepted the input."""
        return self.verdict.accepted

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "verdict": self.verdict.to_dict(),
            "secrets": self.secrets,
            "findings": [f.to_dict() for f in self.findings],
        }


_MARKS: dict[Level, tuple[str, str]] = {
    "ok": ("OK   ", "\033[32m"),
    "info": ("info ", "\033[36m"),
    "warning": ("WARN ", "\033[33m"),
    "error": ("ERROR", "\033[31m"),
}


def format_report(report: Report, *, color: bool = False) -> str:
    """The human-readable report (ANSI colours when ``color``)."""
    lines = ["sessiongate doctor"]
    if report.secrets:
        shown = ", ".join(f"{s['kind']} #{s['index']} {s['fingerprint']}" for s in report.secrets)
        lines.append(f"  secrets tried: {shown}")
    else:
        lines.append("  secrets tried: none")
    subject = None
    for f in report.findings:
        if f.subject != subject:
            subject = f.subject
            lines.append(f"\n{subject}:")
        mark, code = _MARKS[f.level]
        if color:
            mark = f"{code}{mark}\033[0m"
        lines.append(f"  {mark}  {f.message}")
        if f.hint:
            lines.append(f"         hint: {f.hint}")
    errors = sum(f.level == "error" for f in report.findings)
    verdict = "verified" if report.ok else f"not verified ({errors} error(s))"
    if color:
        verdict = ("\033[32m" if report.ok else "\033[31m") + verdict + "\033[0m"
    lines.append(f"\nverdict: {verdict}")
    lines.append(f"  {report.verdict.line()}")
    return "\n".join(lines) + "\n"
