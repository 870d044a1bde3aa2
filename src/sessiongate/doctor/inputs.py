"""What the user gave the doctor: the pasted text, the secrets, the app's settings.

* :func:`parse_input` works out what a pasted text is: a bare token, a ``Cookie:`` header (or
  its value), an ``Authorization: Bearer`` header, raw ``Name: value`` header lines, or a
  ``curl`` command line (``-H 'Cookie: …'``, ``-b '…'``).
* :class:`Setup` is the configuration of the app being diagnosed. It wraps the same
  :class:`~sessiongate.config.GateConfig` that ``sessiongate serve`` and
  :meth:`SessionGate.from_env` use (so the environment is read in one place), plus the two
  settings that object does not carry yet: custom cookie names and Better Auth's cookie cache.
* :func:`fingerprint` is what the doctor prints instead of a secret.
* :func:`token_kind` says which format a value looks like, so the right probe explains it.
  It only *routes*; every verdict comes from the real verifiers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._b64json import b64url_decode, json_object
from ..betterauth import CookieCacheStrategy
from ..config import GateConfig
from ..cookies import parse_cookie_header
from ..errors import ConfigurationError, SessionGateError

__all__ = [
    "FINGERPRINT_LABEL",
    "Presented",
    "Setup",
    "TokenKind",
    "fingerprint",
    "parse_input",
    "peek_header",
    "token_kind",
]

FINGERPRINT_LABEL = b"sessiongate fingerprint v1"

TokenKind = Literal["jwe", "jws", "better-auth-signed", "database", "better-auth-token", "unknown"]

_HEADER_LINE = re.compile(r"([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*:\s?(.*)\Z")
_COOKIE_PAIR = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+=\S")
_CURL_FLAG = re.compile(r"(^|\s)(-H|--header|-b|--cookie)(\s|$)")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_ALNUM32 = re.compile(r"[A-Za-z0-9]{32}\Z")
_SIGNATURE = re.compile(r"[A-Za-z0-9+/_-]{43}=?\Z")
_SIGNATURE_PREFIX = re.compile(r"[A-Za-z0-9+/_-]*\Z")


def fingerprint(secret: str | bytes) -> str:
    """What the doctor shows instead of a secret: ``fp:`` and 8 hex digits.

    HMAC-SHA-256 keyed with the secret over a fixed label, truncated. Two people can compare
    fingerprints to see whether they hold the same secret; a pasted fingerprint is not the
    SHA-256 of the secret (which precomputed tables index) and its 32 bits leave many secrets
    per value. It cannot protect a weak secret from a targeted dictionary: use a long random one.
    """
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    return "fp:" + hmac.new(key, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class Setup:
    """The app being diagnosed: a :class:`GateConfig` plus cookie names and the cookie cache.

    Attributes:
        config: secrets, JWT secrets, Better Auth secrets, database, JWKS (see GateConfig).
        cookie_names: the app's custom session cookie names (``cookies.sessionToken.name``).
        better_auth_cookie_cache: Better Auth's ``session.cookieCache`` strategy, when the
            service trusts the ``session_data`` cookie (``BetterAuthSession(cookie_cache=…)``).
    """

    config: GateConfig = field(default_factory=GateConfig)
    cookie_names: tuple[str, ...] = ()
    better_auth_cookie_cache: CookieCacheStrategy | None = None

    @classmethod
    def from_sources(
        cls,
        *,
        secrets: Sequence[str] = (),
        jwt_secrets: Sequence[str] = (),
        better_auth_secrets: Sequence[str] = (),
        cookie_names: Sequence[str] = (),
        database_url: str | None = None,
        schema: str | None = None,
        better_auth_cookie_cache: CookieCacheStrategy | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Setup:
        """Explicit values over ``environ`` (``None``: no environment at all, unlike GateConfig).

        The CLI passes ``os.environ``: then the doctor reads exactly the variables
        ``sessiongate serve`` reads.
        """
        config = GateConfig.from_sources(
            secrets=secrets,
            jwt_secrets=jwt_secrets,
            better_auth_secrets=better_auth_secrets,
            database_url=database_url,
            schema=schema,
            environ={} if environ is None else environ,
        )
        if better_auth_cookie_cache not in (None, "compact", "jwt", "jwe"):
            raise ConfigurationError("the cookie cache strategy must be compact, jwt or jwe")
        return cls(
            config, tuple(dict.fromkeys(n for n in cookie_names if n)), better_auth_cookie_cache
        )

    def labelled_secrets(self) -> list[tuple[str, int, str]]:
        """``(kind, index, secret)`` for every secret given: ``secret``, ``jwt``, ``better``."""
        c = self.config
        return [
            *(("secret", i, s) for i, s in enumerate(c.secrets)),
            *(("jwt", i, s) for i, s in enumerate(c.jwt_secrets)),
            *(("better", i, s) for i, s in enumerate(c.better_auth_secrets)),
        ]

    def label(self, kind: str, index: int) -> str:
        """``secret #2 (fp:…)``: how a finding names a secret."""
        values = {
            "secret": self.config.secrets,
            "jwt": self.config.jwt_secrets,
            "better": self.config.better_auth_secrets,
        }[kind]
        what = {"secret": "secret", "jwt": "JWT secret", "better": "Better Auth secret"}[kind]
        return f"{what} #{index + 1} ({fingerprint(values[index])})"

    def fingerprints(self) -> list[dict[str, Any]]:
        """The secrets tried, as the report lists them (never the secrets themselves)."""
        names = {"secret": "secret", "jwt": "jwt", "better": "better-auth"}
        return [
            {"kind": names[kind], "index": i + 1, "fingerprint": fingerprint(s)}
            for kind, i, s in self.labelled_secrets()
        ]


