"""Better Auth's access control (``better-auth/plugins/access``), ported rule for rule (pure).

A *statement* table names every resource and its actions (``{"user": ["create", "ban"]}``); a
:class:`Role` grants a subset; ``role.authorize(request, connector)`` judges a request such as
``{"user": ["ban"], "session": {"actions": ["list", "revoke"], "connector": "OR"}}``. The rules
are those of better-auth 1.7.25's ``access.mjs``:

* the top-level ``connector`` (default ``"AND"``): under ``AND`` every requested resource must be
  authorized (an unknown resource fails at once: ``You are not allowed to access resource: x``);
  under ``OR`` one authorized resource is enough and unknown ones are skipped;
* per resource, a list of actions means *all of them*; ``{"actions": [...], "connector": "OR"}``
  means *one of them* (any other connector value means ``AND``); an empty action list, or an
  object without an ``actions`` list, is never authorized;
* an empty request is never authorized (``Not authorized``);
* resources are visited in JavaScript's ``Object.entries`` order (integer-like keys first,
  ascending), so the error names the same resource the JS names.

Several roles (``"admin,user"``): :func:`has_permission` does what both plugins' ``hasPermission``
do: **one role must allow the whole request** (permissions do not combine across roles). The two
plugins split a role string differently; :func:`parse_roles_admin` and :func:`parse_roles_org`
each copy one.

Where this port is stricter than the JS: a grant that is not a list of strings (the JS would run
``String.includes`` on a string grant: a substring match) and a top-level connector other than
``AND``/``OR`` raise :class:`~sessiongate.errors.ConfigurationError`; a resource named like an
``Object.prototype`` member (``constructor``, ``__proto__``) that the statements do not list is
unknown here, where the JS throws a ``TypeError``: both refuse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from .errors import ConfigurationError

__all__ = [
    "ADMIN_DEFAULT_ROLES",
    "ADMIN_DEFAULT_STATEMENTS",
    "AccessControl",
    "AuthorizeResult",
    "Connector",
    "PermissionRequest",
    "Role",
    "RoleTable",
    "Statements",
    "has_permission",
    "js_entry_order",
    "parse_roles_admin",
    "parse_roles_org",
    "roles_from_json",
    "roles_from_mapping",
]

Statements = Mapping[str, Sequence[str]]
"""``{resource: [action, ...]}``: what an access control knows, or what a role grants."""

PermissionRequest = Mapping[str, Any]
"""``{resource: [actions] | {"actions": [...], "connector": "AND" | "OR"}}``."""

Connector = Literal["AND", "OR"]

_MAX_ARRAY_INDEX = 2**32 - 2  # the largest canonical array index of ECMAScript


@dataclass(frozen=True, slots=True)
class AuthorizeResult:
    """``{ success, error }`` as ``role.authorize`` returns it (``error`` only on failure)."""

    success: bool
    error: str | None = None


_NOT_AUTHORIZED = AuthorizeResult(False, "Not authorized")
_SUCCESS = AuthorizeResult(True)


def _grants(statements: Statements, what: str) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(statements, Mapping):
        raise ConfigurationError(f"{what} must be a mapping of resource -> list of actions")
    table: dict[str, tuple[str, ...]] = {}
    for resource, actions in statements.items():
        if not isinstance(resource, str):
            raise ConfigurationError(f"{what}: resource names must be strings")
        if isinstance(actions, (str, bytes)) or not isinstance(actions, Sequence):
            raise ConfigurationError(f"{what}[{resource!r}] must be a list of action names")
        if not all(isinstance(a, str) for a in actions):
            raise ConfigurationError(f"{what}[{resource!r}] must list strings")
        table[resource] = tuple(actions)
    return MappingProxyType(table)


def _is_array_index(key: str) -> bool:
    if not key.isdigit() or not key.isascii() or (len(key) > 1 and key[0] == "0"):
        return False
    return int(key) <= _MAX_ARRAY_INDEX


def js_entry_order(keys: Sequence[str]) -> list[str]:
    """Keys in ``Object.entries`` order: canonical array indices ascending, then the rest as
    inserted."""
    indices = sorted((k for k in keys if _is_array_index(k)), key=int)
    return indices + [k for k in keys if not _is_array_index(k)]


def _action_request(requested: Any) -> tuple[Sequence[Any], Connector]:
    """``normalizeActionRequest``: a list means AND; an object its ``actions``/``connector``."""
    if isinstance(requested, (list, tuple)):
        return requested, "AND"
    if not isinstance(requested, Mapping):
        raise ConfigurationError("Invalid access control request")
    actions, connector = requested.get("actions"), requested.get("connector")
    normalized: Connector = "OR" if connector == "OR" else "AND"
    if not isinstance(actions, (list, tuple)):
        return (), normalized
    return actions, normalized


def _resource_authorized(allowed: tuple[str, ...], actions: Sequence[Any], how: Connector) -> bool:
    if not actions:
        return False
    if how == "OR":
        return any(isinstance(a, str) and a in allowed for a in actions)
    return all(isinstance(a, str) and a in allowed for a in actions)


class Role:
    """What ``ac.newRole({...})`` returns: the grants and ``authorize``."""

    __slots__ = ("statements",)

    def __init__(self, statements: Statements) -> None:
        self.statements: Mapping[str, tuple[str, ...]] = _grants(statements, "role")

    def __repr__(self) -> str:
        return f"Role({dict(self.statements)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Role) and dict(self.statements) == dict(other.statements)

    def __hash__(self) -> int:
        return hash(frozenset(self.statements.items()))

    def authorize(
        self, request: PermissionRequest, connector: Connector = "AND"
    ) -> AuthorizeResult:
        """Judge ``request`` exactly as ``role.authorize(request, connector)`` does."""
        if connector not in ("AND", "OR"):
            raise ConfigurationError(f"connector must be 'AND' or 'OR', not {connector!r}")
        if not isinstance(request, Mapping):
            raise ConfigurationError("an access control request must be a mapping")
        authorized_any = False
        for resource in js_entry_order(list(request)):
            allowed = self.statements.get(resource)
            if allowed is None:
                if connector == "AND":
                    return AuthorizeResult(
                        False, f"You are not allowed to access resource: {resource}"
                    )
                continue
            actions, how = _action_request(request[resource])
            ok = _resource_authorized(allowed, actions, how)
            if ok:
                if connector == "OR":
                    return _SUCCESS
                authorized_any = True
            elif connector == "AND":
                return AuthorizeResult(False, f'unauthorized to access resource "{resource}"')
        return _SUCCESS if authorized_any else _NOT_AUTHORIZED


class AccessControl:
    """``createAccessControl(statements)``: the statement table and ``new_role``."""

    __slots__ = ("statements",)

    def __init__(self, statements: Statements) -> None:
        self.statements: Mapping[str, tuple[str, ...]] = _grants(statements, "statements")

    def __repr__(self) -> str:
        return f"AccessControl({dict(self.statements)!r})"

    def new_role(self, grants: Statements) -> Role:
        """``ac.newRole(grants)``. Like the JS, grants are not checked against the statements
        (the TypeScript types do that); a resource the role does not list is unknown to it."""
        return Role(grants)


RoleTable = Mapping[str, Role]
"""Role name -> :class:`Role`, like a plugin's ``roles`` option."""


