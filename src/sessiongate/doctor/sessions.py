"""Explain database session tokens (Auth.js adapters) and Better Auth cookies.

The decisions are the app's :class:`~sessiongate.sessions.DatabaseSession` and
:class:`~sessiongate.sessions.BetterAuthSession` (they read the cookie, check the signature,
trust or ignore the cookie cache, look the row up). To say *which* Better Auth secret signed a
value, :func:`verify_signed_cookie` / :func:`verify_bearer_value` are called with one secret at
a time; :func:`decode_cookie_cache` says what a ``session_data`` cache holds.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from ..betterauth import decode_cookie_cache, verify_bearer_value, verify_signed_cookie
from ..cookies import SECURE_PREFIX, parse_cookie_header, session_cookie_candidates
from ..errors import SessionGateError
from ..sessions import BetterAuthSession, DatabaseSession
from .app import Outcome
from .context import Context, Value
from .explain import explain_code, hint_for_code, iso, truncation

__all__ = ["probe_better_auth", "probe_database"]

# BetterAuthSession reads the session_data cache with Better Auth's own limits (100 chunks)
_CACHE_CHUNKS = 100
_CACHE_BYTES = 100 * 4096


def _needs_database(ctx: Context, subject: str, schema: str, why: str = "") -> None:
    ctx.add(
        "error",
        "needs_database",
        subject,
        why
        or "a database session token can only be checked against the session table: "
        "configure a database",
        f"pass --database-url and --schema (e.g. {schema})",
    )


def _accepted(ctx: Context, subject: str, auth: object, outcome: Outcome) -> None:
    verified = outcome.verified
    assert verified is not None
    claims = verified.claims
    session = claims.get("session")
    cached = isinstance(session, Mapping) and session.get("cached_until") is not None
    until = iso(verified.expires_at) if verified.expires_at is not None else "?"
    where = "cookie cache" if cached else "database"
    ctx.add(
        "ok",
        "valid",
        subject,
        f"{where} session of user `{claims.get('sub')}` (authenticator "
        f"{getattr(auth, 'name', '?')}), valid until {until}",
    )


def _refused(ctx: Context, subject: str, outcome: Outcome) -> None:
    code = outcome.code
    assert code is not None
    ctx.add(
        "error",
        f"database_{code}",
        subject,
        f"database lookup: {explain_code(code)}",
        hint_for_code(code),
    )


def probe_database(ctx: Context, subject: str, value: Value, what: str, schema: str) -> None:
    """A raw session token (Auth.js database strategy, or an unsigned Better Auth token)."""
    ctx.add("info", "database_token", subject, what)
    if not ctx.setup.config.database_url:
        _needs_database(ctx, subject, schema)
        return
    stores = [
        a for a in ctx.app.authenticators if isinstance(a, (DatabaseSession, BetterAuthSession))
    ]
    outcomes = [(auth, ctx.app.run(auth, value.headers)) for auth in stores]
    for auth, outcome in outcomes:
        if outcome.accepted:
            _accepted(ctx, subject, auth, outcome)
            return
    if schema.startswith("better-auth") and any(
        isinstance(a, BetterAuthSession) and not o.accepted for a, o in outcomes
    ):
        ctx.add(
            "error",
            "unsigned_token",
            subject,
            "an unsigned Better Auth session token: sessiongate accepts it only signed "
            "(`token.signature`, as the cookie and the set-auth-token header carry it)",
            "BetterAuthSession(allow_unsigned_bearer=True) accepts bare Bearer tokens, as the "
            "bearer plugin does unless requireSignature is set",
        )
        return
    for _auth, outcome in outcomes:
        if outcome.error is not None:
            _refused(ctx, subject, outcome)
            return


def _signs(check: Callable[[str, str], str | None], text: str, secret: str) -> bool:
    try:
        return check(text, secret) is not None
    except SessionGateError:
        return False


def probe_better_auth(ctx: Context, subject: str, value: Value) -> None:
    """A Better Auth signed value (``token.signature``): cookie or bearer-plugin header."""
    ctx.add(
        "info",
        "better_auth_signed",
        subject,
        "this looks like a Better Auth signed cookie (`token.signature`, HMAC-SHA-256)",
    )
    check: Callable[[str, str], str | None] = (
        verify_bearer_value if value.arrived is None else verify_signed_cookie
    )
    better = ctx.setup.config.better_auth_secrets
    inner: str | None = None
    for index, secret in enumerate(better):
        try:
            inner = check(value.text, secret)
        except SessionGateError as err:
            if err.code == "invalid_signature":
                continue
            inner = None
        if inner is None:
            cut = truncation(value.text)
            ctx.add(
                "error",
                "truncated" if cut else "malformed",
                subject,
                f"this looks truncated: {cut}"
                if cut
                else "the signature is not 44 characters "
                "of base64: Better Auth treats the cookie as absent",
            )
            return
        ctx.add("info", "better_auth_secret", subject, f"signed with {ctx.label('better', index)}")
        if index:
            ctx.add(
                "error",
                "retired_secret",
                subject,
                "signed with a secret that is no longer the current one: Better Auth 1.7, and "
                "sessiongate, verify signatures with the current (first) secret only",
                "sign in again, or put the secret that signed it first",
            )
        break
    if inner is None:
        _unsigned_by_any(ctx, subject, value, check)
        return
    _cookie_cache(ctx, subject, value, inner)
    auth = ctx.app.find(BetterAuthSession)
    if auth is None:
        if not ctx.setup.config.database_url:
            _needs_database(ctx, subject, "better-auth")
        return
    outcome = ctx.app.run(auth, value.headers)
    if outcome.accepted:
        _accepted(ctx, subject, auth, outcome)
    elif not outcome.read:
        ctx.add(
            "error",
            "cookie_not_read",
            subject,
            f"sessiongate's Better Auth verifier does not read `{value.arrived}` "
            f"(it reads `{auth.cookie_names[-1]}`)",
            "match the cookie prefix / name the app configures (advanced.cookiePrefix)",
        )
    elif outcome.code == "session_not_found" and not ctx.setup.config.database_url:
        _needs_database(
            ctx,
            subject,
            "better-auth",
            "no valid cookie cache proves the session, and without a database nothing else can",
        )
    else:
        _refused(ctx, subject, outcome)


def _unsigned_by_any(
    ctx: Context, subject: str, value: Value, check: Callable[[str, str], str | None]
) -> None:
    better = ctx.setup.config.better_auth_secrets
    if not better:
        matched = [
            i for i, s in enumerate(ctx.setup.config.secrets) if _signs(check, value.text, s)
        ]
        if matched:
            ctx.add(
                "error",
                "better_auth_secret_misplaced",
                subject,
                f"signed with {ctx.label('secret', matched[0])}, which you passed as an Auth.js "
                "secret: it is the Better Auth secret",
                "pass it as --better-auth-secret (BETTER_AUTH_SECRET)",
            )
            return
        ctx.add(
            "error",
            "no_secret",
            subject,
            "no Better Auth secret to check the signature with",
            "pass --better-auth-secret or set BETTER_AUTH_SECRET",
        )
        return
    cut = truncation(value.text)
    ctx.add(
        "error",
        "bad_signature",
        subject,
        f"the signature matches none of the {len(better)} Better Auth secret(s)"
        + (f"; this looks truncated: {cut}" if cut else ""),
        "Better Auth signs with the first entry of BETTER_AUTH_SECRETS or BETTER_AUTH_SECRET",
    )


def _cookie_cache(ctx: Context, subject: str, value: Value, inner: str) -> None:
    """What the ``session_data`` cookie cache next to a signed cookie holds, if any."""
    if value.arrived is None or "cookie" not in value.headers:
        return
    cookies = parse_cookie_header(value.headers["cookie"])
    auth = ctx.app.find(BetterAuthSession)
    plain = "better-auth.session_data"
    names = auth.data_cookie_names if auth is not None else (SECURE_PREFIX + plain, plain)
    candidates: list[str] = []
    for name in names:
        try:
            candidates = session_cookie_candidates(
                cookies, name, max_chunks=_CACHE_CHUNKS, max_bytes=_CACHE_BYTES
            )
        except SessionGateError as err:
            ctx.add(
                "warning",
                "cookie_cache_unreadable",
                subject,
                f"the cookie cache `{name}` cannot be read ({explain_code(err.code)})",
            )
            return
        if candidates:
            break
    if not candidates:
        return
    strategy = ctx.setup.better_auth_cookie_cache
    if strategy is None:
        ctx.add(
            "info",
            "cookie_cache_ignored",
            subject,
            "a `session_data` cookie cache is present; sessiongate ignores it and asks the "
            "database unless the service trusts it",
            "--better-auth-cookie-cache compact|jwt|jwe (BetterAuthSession(cookie_cache=...))",
        )
        return
    codes: list[str] = []
    # as Better Auth: the current secret signs compact / jwt caches, every one decrypts jwe
    better = ctx.setup.config.better_auth_secrets
    for candidate in candidates:
        for index, secret in enumerate(better if strategy == "jwe" else better[:1]):
            try:
                payload, until = decode_cookie_cache(candidate, strategy, secret, now=ctx.now)
            except SessionGateError as err:
                codes.append(err.code)
                continue
            ctx.add(
                "info",
                "cookie_cache",
                subject,
                f"a {strategy} cookie cache signed with {ctx.label('better', index)}, fresh "
                f"until {iso(until)}",
            )
            session = payload.get("session")
            token = session.get("token") if isinstance(session, dict) else None
            if not isinstance(token, str) or not hmac.compare_digest(
                token.encode("utf-8"), inner.encode("utf-8")
            ):
                ctx.add(
                    "warning",
                    "cookie_cache_other_session",
                    subject,
                    "the cookie cache belongs to another session token: it is ignored",
                )
            return
    if "expired" in codes:
        ctx.add(
            "info",
            "cookie_cache_expired",
            subject,
            "the cookie cache has expired: the session is checked without it",
        )
    elif "invalid_signature" in codes:
        ctx.add(
            "warning",
            "cookie_cache_bad_signature",
            subject,
            "the cookie cache is not signed by any configured Better Auth secret: ignored",
        )
    else:
        ctx.add(
            "warning",
            "cookie_cache_malformed",
            subject,
            f"the cookie cache is not a {strategy} cache: ignored",
        )
