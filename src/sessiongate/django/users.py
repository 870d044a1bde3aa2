"""The user objects Django code sees in ``request.user`` and ``scope["user"]``.

:class:`SessionGateUser` wraps the gate's verified user (a :class:`~sessiongate.user.User`, or
your ``user_factory``'s type) with the attributes Django, DRF and Channels code expects:
``is_authenticated``, ``is_anonymous``, ``pk``/``id``, ``get_username()``, ``has_perm()``
(the session's permissions), ``groups`` (the session's roles, expanded through the role
hierarchy), ``is_active``; every other attribute (``email``, ``claims``, ``roles``...) is read
from the wrapped user. :class:`SessionGateAnonymousUser` is the anonymous twin and keeps why
the request is anonymous (``error``), so a guard answers the precise 401 or 503.

Neither is a database row: ``save()`` and ``delete()`` raise. With ``LOCAL_USER`` configured,
``local_user`` / ``await alocal_user()`` give the local row (:mod:`sessiongate.django.local`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

from ..errors import SessionGateError
from ..guards import Requirement, RoleHierarchy, effective_roles
from ..user import AnonymousUser
from .local import LocalUserMapping

__all__ = ["SessionGateAnonymousUser", "SessionGateUser", "as_django_user"]

_MISSING = object()


class SessionGateUser:
    """An authenticated session user, shaped for Django (see the module docstring).

    Args:
        user: the gate's verified user.
        hierarchy: the role hierarchy (``groups`` and :meth:`has_role` expand through it).
        local_mapping: the ``LOCAL_USER`` mapping, if configured.
        credential / authenticator: how the session was proven (``"cookie"``/``"bearer"``).
    """

    __slots__ = ("_local", "authenticator", "credential", "hierarchy", "local_mapping", "user")

    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(
        self,
        user: Any,
        *,
        hierarchy: RoleHierarchy | None = None,
        local_mapping: LocalUserMapping | None = None,
        credential: str | None = None,
        authenticator: str | None = None,
    ) -> None:
        self.user = user
        self.hierarchy = hierarchy
        self.local_mapping = local_mapping
        self.credential = credential
        self.authenticator = authenticator
        self._local: Any = _MISSING

    def __getattr__(self, name: str) -> Any:
        # only for names this class lacks; an unset slot (copy, pickle) must not recurse
        if name.startswith("__") or name in SessionGateUser.__slots__:
            raise AttributeError(name)
        return getattr(self.user, name)

    def __repr__(self) -> str:
        return f"<SessionGateUser id={self.pk!r} source={getattr(self.user, 'source', None)!r}>"

    def __str__(self) -> str:
        return self.get_username()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SessionGateUser):
            return bool(self.pk == other.pk)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.pk)

    # ------------------------------------------------------------------ Django's user API

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def pk(self) -> Any:
        """The session user's id (a string: the ``sub`` of the token, the id of the row)."""
        return getattr(self.user, "id", None)

    @property
    def id(self) -> Any:
        return self.pk

    @property
    def username(self) -> str:
        return self.get_username()

    def get_username(self) -> str:
        """The e-mail address when the session has one, else the user id."""
        email = getattr(self.user, "email", None)
        return str(email or self.pk or "")

    def natural_key(self) -> tuple[str]:
        return (self.get_username(),)

    @property
    def roles(self) -> frozenset[str]:
        """The session's roles as found in the claims (not expanded)."""
        return frozenset(getattr(self.user, "roles", ()) or ())

    @property
    def permissions(self) -> frozenset[str]:
        """The session's permissions (``permissions``, ``scope``, ``scp`` claims by default)."""
        return frozenset(getattr(self.user, "permissions", ()) or ())

    @property
    def groups(self) -> frozenset[str]:
        """The session's roles expanded through the role hierarchy (names, not ``Group`` rows)."""
        return effective_roles(self.user, self.hierarchy)

    def has_role(self, *roles: str, mode: str = "all") -> bool:
        """Whether the user holds the roles (expanded through the hierarchy; ``mode="any"``)."""
        requirement = Requirement(roles=roles, roles_mode=mode)  # type: ignore[arg-type]
        return requirement.unmet(self, self.hierarchy) is None

    def has_perm(self, perm: str, obj: object = None) -> bool:
        """Whether the session grants ``perm`` (``obj`` must be ``None``: no object permissions)."""
        if obj is not None:
            return False
        return Requirement(permissions=(perm,)).unmet(self) is None

    def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        """Whether the session grants every permission of ``perm_list``."""
        perms = tuple(perm_list)
        if obj is not None or not perms:
            return obj is None
        return Requirement(permissions=perms).unmet(self) is None

    def has_module_perms(self, app_label: str) -> bool:
        """Whether any session permission starts with ``app_label.`` (Django's spelling) or
        ``app_label:`` (``posts:write``)."""
        prefixes = (app_label + ".", app_label + ":")
        return any(p.startswith(prefixes) for p in self.permissions)

    def get_all_permissions(self, obj: object = None) -> set[str]:
        return set() if obj is not None else set(self.permissions)

    def get_user_permissions(self, obj: object = None) -> set[str]:
        return self.get_all_permissions(obj)

    def get_group_permissions(self, obj: object = None) -> set[str]:
        return set()

    def save(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("a session user is not a database row (see LOCAL_USER)")

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("a session user is not a database row (see LOCAL_USER)")

    # ------------------------------------------------------------------ the local row

    @property
    def local_user(self) -> Any:
        """The local user row (``LOCAL_USER``), ``None`` when there is none; looked up once."""
        if self._local is _MISSING:
            mapping = self.local_mapping
            self._local = None if mapping is None else mapping.lookup(self.user)
        return self._local

    async def alocal_user(self) -> Any:
        """:attr:`local_user` for async code."""
        if self._local is _MISSING:
            mapping = self.local_mapping
            self._local = None if mapping is None else await mapping.alookup(self.user)
        return self._local


class SessionGateAnonymousUser(AnonymousUser):
    """No valid session, shaped like Django's ``AnonymousUser``; ``error`` says why."""

    __slots__ = ()

    is_active = False
    is_staff = False
    is_superuser = False
    pk = None
    username = ""
    credential = None
    authenticator = None
    local_user = None

    def __str__(self) -> str:
        return "AnonymousUser"

    @property
    def is_anonymous(self) -> bool:
        return True

    @property
    def groups(self) -> frozenset[str]:
        return frozenset()

    def get_username(self) -> str:
        return ""

    def has_role(self, *roles: str, mode: str = "all") -> bool:
        return False

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def has_perms(self, perm_list: Iterable[str], obj: object = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False

    def get_all_permissions(self, obj: object = None) -> set[str]:
        return set()

    async def alocal_user(self) -> None:
        return None

    def save(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("the anonymous user is not a database row")

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("the anonymous user is not a database row")


def as_django_user(
    user: Any,
    *,
    hierarchy: RoleHierarchy | None = None,
    local_mapping: LocalUserMapping | None = None,
    credential: str | None = None,
    authenticator: str | None = None,
) -> SessionGateUser | SessionGateAnonymousUser:
    """``user`` (the gate's user, or an ``AnonymousUser``) as Django code expects it."""
    if isinstance(user, (SessionGateUser, SessionGateAnonymousUser)):
        return user
    if getattr(user, "is_authenticated", False) is not True:
        error = getattr(user, "error", None)
        return SessionGateAnonymousUser(
            error=error if isinstance(error, SessionGateError) else None
        )
    return SessionGateUser(
        user,
        hierarchy=hierarchy,
        local_mapping=local_mapping,
        credential=credential,
        authenticator=authenticator,
    )