@dataclass(slots=True)
class Presented:
    """What the input carried: cookies (``None`` when no Cookie header), Authorization, a bare
    token. ``cookie_header`` keeps the joined Cookie header as sent, for the gate."""

    cookies: dict[str, str] | None = None
    cookie_header: str | None = None
    authorization: str | None = None
    bare: str | None = None


def _headers_from_curl(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\r?\n", " ", text)
    try:
        argv = shlex.split(joined)
    except ValueError:
        raise ConfigurationError(
            "could not parse the curl command line (unbalanced quotes?)"
        ) from None
    headers: list[tuple[str, str]] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        value: str | None = None
        if arg in ("-H", "--header", "-b", "--cookie") and i + 1 < len(argv):
            value = argv[i + 1]
            i += 1
        elif arg.startswith("-H") and len(arg) > 2:
            value, arg = arg[2:], "-H"
        i += 1
        if value is None:
            continue
        if arg in ("-b", "--cookie"):
            if "=" in value:
                headers.append(("cookie", value))
            continue
        match = _HEADER_LINE.match(value.strip())
        if match:
            headers.append((match.group(1).lower(), match.group(2).strip()))
    return headers


def _header_lines(text: str) -> list[tuple[str, str]]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) == 1 and lines[0].lower().startswith("bearer "):
        return []
    if not any(_HEADER_LINE.match(line) for line in lines):
        return []
    headers = []
    for line in lines:
        match = _HEADER_LINE.match(line)
        if match and not line.startswith(("GET ", "POST ", "HTTP/")):
            headers.append((match.group(1).lower(), match.group(2).strip()))
    return headers


def parse_input(text: str) -> Presented:
    """Work out what ``text`` is: a curl command, header lines, a cookie string or a token."""
    text = text.strip()
    if not text:
        raise ConfigurationError(
            "nothing to diagnose: pass a token, a Cookie header or - for stdin"
        )
    if text.split(None, 1)[0] == "curl" or _CURL_FLAG.search(text):
        headers = _headers_from_curl(text)
    else:
        headers = _header_lines(text)
    out = Presented()
    if headers:
        cookie_parts = [v for k, v in headers if k == "cookie"]
        if cookie_parts:
            out.cookie_header = "; ".join(cookie_parts)
            out.cookies = parse_cookie_header(out.cookie_header)
        out.authorization = next((v for k, v in headers if k == "authorization"), None)
        return out
    if text.lower().startswith("bearer "):
        out.authorization = text
    elif ";" in text or _COOKIE_PAIR.match(text):
        out.cookie_header = text
        out.cookies = parse_cookie_header(text)
    else:
        out.bare = text
    return out


def peek_header(token: str) -> dict[str, Any] | None:
    """The JSON object in a JOSE token's first segment, or ``None``. Describes, never trusts."""
    try:
        return json_object(b64url_decode(token.split(".", 1)[0], "header"), "header")
    except SessionGateError:
        return None


def token_kind(token: str) -> TokenKind:
    """Which probe explains ``token`` (already percent-decoded).

    A JOSE header decides first (``enc``: JWE, ``alg``: JWS), so a JWE cut short is still
    explained as a JWE; then the segment count; then the session-token shapes.
    """
    header = peek_header(token)
    if header is not None:
        if "enc" in header:
            return "jwe"
        if "alg" in header:
            return "jws"
    dots = token.count(".")
    if dots == 4:
        return "jwe"
    cut = token.rfind(".")
    if cut >= 1:
        before, sig = token[:cut], token[cut + 1 :]
        if _SIGNATURE.match(sig) or (_ALNUM32.match(before) and _SIGNATURE_PREFIX.match(sig)):
            return "better-auth-signed"
    if _UUID.match(token) or _HEX64.match(token):
        return "database"
    if _ALNUM32.match(token):
        return "better-auth-token"
    if dots == 2:
        return "jws"
    return "unknown"
