"""What ``/verify`` reads from a request: its header facts, as the policy's
:class:`~sessiongate.policy.RequestFacts`, and the requirement grammar (no I/O, no decision).

:data:`VERDICT_HEADERS` names every header the verdict depends on (what :class:`Facts` reads
plus the credentials the gate reads); the response memo (:mod:`sessiongate.sidecar.memo`) keys
on exactly these, so a header read here must be listed there. Whether a request is allowed is
decided by :func:`sessiongate.policy.decide`, as for every other adapter: this module only
translates the proxy's headers (``X-Original-Method``, ``X-Forwarded-*``, ``X-Original-URL``)
into the original request's facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from ..guards import Requirement
from ..origins import is_unsafe_method
from ..policy import UNKNOWN_METHOD, RequestFacts

__all__ = [
    "MAX_REQUIREMENT_NAMES",
    "REQUIRE_PREFIX",
    "VERDICT_HEADERS",
    "BadRequest",
    "Facts",
    "read_requirements",
    "request_facts",
    "requirements",
]

VERDICT_HEADERS = frozenset(
    {
        b"cookie",
        b"authorization",
        b"x-require-role",
        b"x-require-permission",
        b"x-original-method",
        b"x-forwarded-method",
        b"origin",
        b"referer",
        b"host",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"x-original-url",
    }
)
"""Every request header the sidecar's verdict depends on (lower-case, as ASGI sends them).
Any other ``X-Require-*`` header is refused (400)."""

MAX_REQUIREMENT_NAMES = 32
REQUIRE_PREFIX = b"x-require-"
_MODE_PREFIXES = ("any:", "all:")


class BadRequest(Exception):
    """A malformed or unsupported requirement (400)."""


def _clauses(values: Iterable[str], budget: int) -> list[tuple[str, ...]]:
    """``"a, b|c"`` -> ``[("a",), ("b", "c")]``: commas AND clauses, ``|`` ORs inside one.

    Refuses more than ``budget`` names as soon as it sees them (a header full of commas costs
    one pass, not a quadratic de-duplication).
    """
    clauses: list[tuple[str, ...]] = []
    for value in values:
        for item in value.split(","):
            names = tuple(dict.fromkeys(n for n in (p.strip() for p in item.split("|")) if n))
            if not names:
                continue
            budget -= len(names)
            if budget < 0:
                raise BadRequest("too many required roles or permissions")
            if any(n.lower().startswith(_MODE_PREFIXES) for n in names):
                raise BadRequest(
                    "there is no requirement mode: write alternatives as admin|billing "
                    "(a comma means all of them)"
                )
            if names not in clauses:
                clauses.append(names)
    return clauses


def requirements(roles: Iterable[str], permissions: Iterable[str]) -> tuple[Requirement, ...]:
    """One :class:`Requirement` per clause; the user must meet every one of them (the policy's
    role hierarchy applies)."""
    role_clauses = _clauses(roles, MAX_REQUIREMENT_NAMES)
    budget = MAX_REQUIREMENT_NAMES - sum(map(len, role_clauses))
    permission_clauses = _clauses(permissions, budget)
    return tuple(Requirement(roles=c, roles_mode="any") for c in role_clauses) + tuple(
        Requirement(permissions=c, permissions_mode="any") for c in permission_clauses
    )


_LISTED: dict[bytes, str] = {
    b"x-require-role": "roles",
    b"x-require-permission": "permissions",
    b"x-original-method": "methods",
    b"x-forwarded-method": "methods",
    b"origin": "origins",
    b"referer": "referers",
    b"x-forwarded-host": "forwarded_host",
    b"x-forwarded-proto": "forwarded_proto",
}
"""The headers whose every value counts: the list field of :class:`Facts` each one feeds."""


@dataclass(slots=True)
class Facts:
    """What ``/verify`` reads from the request headers, in one pass.

    A list field is an empty tuple when the request has no such header (no list is built for
    the headers most requests lack).
    """

    size: int = 0
    cookie_sent: bool = False
    authorization_sent: bool = False
    roles: Sequence[str] = ()
    permissions: Sequence[str] = ()
    refused_header: bool = False
    methods: Sequence[str] = ()
    origins: Sequence[str] = ()
    referers: Sequence[str] = ()
    host: str | None = None
    forwarded_host: Sequence[str] = ()
    forwarded_proto: Sequence[str] = ()
    original_url: str | None = None

    @classmethod
    def read(cls, headers: Iterable[tuple[bytes, bytes]]) -> Facts:
        """The facts of one request's headers (names in any case), and their total size."""
        facts = cls()
        size = 0
        listed: dict[str, list[str]] | None = None
        for name, raw in headers:
            size += len(name) + len(raw)
            lname = name.lower()
            if lname == b"cookie":
                facts.cookie_sent = True
            elif lname == b"authorization":
                facts.authorization_sent = True
            elif lname == b"host":
                facts.host = raw.decode("latin-1")
            elif lname in _LISTED:
                field_name = _LISTED[lname]
                if listed is None:
                    listed = {}
                values = listed.setdefault(field_name, [])
                value = raw.decode("latin-1")
                if field_name == "methods":
                    values.extend(m.strip() for m in value.split(","))
                else:
                    values.append(value)
            elif lname == b"x-original-url":
                facts.original_url = raw.decode("latin-1")
            elif lname.startswith(REQUIRE_PREFIX):  # X-Require-Mode, a typo: never ignored
                facts.refused_header = True
        facts.size = size
        if listed is not None:
            for field_name, values in listed.items():
                setattr(facts, field_name, values)
        return facts


