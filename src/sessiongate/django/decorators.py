"""View decorators: ``login_required``, ``role_required``, ``permission_required``.

.. code-block:: python

    from sessiongate.django import login_required, role_required, permission_required

    @login_required
    def me(request): ...

    @role_required("admin", "moderator", mode="any")
    async def moderate(request): ...              # async views are checked without blocking

    @permission_required("posts:write", raise_exception=True)   # Django's PermissionDenied
    def publish(request): ...

Refusals are the policy's JSON responses: 401 (``WWW-Authenticate``), 403
``insufficient_scope`` or ``csrf_failed``, 503 on an outage. Roles expand through the
configured ``ROLE_HIERARCHY``. They work with or without :class:`SessionGateMiddleware
<sessiongate.django.middleware.SessionGateMiddleware>` (the request is verified once either way).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest

from ..errors import ConfigurationError
from ..guards import AUTHENTICATED, Mode, Requirement
from .guards import acheck, check

__all__ = ["login_required", "permission_required", "requirement_required", "role_required"]

V = TypeVar("V", bound=Callable[..., Any])


def requirement_required(
    requirement: Requirement, *, raise_exception: bool = False
) -> Callable[[V], V]:
    """Guard a function view (sync or async) with any :class:`~sessiongate.guards.Requirement`."""
    if not isinstance(requirement, Requirement):
        raise ConfigurationError("requirement must be a sessiongate.guards.Requirement")

    def decorator(view: V) -> V:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                refused = await acheck(request, requirement, raise_exception=raise_exception)
                if refused is not None:
                    return refused
                return await view(request, *args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            refused = check(request, requirement, raise_exception=raise_exception)
            if refused is not None:
                return refused
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


@overload
def login_required(view: V) -> V: ...
@overload
def login_required(*, raise_exception: bool = False) -> Callable[[V], V]: ...


def login_required(view: Any = None, *, raise_exception: bool = False) -> Any:
    """Require a signed-in session (``@login_required`` or ``@login_required(...)``)."""
    decorator = requirement_required(AUTHENTICATED, raise_exception=raise_exception)
    return decorator if view is None else decorator(view)


def role_required(
    *roles: str, mode: Mode = "all", raise_exception: bool = False
) -> Callable[[V], V]:
    """Require the roles (``mode="any"``: one of them), expanded through the hierarchy."""
    if not roles:
        raise ConfigurationError("role_required needs at least one role")
    return requirement_required(
        Requirement(roles=roles, roles_mode=mode), raise_exception=raise_exception
    )


def permission_required(
    *permissions: str, mode: Mode = "all", raise_exception: bool = False
) -> Callable[[V], V]:
    """Require the session permissions (``mode="any"``: one of them)."""
    if not permissions:
        raise ConfigurationError("permission_required needs at least one permission")
    return requirement_required(
        Requirement(permissions=permissions, permissions_mode=mode),
        raise_exception=raise_exception,
    )
