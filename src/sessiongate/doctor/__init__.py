"""``sessiongate doctor``: say in plain words why a session does (not) verify.

The doctor owns no verification rule. It builds the gate the app would build
(:mod:`~sessiongate.doctor.app`), whose answer for the whole input is the verdict, and explains
that answer credential by credential: the real verifiers say *what* they decided, by error
code; the same classes built with one candidate secret and cookie name at a time say *why*
(which secret, which cookie name, which generation); the app's claim rules and claim mapping
judge the content. Modules:

* :mod:`~sessiongate.doctor.inputs`: what the user gave (pasted text, secrets, settings);
* :mod:`~sessiongate.doctor.subjects`: which credentials the input carries (cookie families,
  chunks, the Authorization header);
* :mod:`~sessiongate.doctor.jwe_probe`, :mod:`~sessiongate.doctor.jws_probe`,
  :mod:`~sessiongate.doctor.sessions`,
  :mod:`~sessiongate.doctor.claims`: the probes;
* :mod:`~sessiongate.doctor.explain`: error codes in words, "this looks truncated";
* :mod:`~sessiongate.doctor.report`: findings, verdict, rendering.

Secrets are never printed, only :func:`fingerprint`; token and cookie values are never printed,
only cookie names and lengths.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..betterauth import CookieCacheStrategy
from .app import AppGate
from .context import Context, Subject, Value
from .explain import explain_code, hint_for_code, truncation
from .inputs import Presented, Setup, fingerprint, parse_input, token_kind
from .jwe_probe import probe_jwe
from .jws_probe import probe_jws
from .report import Finding, Report, Verdict, format_report
from .sessions import probe_better_auth, probe_database
from .subjects import bare_subject, bearer_subject, cookie_subjects

__all__ = [
    "Finding",
    "Presented",
    "Report",
    "Setup",
    "Verdict",
    "diagnose",
    "fingerprint",
    "format_report",
    "parse_input",
]

_AUTHJS_DB = (
    "this is an Auth.js / NextAuth database session token ({}), not a JWT: it names a row of "
    "the Session table"
)
_BETTER_AUTH_DB = (
    "this looks like a Better Auth session token (32 characters), unsigned: it names a row of "
    "the `session` table"
)


def _probe(ctx: Context, subject: str, value: Value) -> None:
    """Route one value to the probe for its format."""
    token = value.text.strip()
    if not token:
        ctx.add("error", "empty", subject, "the value is empty")
        return
    cap = ctx.app.gate.max_token_bytes if ctx.app.gate is not None else None
    if cap is not None and len(token) > cap:
        ctx.add(
            "error", "too_large", subject, f"the token is {len(token)} characters; the cap is {cap}"
        )
        return
    value = Value(token, value.arrived, value.headers, value.label)
    kind = token_kind(token)
    if kind == "jwe":
        probe_jwe(ctx, subject, value)
    elif kind == "jws":
        probe_jws(ctx, subject, value)
    elif kind == "better-auth-signed":
        probe_better_auth(ctx, subject, value)
    elif kind == "database":
        shape = "a UUID" if "-" in token else "64 hex characters"
        probe_database(ctx, subject, value, _AUTHJS_DB.format(shape), "authjs-prisma")
    elif kind == "better-auth-token":
        probe_database(ctx, subject, value, _BETTER_AUTH_DB, "better-auth")
    else:
        cut = truncation(token)
        if cut is not None:
            ctx.add(
                "error",
                "truncated",
                subject,
                f"this looks truncated: {cut}",
                "copy the whole value (all cookie chunks); check proxy header size limits",
            )
            return
        ctx.add(
            "error",
            "unknown_format",
            subject,
            f"not a format sessiongate knows ({len(token)} characters, {token.count('.')} "
            "dots): not a JWE (5 segments), a JWT (3 segments), a UUID or a Better Auth token",
        )


def _examine(ctx: Context, subject: Subject) -> bool:
    """Probe a subject's values, then hold the findings against the gate's own answer.

    Returns whether the gate refused this credential on its own.
    """
    report = ctx.report
    start = subject.start
    if len(subject.values) == 1:
        _probe(ctx, subject.label, subject.values[0])
    elif subject.values:
        _candidates(ctx, subject)
    if ctx.app.gate is None:
        return True  # the configuration error is the verdict; it is reported once, up front
    outcome = ctx.app.outcome(subject.headers)
    mine = report.findings[start:]
    errors = [f for f in mine if f.level == "error"]
    if outcome.error is not None and not errors:
        code = outcome.error.code
        report.add(
            "error",
            "rejected",
            subject.label,
            f"sessiongate rejects it: {explain_code(code)} [{code}]",
            hint_for_code(code),
        )
    elif outcome.result is not None and errors:
        report.add(
            "warning",
            "doctor_disagrees",
            subject.label,
            "sessiongate accepted this credential although the doctor found a problem above; "
            "please report this",
        )
    elif outcome.result is not None and not any(f.level == "ok" for f in mine):
        user = outcome.result.user
        report.add(
            "ok",
            "accepted",
            subject.label,
            f"valid: user `{getattr(user, 'id', '?')}` (authenticator "
            f"{outcome.result.authenticator})",
        )
    return outcome.error is not None


def _candidates(ctx: Context, subject: Subject) -> None:
    """Several candidate values (a stale cookie next to chunks): the gate tries each."""
    report = ctx.report
    parts: list[tuple[Value, list[Finding]]] = []
    for value in subject.values:
        start = len(report.findings)
        _probe(ctx, f"{subject.label} ({value.label})", value)
        parts.append((value, report.findings[start:]))
        del report.findings[start:]
    winner = next(
        (v for v, found in parts if any(f.level == "ok" for f in found)),
        None,
    )
    for value, found in parts:
        if winner is None or value is winner:
            report.findings.extend(found)
        else:
            first = next((f.code for f in found if f.level == "error"), "refused")
            report.add(
                "info",
                "candidate_refused",
                subject.label,
                f"the {value.label} ({len(value.text)} characters) does not verify ({first}); "
                f"sessiongate uses the {winner.label}",
            )


def _not_needed(report: Report, refused: list[str]) -> None:
    """The gate accepted another credential: a refused one is a warning, not the verdict."""
    last: dict[int, str] = {}
    for label in refused:
        mine = [i for i, f in enumerate(report.findings) if f.subject.startswith(label)]
        if mine:
            last[mine[-1]] = label
    out: list[Finding] = []
    for i, f in enumerate(report.findings):
        if f.level == "error" and f.subject.startswith(tuple(refused)):
            f = Finding("warning", f.code, f.message, f.subject, f.hint)
        out.append(f)
        if i in last:
            out.append(
                Finding(
                    "info",
                    "not_needed",
                    "refused, but not needed: sessiongate accepts another credential of this "
                    "request",
                    f.subject,
                )
            )
    report.findings = out


def diagnose(
    text: str,
    *,
    secrets: Sequence[str] = (),
    jwt_secrets: Sequence[str] = (),
    better_auth_secrets: Sequence[str] = (),
    cookie_name: str | None = None,
    now: float | None = None,
    database_url: str | None = None,
    schema: str | None = None,
    better_auth_cookie_cache: CookieCacheStrategy | None = None,
    setup: Setup | None = None,
) -> Report:
    """Diagnose ``text`` (a token, a Cookie header, header lines or a curl command line).

    The app is described by the keyword values (no environment is read), or by ``setup``
    (:meth:`Setup.from_sources`, which the CLI builds from flags and the environment).
    ``cookie_name`` is the cookie a bare token came from; it is also read as a custom session
    cookie name. Raises :class:`~sessiongate.errors.ConfigurationError` for unusable input.
    """
    if setup is None:
        setup = Setup.from_sources(
            secrets=secrets,
            jwt_secrets=jwt_secrets,
            better_auth_secrets=better_auth_secrets,
            cookie_names=[cookie_name] if cookie_name else [],
            database_url=database_url,
            schema=schema,
            better_auth_cookie_cache=better_auth_cookie_cache,
        )
    presented = parse_input(text)
    app = AppGate(setup, time.time() if now is None else now)
    try:
        report = Report(secrets=setup.fingerprints())
        ctx = Context(setup, app, report)
        if app.error is not None:
            report.add("error", "configuration_error", "configuration", app.error.message)
        headers: dict[str, str] = {}
        refused: list[str] = []
        if presented.cookies is not None and presented.cookie_header is not None:
            headers["cookie"] = presented.cookie_header
            for family in cookie_subjects(ctx, presented.cookies, presented.cookie_header):
                refused += [family.label] if _examine(ctx, family) else []
        if presented.authorization is not None:
            headers["authorization"] = presented.authorization
            subject = bearer_subject(ctx, presented.authorization)
            refused += [subject.label] if _examine(ctx, subject) else []
        if presented.bare is not None:
            bare = bare_subject(ctx, presented.bare, cookie_name)
            headers = bare.headers
            _examine(ctx, bare)
        if not headers:
            report.add(
                "error", "no_credentials", "input", "no Cookie or Authorization header found"
            )
        report.verdict = app.verdict(headers)
        if report.verdict.accepted and refused:
            _not_needed(report, refused)
        return report
    finally:
        app.close()
