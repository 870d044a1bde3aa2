"""``sessiongate doctor``: say in plain words why a session token does (not) verify.

Input is whatever the user has at hand: a bare token, a ``Cookie:`` header (or just its value),
an ``Authorization: Bearer`` header, raw ``Name: value`` header lines, or a ``curl`` command
line (``-H 'Cookie: …'``, ``-b '…'``). With the secret(s) the user passes, the doctor tries
every explanation the JS libraries allow and reports findings:

* the format (Auth.js v5 / NextAuth v4 JWE, HS* or asymmetric JWS, database session token,
  Better Auth signed cookie or session token) and that a JWE cannot be read by a JWS library;
* the cookie name a v5 token was made for when it arrived under another one (the ``kid`` is
  matched across every candidate salt), v4-vs-v5 mismatches, missing chunks, stale cookies;
* which secret matches (``#2``: an old one) or that none does, and whether it decrypts as v4;
* expiry, with how long ago; missing ``exp`` or user id.

Secrets are never printed, only a fingerprint (first 8 hex digits of their SHA-256); token and
cookie values are never printed either, only cookie names and token lengths.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import re
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ._encoding import b64url_decode
from .authjs import v4_key, v5_key
from .cookies import (
    AUTHJS_COOKIE,
    BETTER_AUTH_COOKIE,
    DEFAULT_MAX_COOKIE_HEADER_BYTES,
    DEFAULT_MAX_TOKEN_BYTES,
    NEXTAUTH_COOKIE,
    SECURE_PREFIX,
    parse_cookie_header,
    percent_decode,
)
from .errors import ConfigurationError, SessionGateError
from .jwe import KEY_LENGTHS, CompactJWE, ContentKey, parse_compact
from .jws import HMAC_ALGORITHMS

__all__ = [
    "Finding",
    "Presented",
    "Report",
    "diagnose",
    "fingerprint",
    "lookup_database_token",
    "parse_input",
]

Level = Literal["ok", "info", "warning", "error"]

LEEWAY = 15
_STANDARD_NAMES = (
    SECURE_PREFIX + AUTHJS_COOKIE,
    AUTHJS_COOKIE,
    SECURE_PREFIX + NEXTAUTH_COOKIE,
    NEXTAUTH_COOKIE,
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_ALNUM32 = re.compile(r"[A-Za-z0-9]{32}\Z")
_B64SIG = re.compile(r"[A-Za-z0-9+/]{43}=\Z")
_HEADER_LINE = re.compile(r"([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*:\s?(.*)\Z")
_COOKIE_PAIR = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+=\S")


def fingerprint(secret: str) -> str:
    """What the doctor shows instead of a secret: ``sha256:`` and 8 hex digits."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:8]


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


