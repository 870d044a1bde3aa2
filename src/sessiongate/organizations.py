"""Better Auth's organization plugin: memberships, organization roles, and the org guards.

A route names the organization it acts on (a path parameter, a header, or, when the route says
so, the session's ``activeOrganizationId``); :class:`OrgGuard` then looks up the user's
``member`` row for *that* organization through the session store (one round trip on a miss,
a bounded TTL cache after that) and judges it. ``activeOrganizationId`` is never proof of
membership: Better Auth only checks it when it is *set*, and a member removed since keeps it.

Roles and permissions are Better Auth's (better-auth 1.7.25,
``plugins/organization/{roles,permission,has-permission}.mjs``):

* ``member.role`` holds one role or several separated by commas; names are trimmed and empty
  ones dropped (``parseRoleList``, here :func:`~sessiongate.access.parse_roles_org`);
* :func:`require_org_role` passes when the member holds one of the roles named;
* :func:`require_org_permission` passes when **one** of the member's roles allows the whole
  request (``hasPermissionFn``: permissions never combine across roles), against the default
  roles ``owner``/``admin``/``member`` with the statements the plugin ships
  (:data:`DEFAULT_ROLE_GRANTS`), or the app's own ``roles``; with
  ``dynamic_roles=True`` the organization's ``organizationRole`` rows are merged in exactly as
  ``hasPermission`` does (a row's statements are added to the role of that name).

The framework adapters are :mod:`sessiongate.org_asgi` (FastAPI, Starlette) and
:mod:`sessiongate.org_flask`; the sidecar's ``X-User-Org-Role`` reads
:meth:`OrgDirectory.membership`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from ._sync import BackgroundLoop, default_loop
from .access import AccessControl, Role, has_permission, parse_roles_org
from .errors import AuthorizationError, ConfigurationError, ProviderUnavailableError
from .stores.ba_plugins import PluginNames, dialect_of, fetch, fetch_sync

__all__ = [
    "DEFAULT_ROLE_GRANTS",
    "DEFAULT_STATEMENTS",
    "Membership",
    "OrgDirectory",
    "OrgGuard",
    "OrgSelector",
    "active_org",
    "org_from_header",
    "org_from_path",
    "require_org_permission",
    "require_org_role",
]

DEFAULT_STATEMENTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "organization": ("update", "delete"),
        "member": ("create", "update", "delete"),
        "invitation": ("create", "cancel"),
        "team": ("create", "update", "delete"),
        "ac": ("create", "read", "update", "delete"),
    }
)
"""``defaultStatements`` of ``plugins/organization/access/statement.mjs``."""

DEFAULT_ROLE_GRANTS: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "owner": DEFAULT_STATEMENTS,
        "admin": MappingProxyType(
            {
                "organization": ("update",),
                "invitation": ("create", "cancel"),
                "member": ("create", "update", "delete"),
                "team": ("create", "update", "delete"),
                "ac": ("create", "read", "update", "delete"),
            }
        ),
        "member": MappingProxyType(
            {"organization": (), "member": (), "invitation": (), "team": (), "ac": ("read",)}
        ),
    }
)
"""``ownerAc``, ``adminAc`` and ``memberAc`` of the same file: the roles Better Auth uses
when the app passes no ``roles``."""

_ORG_ID = re.compile(r"[\x21-\x7e]{1,255}\Z")
_EMPTY_ROLES: Mapping[str, Role] = {}


def default_roles() -> dict[str, Role]:
    """The plugin's default role table, built with :class:`~sessiongate.access.AccessControl`."""
    ac = AccessControl({k: list(v) for k, v in DEFAULT_STATEMENTS.items()})
    return {
        name: ac.new_role({k: list(v) for k, v in grants.items()})
        for name, grants in DEFAULT_ROLE_GRANTS.items()
    }


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's ``member`` row in one organization, as judged.

    Attributes:
        organization_id / user_id: whom it is about.
        roles: the member's role names, split as Better Auth splits them.
        role_table: the roles a permission check consults (defaults or the app's, with the
            organization's dynamic roles merged in).
    """

    organization_id: str
    user_id: str
    roles: tuple[str, ...]
    role_table: Mapping[str, Role] = field(default_factory=lambda: _EMPTY_ROLES, repr=False)
    memo: dict[object, bool] = field(default_factory=dict, repr=False, compare=False)
    """Verdicts of guards on this (cached) membership, keyed by guard: a hit is a lookup."""

    def allows(
        self, request: Mapping[str, Sequence[str]], connector: Literal["AND", "OR"] = "AND"
    ) -> bool:
        """``hasPermissionFn``: one of the member's roles authorises the whole request."""
        return bool(has_permission(self.roles, request, self.role_table, connector))


def _merge_dynamic(
    base: Mapping[str, Role], rows: Sequence[tuple[Any, Any]], statements: Mapping[str, Any]
) -> dict[str, Role]:
    """``hasPermission`` with ``dynamicAccessControl``: each ``organizationRole`` row's JSON
    statements are added (set union per resource) to the role of that name."""
    table = dict(base)
    ac = AccessControl(dict(statements))
    for role, text in rows:
        try:
            parsed = json.loads(text) if isinstance(text, (str, bytes)) else text
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(a, str) for a in v)
            for k, v in parsed.items()
        ):
            # Better Auth answers 500 for such a row: undecidable, never a grant
            raise ProviderUnavailableError("an organizationRole row holds invalid permissions")
        current = table.get(str(role))
        merged: dict[str, list[str]] = {
            k: list(v) for k, v in (current.statements if current is not None else {}).items()
        }
        for resource, actions in parsed.items():
            merged[resource] = list(dict.fromkeys([*merged.get(resource, []), *actions]))
        table[str(role)] = ac.new_role(merged)
    return table


