"""Explain JWE session tokens (NextAuth v4, Auth.js v5) and HS* / asymmetric JWTs.

Two kinds of verifier take part, both the library's own classes:

* the app's verifier (the gate's :class:`AuthJSToken` / :class:`BearerJWT`), asked about the
  value exactly as it arrived: its answer is the decision this module explains;
* *readers*: the same classes built with **one** candidate secret each, tolerant of any clock
  (``leeway`` = the largest float) and not requiring ``exp``, asked under every candidate
  cookie name. They answer "which secret, for which cookie name, decrypts or signed this", so
  the doctor can say "secret #2 (an old one)" or "made for ``__Secure-authjs.session-token``".

Time and content rules are then applied by :mod:`sessiongate.doctor.claims` with the app's
verifier's own :class:`~sessiongate.claims.ClaimRules`. Nothing here derives a key, decrypts,
computes a MAC or compares a ``kid`` itself.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .._tokencache import DecodedToken
from ..authjs import AuthJSToken
from ..claims import ClaimRules
from ..cookies import AUTHJS_COOKIE, DEFAULT_MAX_TOKEN_BYTES, NEXTAUTH_COOKIE, SECURE_PREFIX
from ..errors import MalformedTokenError, SessionGateError
from ..jwe import KEY_LENGTHS, parse_compact
from ..jws import HMAC_ALGORITHMS, BearerJWT, parse_jws_header
from .app import Outcome
from .claims import explain_claims
from .context import Context, Value
from .explain import explain_code, truncation
from .inputs import peek_header
from .report import Level

__all__ = ["probe_jwe", "probe_jws"]

_ANY_TIME = sys.float_info.max  # a reader's leeway: it reads the content whatever the clock
_KEY_CODES = frozenset({"unknown_kid", "decryption_failed"})


def _family(name: str | None) -> str | None:
    base = (name or "").removeprefix(SECURE_PREFIX)
    return {AUTHJS_COOKIE: "v5", NEXTAUTH_COOKIE: "v4"}.get(base)


def _shape_error(ctx: Context, subject: str, token: str, err: SessionGateError) -> None:
    """A value the verifiers refuse before any key is tried."""
    cut = truncation(token)
    if cut is not None:
        ctx.add(
            "error",
            "truncated",
            subject,
            f"this looks truncated: {cut}",
            "copy the whole value (all cookie chunks); check proxy header size limits",
        )
    elif err.code == "token_too_large":
        ctx.add(
            "error", "too_large", subject, f"the token is {len(token)} characters: over the cap"
        )
    else:
        ctx.add("error", err.code, subject, f"{explain_code(err.code)}: {err.message}")


def _ask(ctx: Context, auth: object | None, value: Value) -> Outcome | None:
    return None if auth is None else ctx.app.run(auth, value.headers)


# ------------------------------------------------------------------------------------ JWE


@dataclass(frozen=True, slots=True)
class _Match:
    index: int
    salt: str | None
    decoded: DecodedToken | None
    error: SessionGateError | None  # the key fits but the content is refused


@dataclass(frozen=True, slots=True)
class _Search:
    match: _Match | None
    tampered: tuple[int, str] | None  # a kid that names a key whose tag does not verify
    salts: int


def _search(ctx: Context, token: str, arrived: str | None, has_kid: bool) -> _Search:
    salts = ctx.salts(arrived)
    tampered = None
    for index, secret in enumerate(ctx.setup.config.secrets):
        reader = AuthJSToken([secret], cache_size=0, leeway=_ANY_TIME, require_exp=False)
        for salt in salts:
            try:
                decoded = reader.decode_full(token, cookie_name=salt, now=ctx.now)
            except SessionGateError as err:
                if err.code == "unknown_kid":
                    continue
                if err.code == "decryption_failed":
                    if has_kid and tampered is None:
                        tampered = (index, salt)
                    continue
                return _Search(_Match(index, salt, None, err), None, len(salts))
            return _Search(_Match(index, decoded.salt, decoded, None), None, len(salts))
    return _Search(None, tampered, len(salts))


def probe_jwe(ctx: Context, subject: str, value: Value) -> None:
    """Explain a JWE: format, which secret and cookie name, the app verifier's answer, content."""
    token, arrived = value.text, value.arrived
    header = peek_header(token)
    if header is None:
        cut = truncation(token)
        ctx.add(
            "error",
            "truncated" if cut else "malformed",
            subject,
            f"this looks truncated: {cut}"
            if cut
            else "5 segments, but the first is not a JSON header",
        )
        return
    alg, enc, kid = header.get("alg"), header.get("enc"), header.get("kid")
    ctx.add(
        "info",
        "jwe",
        subject,
        f"this is a JWE (encrypted, alg {alg}, enc {enc}); a JWS library like PyJWT or "
        "jsonwebtoken.verify cannot read it: it must be decrypted",
    )
    if alg != "dir" or enc not in KEY_LENGTHS:
        ctx.add(
            "error",
            "algorithm_not_allowed",
            subject,
            f"NextAuth / Auth.js use alg `dir` with A256GCM or A256CBC-HS512, not {alg}/{enc}",
        )
        return
    if not ctx.setup.config.secrets:
        ctx.add(
            "error",
            "no_secret",
            subject,
            "no secret to decrypt it with",
            "pass --secret (repeatable) or set AUTH_SECRET / NEXTAUTH_SECRET",
        )
        return
    app_auth = ctx.app.find(AuthJSToken)
    try:
        parse_compact(
            token, max_bytes=getattr(app_auth, "max_token_bytes", DEFAULT_MAX_TOKEN_BYTES)
        )
    except SessionGateError as err:
        _shape_error(ctx, subject, token, err)
        return
    outcome = _ask(ctx, app_auth, value)
    search = _search(ctx, token, arrived, isinstance(kid, str))
    match = search.match
    if match is None:
        _no_match(ctx, subject, token, search, has_kid=isinstance(kid, str))
        return
    _describe(ctx, subject, match, arrived, isinstance(kid, str), outcome)
    if match.error is not None:
        what = (
            "the content is not a JSON object"
            if match.error.code == "malformed"
            else "a time claim (`exp`, `nbf`, `iat`) is not a number"
        )
        ctx.add("error", match.error.code, subject, what)
        return
    assert match.decoded is not None
    rules = app_auth.rules if app_auth is not None else ClaimRules.build()
    accepted = outcome is not None and outcome.accepted
    explain_claims(
        ctx, subject, match.decoded.claims, match.decoded.source, rules, blocked=not accepted
    )


