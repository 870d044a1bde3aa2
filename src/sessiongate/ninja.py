"""Django Ninja: an auth class for ``auth=`` on the API, routers and operations.

.. code-block:: python

    from ninja import NinjaAPI
    from sessiongate.ninja import SessionGateAuth, install_error_handlers

    api = NinjaAPI(auth=SessionGateAuth())
    install_error_handlers(api)            # the policy's exact responses (optional)

    @api.get("/me")
    def me(request):
        return {"id": request.auth.pk}

    @api.delete("/posts/{pid}", auth=SessionGateAuth(roles=["editor"]))
    def delete_post(request, pid: int): ...

    admins = require_org_role("admin", org=org_from_path("org_id"), directory=OrgDirectory(store))

    @api.get("/orgs/{org_id}/settings", auth=SessionGateAuth(org=admins))
    def org_settings(request, org_id: str):
        return {"roles": request.membership.roles}

The verdict is the request's one (shared with :class:`~sessiongate.django.SessionGateMiddleware`
and DRF) and is judged by :func:`sessiongate.policy.decide` under the project's policy, with the
operation's roles/permissions as the requirement. No credential of ours: ``None`` (Ninja tries
the next auth, then answers 401). A bad credential (401), CSRF on a cookie-authenticated unsafe
request (403 ``csrf_failed``), missing roles (403) and outages (503) raise
:class:`SessionGateNinjaError`, a Ninja ``HttpError``: Ninja's default handler answers its status
with ``{"detail": message}``; after :func:`install_error_handlers` the answer is the policy's own
(``WWW-Authenticate``, ``Retry-After``, ``{"error": code, "message": ...}``), and Ninja's bare
401 gets the ``WWW-Authenticate`` challenge too.

``org=`` adds a Better Auth organization guard (:mod:`sessiongate.organizations` decides): 403
``insufficient_scope`` for a non-member or a missing organization role, 503 when the membership
lookup fails, rendered like the other refusals; the membership is ``request.membership``.

``request.auth`` and ``request.user`` are the :class:`~sessiongate.django.users.SessionGateUser`.
:class:`AsyncSessionGateAuth` is the same for async operations (lookups awaited).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._extras import missing_extra

try:
    from ninja import NinjaAPI
    from ninja.errors import AuthenticationError as NinjaAuthenticationError
    from ninja.errors import HttpError
    from ninja.security.base import AuthBase
except ModuleNotFoundError as err:
    raise missing_extra(err, "ninja") from None

from django.http import HttpRequest, HttpResponse

from .django.conf import get_config
from .django.verdicts import (
    aget_verdict,
    django_response,
    get_verdict,
    refusal,
    request_user,
)
from .errors import (
    AuthenticationError,
    ConfigurationError,
    MissingCredentialsError,
    SessionGateError,
)
from .guards import AUTHENTICATED, Mode, Requirement
from .organizations import Membership, OrgGuard
from .policy import Decision, Verdict, decide, refuse
from .responses import ErrorResponse

__all__ = [
    "AsyncSessionGateAuth",
    "SessionGateAuth",
    "SessionGateNinjaError",
    "install_error_handlers",
]


class SessionGateNinjaError(HttpError):
    """A refusal: ``status_code``/``message`` for Ninja, ``error`` and the rendered ``response``."""

    def __init__(self, error: SessionGateError, response: ErrorResponse) -> None:
        super().__init__(response.status, error.message)
        self.error = error
        self.response = response


class _SessionGateAuthBase(AuthBase):
    openapi_type: str = "http"
    openapi_scheme: str = "bearer"
    openapi_bearerFormat: str = "JWE"
    openapi_description: str = (
        "A NextAuth/Auth.js session token or a bearer JWT (the session cookie works too)."
    )

    def __init__(
        self,
        *,
        roles: Iterable[str] = (),
        permissions: Iterable[str] = (),
        mode: Mode = "all",
        permissions_mode: Mode | None = None,
        org: OrgGuard | None = None,
    ) -> None:
        roles, permissions = tuple(roles), tuple(permissions)
        if org is not None and not isinstance(org, OrgGuard):
            raise ConfigurationError("org must be an OrgGuard (require_org_role...)")
        self.requirement = (
            Requirement(
                roles=roles,
                permissions=permissions,
                roles_mode=mode,
                permissions_mode=permissions_mode or mode,
            )
            if roles or permissions
            else AUTHENTICATED
        )
        self.org = org
        super().__init__()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.requirement!r}, org={self.org!r})"

    def _decide(self, verdict: Verdict) -> Decision | None:
        """The allowed decision; ``None`` without a credential of ours; raises a refusal."""
        if isinstance(verdict.outcome, MissingCredentialsError):
            return None
        decision = decide(
            verdict.outcome, verdict.facts, get_config().policy, require=self.requirement
        )
        if decision.error is not None:
            assert decision.response is not None
            raise SessionGateNinjaError(decision.error, decision.response)
        return decision

    @staticmethod
    def _org_refusal(verdict: Verdict, error: SessionGateError) -> SessionGateNinjaError:
        rendered = refuse(error, verdict.facts, get_config().policy).response
        assert rendered is not None
        return SessionGateNinjaError(error, rendered)

    @staticmethod
    def _allow(request: HttpRequest, decision: Decision, membership: Membership | None) -> Any:
        user = request_user(decision)
        request.user = user  # type: ignore[assignment]
        if membership is not None:
            request.membership = membership  # type: ignore[attr-defined]
        return user


def _path_params(request: HttpRequest) -> Mapping[str, Any]:
    """The operation's URL keyword arguments (Ninja routes are Django URL patterns)."""
    match = getattr(request, "resolver_match", None)
    return match.kwargs if match is not None else {}