@dataclass(slots=True)
class Report:
    """Every finding, in order, and the fingerprints of the secrets tried."""

    findings: list[Finding] = field(default_factory=list)
    secrets: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self, level: Level, code: str, subject: str, message: str, hint: str | None = None
    ) -> None:
        self.findings.append(Finding(level, code, message, subject, hint))

    @property
    def ok(self) -> bool:
        """At least one credential verified and nothing is an error."""
        return any(f.level == "ok" for f in self.findings) and not any(
            f.level == "error" for f in self.findings
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "secrets": self.secrets,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(slots=True)
class Presented:
    """What the input carried: cookies (``None`` when no Cookie header), Authorization, a bare
    token."""

    cookies: dict[str, str] | None = None
    cookie_header_bytes: int = 0
    authorization: str | None = None
    bare: str | None = None


# ------------------------------------------------------------------------------ input


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


def parse_input(text: str) -> Presented:
    """Work out what ``text`` is: a curl command, header lines, a cookie string or a token."""
    text = text.strip()
    if not text:
        raise ConfigurationError(
            "nothing to diagnose: pass a token, a Cookie header or - for stdin"
        )
    headers: list[tuple[str, str]] = []
    first = text.split(None, 1)[0]
    if first == "curl" or re.search(r"(^|\s)(-H|--header|-b|--cookie)(\s|$)", text):
        headers = _headers_from_curl(text)
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if any(_HEADER_LINE.match(line) for line in lines) and not (
            len(lines) == 1 and lines[0].lower().startswith("bearer ")
        ):
            for line in lines:
                match = _HEADER_LINE.match(line)
                if match and not line.startswith(("GET ", "POST ", "HTTP/")):
                    headers.append((match.group(1).lower(), match.group(2).strip()))
    out = Presented()
    if headers:
        cookie_parts = [v for k, v in headers if k == "cookie"]
        if cookie_parts:
            joined = "; ".join(cookie_parts)
            out.cookies = parse_cookie_header(joined)
            out.cookie_header_bytes = len(joined.encode("utf-8"))
        out.authorization = next((v for k, v in headers if k == "authorization"), None)
        return out
    if text.lower().startswith("bearer "):
        out.authorization = text
    elif ";" in text or _COOKIE_PAIR.match(text):
        out.cookies = parse_cookie_header(text)
        out.cookie_header_bytes = len(text.encode("utf-8"))
    else:
        out.bare = text
    return out


# ------------------------------------------------------------------------------ helpers


def _ago(seconds: float) -> str:
    seconds = abs(int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def _iso(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def _family(name: str) -> str | None:
    base = name.removeprefix(SECURE_PREFIX)
    if base == AUTHJS_COOKIE:
        return "v5"
    if base == NEXTAUTH_COOKIE:
        return "v4"
    return None


def _json_segment(segment: str) -> dict[str, Any] | None:
    try:
        value = json.loads(b64url_decode(segment, "segment"))
    except (SessionGateError, ValueError):
        return None
    return value if isinstance(value, dict) else None


class _Doctor:
    def __init__(
        self,
        report: Report,
        *,
        secrets: Sequence[str],
        jwt_secrets: Sequence[str],
        better_auth_secrets: Sequence[str],
        cookie_names: Sequence[str],
        now: float,
        database_url: str | None,
        schema: str | None,
    ) -> None:
        self.r = report
        self.secrets = list(secrets)
        self.jwt_secrets = list(jwt_secrets)
        self.better = list(better_auth_secrets)
        self.extra_names = list(cookie_names)
        self.now = now
        self.database_url = database_url
        self.schema = schema
        self.salts: list[str] = []

    def label(self, index: int, kind: str = "secret") -> str:
        values = {"secret": self.secrets, "jwt": self.jwt_secrets, "better": self.better}[kind]
        what = {"secret": "secret", "jwt": "JWT secret", "better": "Better Auth secret"}[kind]
        return f"{what} #{index + 1} ({fingerprint(values[index])})"

    # -------------------------------------------------------------------- cookies

    def cookies(self, cookies: Mapping[str, str], header_bytes: int) -> None:
        subject = "Cookie header"
        if header_bytes > DEFAULT_MAX_COOKIE_HEADER_BYTES:
            self.r.add(
                "error",
                "too_large",
                subject,
                f"the Cookie header is {header_bytes} bytes; the cap is "
                f"{DEFAULT_MAX_COOKIE_HEADER_BYTES}",
            )
            return
        names = list(cookies)
        bases: list[str] = []
        for n in (*_STANDARD_NAMES, *self.extra_names):
            b = n.removeprefix(SECURE_PREFIX)
            if b not in bases:
                bases.append(b)
        # custom session cookie names: anything that looks like one
        for n in names:
            base = re.sub(r"\.\d+\Z", "", n).removeprefix(SECURE_PREFIX)
            if base not in bases and ("session" in base or "token" in base.lower()):
                bases.append(base)
        self.salts = list(
            dict.fromkeys([*_STANDARD_NAMES, *self.extra_names, *names])
            | dict.fromkeys(SECURE_PREFIX + b for b in bases)
            | dict.fromkeys(bases)
        )
        found = False
        for base in bases:
            secure, plain = SECURE_PREFIX + base, base
            present = [n for n in (secure, plain) if self._has(cookies, n)]
            if len(present) == 2:
                self.r.add(
                    "warning",
                    "secure_and_plain",
                    f"cookie {plain}",
                    f"both `{secure}` and `{plain}` are present; only `{secure}` is read "
                    "(no downgrade to the plain cookie)",
                )
            for name in present[:1]:
                found = True
                value = self._assemble(cookies, name)
                if value is not None:
                    self.token(value, f"cookie {name}", arrived_as=name)
        if not found:
            shown = ", ".join(f"`{n}`" for n in names[:20]) or "none"
            self.r.add(
                "error",
                "no_session_cookie",
                subject,
                f"no session cookie among the cookies sent ({shown}); expected one of "
                + ", ".join(f"`{n}`" for n in (*_STANDARD_NAMES, BETTER_AUTH_COOKIE)),
                "pass --cookie-name if the app configures cookies.sessionToken.name",
            )

    @staticmethod
    def _has(cookies: Mapping[str, str], name: str) -> bool:
        return name in cookies or any(re.fullmatch(re.escape(name) + r"\.\d+", k) for k in cookies)

    def _assemble(self, cookies: Mapping[str, str], name: str) -> str | None:
        subject = f"cookie {name}"
        chunks: dict[int, str] = {}
        for key, value in cookies.items():
            m = re.fullmatch(re.escape(name) + r"\.(0|[1-9]\d*)", key)
            if m:
                chunks[int(m.group(1))] = value
        exact = cookies.get(name)
        if not chunks:
            return exact
        have = sorted(chunks)
        missing = [i for i in range(max(have) + 1) if i not in chunks]
        if exact:
            self.r.add(
                "warning",
                "stale_chunks",
                subject,
                f"both `{name}` and chunks `{name}.0…` are present: one of them is left over "
                "from an earlier session; @auth/core and next-auth concatenate them all and "
                "fail, sessiongate tries each separately",
            )
        if missing:
            listed = ", ".join(f".{i}" for i in missing)
            self.r.add(
                "error",
                "chunk_missing",
                subject,
                f"chunk {listed} is missing (found {', '.join(f'.{i}' for i in have)}): the "
                "session cannot be reassembled",
                "the browser or a proxy dropped a cookie; copy every cookie named "
                f"`{name}.N`, or check proxy header limits",
            )
            return exact
        self.r.add("info", "chunked", subject, f"reassembled from {len(have)} chunks")
        return "".join(chunks[i] for i in range(len(have)))

    # -------------------------------------------------------------------- tokens

    def token(self, token: str, subject: str, *, arrived_as: str | None) -> None:
        token = token.strip()
        if not token:
            self.r.add("error", "empty", subject, "the value is empty")
            return
        if len(token) > DEFAULT_MAX_TOKEN_BYTES:
            self.r.add(
                "error",
                "too_large",
                subject,
                f"the token is {len(token)} characters; the cap is {DEFAULT_MAX_TOKEN_BYTES}",
            )
            return
        dots = token.count(".")
        if dots == 4:
            self.jwe(token, subject, arrived_as)
        elif dots == 2 and _json_segment(token.split(".", 1)[0]) is not None:
            self.jws(token, subject, arrived_as)
        elif self._better_auth_signed(token):
            self.better_auth(token, subject)
        elif _UUID.match(token) or _HEX64.match(token):
            kind = "a UUID" if _UUID.match(token) else "64 hex characters"
            self.database(
                token,
                subject,
                f"this is an Auth.js / NextAuth database session token ({kind}), not a JWT: "
                "it names a row of the Session table",
                "authjs-prisma",
            )
        elif _ALNUM32.match(token):
            self.database(
                token,
                subject,
                "this looks like a Better Auth session token (32 characters), unsigned: it "
                "names a row of the `session` table",
                "better-auth",
            )
        else:
            self.r.add(
                "error",
                "unknown_format",
                subject,
                f"not a format sessiongate knows ({len(token)} characters, {dots} dots): not a "
                "JWE (5 segments), a JWT (3 segments), a UUID or a Better Auth token",
            )

    @staticmethod
    def _better_auth_signed(token: str) -> bool:
        decoded = percent_decode(token) or token
        cut = decoded.rfind(".")
        return cut >= 1 and bool(_B64SIG.match(decoded[cut + 1 :]))

    def better_auth(self, token: str, subject: str) -> None:
        from .betterauth import verify_signed_cookie

        self.r.add(
            "info",
            "better_auth_signed",
            subject,
            "this looks like a Better Auth signed cookie (`token.signature`, HMAC-SHA-256)",
        )
        inner: str | None = None
        for i, secret in enumerate(self.better):
            try:
                inner = verify_signed_cookie(token, secret)
            except SessionGateError:
                continue
            self.r.add(
                "info", "better_auth_secret", subject, f"signed with {self.label(i, 'better')}"
            )
            break
        else:
            if not self.better:
                matched = [i for i, s in enumerate(self.secrets) if self._signs(token, s)]
                if matched:
                    self.r.add(
                        "error",
                        "better_auth_secret_misplaced",
                        subject,
                        f"signed with {self.label(matched[0])}, which you passed as an Auth.js "
                        "secret: it is the Better Auth secret",
                        "pass it as --better-auth-secret (BETTER_AUTH_SECRET)",
                    )
                    return
                self.r.add(
                    "error",
                    "no_secret",
                    subject,
                    "no Better Auth secret to check the signature with",
                    "pass --better-auth-secret or set BETTER_AUTH_SECRET",
                )
            else:
                self.r.add(
                    "error",
                    "bad_signature",
                    subject,
                    f"the signature matches none of the {len(self.better)} Better Auth secret(s)",
                    "Better Auth signs with the first entry of BETTER_AUTH_SECRETS or "
                    "BETTER_AUTH_SECRET",
                )
            return
        self.database(inner, subject, None, "better-auth")

    @staticmethod
    def _signs(token: str, secret: str) -> bool:
        from .betterauth import verify_signed_cookie

        try:
            verify_signed_cookie(token, secret)
        except SessionGateError:
            return False
        return True

    def database(self, token: str, subject: str, what: str | None, default_schema: str) -> None:
        if what:
            self.r.add("info", "database_token", subject, what)
        if not self.database_url:
            self.r.add(
                "error",
                "needs_database",
                subject,
                "a database session token can only be checked against the session table: "
                "configure a database",
                f"pass --database-url and --schema (e.g. {default_schema})",
            )
            return
        schema = self.schema or default_schema
        try:
            claims = lookup_database_token(self.database_url, schema, token, now=self.now)
        except SessionGateError as err:
            level: Level = "error"
            self.r.add(level, f"database_{err.code}", subject, f"database lookup: {err.message}")
            return
        self.r.add(
            "ok",
            "valid",
            subject,
            f"database session of user `{claims.get('sub')}` (schema {schema}), valid until "
            f"{_iso(float(claims['exp']))}",
        )

    # -------------------------------------------------------------------- JWE

    def jwe(self, token: str, subject: str, arrived_as: str | None) -> None:
        head = token.split(".", 1)[0]
        header = _json_segment(head)
        if header is None:
            self.r.add(
                "error", "malformed", subject, "5 segments, but the first is not a JSON header"
            )
            return
        alg, enc, kid = header.get("alg"), header.get("enc"), header.get("kid")
        self.r.add(
            "info",
            "jwe",
            subject,
            f"this is a JWE (encrypted, alg {alg}, enc {enc}); a JWS library like PyJWT or "
            "jsonwebtoken.verify cannot read it: it must be decrypted",
        )
        if alg != "dir" or enc not in KEY_LENGTHS:
            self.r.add(
                "error",
                "algorithm_not_allowed",
                subject,
                f"NextAuth / Auth.js use alg `dir` with A256GCM or A256CBC-HS512, not {alg}/{enc}",
            )
            return
        if not self.secrets:
            self.r.add(
                "error",
                "no_secret",
                subject,
                "no secret to decrypt it with",
                "pass --secret (repeatable) or set AUTH_SECRET / NEXTAUTH_SECRET",
            )
            return
        try:
            jwe = parse_compact(token, max_bytes=DEFAULT_MAX_TOKEN_BYTES)
        except SessionGateError as err:
            self.r.add("error", err.code, subject, err.message)
            return
        salts = list(
            dict.fromkeys(
                [
                    *([arrived_as] if arrived_as else []),
                    *(self.salts or _STANDARD_NAMES),
                    *self.extra_names,
                ]
            )
        )
        if isinstance(kid, str):
            self._jwe_kid(jwe, kid, enc, subject, arrived_as, salts)
        else:
            self._jwe_no_kid(jwe, enc, subject, arrived_as, salts)

    def _jwe_kid(
        self,
        jwe: CompactJWE,
        kid: str,
        enc: str,
        subject: str,
        arrived_as: str | None,
        salts: list[str],
    ) -> None:
        matches: list[tuple[int, str, ContentKey]] = []
        for i, secret in enumerate(self.secrets):
            for salt in salts:
                key = v5_key(secret, salt, enc)
                if key.kid == kid:
                    matches.append((i, salt, key))
        if not matches:
            v4 = self._try_v4(jwe) if enc == "A256GCM" else None
            self.r.add(
                "error",
                "no_secret_matches",
                subject,
                f"this secret decrypts none of them: the token's kid matches none of the "
                f"{len(self.secrets)} secret(s) × {len(salts)} cookie names tried",
                "it was encrypted with another AUTH_SECRET, or for a cookie name not tried "
                "(pass --cookie-name)"
                + (
                    f"; it does decrypt as NextAuth v4 with {self.label(v4)}"
                    if v4 is not None
                    else ""
                ),
            )
            return
        exact = [m for m in matches if arrived_as is None or m[1] == arrived_as]
        i, salt, key = (exact or matches)[0]
        self.r.add(
            "info",
            "authjs_v5",
            subject,
            f"an Auth.js v5 token for the cookie name `{salt}`, encrypted with {self.label(i)}",
        )
        if i > 0:
            self.r.add(
                "warning",
                "old_secret",
                subject,
                f"it matches the old secret #{i + 1}, not the current one (#1): Auth.js "
                "encrypts new sessions with the first secret",
                "keep the old secret listed until these sessions expire",
            )
        blocked = not exact and arrived_as is not None
        if blocked:
            assert arrived_as is not None
            hint = (
                "the cookie name is the key-derivation salt; this usually means the app "
                "issued it over HTTPS (`__Secure-` names) while this request came over HTTP, "
                "or the cookie was copied under another name"
            )
            if _family(salt) == "v5" and _family(arrived_as) == "v4":
                hint = (
                    "an Auth.js v5 token in the NextAuth v4 cookie: a v4 reader (next-auth@4 "
                    "getToken) cannot decrypt v5 tokens; read it as v5 with cookie name "
                    f"`{salt}`"
                )
            self.r.add(
                "error",
                "wrong_cookie_name",
                subject,
                f"this is an Auth.js v5 token for cookie `{salt}` but it arrived as `{arrived_as}`",
                hint,
            )
        try:
            plaintext = key.decrypt(jwe)
        except SessionGateError:
            self.r.add(
                "error",
                "decryption_failed",
                subject,
                "the kid matches but the content does not decrypt: the token was altered",
            )
            return
        self.claims(plaintext, subject, blocked=blocked)

    def _try_v4(self, jwe: CompactJWE) -> int | None:
        for i, secret in enumerate(self.secrets):
            try:
                v4_key(secret).decrypt(jwe)
            except SessionGateError:
                continue
            return i
        return None

    def _jwe_no_kid(
        self,
        jwe: CompactJWE,
        enc: str,
        subject: str,
        arrived_as: str | None,
        salts: list[str],
    ) -> None:
        if enc == "A256GCM":
            i = self._try_v4(jwe)
            if i is not None:
                self.r.add(
                    "info",
                    "nextauth_v4",
                    subject,
                    f"a NextAuth v4 token (A256GCM, no kid), encrypted with {self.label(i)}",
                )
                if arrived_as is not None and _family(arrived_as) == "v5":
                    self.r.add(
                        "warning",
                        "v4_in_v5_cookie",
                        subject,
                        f"a NextAuth v4 token in the Auth.js v5 cookie `{arrived_as}`: "
                        "@auth/core cannot read it (v5 derives the key from the cookie name); "
                        "sessiongate accepts it",
                        "users who signed in before the v5 upgrade must sign in again",
                    )
                self.claims(v4_key(self.secrets[i]).decrypt(jwe), subject)
                return
        for i, secret in enumerate(self.secrets):
            for salt in salts:
                key = v5_key(secret, salt, enc)
                try:
                    plaintext = key.decrypt(jwe)
                except SessionGateError:
                    continue
                self.r.add(
                    "info",
                    "authjs_v5_no_kid",
                    subject,
                    f"Auth.js v5 key derivation (cookie name `{salt}`, {self.label(i)}) but "
                    "no kid in the header (a custom jwt.encode?)",
                )
                blocked = i > 0 or (arrived_as is not None and salt != arrived_as)
                if i > 0:
                    self.r.add(
                        "error",
                        "old_secret",
                        subject,
                        f"it matches secret #{i + 1}, but @auth/core tries only the first "
                        "secret for tokens without a kid",
                    )
                if arrived_as is not None and salt != arrived_as:
                    self.r.add(
                        "error",
                        "wrong_cookie_name",
                        subject,
                        f"this is an Auth.js v5 token for cookie `{salt}` but it arrived as "
                        f"`{arrived_as}`",
                    )
                self.claims(plaintext, subject, blocked=blocked)
                return
        self.r.add(
            "error",
            "no_secret_matches",
            subject,
            f"this secret decrypts none of them: neither as NextAuth v4 nor as Auth.js v5 "
            f"with {len(self.secrets)} secret(s) × {len(salts)} cookie names",
            "it was encrypted with another secret (NEXTAUTH_SECRET for v4, AUTH_SECRET for v5)",
        )

    # -------------------------------------------------------------------- JWS

    def jws(self, token: str, subject: str, arrived_as: str | None) -> None:
        head, payload_s, sig_s = token.split(".")
        header = _json_segment(head) or {}
        alg = header.get("alg")
        if arrived_as is not None and _family(arrived_as):
            self.r.add(
                "info",
                "jws_in_session_cookie",
                subject,
                "a signed JWT (JWS) in the NextAuth session cookie: the app replaced "
                "jwt.encode/decode (e.g. with jsonwebtoken)",
                f"verify it with BearerJWT(secret, cookie_names=[{arrived_as!r}])",
            )
        if alg == "none" or not isinstance(alg, str):
            self.r.add("error", "algorithm_not_allowed", subject, "an unsigned JWT (alg none)")
            return
        if alg not in HMAC_ALGORITHMS:
            iss = (_json_segment(payload_s) or {}).get("iss")
            self.r.add(
                "info",
                "jws_asymmetric",
                subject,
                f"a JWT signed with {alg} (public-key; kid {header.get('kid')!r}, issuer "
                f"{iss!r}, not verified): check it against the issuer's JWKS",
                "sessiongate serve --jwks-url URL --issuer ISS --audience AUD, or JWKSBearer",
            )
            return
        self.r.add(
            "info", "jws", subject, f"a JWT signed with {alg} (a JWS: signed, not encrypted)"
        )
        candidates = [("jwt", i, s) for i, s in enumerate(self.jwt_secrets)] + [
            ("secret", i, s) for i, s in enumerate(self.secrets) if s not in self.jwt_secrets
        ]
        if not candidates:
            self.r.add(
                "error",
                "no_secret",
                subject,
                "no secret to check the signature with",
                "pass --jwt-secret or --secret",
            )
            return
        try:
            signature = b64url_decode(sig_s, "signature")
        except SessionGateError:
            self.r.add("error", "malformed", subject, "the signature is not valid base64url")
            return
        signing_input = f"{head}.{payload_s}".encode("ascii", "replace")
        for kind, i, secret in candidates:
            mac = hmac.digest(secret.encode("utf-8"), signing_input, HMAC_ALGORITHMS[alg])
            if hmac.compare_digest(mac, signature):
                self.r.add("info", "jws_secret", subject, f"signed with {self.label(i, kind)}")
                try:
                    payload = b64url_decode(payload_s, "payload")
                except SessionGateError:
                    self.r.add("error", "malformed", subject, "the payload is not base64url")
                    return
                self.claims(payload, subject)
                return
        self.r.add(
            "error",
            "bad_signature",
            subject,
            f"the signature matches none of the {len(candidates)} secret(s) tried",
        )

    # -------------------------------------------------------------------- claims

    def claims(self, plaintext: bytes, subject: str, *, blocked: bool = False) -> None:
        try:
            claims = json.loads(plaintext)
        except ValueError:
            claims = None
        if not isinstance(claims, dict):
            self.r.add("error", "malformed", subject, "the content is not a JSON object")
            return
        problems = False
        if not any(isinstance(claims.get(k), (str, int)) for k in ("sub", "id", "userId")):
            self.r.add(
                "error",
                "no_user_id",
                subject,
                "no user id claim (`sub`, `id`, `userId`): sessiongate rejects it (invalid_claim)",
            )
            problems = True
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if exp is None:
            self.r.add(
                "warning",
                "no_exp",
                subject,
                "no `exp` claim: it never expires; sessiongate rejects it unless require_exp=False",
            )
            problems = True
        elif not isinstance(exp, (int, float)) or not math.isfinite(exp):
            self.r.add("error", "invalid_claim", subject, "`exp` is not a number")
            return
        elif exp <= self.now - LEEWAY:
            self.r.add(
                "error",
                "expired",
                subject,
                f"expired {_ago(self.now - exp)} ago (exp {_iso(exp)})",
                "sign in again; Auth.js re-issues the cookie on every /api/auth/session call",
            )
            return
        if isinstance(nbf, (int, float)) and nbf > self.now + LEEWAY:
            self.r.add(
                "error",
                "not_yet_valid",
                subject,
                f"not valid for another {_ago(nbf - self.now)} (nbf {_iso(nbf)}): check clocks",
            )
            return
        if problems:
            return
        assert isinstance(exp, (int, float))
        user = claims.get("sub", claims.get("id"))
        left = f"expires in {_ago(exp - self.now)} ({_iso(exp)})"
        if blocked:
            self.r.add(
                "info",
                "content_valid",
                subject,
                f"apart from that the content is valid: user `{user}`, {left}",
            )
        else:
            self.r.add("ok", "valid", subject, f"valid: user `{user}`, {left}")


def lookup_database_token(
    database_url: str, schema: str, token: str, *, now: float | None = None
) -> dict[str, Any]:
    """Look a database session token up (SQLite or PostgreSQL) and return its claims.

    Raises ``session_not_found``, ``expired`` or ``provider_unavailable``.
    """
    from .dbsession import check_token_shape, claims_from_record
    from .errors import ExpiredTokenError, SessionNotFoundError
    from .stores import open_store

    check_token_shape(token)
    store = open_store(database_url, schema=schema)

    async def run() -> Any:
        try:
            return await store.load(token)
        finally:
            await store.aclose()

    record = asyncio.run(run())
    if record is None:
        raise SessionNotFoundError()
    if record.is_expired(time.time() if now is None else now):
        raise ExpiredTokenError(f"the session expired at {_iso(record.expires_at)}")
    claims: dict[str, Any] = _plain(claims_from_record(record))
    return claims


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


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
) -> Report:
    """Diagnose ``text`` (a token, a Cookie header, header lines or a curl command line)."""
    report = Report()
    report.secrets = (
        [
            {"kind": "secret", "index": i + 1, "fingerprint": fingerprint(s)}
            for i, s in enumerate(secrets)
        ]
        + [
            {"kind": "jwt", "index": i + 1, "fingerprint": fingerprint(s)}
            for i, s in enumerate(jwt_secrets)
        ]
        + [
            {"kind": "better-auth", "index": i + 1, "fingerprint": fingerprint(s)}
            for i, s in enumerate(better_auth_secrets)
        ]
    )
    presented = parse_input(text)
    doctor = _Doctor(
        report,
        secrets=secrets,
        jwt_secrets=jwt_secrets,
        better_auth_secrets=better_auth_secrets,
        cookie_names=[cookie_name] if cookie_name else [],
        now=time.time() if now is None else now,
        database_url=database_url,
        schema=schema,
    )
    if presented.cookies is not None:
        doctor.cookies(presented.cookies, presented.cookie_header_bytes)
    if presented.authorization is not None:
        scheme, _, value = presented.authorization.strip().partition(" ")
        subject = "Authorization header"
        if scheme.lower() != "bearer":
            report.add("error", "not_bearer", subject, f"the scheme is `{scheme[:20]}`, not Bearer")
        else:
            if scheme != "Bearer":
                report.add(
                    "warning",
                    "bearer_case",
                    subject,
                    f"`{scheme}` instead of `Bearer`: the JS getToken() ignores it "
                    "(case-sensitive); sessiongate accepts it",
                )
            decoded = percent_decode(value.strip())
            doctor.salts = doctor.salts or list(_STANDARD_NAMES)
            doctor.token(decoded if decoded is not None else value, subject, arrived_as=None)
    if presented.bare is not None:
        doctor.salts = list(_STANDARD_NAMES)
        doctor.token(presented.bare, "token", arrived_as=cookie_name)
    if presented.cookies is None and presented.authorization is None and presented.bare is None:
        report.add("error", "no_credentials", "input", "no Cookie or Authorization header found")
    return report


def format_report(report: Report, *, color: bool = False) -> str:
    """The human-readable report (ANSI colours when ``color``)."""
    marks = {
        "ok": ("OK   ", "\033[32m"),
        "info": ("info ", "\033[36m"),
        "warning": ("WARN ", "\033[33m"),
        "error": ("ERROR", "\033[31m"),
    }
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
        mark, code = marks[f.level]
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
    return "\n".join(lines) + "\n"
