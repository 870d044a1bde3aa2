"""Error codes in plain words, durations, and "this looks truncated".

The verifiers raise :class:`~sessiongate.errors.SessionGateError` subclasses with a stable
``code``; their messages belong to them. The doctor explains by *code* (:func:`explain_code`),
so a reworded message never changes the diagnosis. :func:`truncation` looks at the shape of a
value the verifiers refused as malformed and says when it looks cut off (a copy-paste that
lost its end, a proxy that dropped a cookie chunk).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from .._b64json import b64url_decode
from ..errors import SessionGateError
from ..jws import HMAC_ALGORITHMS
from ..testing import AUTHJS_CHUNK_SIZE, NEXTAUTH_CHUNK_SIZE
from .inputs import peek_header

__all__ = ["ago", "decode_hint", "explain_code", "hint_for_code", "iso", "truncation"]

_TEXT = {
    "missing_credentials": "no session cookie or Bearer token that the configured verifiers read",
    "malformed": "the value is not of the shape the verifier expects",
    "token_too_large": "it is larger than the size cap (checked before any crypto)",
    "algorithm_not_allowed": "its algorithm is not one the configured verifiers accept",
    "decryption_failed": "no configured key decrypts it (wrong secret or cookie name, or the "
    "token was altered or cut off)",
    "unknown_kid": "no configured secret decrypts it (wrong secret, or a token for another "
    "cookie name)",
    "invalid_signature": "no configured secret produced its signature (wrong secret, or the "
    "value was altered)",
    "expired": "it has expired",
    "not_yet_valid": "it is not valid yet (check the clocks)",
    "invalid_claim": "a claim is missing or of the wrong type (`exp`, the user id, `iss`/`aud`)",
    "session_not_found": "no session row holds this token (signed out, or another database)",
    "provider_unavailable": "the session database or JWKS could not be reached: sessiongate "
    "answers 503, never 401, so users are not logged out",
    "configuration_error": "sessiongate cannot be configured with what was given",
    "insufficient_scope": "the user lacks a required role or permission",
    "invalid_token": "the credential was refused",
    "not_a_session": "it decrypts, but it is an OAuth check value (state, PKCE code verifier or "
    "nonce) that Auth.js seals with the same secret, not a session",
    "revoked": "the session was revoked (its `jti`, or every session of the user issued before "
    "a time): sessiongate answers 401 until the user signs in again",
    "banned": "Better Auth's admin plugin bans this user (`banned`, no past `banExpires`): every "
    "session of the user is refused",
    "session_not_fresh": "the route needs a fresh session (Better Auth's `freshAge`) and this one "
    "was created too long ago",
    "impersonated_session": "an admin opened this session by impersonation (`impersonatedBy`) "
    "and the route refuses such sessions",
    "csrf_failed": "a cookie-authenticated write or WebSocket handshake came from an origin that "
    "is not trusted",
    "invalid_api_key": "no API key of this configuration matches (unknown, too short, another "
    "prefix, or its owner is gone)",
    "api_key_disabled": "the API key is disabled (`apikey.enabled` is false)",
    "api_key_expired": "the API key has expired (`apikey.expiresAt` has passed)",
    "usage_exceeded": "the API key has no requests left (`remaining` is 0 and it never refills)",
}

_HINTS = {
    "unknown_kid": "compare the secret fingerprints with the app's AUTH_SECRET; a v5 token "
    "only decrypts under the cookie name it was issued for",
    "invalid_signature": "compare the secret fingerprints with the secret the app signs with",
    "missing_credentials": "pass --cookie-name if the app configures cookies.sessionToken.name",
    "provider_unavailable": "check --database-url / DATABASE_URL and that the database is up",
    "expired": "sign in again; Auth.js re-issues the cookie on every /api/auth/session call",
    "not_a_session": "send the session cookie (authjs.session-token / next-auth.session-token), "
    "not the state, pkce.code_verifier or nonce cookie",
    "revoked": "the user signs in again; `sessiongate revoke --user ID --remove` (or `--jti`) "
    "deletes a revocation made by mistake",
    "banned": "lift the ban in Better Auth (admin.unbanUser) or wait for `banExpires`",
    "session_not_fresh": "sign in again, or raise the route's max_session_age",
    "csrf_failed": "add the front end's origin to trusted_origins (the Next.js app's URL)",
    "invalid_api_key": "check the header name and the key prefix the api-key plugin is "
    "configured with",
}


def explain_code(code: str) -> str:
    """What a verifier's error ``code`` means, in words."""
    return _TEXT.get(code, f"the verifier refused it ({code})")


