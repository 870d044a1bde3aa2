"""The typed user attached to each request, and how claims map onto it.

:class:`User` is duck-compatible with Starlette's ``BaseUser`` (``is_authenticated``,
``display_name``, ``identity``) without importing Starlette, so the core stays framework-free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NoReturn

from .access import parse_roles_admin
from .baplugins import timestamp
from .errors import InvalidClaimError, SessionGateError

__all__ = [
    "AnonymousUser",
    "ClaimMapping",
    "FrozenDict",
    "FrozenList",
    "SessionInfo",
    "User",
    "UserFactory",
    "freeze_claims",
    "thaw_claims",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


# ------------------------------------------------------------------------ read-only claims


class FrozenDict(dict[str, Any]):
    """A read-only ``dict``: a JSON object nested inside verified claims.

    Verified claims are cached and handed to every request that presents the same credential,
    so nothing handed out may be changed in place. A ``FrozenDict`` still is a ``dict`` for
    ``isinstance`` checks and ``json.dumps``; ``dict(value)`` or :func:`thaw_claims` give a
    mutable copy.
    """

    __slots__ = ()

    def _refuse(self) -> NoReturn:
        raise TypeError("verified claims are read-only: copy them first (thaw_claims)")

    def __setitem__(self, key: str, value: Any) -> NoReturn:
        self._refuse()

    def __delitem__(self, key: str) -> NoReturn:
        self._refuse()

    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def clear(self) -> NoReturn:
        self._refuse()

    def pop(self, *args: Any) -> NoReturn:
        self._refuse()

    def popitem(self) -> NoReturn:
        self._refuse()

    def setdefault(self, *args: Any) -> NoReturn:
        self._refuse()

    def update(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def __reduce__(self) -> tuple[Any, ...]:  # copy.deepcopy and pickle rebuild, never mutate
        return (FrozenDict, (dict(self),))


class FrozenList(list[Any]):
    """A read-only ``list``: a JSON array inside verified claims (see :class:`FrozenDict`).

    Still a ``list`` for ``isinstance``, ``==`` and ``json.dumps``; ``list(value)`` or
    :func:`thaw_claims` give a mutable copy.
    """

    __slots__ = ()

    def _refuse(self) -> NoReturn:
        raise TypeError("verified claims are read-only: copy them first (thaw_claims)")

    def __setitem__(self, index: Any, value: Any) -> NoReturn:
        self._refuse()

    def __delitem__(self, index: Any) -> NoReturn:
        self._refuse()

    def __iadd__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def __imul__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def append(self, value: Any) -> NoReturn:
        self._refuse()

    def extend(self, values: Any) -> NoReturn:
        self._refuse()

    def insert(self, index: Any, value: Any) -> NoReturn:
        self._refuse()

    def pop(self, *args: Any) -> NoReturn:
        self._refuse()

    def remove(self, value: Any) -> NoReturn:
        self._refuse()

    def clear(self) -> NoReturn:
        self._refuse()

    def sort(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._refuse()

    def reverse(self) -> NoReturn:
        self._refuse()

    def __reduce__(self) -> tuple[Any, ...]:  # copy.deepcopy and pickle rebuild, never mutate
        return (FrozenList, (list(self),))


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _is_container(value: object) -> bool:
    return isinstance(value, (dict, list, tuple, Mapping)) and not isinstance(
        value, (FrozenDict, FrozenList)
    )


def _freeze(value: Any) -> Any:
    if isinstance(value, (FrozenDict, FrozenList)):
        return value
    if isinstance(value, Mapping):
        return FrozenDict({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return FrozenList([_freeze(v) for v in value])
    return value


def freeze_claims(claims: Mapping[str, Any]) -> Mapping[str, Any]:
    """Claims no caller can change: a read-only mapping whose nested objects are
    :class:`FrozenDict` and whose arrays are :class:`FrozenList`.

    A ``MappingProxyType`` whose values are all scalars is returned as it is (no copy).
    """
    if isinstance(claims, MappingProxyType):
        for value in claims.values():  # runs once per new token: the common scalar case first
            if type(value) not in _SCALARS and _is_container(value):
                break
        else:
            return claims
    return MappingProxyType({k: _freeze(v) for k, v in claims.items()})


def thaw_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """A mutable deep copy of (frozen) claims: plain dicts and lists, as ``json.loads`` gives."""
    return {k: _thaw(v) for k, v in claims.items()}


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """The session row behind a database-backed user (Better Auth's ``session`` columns).

    Times are UNIX seconds (``None`` when the row or cache does not carry them). The session
    token is never part of it.

    Attributes:
        expires_at: ``expiresAt``.
        created_at / updated_at: ``createdAt`` (what Better Auth's ``freshAge`` counts from) and
            ``updatedAt``.
        ip_address / user_agent: ``ipAddress`` / ``userAgent`` recorded at sign-in.
        impersonated_by: the admin's user id when an admin opened the session by impersonation
            (admin plugin).
        active_organization_id / active_team_id: the organization plugin's active ones.
    """

    expires_at: float | None = None
    created_at: float | None = None
    updated_at: float | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    impersonated_by: str | None = None
    active_organization_id: str | None = None
    active_team_id: str | None = None

    @classmethod
    def from_claims(cls, session: Any) -> SessionInfo | None:
        """From the ``session`` claim a database session or cookie cache yields (else ``None``)."""
        if not isinstance(session, Mapping):
            return None
        return cls(
            expires_at=timestamp(session.get("expires")),
            created_at=timestamp(session.get("createdAt")),
            updated_at=timestamp(session.get("updatedAt")),
            ip_address=_text(session.get("ipAddress")),
            user_agent=_text(session.get("userAgent")),
            impersonated_by=_text(session.get("impersonatedBy")),
            active_organization_id=_text(session.get("activeOrganizationId")),
            active_team_id=_text(session.get("activeTeamId")),
        )


@dataclass(frozen=True, slots=True)
class User:
    """An authenticated user.

    Attributes:
        id: the user id (``sub``/``id``/``userId`` by default), always a string.
        email, name, image: profile fields when present.
        roles: every role found (``role`` string, ``roles`` list, nested paths...).
        permissions: every permission/scope found.
        claims: the raw verified claims (read-only mapping).
        source: which format proved the session: ``authjs-v5``, ``nextauth-v4``, ``jws``,
            ``database`` or ``better-auth``.
        expires_at: UNIX time the credential stops being valid, if known.
        session: the session row's columns (:class:`SessionInfo`) for database-backed sessions
            (Better Auth, Auth.js database sessions); ``None`` for tokens.
    """

    id: str
    email: str | None = None
    name: str | None = None
    image: str | None = None
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)
    source: str = "unknown"
    expires_at: float | None = None
    session: SessionInfo | None = field(default=None, compare=False)

    @property
    def impersonated_by(self) -> str | None:
        """The impersonating admin's user id when this session was opened by impersonation."""
        return None if self.session is None else self.session.impersonated_by

    @property
    def role(self) -> str | None:
        """The single role when the claims carry a ``role`` string, else the first sorted role."""
        raw = self.claims.get("role")
        if isinstance(raw, str):
            return raw
        return min(self.roles) if self.roles else None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.id

    @property
    def identity(self) -> str:
        return self.id

    @property
    def scopes(self) -> frozenset[str]:
        """Roles and permissions together: what Starlette's ``requires()`` checks."""
        return self.roles | self.permissions


@dataclass(frozen=True, slots=True)
class AnonymousUser:
    """No (valid) credential. ``error`` keeps the reason so a protected route can answer it."""

    error: SessionGateError | None = None

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def display_name(self) -> str:
        return ""

    @property
    def identity(self) -> str:
        return ""

    @property
    def id(self) -> None:
        return None

    @property
    def roles(self) -> frozenset[str]:
        return frozenset()

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset()

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset()


UserFactory = Callable[[Mapping[str, Any], str, "float | None"], Any]
"""``(claims, source, expires_at) -> user``: plug in your own user type."""


def _split_path(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def _lookup(claims: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = claims
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
        if value is None:
            return None
    return value


def _as_names(value: Any, *, split_spaces: bool, split_commas: bool = False) -> Iterable[str]:
    if isinstance(value, str):
        if split_commas:
            return (name for name in parse_roles_admin(value) if name) if value else ()
        return value.split() if split_spaces else ((value,) if value else ())
    if isinstance(value, (list, tuple)):
        return (v for v in value if isinstance(v, str) and v)
    return ()


@dataclass(frozen=True, slots=True)
class ClaimMapping:
    """Which claims feed which :class:`User` field.

    Each field lists claim paths tried in order; dotted paths reach into nested objects
    (``realm_access.roles``). For ``id``, ``email``, ``name`` and ``image`` the first present
    value wins; for ``roles`` and ``permissions`` every listed path contributes. A string
    permission claim is split on spaces (OAuth ``scope``); a string role is one role, except
    for Better Auth users (``source`` ``better-auth``) and with ``comma_roles=True`` (Better
    Auth's ``jwt`` plugin tokens): then it is split on ``,`` exactly as the admin plugin's
    ``hasPermission`` splits ``user.role`` (``"admin,user"`` is two roles; no trimming, so
    ``"admin, user"`` is ``admin`` and `` user``).

    ``id`` values that are numbers are turned into strings; a token without any id claim, or with
    an id of another type, is rejected with ``invalid_claim``.
    """

    id: tuple[str, ...] = ("sub", "id", "userId", "user_id", "uid")
    email: tuple[str, ...] = ("email",)
    name: tuple[str, ...] = ("name",)
    image: tuple[str, ...] = ("picture", "image")
    roles: tuple[str, ...] = ("role", "roles", "user.role", "realm_access.roles")
    permissions: tuple[str, ...] = ("permissions", "scope", "scp")
    comma_roles: bool = False
    _compiled: tuple[tuple[tuple[str, ...], ...], ...] = field(
        init=False, repr=False, compare=False, default=()
    )

    def __post_init__(self) -> None:
        for name in ("id", "email", "name", "image", "roles", "permissions"):
            paths = getattr(self, name)
            if isinstance(paths, str):
                paths = (paths,)
                object.__setattr__(self, name, paths)
            if not all(isinstance(p, str) and p for p in paths):
                from .errors import ConfigurationError

                raise ConfigurationError(f"ClaimMapping.{name} must be claim names")
        compiled = tuple(
            tuple(_split_path(p) for p in getattr(self, name))
            for name in ("id", "email", "name", "image", "roles", "permissions")
        )
        object.__setattr__(self, "_compiled", compiled)

    def _first_str(self, claims: Mapping[str, Any], paths: tuple[tuple[str, ...], ...]) -> Any:
        for path in paths:
            value = claims.get(path[0]) if len(path) == 1 else _lookup(claims, path)
            if value is not None:
                return value
        return None

    def user_id(self, claims: Mapping[str, Any]) -> str | None:
        """The user id :meth:`build_user` would use, or ``None`` when the claims have none."""
        raw_id = self._first_str(claims, self._compiled[0])
        if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or raw_id == "":
            return None
        return str(raw_id)

    def build_user(
        self, claims: Mapping[str, Any], source: str, expires_at: float | None = None
    ) -> User:
        """Build a :class:`User` from verified claims (raises ``invalid_claim`` without an id)."""
        _, email_p, name_p, image_p, roles_p, perms_p = self._compiled
        user_id = self.user_id(claims)
        if user_id is None:
            raise InvalidClaimError("the token carries no user id claim")
        roles: set[str] = set()
        commas = self.comma_roles or source == "better-auth"
        for path in roles_p:
            roles.update(_as_names(_lookup(claims, path), split_spaces=False, split_commas=commas))
        perms: set[str] = set()
        for path in perms_p:
            perms.update(_as_names(_lookup(claims, path), split_spaces=True))
        email = self._first_str(claims, email_p)
        name = self._first_str(claims, name_p)
        image = self._first_str(claims, image_p)
        return User(
            id=user_id,
            email=email if isinstance(email, str) else None,
            name=name if isinstance(name, str) else None,
            image=image if isinstance(image, str) else None,
            roles=frozenset(roles),
            permissions=frozenset(perms),
            claims=claims if isinstance(claims, MappingProxyType) else MappingProxyType(claims),
            source=source,
            expires_at=expires_at,
            session=SessionInfo.from_claims(claims.get("session")),
        )
