"""Which credentials the input carries, and what the cookie jar says about them.

Cookies are grouped in *families*: a session cookie name, its ``__Secure-`` twin, their chunks
(``name.0``, ``name.1``…) and, for Better Auth, the ``session_data`` cache cookies. The names
come from the app's authenticators (``AuthJSToken.cookie_names``, ``BetterAuthSession.
cookie_names``); other session-looking names are examined only when no known one is present.
Chunks are joined by :meth:`RequestCredentials.session_cookie`, the verifiers' own reader, with
the gate's caps; this module only reports what that reader did (joined, gap, stale value).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from ..authjs import AuthJSToken
from ..cookies import (
    AUTHJS_COOKIE,
    BETTER_AUTH_COOKIE,
    NEXTAUTH_COOKIE,
    SECURE_PREFIX,
    percent_decode,
    session_cookie_candidates,
)
from ..errors import SessionGateError
from ..sessions import BetterAuthSession
from .context import Context, Subject, Value

__all__ = ["bare_subject", "bearer_subject", "chunk_numbers", "cookie_subjects", "wire_cookie"]

Kind = Literal["authjs", "better-auth", "guess"]
_SAFE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&'()*+-./:<=>?@[]^_`{|}~"
)
_NOT_SESSION = ("csrf", "callback-url", "pkce", "state", "nonce", "session_data", "dont_remember")
_MAX_GUESSES = 8


def wire_cookie(name: str, value: str) -> str:
    """``name=value`` as a Cookie header carries it, percent-encoded when the value needs it
    (the cookie parser percent-decodes, so this round-trips)."""
    return f"{name}={value if _SAFE.issuperset(value) else quote(value, safe='')}"


def chunk_numbers(cookies: Mapping[str, str], name: str) -> list[int]:
    """The chunk numbers present for ``name``, sorted.

    A cookie counts as a chunk exactly when the verifiers' reader
    (:func:`session_cookie_candidates`) takes it for one: it is asked about each cookie alone.
    """
    found: list[int] = []
    prefix = name + "."
    for key in cookies:
        if not key.startswith(prefix):
            continue
        try:
            is_chunk = bool(session_cookie_candidates({key: "x"}, name, max_chunks=1 << 30))
        except SessionGateError:  # "chunk .0 is missing": it is a chunk, just not the first
            is_chunk = True
        if is_chunk:
            found.append(int(key[len(prefix) :]))
    return sorted(found)


@dataclass(frozen=True, slots=True)
class _Family:
    base: str
    kind: Kind
    companions: tuple[str, ...] = ()


def _present(cookies: Mapping[str, str], name: str) -> bool:
    return name in cookies or bool(chunk_numbers(cookies, name))


def _families(ctx: Context, cookies: Mapping[str, str]) -> list[_Family]:
    auth = ctx.app.find(AuthJSToken)
    names = auth.cookie_names if auth is not None else (AUTHJS_COOKIE, NEXTAUTH_COOKIE)
    bases = [n.removeprefix(SECURE_PREFIX) for n in names]
    bases += [n.removeprefix(SECURE_PREFIX) for n in ctx.setup.cookie_names]
    ba = ctx.app.find(BetterAuthSession)
    ba_base = ba.cookie_names[-1].removeprefix(SECURE_PREFIX) if ba else BETTER_AUTH_COOKIE
    ba_data = (
        ba.data_cookie_names[-1].removeprefix(SECURE_PREFIX)
        if ba is not None
        else "better-auth.session_data"
    )
    known = [_Family(b, "authjs") for b in dict.fromkeys(bases)]
    known.append(_Family(ba_base, "better-auth", (SECURE_PREFIX + ba_data, ba_data)))
    found = [
        f for f in known if _present(cookies, SECURE_PREFIX + f.base) or _present(cookies, f.base)
    ]
    if found:
        return found
    guesses: list[_Family] = []
    for name in cookies:
        base = name.removeprefix(SECURE_PREFIX)
        head, dot, tail = base.rpartition(".")
        if dot and tail.isdigit():
            base = head
        lowered = base.lower()
        if ("session" in lowered or "token" in lowered) and not any(
            word in lowered for word in _NOT_SESSION
        ):
            guesses.append(_Family(base, "guess"))
    return list(dict.fromkeys(guesses))[:_MAX_GUESSES]


def _family_cookies(cookies: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {
        k: v for k, v in cookies.items() if k in names or any(k.startswith(n + ".") for n in names)
    }


def _candidates(ctx: Context, cookies: Mapping[str, str], name: str, label: str) -> list[str]:
    """The values the verifiers read for ``name``, with findings about chunks."""
    header = "; ".join(wire_cookie(k, v) for k, v in cookies.items())
    numbers = chunk_numbers(cookies, name)
    try:
        values = ctx.app.credentials({"cookie": header}).session_cookie(name)
    except SessionGateError as err:
        if err.code == "token_too_large":
            ctx.add(
                "error",
                "too_large",
                label,
                f"the session cookie `{name}` is too large or "
                f"has too many chunks ({len(numbers)}): sessiongate refuses it before any "
                "crypto",
            )
            return []
        missing = [i for i in range(max(numbers, default=0) + 1) if i not in numbers]
        listed = ", ".join(f".{i}" for i in missing)
        ctx.add(
            "error",
            "chunk_missing",
            label,
            f"chunk {listed} is missing (found {', '.join(f'.{i}' for i in numbers)}): the "
            "session cannot be reassembled",
            "the browser or a proxy dropped a cookie; copy every cookie named "
            f"`{name}.N`, or check proxy header limits",
        )
        return []
    if numbers and cookies.get(name):
        ctx.add(
            "warning",
            "stale_chunks",
            label,
            f"both `{name}` and chunks `{name}.0…` are present: one of them is left over from "
            "an earlier session; @auth/core and next-auth concatenate them all and fail, "
            "sessiongate tries each separately",
        )
    if numbers:
        many = f"{len(numbers)} chunks" if len(numbers) > 1 else "1 chunk"
        ctx.add("info", "chunked", label, f"reassembled from {many}")
    if name in cookies and not cookies[name] and not numbers:
        return [""]
    return values


def cookie_subjects(ctx: Context, cookies: Mapping[str, str], header: str) -> Iterator[Subject]:
    """One subject per session cookie family present, each yielded right after its cookie-jar
    findings (chunks, stale values) so the caller examines it before the next family."""
    try:
        ctx.app.credentials({"cookie": header})
    except SessionGateError:
        ctx.add(
            "error",
            "too_large",
            "Cookie header",
            f"the Cookie header is {len(header)} characters: over the cap sessiongate checks "
            "before parsing it",
        )
        return
    families = _families(ctx, cookies)
    if not families:
        shown = ", ".join(f"`{n}`" for n in list(cookies)[:20]) or "none"
        expected = (SECURE_PREFIX + AUTHJS_COOKIE, AUTHJS_COOKIE, NEXTAUTH_COOKIE)
        ctx.add(
            "error",
            "no_session_cookie",
            "Cookie header",
            f"no session cookie among the cookies sent ({shown}); expected one of "
            + ", ".join(f"`{n}`" for n in (*expected, BETTER_AUTH_COOKIE)),
            "pass --cookie-name if the app configures cookies.sessionToken.name",
        )
        return
    ctx.seen_cookie_names += [f.base for f in families]
    for family in families:
        start = len(ctx.report.findings)
        secure, plain = SECURE_PREFIX + family.base, family.base
        jar = _family_cookies(cookies, (secure, plain, *family.companions))
        if family.kind == "better-auth":  # Better Auth reads the exact name, never chunks
            name = secure if cookies.get(secure) else plain
        else:
            name = secure if _present(cookies, secure) else plain
        label = f"cookie {name}"
        if _present(cookies, secure) and _present(cookies, plain):
            ctx.add(
                "warning",
                "secure_and_plain",
                label,
                f"both `{secure}` and `{plain}` are present; only `{secure}` is read "
                "(no downgrade to the plain cookie)",
            )
        headers = {"cookie": "; ".join(wire_cookie(k, v) for k, v in jar.items())}
        if family.kind == "better-auth":
            values = [cookies.get(name, "")]
        else:
            values = _candidates(ctx, jar, name, label)
        subject = Subject(label, headers, start=start)
        for value in values:
            alone = headers if len(values) == 1 else {"cookie": wire_cookie(name, value)}
            what = (
                ""
                if len(values) == 1
                else ("unchunked value" if value == cookies.get(name) else "joined chunks")
            )
            subject.values.append(Value(value, name, alone, what))
        yield subject


def bearer_subject(ctx: Context, authorization: str) -> Subject:
    """The ``Authorization`` header, read as the verifiers read it."""
    label = "Authorization header"
    headers = {"authorization": authorization}
    subject = Subject(label, headers, start=len(ctx.report.findings))
    scheme = authorization.strip().partition(" ")[0]
    try:
        token = ctx.app.credentials(headers).bearer_token()
    except SessionGateError as err:
        if err.code == "token_too_large":
            ctx.add("error", "too_large", label, "the Authorization header is over the size cap")
        elif not authorization.strip().partition(" ")[2].strip():
            ctx.add("error", "empty", label, "the Bearer value is empty")
        else:
            ctx.add("error", "malformed", label, "the Bearer value has a malformed %-escape")
        return subject
    if token is None:
        ctx.add("error", "not_bearer", label, f"the scheme is `{scheme[:20]}`, not Bearer")
        return subject
    if scheme != "Bearer":
        ctx.add(
            "warning",
            "bearer_case",
            label,
            f"`{scheme[:20]}` instead of `Bearer`: the JS getToken() ignores it "
            "(case-sensitive); sessiongate accepts it",
        )
    subject.values.append(Value(token, None, headers))
    return subject


def bare_subject(ctx: Context, text: str, cookie_name: str | None) -> Subject:
    """A bare token: a Bearer token, or the value of ``cookie_name`` when one was given."""
    token = percent_decode(text) or text
    if cookie_name:
        headers = {"cookie": wire_cookie(cookie_name, token)}
    else:
        headers = {"authorization": "Bearer " + token.replace("%", "%25")}
    return Subject("token", headers, [Value(token, cookie_name, headers)], len(ctx.report.findings))
