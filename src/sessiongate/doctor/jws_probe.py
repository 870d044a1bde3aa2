"""Explain JWTs: HS256/384/512 signed with a shared secret, ``none``, and public-key ones.

The app's :class:`~sessiongate.jws.BearerJWT` (the gate's) decides; readers, the same class
built with one candidate secret each (JWT secrets first, then the session and Better Auth
secrets), tolerant of any clock, say which secret signed the token. The content is judged by
:mod:`sessiongate.doctor.claims` with the app verifier's :class:`~sessiongate.claims.ClaimRules`.
Nothing here computes or compares a MAC itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._tokencache import DecodedToken
from ..claims import ClaimRules
from ..errors import MalformedTokenError, SessionGateError
from ..jws import HMAC_ALGORITHMS, BearerJWT, parse_jws_header
from .app import Outcome
from .claims import explain_claims
from .context import ANY_TIME, Context, Value, family
from .explain import truncation
from .inputs import peek_header

__all__ = ["probe_jws"]


def _jws_match(
    ctx: Context, token: str, alg: str
) -> tuple[str, int, DecodedToken | None, SessionGateError | None] | None:
    """The first secret (JWT secrets, then session secrets, then Better Auth's) that signed it."""
    tried = set()
    candidates = [(k, i, s) for k, i, s in ctx.setup.labelled_secrets() if k == "jwt"]
    candidates += [(k, i, s) for k, i, s in ctx.setup.labelled_secrets() if k != "jwt"]
    for kind, index, secret in candidates:
        if secret in tried:
            continue
        tried.add(secret)
        reader = BearerJWT(
            secret, algorithms=[alg], cache_size=0, leeway=ANY_TIME, require_exp=False
        )
        try:
            decoded = reader.decode_full(token, now=ctx.now)
        except SessionGateError as err:
            if err.code == "invalid_signature":
                continue
            return kind, index, None, err
        return kind, index, decoded, None
    return None


def probe_jws(ctx: Context, subject: str, value: Value) -> None:
    """Explain a JWT: its algorithm, which secret signed it, the app verifier's answer."""
    token, arrived = value.text, value.arrived
    head = token.split(".", 1)[0]
    try:
        header = parse_jws_header(head)
    except SessionGateError as err:
        ctx.shape_error(subject, token, err)
        return
    if arrived is not None and family(arrived):
        ctx.add(
            "info",
            "jws_in_session_cookie",
            subject,
            "a signed JWT (JWS) in the NextAuth session cookie: the app replaced "
            "jwt.encode/decode (e.g. with jsonwebtoken)",
            f"verify it with BearerJWT(secret, cookie_names=[{arrived!r}])",
        )
    alg = header["alg"]
    if alg == "none":
        ctx.add("error", "algorithm_not_allowed", subject, "an unsigned JWT (alg none)")
        return
    if token.count(".") != 2:
        ctx.shape_error(subject, token, MalformedTokenError("not three segments"))
        return
    if alg not in HMAC_ALGORITHMS:
        _asymmetric(ctx, subject, token, header)
        return
    cut = truncation(token)
    if cut is not None:  # an HMAC shorter than its algorithm makes never verifies
        ctx.shape_error(subject, token, MalformedTokenError("cut off"))
        return
    ctx.add("info", "jws", subject, f"a JWT signed with {alg} (a JWS: signed, not encrypted)")
    if not ctx.setup.labelled_secrets():
        ctx.add(
            "error",
            "no_secret",
            subject,
            "no secret to check the signature with",
            "pass --jwt-secret or --secret",
        )
        return
    found = _jws_match(ctx, token, alg)
    if found is None:
        cut = truncation(token)
        n = len({s for _, _, s in ctx.setup.labelled_secrets()})
        ctx.add(
            "error",
            "bad_signature",
            subject,
            f"the signature matches none of the {n} secret(s) tried"
            + (f"; this looks truncated: {cut}" if cut else ""),
        )
        return
    kind, index, decoded, content_error = found
    ctx.add("info", "jws_secret", subject, f"signed with {ctx.label(kind, index)}")
    if content_error is not None or decoded is None:
        code = content_error.code if content_error is not None else "malformed"
        ctx.add("error", code, subject, "the payload is not a JSON object with numeric times")
        return
    app_jwt = ctx.app.find(BearerJWT)
    outcome = ctx.ask(app_jwt, value)
    _jws_refusal(ctx, subject, kind, index, alg, app_jwt, outcome, arrived)
    rules = app_jwt.rules if app_jwt is not None else ClaimRules()
    accepted = outcome is not None and outcome.accepted
    explain_claims(ctx, subject, decoded.claims, "jws", rules, blocked=not accepted)


def _jws_refusal(
    ctx: Context,
    subject: str,
    kind: str,
    index: int,
    alg: str,
    app_jwt: BearerJWT | None,
    outcome: Outcome | None,
    arrived: str | None,
) -> None:
    """Why the app's HS* verifier did not accept a JWT some secret did sign."""
    if app_jwt is None:
        if ctx.app.gate is not None:
            ctx.add(
                "error",
                "no_jwt_verifier",
                subject,
                "sessiongate is not configured to verify HS* Bearer JWTs",
                "pass --jwt-secret (SESSIONGATE_JWT_SECRET)",
            )
        return
    assert outcome is not None
    if not outcome.read:
        where = f"the cookie `{arrived}`" if arrived else "this request"
        ctx.add(
            "error",
            "cookie_not_read",
            subject,
            f"sessiongate's JWT verifier does not read a JWT from {where}",
            "BearerJWT reads cookies only when configured with cookie_names=[...]",
        )
    elif outcome.code == "invalid_signature":
        ctx.add(
            "error",
            "jwt_secret_not_used",
            subject,
            f"signed with {ctx.label(kind, index)}, which the HS* Bearer verifier does not use: "
            "it checks the JWT secret(s) only",
            "pass the signing secret as --jwt-secret (SESSIONGATE_JWT_SECRET)",
        )
    elif outcome.code == "algorithm_not_allowed":
        ctx.add(
            "error",
            "algorithm_not_allowed",
            subject,
            f"sessiongate accepts {', '.join(app_jwt.algorithms)} only, not {alg}",
        )


def _asymmetric(ctx: Context, subject: str, token: str, header: Mapping[str, object]) -> None:
    payload = peek_header(token.split(".", 1)[1]) or {}
    ctx.add(
        "info",
        "jws_asymmetric",
        subject,
        f"a JWT signed with {header.get('alg')} (public-key; kid {header.get('kid')!r}, issuer "
        f"{payload.get('iss')!r}, not verified here): check it against the issuer's JWKS",
        "sessiongate serve --jwks-url URL --issuer ISS --audience AUD, or JWKSBearer",
    )
    if not any(getattr(a, "name", "") == "jwks" for a in ctx.app.authenticators):
        ctx.add(
            "error",
            "needs_jwks",
            subject,
            "no JWKS is configured: sessiongate cannot check a public-key signature without one",
        )
