"""Credential extraction: Cookie header parsing, chunked session cookies, Bearer tokens.

No I/O and no framework imports. Parsing matches what the JS side does so that sessiongate
sees the same session Next.js sees:

* ``Cookie`` parsing follows the ``cookie`` package Auth.js vendors: pairs split on ``;``,
  names and values trimmed of spaces and tabs, one pair of surrounding double quotes removed,
  values percent-decoded when that succeeds (otherwise kept verbatim), and the **first** cookie
  of a name wins.
* Chunked cookies ``name.0``, ``name.1``, ... are joined in numeric order. A gap in the numbers
  is an error, not a silently shorter token.
* No downgrade: when a request carries a ``__Secure-`` (or ``__Host-``) session cookie of *any*
  name an authenticator reads, the plain names are not looked at
  (:meth:`RequestCredentials.session_cookies`). A plain cookie can be planted by a sibling
  subdomain or a plain-HTTP page; a ``__Secure-`` one only by a secure origin.
* Secure-only mode (``RequestCredentials(secure_only=True)``, ``SessionGate(secure_only=True)``):
  cookies whose name lacks the ``__Secure-`` / ``__Host-`` prefix are not seen at all, by any
  authenticator, so cookie tossing can never plant a cookie that is read.
* ``Authorization: Bearer <token>``: the value is percent-decoded like ``decodeURIComponent``.

Size caps are checked before anything is parsed or decrypted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from .errors import ConfigurationError, MalformedTokenError, TokenTooLargeError
from .types import Headers

__all__ = [
    "AUTHJS_COOKIE",
    "AUTHJS_COOKIE_NAMES",
    "BETTER_AUTH_COOKIE",
    "BETTER_AUTH_COOKIE_NAMES",
    "DEFAULT_MAX_COOKIE_HEADER_BYTES",
    "DEFAULT_MAX_TOKEN_BYTES",
    "HOST_PREFIX",
    "NEXTAUTH_COOKIE",
    "SECURE_PREFIX",
    "RequestCredentials",
    "chunked_bases",
    "cookie_name_list",
    "is_secure_name",
    "parse_cookie_header",
    "percent_decode",
    "secure_first",
    "session_cookie_candidates",
]

SECURE_PREFIX = "__Secure-"
HOST_PREFIX = "__Host-"
AUTHJS_COOKIE = "authjs.session-token"
NEXTAUTH_COOKIE = "next-auth.session-token"
BETTER_AUTH_COOKIE = "better-auth.session_token"

AUTHJS_COOKIE_NAMES: tuple[str, ...] = (
    SECURE_PREFIX + AUTHJS_COOKIE,
    AUTHJS_COOKIE,
    SECURE_PREFIX + NEXTAUTH_COOKIE,
    NEXTAUTH_COOKIE,
)
"""The session cookie names Auth.js v5 and NextAuth v4 use by default, ``__Secure-`` first: what
``AuthJSToken`` and ``DatabaseSession`` read unless given ``cookie_names``."""
BETTER_AUTH_COOKIE_NAMES: tuple[str, ...] = (SECURE_PREFIX + BETTER_AUTH_COOKIE, BETTER_AUTH_COOKIE)
"""Better Auth's default ``session_token`` cookie names (prefix ``better-auth``)."""

DEFAULT_MAX_COOKIE_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_TOKEN_BYTES = 32 * 1024
DEFAULT_MAX_CHUNKS = 64

_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_NAME_FORBIDDEN = frozenset(";=, \t\r\n")
_WS = " \t"


