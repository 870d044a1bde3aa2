"""Explain JWE session tokens: NextAuth v4 and Auth.js v5 (both encs, with or without kid).

Two kinds of verifier take part, both :class:`~sessiongate.authjs.AuthJSToken`:

* the app's (the gate's), asked about the value exactly as it arrived: its answer is the
  decision this module explains;
* *readers*, built with **one** candidate secret each, tolerant of any clock and not requiring
  ``exp``, asked under every candidate cookie name (the v5 HKDF salt). They answer "which
  secret, for which cookie name, decrypts this", so the doctor can say "secret #2 (an old
  one)" or "made for ``__Secure-authjs.session-token``".

The content is then judged by :mod:`sessiongate.doctor.claims` with the app verifier's own
:class:`~sessiongate.claims.ClaimRules`. Nothing here derives a key, decrypts or compares a
``kid`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._tokencache import DecodedToken
from ..authjs import AuthJSToken
from ..claims import ClaimRules
from ..cookies import DEFAULT_MAX_TOKEN_BYTES
from ..errors import SessionGateError
from ..jwe import KEY_LENGTHS, parse_compact
from .app import Outcome
from .claims import explain_claims
from .context import ANY_TIME, Context, Value, family
from .explain import explain_code, truncation
from .inputs import peek_header
from .report import Level

__all__ = ["probe_jwe"]

_KEY_CODES = frozenset({"unknown_kid", "decryption_failed"})


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
        reader = AuthJSToken([secret], cache_size=0, leeway=ANY_TIME, require_exp=False)
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
        ctx.shape_error(subject, token, err)
        return
    outcome = ctx.ask(app_auth, value)
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
    rules = app_auth.rules if app_auth is not None else ClaimRules()
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
    if match.decoded is None and not has_kid:  # the content is refused: v4 or v5 is unknown
        ctx.add("info", "decrypts", subject, f"it decrypts with {label}")
    elif match.decoded is not None and match.decoded.source == "nextauth-v4":
        ctx.add(
            "info",
            "nextauth_v4",
            subject,
            f"a NextAuth v4 token (A256GCM, no kid), encrypted with {label}",
        )
        if family(arrived) == "v5":
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
    if family(salt) == "v5" and family(arrived) == "v4":
        return (
            "an Auth.js v5 token in the NextAuth v4 cookie: a v4 reader (next-auth@4 getToken) "
            f"cannot decrypt v5 tokens; read it as v5 with cookie name `{salt}`"
        )
    return (
        "the cookie name is the key-derivation salt; this usually means the app issued it over "
        "HTTPS (`__Secure-` names) while this request came over HTTP, or the cookie was copied "
        "under another name"
    )
