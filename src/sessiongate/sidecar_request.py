"""What ``/verify`` reads from a request: the facts in its headers and the requirement grammar.

No I/O. :data:`VERDICT_HEADERS` names every header the verdict depends on (what
:class:`Facts` reads plus the credentials the gate reads); the response memo keys on exactly
these (:mod:`sessiongate.response_memo`), so a header read here must be listed there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .guards import Requirement, RoleHierarchy

__all__ = [
    "MAX_REQUIREMENT_NAMES",
    "REQUIRE_PREFIX",
    "VERDICT_HEADERS",
    "BadRequest",
    "Facts",
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
_METHOD_HEADERS = (b"x-original-method", b"x-forwarded-method")
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


def requirements(
    roles: Iterable[str], permissions: Iterable[str], hierarchy: RoleHierarchy | None
) -> tuple[Requirement, ...]:
    """One :class:`Requirement` per clause; the user must meet every one of them."""
    role_clauses = _clauses(roles, MAX_REQUIREMENT_NAMES)
    budget = MAX_REQUIREMENT_NAMES - sum(map(len, role_clauses))
    permission_clauses = _clauses(permissions, budget)
    return tuple(
        Requirement(roles=c, roles_mode="any", hierarchy=hierarchy) for c in role_clauses
    ) + tuple(Requirement(permissions=c, permissions_mode="any") for c in permission_clauses)


@dataclass(slots=True)
class Facts:
    """What ``/verify`` reads from the request headers, in one pass."""

    size: int = 0
    cookie_sent: bool = False
    authorization_sent: bool = False
    roles: list[str] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    refused_header: bool = False
    methods: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    referers: list[str] = field(default_factory=list)
    host: str | None = None
    forwarded_host: list[str] = field(default_factory=list)
    forwarded_proto: list[str] = field(default_factory=list)
    original_url: str | None = None

    @classmethod
    def read(cls, headers: Iterable[tuple[bytes, bytes]]) -> Facts:
        """The facts of one request's headers (names in any case), and their total size."""
        facts = cls()
        size = 0
        for name, raw in headers:
            size += len(name) + len(raw)
            lname = name.lower()
            if lname == b"cookie":
                facts.cookie_sent = True
            elif lname == b"authorization":
                facts.authorization_sent = True
            elif lname.startswith(REQUIRE_PREFIX):
                if lname == b"x-require-role":
                    facts.roles.append(raw.decode("latin-1"))
                elif lname == b"x-require-permission":
                    facts.permissions.append(raw.decode("latin-1"))
                else:  # X-Require-Mode, a typo: never silently ignored
                    facts.refused_header = True
            elif lname in _METHOD_HEADERS:
                facts.methods.extend(m.strip() for m in raw.decode("latin-1").split(","))
            elif lname == b"origin":
                facts.origins.append(raw.decode("latin-1"))
            elif lname == b"referer":
                facts.referers.append(raw.decode("latin-1"))
            elif lname == b"host":
                facts.host = raw.decode("latin-1")
            elif lname == b"x-forwarded-host":
                facts.forwarded_host.append(raw.decode("latin-1"))
            elif lname == b"x-forwarded-proto":
                facts.forwarded_proto.append(raw.decode("latin-1"))
            elif lname == b"x-original-url":
                facts.original_url = raw.decode("latin-1")
        facts.size = size
        return facts