def percent_decode(value: str) -> str | None:
    """``decodeURIComponent``: ``None`` when the escapes are malformed or not UTF-8."""
    if "%" not in value:
        return value
    if _BAD_PERCENT.search(value):
        return None
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        return None


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header the way Auth.js does (first occurrence of a name wins)."""
    cookies: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.partition("=")
        if not sep:
            continue
        name = name.strip(_WS)
        if not name or name in cookies:
            continue
        value = value.strip(_WS)
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        if "%" in value:
            decoded = percent_decode(value)
            if decoded is not None:
                value = decoded
        cookies[name] = value
    return cookies


def _chunk_index(suffix: str) -> int | None:
    # canonical non-negative integers only: "0", "1", ... (no sign, no leading zeros)
    if not suffix.isdigit() or not suffix.isascii() or (len(suffix) > 1 and suffix[0] == "0"):
        return None
    return int(suffix)


def chunked_bases(cookies: Iterable[str]) -> frozenset[str]:
    """The names ``n`` for which some cookie ``n.<digits>`` exists (one pass over the names)."""
    bases = set()
    for key in cookies:
        base, dot, suffix = key.rpartition(".")
        if dot and suffix.isdigit():
            bases.add(base)
    return frozenset(bases)


def session_cookie_candidates(
    cookies: Mapping[str, str],
    name: str,
    *,
    max_chunks: int = DEFAULT_MAX_CHUNKS,
    max_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
    chunked: frozenset[str] | None = None,
) -> list[str]:
    """The values the session cookie ``name`` may carry, best first.

    Returns ``[]`` when neither ``name`` nor any ``name.N`` chunk is present; otherwise the
    unchunked value and/or the joined chunks. When both exist (a stale cookie left next to fresh
    chunks, or the other way round) both are returned so the caller can verify each: neither can
    shadow the other. Raises :class:`MalformedTokenError` for a gap in the chunk numbers and
    :class:`TokenTooLargeError` for too many chunks or too many bytes. ``chunked`` (from
    :func:`chunked_bases`) lets a caller skip the scan for names that have no chunks.
    """
    candidates: list[str] = []
    exact = cookies.get(name)
    if exact:
        if len(exact) > max_bytes:
            raise TokenTooLargeError("the session cookie is larger than allowed")
        candidates.append(exact)
    if chunked is not None and name not in chunked:
        return candidates
    prefix = name + "."
    chunks: dict[int, str] = {}
    for key, value in cookies.items():
        if key.startswith(prefix):
            index = _chunk_index(key[len(prefix) :])
            if index is None:
                continue
            if index >= max_chunks or len(chunks) >= max_chunks:
                raise TokenTooLargeError("the session cookie has too many chunks")
            chunks[index] = value
    if chunks:
        for expected in range(len(chunks)):
            if expected not in chunks:
                raise MalformedTokenError(
                    f"chunk .{expected} of the session cookie {name!r} is missing"
                )
        joined = "".join(chunks[i] for i in range(len(chunks)))
        if len(joined) > max_bytes:
            raise TokenTooLargeError("the session cookie is larger than allowed")
        if joined and joined != exact:
            candidates.append(joined)
    return candidates


def is_secure_name(name: str) -> bool:
    """Whether a browser sets a cookie of this name only from a secure origin (the ``__Secure-``
    and ``__Host-`` prefixes, matched case-sensitively as the JS libraries write them)."""
    return name.startswith((SECURE_PREFIX, HOST_PREFIX))


def secure_first(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` in lookup order: every ``__Secure-`` / ``__Host-`` name, then every plain one
    (duplicates dropped, order kept within each group)."""
    ordered = list(dict.fromkeys(names))
    secure = [n for n in ordered if is_secure_name(n)]
    return (*secure, *(n for n in ordered if not is_secure_name(n)))


def cookie_name_list(names: Iterable[str] | None, default: Sequence[str]) -> tuple[str, ...]:
    """``names`` validated, in lookup order (:func:`secure_first`); ``None`` means ``default``.

    The one meaning of ``cookie_names`` everywhere: the complete list of cookie names to read.
    To add a name to the standard ones, pass ``[*AUTHJS_COOKIE_NAMES, "my.session"]``; an empty
    list reads no cookie. Raises :class:`ConfigurationError` for a string (not a list) or an
    invalid name.
    """
    if names is None:
        return secure_first(default)
    if isinstance(names, (str, bytes)):
        raise ConfigurationError("cookie_names must be a list of cookie names, not one string")
    listed = tuple(names)
    for name in listed:
        if not isinstance(name, str) or not name or not _NAME_FORBIDDEN.isdisjoint(name):
            raise ConfigurationError(f"invalid cookie name {name!r}")
    return secure_first(listed)