def roles_from_mapping(roles: Mapping[str, Statements | Role]) -> RoleTable:
    """A role table from ``{"admin": {"user": ["ban"]}, ...}`` (the ``ac.newRole`` arguments)."""
    if not isinstance(roles, Mapping):
        raise ConfigurationError("roles must be a mapping of role name -> statements")
    table: dict[str, Role] = {}
    for name, grants in roles.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError("role names must be non-empty strings")
        table[name] = grants if isinstance(grants, Role) else Role(grants)
    return MappingProxyType(table)


def roles_from_json(text: str | bytes) -> RoleTable:
    """A role table from JSON text exported from the TypeScript config, e.g.
    ``JSON.stringify(Object.fromEntries(Object.entries(roles).map(([k, r]) =>
    [k, r.statements])))``. Read the file yourself: ``roles_from_json(path.read_text())``."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ConfigurationError("the role table is not valid JSON") from None
    return roles_from_mapping(data)


def parse_roles_admin(value: str | None, *, default_role: str = "user") -> tuple[str, ...]:
    """The admin plugin's reading of ``user.role``:
    ``(role || options.defaultRole || "user").split(",")``.

    No trimming and no dropping of empty names: ``"admin, user"`` is ``("admin", " user")``
    and only ``admin`` matches a role table. A missing or empty value is ``default_role``.
    """
    if not isinstance(value, str) or not value:
        value = default_role or "user"
    return tuple(value.split(","))


# JavaScript's String.prototype.trim: WhiteSpace and LineTerminator code points
_JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def parse_roles_org(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """The organization plugin's ``parseRoleList``: a string or a list, split on ``,``, each
    name trimmed as JavaScript's ``trim()`` does, empty names dropped."""
    if value is None:
        return ()
    parts = (value,) if isinstance(value, str) else tuple(value)
    names: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            continue
        for name in part.split(","):
            name = name.strip(_JS_WHITESPACE)
            if name:
                names.append(name)
    return tuple(names)


def has_permission(
    roles: Sequence[str],
    request: PermissionRequest,
    role_table: RoleTable,
    connector: Connector = "AND",
) -> bool:
    """Both plugins' ``hasPermission``: ``True`` when **one** of ``roles`` authorizes the whole
    ``request`` (no union of grants across roles); unknown role names are skipped.

    The plugins always judge with ``AND``; ``connector`` is there for routes that ask for
    ``OR`` explicitly.
    """
    for name in roles:
        role = role_table.get(name)
        if role is not None and role.authorize(request, connector).success:
            return True
    return False


ADMIN_DEFAULT_STATEMENTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "user": (
            "create",
            "list",
            "set-role",
            "ban",
            "impersonate",
            "impersonate-admins",
            "delete",
            "set-password",
            "set-email",
            "set-phone",
            "get",
            "update",
        ),
        "session": ("list", "revoke", "delete"),
    }
)
"""The admin plugin's ``defaultStatements`` (better-auth 1.7.25)."""

_ADMIN_AC = AccessControl(ADMIN_DEFAULT_STATEMENTS)

ADMIN_DEFAULT_ROLES: RoleTable = MappingProxyType(
    {
        # every statement but "impersonate-admins", as the JS ships adminAc
        "admin": _ADMIN_AC.new_role(
            {
                "user": tuple(
                    a for a in ADMIN_DEFAULT_STATEMENTS["user"] if a != "impersonate-admins"
                ),
                "session": ADMIN_DEFAULT_STATEMENTS["session"],
            }
        ),
        "user": _ADMIN_AC.new_role({"user": (), "session": ()}),
    }
)
"""The admin plugin's ``defaultRoles``: ``admin`` and ``user`` (which may do nothing)."""
