"""Pure role and permission checks, shared by every adapter (no framework imports, no I/O).

A guard takes a user (a :class:`~sessiongate.user.User`, an
:class:`~sessiongate.user.AnonymousUser`, or any object with ``is_authenticated``, ``roles`` and
``permissions``) and either returns it or raises:

* an anonymous user -> the error it carries (``AnonymousUser(error=...)``: ``expired``,
  ``decryption_failed``, ``provider_unavailable``...) or :class:`MissingCredentialsError` (401);
* an authenticated user without the required roles/permissions -> :class:`AuthorizationError`
  (403, ``insufficient_scope``).

Roles may form a hierarchy: ``RoleHierarchy({"admin": ["moderator"], "moderator": ["user"]})``
makes ``admin`` imply ``moderator`` and ``user``. Permissions are compared as given.

Better Auth sessions add three checks (:class:`Requirement` fields, helpers below):
``max_session_age`` (``freshAge``: 403 ``session_not_fresh``), ``allow_impersonated=False``
(403 ``impersonated_session``) and ``access`` (the access-control statements of
:mod:`sessiongate.access`: 403 ``insufficient_scope``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from .access import ADMIN_DEFAULT_ROLES, Connector, PermissionRequest, RoleTable, has_permission
from .errors import (
    AuthorizationError,
    ConfigurationError,
    ImpersonatedSessionError,
    MissingCredentialsError,
    SessionGateError,
    SessionNotFreshError,
)
from .user import freeze_claims

__all__ = [
    "AUTHENTICATED",
    "AccessRequirement",
    "Mode",
    "Requirement",
    "RoleHierarchy",
    "effective_roles",
    "effective_scopes",
    "has_permissions",
    "has_roles",
    "require_access",
    "require_authenticated",
    "require_fresh",
    "require_not_impersonated",
    "require_permissions",
    "require_roles",
    "require_scopes",
]

Mode = Literal["all", "any"]
"""``"all"``: every listed name is needed. ``"any"``: one of them is enough."""

U = TypeVar("U")


class RoleHierarchy:
    """Which roles imply which others, closed transitively.

    ``RoleHierarchy({"admin": ["moderator"], "moderator": ["user"]})``: an ``admin`` also holds
    ``moderator`` and ``user``. Cycles are allowed (the roles then imply each other).
    """

    __slots__ = ("_closure",)

    def __init__(self, implies: Mapping[str, Iterable[str]]) -> None:
        graph: dict[str, frozenset[str]] = {}
        for role, implied in implies.items():
            if not isinstance(role, str) or not role:
                raise ConfigurationError("RoleHierarchy keys must be non-empty role names")
            if isinstance(implied, str):
                raise ConfigurationError(
                    f"RoleHierarchy[{role!r}] must be a list of role names, not a string"
                )
            names = frozenset(implied)
            if not all(isinstance(n, str) and n for n in names):
                raise ConfigurationError(f"RoleHierarchy[{role!r}] must list non-empty role names")
            graph[role] = names
        closure: dict[str, frozenset[str]] = {}
        for role in graph:
            seen: set[str] = set()
            stack = [role]
            while stack:
                current = stack.pop()
                for nxt in graph.get(current, ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
            seen.discard(role)
            closure[role] = frozenset(seen)
        self._closure = closure

    def implied_by(self, role: str) -> frozenset[str]:
        """Every role that ``role`` implies (not including itself)."""
        return self._closure.get(role, frozenset())

    def expand(self, roles: Iterable[str]) -> frozenset[str]:
        """``roles`` plus every role they imply."""
        held = set(roles)
        for role in tuple(held):
            held |= self._closure.get(role, frozenset())
        return frozenset(held)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RoleHierarchy):
            return NotImplemented
        return self._closure == other._closure

    def __hash__(self) -> int:
        return hash(frozenset(self._closure.items()))

    def __repr__(self) -> str:
        pairs = ", ".join(f"{k!r}: {sorted(v)!r}" for k, v in sorted(self._closure.items()))
        return f"RoleHierarchy({{{pairs}}})"


def _names(values: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    names = tuple(values)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigurationError(f"{what} must be one or more non-empty names")
    return names


def _check_mode(mode: str) -> None:
    if mode not in ("all", "any"):
        raise ConfigurationError(f"mode must be 'all' or 'any', not {mode!r}")


def _attr_set(user: Any, name: str) -> frozenset[str]:
    value = getattr(user, name, None)
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset((value,))
    return frozenset(v for v in value if isinstance(v, str))


def effective_roles(user: Any, hierarchy: RoleHierarchy | None = None) -> frozenset[str]:
    """The user's roles, expanded through ``hierarchy`` when given."""
    roles = _attr_set(user, "roles")
    return hierarchy.expand(roles) if hierarchy is not None else roles


def effective_scopes(user: Any, hierarchy: RoleHierarchy | None = None) -> frozenset[str]:
    """Expanded roles plus permissions: what ``scope["auth"].scopes`` and ``Security`` check."""
    return effective_roles(user, hierarchy) | _attr_set(user, "permissions")