def _no_match(ctx: Context, subject: str, token: str, search: _Search, *, has_kid: bool) -> None:
    n = len(ctx.setup.config.secrets)
    if search.tampered is not None:
        index, salt = search.tampered
        cut = truncation(token)
        ctx.add(
            "error",
            "decryption_failed",
            subject,
            f"the kid matches {ctx.label('secret', index)} for cookie `{salt}` but the content "
            "does not decrypt: the token was altered"
            + (f" (it looks truncated: {cut})" if cut else ""),
        )
        return
    which = "this secret decrypts none of them" if n == 1 else f"none of these {n} secrets does"
    if has_kid:
        detail = (
            f"the token's kid matches none of the {n} secret(s) × {search.salts} cookie names tried"
        )
        hint = (
            "it was encrypted with another AUTH_SECRET, or for a cookie name not tried "
            "(pass --cookie-name)"
        )
    else:
        detail = (
            f"neither as NextAuth v4 nor as Auth.js v5 with {n} secret(s) × {search.salts} "
            "cookie names"
        )
        hint = "it was encrypted with another secret (NEXTAUTH_SECRET for v4, AUTH_SECRET for v5)"
    ctx.add(
        "error",
        "no_secret_matches",
        subject,
        "no configured secret decrypts it (wrong secret, or a token for another cookie name): "
        f"{which}; {detail}",
        hint,
    )


