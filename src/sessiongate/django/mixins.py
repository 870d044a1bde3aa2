"""Class-based view mixins: ``LoginRequiredMixin``, ``RoleRequiredMixin``,
``PermissionRequiredMixin`` (sync and async views alike).

.. code-block:: python

    class Dashboard(RoleRequiredMixin, TemplateView):
        required_roles = ("staff",)
        roles_mode = "any"
        raise_exception = True        # Django's PermissionDenied instead of the JSON 401/403

Put the mixin first (leftmost), as with Django's own access mixins. The refusals are those of
:mod:`sessiongate.django.decorators`.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from ..errors import ConfigurationError
from ..guards import AUTHENTICATED, Mode, Requirement
from .guards import acheck, check

__all__ = ["LoginRequiredMixin", "PermissionRequiredMixin", "RoleRequiredMixin", "SessionGateMixin"]


class SessionGateMixin:
    """Check :meth:`get_requirement` before ``dispatch``; a signed-in session by default."""

    raise_exception: bool = False

    def get_requirement(self) -> Requirement:
        """The requirement of this view (override to compute it)."""
        return AUTHENTICATED

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        requirement = self.get_requirement()
        parent = super().dispatch  # type: ignore[misc]
        if getattr(self, "view_is_async", False):

            async def guarded() -> Any:
                refused = await acheck(request, requirement, raise_exception=self.raise_exception)
                if refused is not None:
                    return refused
                return await parent(request, *args, **kwargs)

            return guarded()
        refused = check(request, requirement, raise_exception=self.raise_exception)
        if refused is not None:
            return refused
        return parent(request, *args, **kwargs)


class LoginRequiredMixin(SessionGateMixin):
    """Require a signed-in session."""


class RoleRequiredMixin(SessionGateMixin):
    """Require ``required_roles`` (all, or one with ``roles_mode = "any"``)."""

    required_roles: tuple[str, ...] = ()
    roles_mode: Mode = "all"

    def get_requirement(self) -> Requirement:
        if not self.required_roles:
            raise ConfigurationError(f"{type(self).__name__} needs required_roles")
        return Requirement(roles=tuple(self.required_roles), roles_mode=self.roles_mode)


class PermissionRequiredMixin(SessionGateMixin):
    """Require ``required_permissions`` (all, or one with ``permissions_mode = "any"``)."""

    required_permissions: tuple[str, ...] = ()
    permissions_mode: Mode = "all"

    def get_requirement(self) -> Requirement:
        if not self.required_permissions:
            raise ConfigurationError(f"{type(self).__name__} needs required_permissions")
        return Requirement(
            permissions=tuple(self.required_permissions), permissions_mode=self.permissions_mode
        )