def read_requirements(
    facts: Facts, query_string: bytes | None, *, use_query: bool
) -> tuple[Requirement, ...]:
    """The requirements of the ``X-Require-*`` headers and (under ``/verify``) the ``role`` /
    ``permission`` query parameters; :class:`BadRequest` for anything else."""
    if facts.refused_header:
        raise BadRequest(
            "only X-Require-Role and X-Require-Permission are read (there is no mode: "
            "write alternatives as admin|billing)"
        )
    roles, permissions = facts.roles, facts.permissions
    if not (roles or permissions or (use_query and query_string)):
        return ()
    if use_query and query_string:
        query = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, max_num_fields=64)
        roles, permissions = list(roles), list(permissions)
        for key, value in query:
            if key == "role":
                roles.append(value)
            elif key == "permission":
                permissions.append(value)
            else:
                raise BadRequest(
                    "/verify reads only the role and permission query parameters (there is "
                    "no mode: write alternatives as role=admin|billing)"
                )
    return requirements(roles, permissions)


_BLANK_METHOD = "?"
"""An empty method header value: not a known method, so it counts as a write."""
_AMBIGUOUS = "null"
"""The ``Origin`` / ``Referer`` passed on when a request carries several: like an opaque
origin, it is no usable origin (a write then needs another way to prove its origin: none)."""


def _original_method(facts: Facts, own_method: str) -> str:
    """The original request's method: the first unsafe one any source names, else a safe one,
    else :data:`~sessiongate.policy.UNKNOWN_METHOD`. Every value counts, so a method header a
    client adds can only turn the CSRF check on."""
    methods = facts.methods
    if own_method not in ("GET", "HEAD"):  # Envoy and direct callers keep the original one
        methods = [*methods, own_method]
    if not methods:
        return UNKNOWN_METHOD
    for method in methods:
        if is_unsafe_method(method):
            return method or _BLANK_METHOD
    return methods[0]


def _scheme_and_host(url: str) -> tuple[str, str | None]:
    """The scheme and authority of an absolute URL (``("", None)`` for anything else).

    Split by hand, not with ``urlsplit``: its results are cached per distinct URL, and a
    client-chosen ``X-Original-URL`` of up to the header cap would sit in that cache. The host
    is validated where it is used (:func:`~sessiongate.origins.normalize_origin`).
    """
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return "", None
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    return scheme, rest[:end]


def _single(values: Sequence[str]) -> str | None:
    if not values:
        return None
    return values[0] if len(values) == 1 else _AMBIGUOUS


def request_facts(scope: Mapping[str, Any], facts: Facts) -> RequestFacts:
    """The original request's :class:`~sessiongate.policy.RequestFacts`, from the proxy's
    headers (see the package docs: the own origin comes from ``X-Forwarded-*``, else
    ``X-Original-URL``, else the sidecar's own scheme and ``Host``)."""
    scheme: str = scope.get("scheme") or "http"
    host = facts.host
    if facts.original_url is not None:
        # an unusable X-Original-URL leaves no own origin: only trusted origins pass
        scheme, host = _scheme_and_host(facts.original_url)
    forwarded_host, forwarded_proto = facts.forwarded_host, facts.forwarded_proto
    return RequestFacts(  # positional: a named tuple builds faster so
        _original_method(facts, str(scope.get("method") or "GET").upper()),  # method
        scheme,
        host,
        _single(facts.origins),  # origin
        _single(facts.referers),  # referer
        ", ".join(forwarded_host) if forwarded_host else None,
        ", ".join(forwarded_proto) if forwarded_proto else None,
        False,  # websocket
        facts.cookie_sent or facts.authorization_sent,  # credential_sent
    )