def hint_for_code(code: str) -> str | None:
    """What to check next for ``code``, when there is something useful to say."""
    return _HINTS.get(code)


def ago(seconds: float) -> str:
    """A duration for people: ``45 s``, ``12 min``, ``3 h 5 min``, ``4 days``."""
    seconds = abs(int(seconds)) if math.isfinite(seconds) else 0
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def iso(ts: float) -> str:
    """UNIX seconds as ISO-8601 UTC (``2027-01-15T08:00:00Z``)."""
    try:
        return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return str(ts)


_JWE_TAG_CHARS = {"A256GCM": 22, "A256CBC-HS512": 43}
_CHUNK_SIZES = {AUTHJS_CHUNK_SIZE: "Auth.js", NEXTAUTH_CHUNK_SIZE: "NextAuth v4"}


def _b64_chars(nbytes: int) -> int:
    return math.ceil(nbytes * 4 / 3)


def _cut_header(segment: str) -> bool:
    """The first segment decodes to the start of a JSON object that never closes."""
    try:
        raw = b64url_decode(segment[: len(segment) - len(segment) % 4], "header")
    except SessionGateError:
        return False
    return raw.startswith(b'{"') and not raw.rstrip().endswith(b"}")


def truncation(token: str) -> str | None:
    """Why ``token`` looks cut off, or ``None`` when it does not.

    Judges the shape only: a JOSE header followed by too few segments, an authentication tag or
    signature shorter than its algorithm makes, a Better Auth signature under 44 characters, a
    value exactly one cookie chunk long, a half percent-escape at the end.
    """
    parts = token.split(".")
    header = peek_header(token)
    if header is None and _cut_header(parts[0]):
        return "its JOSE header stops in the middle of its JSON"
    if len(token) in _CHUNK_SIZES:
        return (
            f"it is exactly {len(token)} characters, the size of one {_CHUNK_SIZES[len(token)]} "
            "cookie chunk: the next chunk is missing"
        )
    if token.endswith("%") or (len(token) > 1 and token[-2] == "%"):
        return "it ends in half a percent-escape"
    if header is not None and "enc" in header:
        if len(parts) < 5:
            return f"it has {len(parts)} of the 5 segments of a JWE"
        want = _JWE_TAG_CHARS.get(str(header.get("enc")))
        if len(parts) == 5 and want is not None and len(parts[4]) < want:
            return f"its authentication tag is {len(parts[4])} of {want} characters"
        return None
    if header is not None and "alg" in header:
        if len(parts) < 3:
            return f"it has {len(parts)} of the 3 segments of a JWT"
        digest = HMAC_ALGORITHMS.get(str(header.get("alg")))
        if digest is not None and len(parts) == 3:
            want = _b64_chars({"sha256": 32, "sha384": 48, "sha512": 64}[digest])
            if len(parts[2]) < want:
                return f"its signature is {len(parts[2])} of {want} characters"
        return None
    if len(parts) >= 2 and 0 < len(parts[-1]) < 43 and parts[-1].rstrip("=").isascii():
        sig = parts[-1]
        if all(c.isalnum() or c in "+/_-=" for c in sig) and len(parts[-2]) >= 16:
            return f"its signature is {len(sig)} of 44 characters"
    return None


_SECRET_CODES = frozenset({"unknown_kid", "decryption_failed", "invalid_signature"})


def decode_hint(token: str, code: str) -> str | None:
    """What ``sessiongate decode`` adds to a refusal: truncation, or the wrong-secret reading."""
    if code != "expired":
        cut = truncation(token)
        if cut is not None:
            return f"this looks truncated: {cut}"
    if code in _SECRET_CODES:
        return explain_code(code)
    return None