def _satisfied(held: frozenset[str], wanted: tuple[str, ...], mode: Mode) -> bool:
    if mode == "any":
        return any(w in held for w in wanted)
    return all(w in held for w in wanted)


def _missing_message(kind: str, wanted: tuple[str, ...], mode: Mode) -> str:
    listed = ", ".join(sorted(wanted))
    if mode == "any" and len(wanted) > 1:
        return f"one of these {kind} is required: {listed}"
    return f"required {kind}: {listed}"


@dataclass(frozen=True, slots=True)
class AccessRequirement:
    """A Better Auth access-control request a route demands, judged as the admin plugin's
    ``hasPermission`` does: the user's ``adminUserIds`` membership, else **one** of the user's
    roles (``default_role`` when it has none) must authorize the whole ``request`` in
    ``roles`` (default: the admin plugin's ``admin``/``user``)."""

    request: PermissionRequest
    roles: RoleTable = field(default_factory=lambda: ADMIN_DEFAULT_ROLES)
    connector: Connector = "AND"
    default_role: str = "user"
    admin_user_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.request, Mapping) or not self.request:
            raise ConfigurationError("an access requirement needs a non-empty request")
        if self.connector not in ("AND", "OR"):
            raise ConfigurationError("connector must be 'AND' or 'OR'")
        object.__setattr__(self, "admin_user_ids", frozenset(self.admin_user_ids))
        object.__setattr__(self, "request", freeze_claims(self.request))  # a copy, read-only
        probe = next(iter(self.roles.values()), None)  # a malformed request fails here, once
        if probe is not None:
            probe.authorize(self.request, self.connector)

    def allows(self, user: Any) -> bool:
        """Whether ``user`` (authenticated) may do what :attr:`request` asks."""
        if getattr(user, "id", None) in self.admin_user_ids:
            return True
        roles = sorted(_attr_set(user, "roles")) or [self.default_role]
        return has_permission(roles, self.request, self.roles, self.connector)