class SessionGateAuth(_SessionGateAuthBase):
    """Ninja auth on the project's gate (sync; Ninja runs it in a thread for async routes).

    Args:
        roles / permissions: required (all, or one with ``mode="any"``; ``permissions_mode``
            defaults to ``mode``), roles expanded through ``ROLE_HIERARCHY``.
        org: a Better Auth organization guard
            (:func:`~sessiongate.organizations.require_org_role` /
            :func:`~sessiongate.organizations.require_org_permission`): the user's membership
            in the organization the request names (``org_from_path`` reads the operation's
            path parameters) must satisfy it; 403 ``insufficient_scope`` otherwise, 503 when
            the lookup fails. The membership is ``request.membership``.
    """

    def __call__(self, request: HttpRequest) -> Any:
        verdict = get_verdict(request)
        decision = self._decide(verdict)
        if decision is None:
            return None
        membership = None
        if self.org is not None:
            try:
                membership = self.org.check_sync(
                    decision.user, _path_params(request), request.headers
                )
            except SessionGateError as error:
                raise self._org_refusal(verdict, error) from None
        return self._allow(request, decision, membership)


class AsyncSessionGateAuth(_SessionGateAuthBase):
    """:class:`SessionGateAuth` for async operations: database and JWKS lookups (and the
    organization membership) awaited."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.is_async = True

    async def __call__(self, request: HttpRequest) -> Any:
        verdict = await aget_verdict(request)
        decision = self._decide(verdict)
        if decision is None:
            return None
        membership = None
        if self.org is not None:
            try:
                membership = await self.org.check(
                    decision.user, _path_params(request), request.headers
                )
            except SessionGateError as error:
                raise self._org_refusal(verdict, error) from None
        return self._allow(request, decision, membership)


def install_error_handlers(api: NinjaAPI) -> None:
    """Answer sessiongate refusals on ``api`` with the policy's responses.

    :class:`SessionGateNinjaError` becomes the rendered refusal (status, ``WWW-Authenticate``,
    ``Retry-After``, ``{"error": code, "message": ...}``); Ninja's own 401 for a request
    without credentials gets the policy's ``missing_credentials`` answer with its challenge.
    """

    def on_refusal(request: HttpRequest, exc: SessionGateNinjaError) -> HttpResponse:
        return django_response(exc.response)

    def on_unauthenticated(request: HttpRequest, exc: NinjaAuthenticationError) -> HttpResponse:
        outcome = get_verdict(request).outcome
        error = outcome if isinstance(outcome, AuthenticationError) else MissingCredentialsError()
        rendered = refusal(request, error).response
        assert rendered is not None
        return django_response(rendered)

    api.add_exception_handler(SessionGateNinjaError, on_refusal)  # type: ignore[arg-type]
    api.add_exception_handler(NinjaAuthenticationError, on_unauthenticated)  # type: ignore[arg-type]
