"""Django REST framework: an authentication class, permission classes, an OpenAPI scheme.

.. code-block:: python

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["sessiongate.drf.SessionGateAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    }

    class Posts(APIView):
        permission_classes = [IsAuthenticated & HasRole("editor")]

:class:`SessionGateAuthentication` reads the request's verdict (verified once per request,
shared with :class:`~sessiongate.django.SessionGateMiddleware`) and judges it with
:func:`sessiongate.policy.decide` under the project's policy (``settings.SESSIONGATE``):

* no credential of ours: ``None`` (the next authentication class, or anonymous);
* a bad credential: 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` and the body
  ``{"error": code, "message": ...}`` (:meth:`~SessionGateAuthentication.authenticate_header`
  makes DRF answer 401, not 403: keep this class first in the list);
* a cookie-authenticated unsafe request from a foreign ``Origin``/``Referer``: 403
  ``csrf_failed``, as DRF's ``SessionAuthentication`` enforces CSRF for session-authenticated
  requests only; Bearer requests are exempt;
* a session database or JWKS outage: 503 (``Retry-After`` when configured), never 401.

The permission classes (:class:`HasRole`, :class:`HasAnyRole`, :class:`HasPermission`) are
instances that compose with DRF's ``&``, ``|`` and ``~``; they check through
:class:`~sessiongate.guards.Requirement` with the configured ``ROLE_HIERARCHY``.
:class:`OrgPermission` checks Better Auth's organization plugin (a
:func:`~sessiongate.organizations.require_org_role` or
:func:`~sessiongate.organizations.require_org_permission` guard) against the organization the
request names: a URL keyword argument, a header, or the session's active one.

With drf-spectacular installed, the schema lists two schemes, either of which satisfies an
operation: ``SessionGateBearer`` (HTTP bearer) and ``SessionGateCookie`` (the session cookie).
"""

from __future__ import annotations

from typing import Any

from ._extras import missing_extra

try:
    from rest_framework import exceptions
    from rest_framework.authentication import BaseAuthentication
    from rest_framework.permissions import BasePermission, OperationHolderMixin
    from rest_framework.request import Request
except ModuleNotFoundError as err:
    raise missing_extra(err, "drf") from None

from .cookies import AUTHJS_COOKIE
from .django.conf import get_config
from .django.verdicts import get_verdict, request_user
from .errors import (
    AuthenticationError,
    MissingCredentialsError,
    ProviderUnavailableError,
    SessionGateError,
)
from .guards import AUTHENTICATED, Mode, Requirement
from .organizations import OrgGuard
from .policy import decide, refuse
from .responses import ErrorResponse
from .types import AuthResult

__all__ = [
    "HasAnyRole",
    "HasPermission",
    "HasRole",
    "OrgPermission",
    "ProviderUnavailable",
    "SessionGateAuthentication",
    "SessionGatePermission",
]


def _header(rendered: ErrorResponse | None, name: str) -> str | None:
    if rendered is None:
        return None
    lowered = name.lower()
    return next((v for k, v in rendered.headers if k.lower() == lowered), None)


class ProviderUnavailable(exceptions.APIException):
    """503: the session database or JWKS endpoint could not be reached (never a 401)."""

    status_code = 503
    default_detail = "the session provider is unavailable"
    default_code = "provider_unavailable"


def _api_exception(error: SessionGateError, rendered: ErrorResponse | None) -> Exception:
    """The DRF exception answering ``error`` as the policy rendered it."""
    detail = error.to_dict()
    exc: exceptions.APIException
    if isinstance(error, AuthenticationError):
        exc = exceptions.AuthenticationFailed(detail, code=error.code)
        # DRF takes the header from authenticate_header(); keep the rendered one as well
        exc.auth_header = _header(rendered, "WWW-Authenticate")  # type: ignore[attr-defined]
    elif isinstance(error, ProviderUnavailableError):
        exc = ProviderUnavailable(detail, code=error.code)
        retry = _header(rendered, "Retry-After")
        if retry is not None:
            exc.wait = int(retry)  # type: ignore[attr-defined]
    else:
        exc = exceptions.PermissionDenied(detail, code=error.code)
    return exc


class SessionGateAuthentication(BaseAuthentication):
    """DRF authentication on the project's gate (see the module docstring).

    ``request.user`` becomes a :class:`~sessiongate.django.users.SessionGateUser`;
    ``request.auth`` the :class:`~sessiongate.gate.AuthResult` (how the session was proven).

    Attributes:
        cookie_name: the cookie documented in the OpenAPI schema.
    """

    cookie_name: str = AUTHJS_COOKIE

    def authenticate(self, request: Request) -> tuple[Any, AuthResult] | None:
        config = get_config()
        verdict = get_verdict(request._request, config)
        if isinstance(verdict.outcome, MissingCredentialsError):
            return None
        decision = decide(verdict.outcome, verdict.facts, config.policy, require=AUTHENTICATED)
        if decision.error is not None:
            raise _api_exception(decision.error, decision.response)
        outcome = verdict.outcome
        assert isinstance(outcome, AuthResult)
        return request_user(decision, config), outcome

    def authenticate_header(self, request: Request) -> str:
        """The ``WWW-Authenticate`` challenge of a 401 (``error="invalid_token"`` when a
        credential was sent and refused)."""
        config = get_config()
        verdict = get_verdict(request._request, config)
        outcome = verdict.outcome
        error = outcome if isinstance(outcome, AuthenticationError) else MissingCredentialsError()
        rendered = refuse(error, verdict.facts, config.policy).response
        return _header(rendered, "WWW-Authenticate") or "Bearer"