class RequestCredentials:
    """What a request presents: its cookies and its ``Authorization`` header.

    Build it once per request with :meth:`from_headers`; every authenticator reads from it. The
    ``Cookie`` header is parsed on first access to :attr:`cookies`, so a request answered from
    the gate's memo never parses it. With ``secure_only=True`` the cookies whose names lack the
    ``__Secure-`` / ``__Host-`` prefix are dropped at that point: no authenticator sees them.
    """

    __slots__ = (
        "_chunked",
        "_cookies",
        "authorization",
        "cookie_header",
        "max_token_bytes",
        "secure_only",
    )

    def __init__(
        self,
        cookies: Mapping[str, str] | None = None,
        authorization: str | None = None,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        *,
        cookie_header: str | None = None,
        secure_only: bool = False,
    ) -> None:
        self.secure_only = secure_only
        if cookies is not None and secure_only:
            cookies = {k: v for k, v in cookies.items() if is_secure_name(k)}
        self._cookies = cookies
        self.cookie_header = cookie_header
        self.authorization = authorization
        self.max_token_bytes = max_token_bytes
        self._chunked: frozenset[str] | None = None

    def __repr__(self) -> str:
        auth = "<redacted>" if self.authorization else None
        return f"RequestCredentials(cookies={sorted(self.cookies)!r}, authorization={auth})"

    @property
    def cookies(self) -> Mapping[str, str]:
        """The parsed cookies (first occurrence of a name wins; secure names only when
        :attr:`secure_only`)."""
        cookies = self._cookies
        if cookies is None:
            header = self.cookie_header
            cookies = parse_cookie_header(header) if header else {}
            if self.secure_only:
                cookies = {k: v for k, v in cookies.items() if is_secure_name(k)}
            self._cookies = cookies
        return cookies

    def session_cookie(self, name: str) -> list[str]:
        """:func:`session_cookie_candidates` for ``name`` with this request's size cap."""
        cookies = self.cookies
        chunked = self._chunked
        if chunked is None:
            chunked = self._chunked = chunked_bases(cookies)
        if name not in cookies and name not in chunked:
            return []  # what session_cookie_candidates answers, without the call
        return session_cookie_candidates(
            cookies, name, max_bytes=self.max_token_bytes, chunked=chunked
        )

    def session_cookies(self, names: Sequence[str]) -> Iterator[tuple[str, list[str]]]:
        """The session cookies present under ``names`` (in :func:`secure_first` order), as
        ``(name, candidates)`` pairs in that order, found lazily: a caller that stops at the
        first cookie never looks at the others.

        When any ``__Secure-`` / ``__Host-`` name is present only such names are produced: a
        plain cookie, of the same family or another one, never competes with a secure one.
        Raises like :func:`session_cookie_candidates` (chunk gap, too large) when it reaches a
        broken cookie.
        """
        secure_found = False
        for name in names:
            secure = is_secure_name(name)
            if secure_found and not secure:
                return  # names are secure-first: no plain name once a __Secure- one is present
            values = self.session_cookie(name)
            if values:
                secure_found = secure_found or secure
                yield name, values

    @classmethod
    def from_headers(
        cls,
        headers: Headers,
        *,
        max_cookie_header_bytes: int = DEFAULT_MAX_COOKIE_HEADER_BYTES,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        secure_only: bool = False,
    ) -> RequestCredentials:
        """Extract credentials from a header mapping or from ``(name, value)`` pairs.

        Several ``Cookie`` headers (HTTP/2 may split them) are joined with ``"; "``.
        ``secure_only``: see the class docstring.
        """
        cookie_parts: list[str] = []
        authorization: str | None = None
        size = 0
        pairs: Iterable[tuple[Any, Any]] = (
            headers.items() if isinstance(headers, Mapping) else headers
        )
        for raw_name, raw_value in pairs:
            if isinstance(raw_name, bytes):
                lname = raw_name.lower()
                if lname == b"cookie":
                    size += len(raw_value)
                    if size > max_cookie_header_bytes:
                        raise TokenTooLargeError("the Cookie header is larger than allowed")
                    cookie_parts.append(raw_value.decode("latin-1"))
                elif lname == b"authorization" and authorization is None:
                    if len(raw_value) > max_token_bytes + 64:
                        raise TokenTooLargeError("the Authorization header is larger than allowed")
                    authorization = raw_value.decode("latin-1")
            else:
                lname_s = raw_name.lower()
                value = raw_value if isinstance(raw_value, str) else str(raw_value)
                if lname_s == "cookie":
                    size += len(value)
                    if size > max_cookie_header_bytes:
                        raise TokenTooLargeError("the Cookie header is larger than allowed")
                    cookie_parts.append(value)
                elif lname_s == "authorization" and authorization is None:
                    if len(value) > max_token_bytes + 64:
                        raise TokenTooLargeError("the Authorization header is larger than allowed")
                    authorization = value
        return cls(
            None,
            authorization,
            max_token_bytes,
            cookie_header="; ".join(cookie_parts) if cookie_parts else None,
            secure_only=secure_only,
        )

    def bearer_token(self) -> str | None:
        """The ``Bearer`` token, percent-decoded; ``None`` without one (another scheme is ignored).

        The scheme is matched case-insensitively (RFC 7235). ``Bearer`` with an empty value or a
        malformed percent-escape is :class:`MalformedTokenError`.
        """
        header = self.authorization
        if header is None:
            return None
        scheme, _, rest = header.strip(_WS).partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = rest.strip(_WS)
        if not token:
            raise MalformedTokenError("the Authorization header has an empty Bearer token")
        if len(token) > self.max_token_bytes:
            raise TokenTooLargeError("the bearer token is larger than allowed")
        decoded = percent_decode(token)
        if decoded is None:
            raise MalformedTokenError("the bearer token has a malformed percent-escape")
        return decoded