def _describe(
    ctx: Context,
    subject: str,
    match: _Match,
    arrived: str | None,
    has_kid: bool,
    outcome: Outcome | None,
) -> None:
    """Which generation, secret and cookie name; why the app's verifier refused, if it did."""
    refused_by_key = outcome is not None and outcome.code in _KEY_CODES
    cause: Level = "error" if refused_by_key else "warning"
    label = ctx.label("secret", match.index)
    causes = 0
    if match.decoded is not None and match.decoded.source == "nextauth-v4":
        ctx.add(
            "info",
            "nextauth_v4",
            subject,
            f"a NextAuth v4 token (A256GCM, no kid), encrypted with {label}",
        )
        if _family(arrived) == "v5":
            accepted = outcome is not None and outcome.accepted
            ctx.add(
                "warning" if accepted or not refused_by_key else "error",
                "v4_in_v5_cookie",
                subject,
                f"a NextAuth v4 token in the Auth.js v5 cookie `{arrived}`: @auth/core cannot "
                "read it (v5 derives the key from the cookie name); sessiongate "
                + ("accepts it" if accepted else "refuses it too"),
                "users who signed in before the v5 upgrade must sign in again",
            )
            causes += refused_by_key
    else:
        salt = match.salt
        if has_kid:
            ctx.add(
                "info",
                "authjs_v5",
                subject,
                f"an Auth.js v5 token for the cookie name `{salt}`, encrypted with {label}",
            )
        else:
            ctx.add(
                "info",
                "authjs_v5_no_kid",
                subject,
                f"Auth.js v5 key derivation (cookie name `{salt}`, {label}) but no kid in the "
                "header (a custom jwt.encode?)",
            )
        n = len(ctx.setup.config.secrets)
        if match.index > 0 and has_kid:
            ctx.add(
                "warning",
                "old_secret",
                subject,
                f"it matches the old secret #{match.index + 1} of {n}, not the current one (#1) "
                "(rotation: an old secret still in use): Auth.js encrypts new sessions with the "
                "first secret",
                "keep the old secret listed until these sessions expire",
            )
        elif match.index > 0:
            ctx.add(
                cause,
                "old_secret",
                subject,
                f"it matches secret #{match.index + 1}, but @auth/core tries only the first "
                "secret for tokens without a kid",
            )
            causes += refused_by_key
        if arrived is not None and salt != arrived:
            ctx.add(
                cause,
                "wrong_cookie_name",
                subject,
                f"this is an Auth.js v5 token for cookie `{salt}` but it arrived as `{arrived}`",
                _name_hint(salt, arrived),
            )
            causes += refused_by_key
        elif arrived is None and refused_by_key and not causes:
            ctx.add(
                "error",
                "unknown_cookie_name",
                subject,
                f"a token for the cookie name `{salt}`, which sessiongate is not configured "
                "with (the name is the key-derivation salt)",
                f"pass --cookie-name {salt} (AuthJSToken(cookie_names=[...]))",
            )
            causes += 1
    if outcome is not None and not outcome.read and arrived is not None:
        ctx.add(
            "error",
            "cookie_not_read",
            subject,
            f"sessiongate does not read the cookie `{arrived}` as a session cookie",
            f"if it is the app's session cookie, pass --cookie-name {arrived} "
            "(AuthJSToken(cookie_names=[...]))",
        )
    elif refused_by_key and not causes:
        assert outcome is not None
        assert outcome.code is not None
        ctx.add("error", outcome.code, subject, explain_code(outcome.code))


def _name_hint(salt: str | None, arrived: str) -> str:
    if _family(salt) == "v5" and _family(arrived) == "v4":
        return (
            "an Auth.js v5 token in the NextAuth v4 cookie: a v4 reader (next-auth@4 getToken) "
            f"cannot decrypt v5 tokens; read it as v5 with cookie name `{salt}`"
        )
    return (
        "the cookie name is the key-derivation salt; this usually means the app issued it over "
        "HTTPS (`__Secure-` names) while this request came over HTTP, or the cookie was copied "
        "under another name"
    )


# ------------------------------------------------------------------------------------ JWS


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
            secret, algorithms=[alg], cache_size=0, leeway=_ANY_TIME, require_exp=False
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
        _shape_error(ctx, subject, token, err)
        return
    if arrived is not None and _family(arrived):
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
        _shape_error(ctx, subject, token, MalformedTokenError("not three segments"))
        return
    if alg not in HMAC_ALGORITHMS:
        _asymmetric(ctx, subject, token, header)
        return
    cut = truncation(token)
    if cut is not None:  # an HMAC shorter than its algorithm makes never verifies
        _shape_error(ctx, subject, token, MalformedTokenError("cut off"))
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
    outcome = _ask(ctx, app_jwt, value)
    _jws_refusal(ctx, subject, kind, index, alg, app_jwt, outcome, arrived)
    rules = app_jwt.rules if app_jwt is not None else ClaimRules.build()
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


def _asymmetric(ctx: Context, subject: str, token: str, header: dict[str, object]) -> None:
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