class _Nobody:
    """An authenticated user holding nothing: gives a requirement's refusal message."""

    is_authenticated = True
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()


class SessionGatePermission(OperationHolderMixin, BasePermission):
    """A DRF permission checking a :class:`~sessiongate.guards.Requirement`.

    An instance is its own factory (DRF calls ``permission()``), so it can be listed in
    ``permission_classes`` and composed with ``&``, ``|`` and ``~``. Anonymous requests are
    refused with DRF's 401 (``NotAuthenticated``), users lacking what is required with 403
    and the body ``{"error": "insufficient_scope", "message": ...}``.
    """

    def __init__(self, requirement: Requirement) -> None:
        if not isinstance(requirement, Requirement):
            raise TypeError("requirement must be a sessiongate.guards.Requirement")
        self.requirement = requirement
        refusal = requirement.unmet(_Nobody())
        self.message: Any = refusal.to_dict() if refusal is not None else None
        self.code = refusal.code if refusal is not None else None

    def __call__(self) -> SessionGatePermission:
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.requirement!r})"

    def has_permission(self, request: Request, view: Any) -> bool:
        hierarchy = get_config().policy.hierarchy
        return self.requirement.unmet(request.user, hierarchy) is None


class HasRole(SessionGatePermission):
    """Every listed role (expanded through ``ROLE_HIERARCHY``)."""

    def __init__(self, *roles: str, mode: Mode = "all") -> None:
        if not roles:
            raise TypeError("HasRole needs at least one role")
        super().__init__(Requirement(roles=roles, roles_mode=mode))


class HasAnyRole(HasRole):
    """At least one of the listed roles."""

    def __init__(self, *roles: str) -> None:
        super().__init__(*roles, mode="any")


class HasPermission(SessionGatePermission):
    """Every listed session permission (``mode="any"``: one of them)."""

    def __init__(self, *permissions: str, mode: Mode = "all") -> None:
        if not permissions:
            raise TypeError("HasPermission needs at least one permission")
        super().__init__(Requirement(permissions=permissions, permissions_mode=mode))


try:
    from drf_spectacular.extensions import OpenApiAuthenticationExtension
except ImportError:  # drf-spectacular is optional
    pass
else:

    class SessionGateScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
        """drf-spectacular: the bearer and cookie schemes, either one satisfying an operation."""

        target_class = SessionGateAuthentication
        match_subclasses = True
        name = ["SessionGateBearer", "SessionGateCookie"]  # noqa: RUF012 - the extension API

        def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
            return [{"SessionGateBearer": []}, {"SessionGateCookie": []}]

        def get_security_definition(self, auto_schema: Any) -> list[dict[str, str]]:
            cookie = getattr(self.target, "cookie_name", AUTHJS_COOKIE)
            return [
                {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWE",
                    "description": "A NextAuth/Auth.js session token or a bearer JWT.",
                },
                {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": cookie,
                    "description": "The Next.js session cookie, sent by the browser.",
                },
            ]


class OrgPermission(OperationHolderMixin, BasePermission):
    """A DRF permission checking Better Auth organization membership (an
    :class:`~sessiongate.organizations.OrgGuard`) for the organization the request names.

    .. code-block:: python

        directory = OrgDirectory(store)
        admins = OrgPermission(require_org_role("admin", "owner",
                                                org=org_from_path("org_id"), directory=directory))

        class Members(APIView):  # path("orgs/<org_id>/members", Members.as_view())
            permission_classes = [IsAuthenticated & admins]

    ``org_from_path`` reads the view's URL keyword arguments. Anonymous requests get DRF's
    401, a user authenticated by another authentication class 403 (its id is not a Better Auth
    user id); a user who is not a member, or whose roles do not grant what the guard asks, 403
    ``insufficient_scope``; a membership lookup that fails, 503. The membership found is
    ``request.membership``.
    """

    def __init__(self, guard: OrgGuard) -> None:
        if not isinstance(guard, OrgGuard):
            raise TypeError("guard must be a sessiongate.organizations.OrgGuard")
        self.guard = guard

    def __call__(self) -> OrgPermission:
        return self

    def __repr__(self) -> str:
        return f"OrgPermission({self.guard!r})"

    def has_permission(self, request: Request, view: Any) -> bool:
        outcome = request.auth
        if not isinstance(outcome, AuthResult):
            # anonymous (DRF answers NotAuthenticated, 401), or a user another authentication
            # class vouched for: its id is not a Better Auth user id, so no membership (403)
            return False
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            # the gate's user, never request.user: a local Django user must not change the id
            membership = self.guard.check_sync(
                outcome.user, getattr(view, "kwargs", None) or {}, headers
            )
        except SessionGateError as err:
            raise _api_exception(err, None) from None
        request.membership = membership  # type: ignore[attr-defined]
        return True
