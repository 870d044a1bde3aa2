"""Django integration: a lazy ``request.user`` from the gate, view decorators and mixins.

.. code-block:: python

    # settings.py
    MIDDLEWARE = [..., "sessiongate.django.SessionGateMiddleware"]
    SESSIONGATE = {"AUTH_SECRET": env("AUTH_SECRET"), "TRUSTED_ORIGINS": ["https://app.example.com"]}

    # views.py
    from sessiongate.django import login_required, role_required

    @login_required
    def me(request):
        return JsonResponse({"id": request.user.pk, "email": request.user.email})

Django REST framework: :mod:`sessiongate.drf`; Django Ninja: :mod:`sessiongate.ninja`;
Channels: :mod:`sessiongate.channels`. See the Django guide in the documentation.
"""

from __future__ import annotations

from .._extras import missing_extra

try:
    import django  # noqa: F401
except ModuleNotFoundError as err:
    raise missing_extra(err, "django") from None

from .conf import DjangoConfig, get_config, reset_config
from .decorators import login_required, permission_required, requirement_required, role_required
from .middleware import SessionGateMiddleware, aget_user, get_user
from .mixins import LoginRequiredMixin, PermissionRequiredMixin, RoleRequiredMixin, SessionGateMixin
from .users import SessionGateAnonymousUser, SessionGateUser, as_django_user

__all__ = [
    "DjangoConfig",
    "LoginRequiredMixin",
    "PermissionRequiredMixin",
    "RoleRequiredMixin",
    "SessionGateAnonymousUser",
    "SessionGateMiddleware",
    "SessionGateMixin",
    "SessionGateUser",
    "aget_user",
    "as_django_user",
    "get_config",
    "get_user",
    "login_required",
    "permission_required",
    "requirement_required",
    "reset_config",
    "role_required",
]
