"""The typed user attached to each request, and how claims map onto it.

:class:`User` is duck-compatible with Starlette's ``BaseUser`` (``is_authenticated``,
``display_name``, ``identity``) without importing Starlette, so the core stays framework-free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import InvalidClaimError, SessionGateError

__all__ = ["AnonymousUser", "ClaimMapping", "User", "UserFactory"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


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


def _as_names(value: Any, *, split_spaces: bool) -> Iterable[str]:
    if isinstance(value, str):
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
    permission claim is split on spaces (OAuth ``scope``); a string role is one role.

    ``id`` values that are numbers are turned into strings; a token without any id claim, or with
    an id of another type, is rejected with ``invalid_claim``.
    """

    id: tuple[str, ...] = ("sub", "id", "userId", "user_id", "uid")
    email: tuple[str, ...] = ("email",)
    name: tuple[str, ...] = ("name",)
    image: tuple[str, ...] = ("picture", "image")
    roles: tuple[str, ...] = ("role", "roles", "user.role", "realm_access.roles")
    permissions: tuple[str, ...] = ("permissions", "scope", "scp")
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

    def build_user(
        self, claims: Mapping[str, Any], source: str, expires_at: float | None = None
    ) -> User:
        """Build a :class:`User` from verified claims (raises ``invalid_claim`` without an id)."""
        id_paths, email_p, name_p, image_p, roles_p, perms_p = self._compiled
        raw_id = self._first_str(claims, id_paths)
        if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or raw_id == "":
            raise InvalidClaimError("the token carries no user id claim")
        roles: set[str] = set()
        for path in roles_p:
            roles.update(_as_names(_lookup(claims, path), split_spaces=False))
        perms: set[str] = set()
        for path in perms_p:
            perms.update(_as_names(_lookup(claims, path), split_spaces=True))
        email = self._first_str(claims, email_p)
        name = self._first_str(claims, name_p)
        image = self._first_str(claims, image_p)
        return User(
            id=str(raw_id),
            email=email if isinstance(email, str) else None,
            name=name if isinstance(name, str) else None,
            image=image if isinstance(image, str) else None,
            roles=frozenset(roles),
            permissions=frozenset(perms),
            claims=claims if isinstance(claims, MappingProxyType) else MappingProxyType(claims),
            source=source,
            expires_at=expires_at,
        )