def _session_attr(user: Any, name: str) -> Any:
    return getattr(getattr(user, "session", None), name, None)


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a route demands of its user, validated once at construction.

    ``Requirement()`` only demands an authenticated user. ``roles`` (all, or ``roles_mode="any"``)
    are compared after expanding the user's roles through the role hierarchy; ``permissions``
    as given; every one of ``scopes`` must be a role (expanded) or a permission of the user,
    which is what FastAPI's ``Security(..., scopes=[...])`` and Starlette's ``requires()`` mean.
    ``hierarchy``, when set, takes precedence over the one :meth:`check` is given.

    Better Auth sessions: ``max_session_age`` (seconds; Better Auth's ``freshAge``) refuses a
    session whose ``createdAt`` is that old or older, or unknown; ``allow_impersonated=False``
    refuses a session with ``impersonatedBy``; ``access`` an :class:`AccessRequirement`.
    ``clock`` gives the time for ``max_session_age``.

    :meth:`check` is the one role/permission/scope check of sessiongate: every adapter and the
    ``require_*`` / ``has_*`` helpers below go through it.
    """

    roles: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    roles_mode: Mode = "all"
    permissions_mode: Mode = "all"
    hierarchy: RoleHierarchy | None = None
    scopes: tuple[str, ...] = ()
    max_session_age: float | None = None
    allow_impersonated: bool = True
    access: AccessRequirement | None = None
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_mode(self.roles_mode)
        _check_mode(self.permissions_mode)
        for name in ("roles", "permissions", "scopes"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            value = tuple(value)
            if value:
                _names(value, name)
            object.__setattr__(self, name, value)
        if self.hierarchy is not None and not isinstance(self.hierarchy, RoleHierarchy):
            raise ConfigurationError("Requirement.hierarchy must be a RoleHierarchy")
        age = self.max_session_age
        if age is not None and (isinstance(age, bool) or not isinstance(age, (int, float))):
            raise ConfigurationError("max_session_age must be a number of seconds")
        if age is not None and not age > 0:
            raise ConfigurationError("max_session_age must be positive")
        if self.access is not None and not isinstance(self.access, AccessRequirement):
            raise ConfigurationError("Requirement.access must be an AccessRequirement")

    def unmet(self, user: Any, hierarchy: RoleHierarchy | None = None) -> SessionGateError | None:
        """Why ``user`` fails this requirement (the error to answer), or ``None`` if it passes.

        An anonymous user fails with the error it carries (``expired``, ``provider_unavailable``
        ...) or :class:`MissingCredentialsError`; an authenticated one lacking a role,
        permission or scope with :class:`AuthorizationError` (403 ``insufficient_scope``).
        """
        if getattr(user, "is_authenticated", False) is not True:
            error = getattr(user, "error", None)
            return error if isinstance(error, SessionGateError) else MissingCredentialsError()
        if self.hierarchy is not None:
            hierarchy = self.hierarchy
        if self.roles and not _satisfied(
            effective_roles(user, hierarchy), self.roles, self.roles_mode
        ):
            return AuthorizationError(_missing_message("role(s)", self.roles, self.roles_mode))
        if self.permissions and not _satisfied(
            _attr_set(user, "permissions"), self.permissions, self.permissions_mode
        ):
            return AuthorizationError(
                _missing_message("permission(s)", self.permissions, self.permissions_mode)
            )
        if self.scopes:
            held = effective_scopes(user, hierarchy)
            missing = tuple(s for s in self.scopes if s not in held)
            if missing:
                return AuthorizationError(_missing_message("scope(s)", missing, "all"))
        if self.max_session_age is None and self.allow_impersonated and self.access is None:
            return None
        return self._session_unmet(user)

    def _session_unmet(self, user: Any) -> SessionGateError | None:
        if self.max_session_age is not None:
            created = _session_attr(user, "created_at")
            # Better Auth: stale when now - createdAt >= freshAge; an unknown createdAt is
            # stale here (the JS compares NaN and lets it through)
            if not isinstance(created, (int, float)) or (
                self.clock() - created >= self.max_session_age
            ):
                return SessionNotFreshError()
        if not self.allow_impersonated and _session_attr(user, "impersonated_by"):
            return ImpersonatedSessionError()
        if self.access is not None and not self.access.allows(user):
            return AuthorizationError("the user's role does not allow this action")
        return None

    def check(self, user: U, hierarchy: RoleHierarchy | None = None) -> U:
        """Return ``user`` when it satisfies every requirement; raise 401/403/503 otherwise."""
        error = self.unmet(user, hierarchy)
        if error is not None:
            raise error
        return user


AUTHENTICATED = Requirement()
"""The requirement of a route that only needs a signed-in user."""


def require_authenticated(user: U) -> U:
    """Return ``user`` if authenticated; otherwise raise why not (401, or 503 on an outage)."""
    return AUTHENTICATED.check(user)


def has_roles(
    user: Any,
    roles: Iterable[str],
    *,
    mode: Mode = "all",
    hierarchy: RoleHierarchy | None = None,
) -> bool:
    """Whether an *authenticated* user holds the roles (``False`` for anonymous users)."""
    requirement = Requirement(roles=_names(roles, "roles"), roles_mode=mode)
    return requirement.unmet(user, hierarchy) is None


def has_permissions(user: Any, permissions: Iterable[str], *, mode: Mode = "all") -> bool:
    """Whether an *authenticated* user holds the permissions (``False`` for anonymous users)."""
    requirement = Requirement(permissions=_names(permissions, "permissions"), permissions_mode=mode)
    return requirement.unmet(user) is None


def require_roles(
    user: U,
    roles: Iterable[str],
    *,
    mode: Mode = "all",
    hierarchy: RoleHierarchy | None = None,
) -> U:
    """Return ``user`` if it holds ``roles`` (all or any); raise 401/403 otherwise."""
    return Requirement(roles=_names(roles, "roles"), roles_mode=mode).check(user, hierarchy)


def require_permissions(user: U, permissions: Iterable[str], *, mode: Mode = "all") -> U:
    """Return ``user`` if it holds ``permissions`` (all or any); raise 401/403 otherwise."""
    requirement = Requirement(permissions=_names(permissions, "permissions"), permissions_mode=mode)
    return requirement.check(user)


def require_scopes(
    user: U,
    scopes: Iterable[str],
    *,
    hierarchy: RoleHierarchy | None = None,
) -> U:
    """Every scope must be a role (hierarchy-expanded) or a permission of the user.

    This is what FastAPI's ``Security(..., scopes=[...])`` and Starlette's ``requires()`` mean.
    An empty ``scopes`` only requires authentication.
    """
    return Requirement(scopes=tuple(scopes)).check(user, hierarchy)


def require_fresh(user: U, max_age: float = 86400, *, now: float | None = None) -> U:
    """Return ``user`` if its session was created less than ``max_age`` seconds ago (Better
    Auth's ``freshAge``, default one day); raise 403 ``session_not_fresh`` otherwise."""
    clock = time.time if now is None else (lambda: now)
    return Requirement(max_session_age=max_age, clock=clock).check(user)


def require_not_impersonated(user: U) -> U:
    """Return ``user`` unless an admin opened its session by impersonation (403
    ``impersonated_session``)."""
    return Requirement(allow_impersonated=False).check(user)


def require_access(
    user: U,
    request: PermissionRequest,
    roles: RoleTable = ADMIN_DEFAULT_ROLES,
    *,
    connector: Connector = "AND",
) -> U:
    """Return ``user`` if one of its roles authorizes ``request`` in ``roles`` (see
    :class:`AccessRequirement`); raise 401/403 otherwise."""
    access = AccessRequirement(request, roles, connector)
    return Requirement(access=access).check(user)