class OrgDirectory:
    """Organization memberships looked up in the Better Auth database, behind a bounded cache.

    Args:
        store: the session store (PostgreSQL, SQLite or MySQL) whose database holds the
            plugin's tables; its pool, deadline and 503-on-outage apply.
        roles: the app's role table (``organization({ roles })``: name ->
            :class:`~sessiongate.access.Role`); default :func:`default_roles`.
        statements: the access control's statements (``createAccessControl(...)``), used to
            build merged dynamic roles; default :data:`DEFAULT_STATEMENTS`.
        dynamic_roles: also read ``organizationRole`` (``dynamicAccessControl.enabled``).
        names: the plugin tables' names (default: read off the store's mapping).
        cache_ttl: seconds a membership (or its absence) is reused; a member removed on the JS
            side keeps access that long. 0 disables the cache.
        cache_size: most (organization, user) pairs kept.
        background_loop: the loop blocking callers use for stores without ``fetch_sync``.
    """

    def __init__(
        self,
        store: Any,
        *,
        roles: Mapping[str, Role] | None = None,
        statements: Mapping[str, Sequence[str]] | None = None,
        dynamic_roles: bool = False,
        names: PluginNames | None = None,
        cache_ttl: float = 5.0,
        cache_size: int = 10_000,
        background_loop: BackgroundLoop | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        inner = getattr(store, "store", store)  # a CachedStore wraps the real one
        self.dialect = dialect_of(inner)
        self.store = inner
        mapping = getattr(inner, "schema", None)
        if names is None:
            if mapping is None:
                raise ConfigurationError("the store has no schema mapping: pass names=")
            names = PluginNames(mapping)
        if not cache_ttl >= 0 or cache_size < 1:
            raise ConfigurationError("cache_ttl must be >= 0 and cache_size >= 1")
        self.names = names
        self.roles: Mapping[str, Role] = dict(roles) if roles is not None else default_roles()
        self.statements = dict(statements) if statements is not None else dict(DEFAULT_STATEMENTS)
        self.dynamic_roles = dynamic_roles
        self.query = names.member_sql(self.dialect, with_roles=dynamic_roles)
        self.cache_ttl = float(cache_ttl)
        self.cache_size = cache_size
        # (organization id, user id) -> (monotonic expiry, membership or None). Reads take no
        # lock (a dict lookup is atomic); writes do, and evict the oldest entry when full.
        self._cache: dict[tuple[str, str], tuple[float, Membership | None]] = {}
        self._clock = clock
        self._lock = threading.Lock()
        self._loop = background_loop

    def __repr__(self) -> str:
        return f"OrgDirectory({self.store!r}, dynamic_roles={self.dynamic_roles})"

    def _cached(self, key: tuple[str, str]) -> tuple[bool, Membership | None]:
        entry = self._cache.get(key)
        if entry is None or entry[0] <= self._clock():
            return False, None
        return True, entry[1]

    def _remember(self, key: tuple[str, str], rows: list[tuple[Any, ...]]) -> Membership | None:
        member = [row for row in rows if row[0] == "m"]
        found: Membership | None = None
        if member:
            # findOne on (organizationId, userId): the first row, as the adapter returns it
            dynamic = [(row[1], row[2]) for row in rows if row[0] == "r"]
            table = _merge_dynamic(self.roles, dynamic, self.statements) if dynamic else self.roles
            raw = member[0][1]
            roles = tuple(parse_roles_org(raw if isinstance(raw, str) else ""))
            found = Membership(key[0], key[1], roles, table)
        if self.cache_ttl > 0:
            expires = self._clock() + self.cache_ttl
            with self._lock:
                cache = self._cache
                cache.pop(key, None)
                while len(cache) >= self.cache_size:
                    del cache[next(iter(cache))]  # the oldest insertion
                cache[key] = (expires, found)
        return found

    async def membership(self, organization_id: str, user_id: str) -> Membership | None:
        """The user's membership of the organization, ``None`` when not a member; raises
        :class:`ProviderUnavailableError` when the database cannot answer."""
        key = (check_org_id(organization_id), user_id)
        hit, cached = self._cached(key)
        if hit:
            return cached
        rows = await fetch(self.store, self.query, key)
        return self._remember(key, rows)

    def membership_sync(self, organization_id: str, user_id: str) -> Membership | None:
        """Blocking :meth:`membership` (SQLite in the calling thread, else the background loop)."""
        key = (check_org_id(organization_id), user_id)
        hit, cached = self._cached(key)
        if hit:
            return cached
        rows = fetch_sync(self.store, self.query, key, self._loop or default_loop())
        return self._remember(key, rows)

    def invalidate(self) -> None:
        """Forget every cached membership."""
        with self._lock:
            self._cache.clear()


def check_org_id(value: str) -> str:
    """An organization id a request names: printable ASCII, at most 255 characters (checked
    before it reaches the cache or the database)."""
    if not isinstance(value, str) or not _ORG_ID.match(value):
        raise AuthorizationError("the organization named by the request is not a valid id")
    return value


# ------------------------------------------------------------------------- which organization


@dataclass(frozen=True, slots=True)
class OrgSelector:
    """Where a route reads the organization it acts on (see the ``org_from_*`` helpers)."""

    kind: Literal["path", "header", "active"]
    name: str = ""

    def select(
        self, path_params: Mapping[str, Any], headers: Mapping[str, str], user: Any
    ) -> str | None:
        """The organization id the request names, or ``None`` when it names none."""
        if self.kind == "path":
            value = path_params.get(self.name)
            return None if value is None else str(value)
        if self.kind == "header":
            return headers.get(self.name) or None
        return active_organization_of(user)


def org_from_path(name: str) -> OrgSelector:
    """The organization is the route's path parameter ``name`` (``/orgs/{org_id}/...``)."""
    if not name:
        raise ConfigurationError("org_from_path needs the parameter name")
    return OrgSelector("path", name)


def org_from_header(name: str = "x-organization-id") -> OrgSelector:
    """The organization is named by a request header (default ``X-Organization-Id``)."""
    if not name:
        raise ConfigurationError("org_from_header needs a header name")
    return OrgSelector("header", name.lower())


def active_org() -> OrgSelector:
    """The organization is the session's ``activeOrganizationId`` (still checked against the
    ``member`` table: being active is not being a member)."""
    return OrgSelector("active")


def active_organization_of(user: Any) -> str | None:
    """The session's ``activeOrganizationId`` from a user's claims (top level or under
    ``session``), ``None`` without one."""
    claims = getattr(user, "claims", None)
    if not isinstance(claims, Mapping):
        return None
    value = claims.get("activeOrganizationId")
    session = claims.get("session")
    if value is None and isinstance(session, Mapping):
        value = session.get("activeOrganizationId")
    return value if isinstance(value, str) and value else None


# ------------------------------------------------------------------------------ the guards


@dataclass(frozen=True, slots=True)
class OrgGuard:
    """What a route demands of the user's membership in the organization it names.

    Build with :func:`require_org_role` or :func:`require_org_permission`; adapters call
    :meth:`check` / :meth:`check_sync` with the request's facts.
    """

    directory: OrgDirectory
    org: OrgSelector
    roles: tuple[str, ...] = ()
    permissions: Mapping[str, tuple[str, ...]] | None = None
    connector: Literal["AND", "OR"] = "AND"
    _key: object = field(default_factory=object, init=False, repr=False, compare=False)
    _roles: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)
    _request: Mapping[str, list[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_roles", frozenset(self.roles))
        if self.permissions is not None:
            request = {k: list(v) for k, v in self.permissions.items()}
            object.__setattr__(self, "_request", request)

    def _organization(
        self, user: Any, path_params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> tuple[str, str]:
        user_id = getattr(user, "id", None)
        if not isinstance(user_id, str) or not user_id:
            raise AuthorizationError("the user has no id to look a membership up with")
        org_id = self.org.select(path_params, headers, user)
        if org_id is None:
            raise AuthorizationError("the request names no organization")
        return org_id, user_id  # its shape is checked by the directory, before any lookup

    def judge(self, membership: Membership | None) -> AuthorizationError | None:
        """Why the membership fails this guard (``None`` when it passes). Pure."""
        if membership is None:
            return AuthorizationError("the user is not a member of the organization")
        allowed = membership.memo.get(self._key)
        if allowed is None:
            allowed = not self._roles or not self._roles.isdisjoint(membership.roles)
            if allowed and self.permissions is not None:
                allowed = membership.allows(self._request, self.connector)
            membership.memo[self._key] = allowed
        if allowed:
            return None
        if self.roles and self._roles.isdisjoint(membership.roles):
            return AuthorizationError(
                "required organization role (one of): " + ", ".join(self.roles)
            )
        return AuthorizationError("the organization role does not grant the permission")

    async def check(
        self, user: Any, path_params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> Membership:
        """The membership when it satisfies the guard; raises 403 (or 503 on an outage)."""
        org_id, user_id = self._organization(user, path_params, headers)
        membership = await self.directory.membership(org_id, user_id)
        error = self.judge(membership)
        if error is not None:
            raise error
        assert membership is not None  # judge() refused None
        return membership

    def check_sync(
        self, user: Any, path_params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> Membership:
        """Blocking :meth:`check`."""
        org_id, user_id = self._organization(user, path_params, headers)
        membership = self.directory.membership_sync(org_id, user_id)
        error = self.judge(membership)
        if error is not None:
            raise error
        assert membership is not None  # judge() refused None
        return membership


def require_org_role(*roles: str, org: OrgSelector, directory: OrgDirectory) -> OrgGuard:
    """The member must hold one of ``roles`` in the organization ``org`` names."""
    if not roles or not all(isinstance(r, str) and r for r in roles):
        raise ConfigurationError("require_org_role needs at least one role name")
    return OrgGuard(directory=directory, org=org, roles=tuple(roles))


def require_org_permission(
    permissions: Mapping[str, Sequence[str]],
    *,
    org: OrgSelector,
    directory: OrgDirectory,
    connector: Literal["AND", "OR"] = "AND",
) -> OrgGuard:
    """One of the member's roles must grant ``permissions`` (``{"member": ["create"]}``), as
    the organization plugin's ``hasPermission`` decides."""
    if not isinstance(permissions, Mapping) or not permissions:
        raise ConfigurationError("require_org_permission needs {resource: [actions]}")
    if connector not in ("AND", "OR"):
        raise ConfigurationError("connector must be 'AND' or 'OR'")
    frozen = {}
    for resource, actions in permissions.items():
        if isinstance(actions, str) or not all(isinstance(a, str) for a in actions):
            raise ConfigurationError("permissions map a resource to a list of action names")
        frozen[str(resource)] = tuple(actions)
    return OrgGuard(directory=directory, org=org, permissions=frozen, connector=connector)
