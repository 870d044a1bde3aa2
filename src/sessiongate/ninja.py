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

The verdict is the request's one (shared with :class:`~sessiongate.django.SessionGateMiddleware`
and DRF) and is judged by :func:`sessiongate.policy.decide` under the project's policy, with the
operation's roles/permissions as the requirement. No credential of ours: ``None`` (Ninja tries
the next auth, then answers 401). A bad credential (401), CSRF on a cookie-authenticated unsafe
request (403 ``csrf_failed``), missing roles (403) and outages (503) raise
:class:`SessionGateNinjaError`, a Ninja ``HttpError``: Ninja's default handler answers its status
with ``{"detail": message}``; after :func:`install_error_handlers` the answer is the policy's own
(``WWW-Authenticate``, ``Retry-After``, ``{"error": code, "message": ...}``), and Ninja's bare
401 gets the ``WWW-Authenticate`` challenge too.

``request.auth`` and ``request.user`` are the :class:`~sessiongate.django.users.SessionGateUser`.
:class:`AsyncSessionGateAuth` is the same for async operations (lookups awaited).
"""

from __future__ import annotations

from collections.abc import Iterable
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
from .errors import AuthenticationError, MissingCredentialsError, SessionGateError
from .guards import AUTHENTICATED, Mode, Requirement
from .policy import Verdict, decide
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
    ) -> None:
        roles, permissions = tuple(roles), tuple(permissions)
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
        super().__init__()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.requirement!r})"

    def _judge(self, request: HttpRequest, verdict: Verdict) -> Any:
        if isinstance(verdict.outcome, MissingCredentialsError):
            return None
        config = get_config()
        decision = decide(verdict.outcome, verdict.facts, config.policy, require=self.requirement)
        if decision.error is not None:
            assert decision.response is not None
            raise SessionGateNinjaError(decision.error, decision.response)
        user = request_user(decision, config)
        request.user = user  # type: ignore[assignment]
        return user


class SessionGateAuth(_SessionGateAuthBase):
    """Ninja auth on the project's gate (sync; Ninja runs it in a thread for async routes).

    Args:
        roles / permissions: required (all, or one with ``mode="any"``; ``permissions_mode``
            defaults to ``mode``), roles expanded through ``ROLE_HIERARCHY``.
    """

    def __call__(self, request: HttpRequest) -> Any:
        return self._judge(request, get_verdict(request))


class AsyncSessionGateAuth(_SessionGateAuthBase):
    """:class:`SessionGateAuth` for async operations: database and JWKS lookups awaited."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.is_async = True

    async def __call__(self, request: HttpRequest) -> Any:
        return self._judge(request, await aget_verdict(request))


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
