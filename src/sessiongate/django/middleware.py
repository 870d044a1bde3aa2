"""``sessiongate.django.SessionGateMiddleware``: a lazy ``request.user`` from the gate.

.. code-block:: python

    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",   # if you keep it
        "sessiongate.django.SessionGateMiddleware",                  # after it: replaces user
    ]

Like Django's ``AuthenticationMiddleware`` it verifies nothing until the user is touched:
``request.user`` is a lazy object (verified synchronously when first read) and
``await request.auser()`` the async twin (database and JWKS lookups awaited). The user is a
:class:`~sessiongate.django.users.SessionGateUser`, or a
:class:`~sessiongate.django.users.SessionGateAnonymousUser` keeping why.

The request is judged by :func:`sessiongate.policy.decide` under the project's policy, as the
ASGI and WSGI middleware judge theirs. A refusal of the pass-through policy (a cookie-
authenticated unsafe request from a foreign ``Origin``: 403 ``csrf_failed``; a provider
outage with ``BLOCK_ON_OUTAGE``, the default: 503) is raised as that
:class:`~sessiongate.errors.SessionGateError` when the user is touched, and this middleware
answers it with the policy's JSON response; a view that never reads the user is not affected
(the cookie gives it no authority). Any ``SessionGateError`` a view raises (``require_roles``,
...) is answered the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.utils.functional import SimpleLazyObject

from ..errors import SessionGateError
from .conf import get_config
from .users import SessionGateAnonymousUser, SessionGateUser
from .verdicts import adecide_request, decide_request, django_response, refusal, request_user

__all__ = ["SessionGateMiddleware", "aget_user", "get_user"]

SyncGetResponse = Callable[[HttpRequest], HttpResponseBase]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


def get_user(request: HttpRequest) -> SessionGateUser | SessionGateAnonymousUser:
    """The request's user under the project's policy, verified synchronously.

    Raises the policy's refusal (``csrf_failed``, or ``provider_unavailable`` when
    ``BLOCK_ON_OUTAGE``) as a :class:`~sessiongate.errors.SessionGateError`.
    """
    config = get_config()
    decision = decide_request(request, config=config)
    if decision.error is not None:
        raise decision.error
    return request_user(decision, config)


async def aget_user(request: HttpRequest) -> SessionGateUser | SessionGateAnonymousUser:
    """:func:`get_user` for async code."""
    config = get_config()
    decision = await adecide_request(request, config=config)
    if decision.error is not None:
        raise decision.error
    return request_user(decision, config)


class SessionGateMiddleware:
    """Set ``request.user`` (lazy) and ``request.auser``; answer sessiongate errors.

    Sync and async capable (Django picks the mode of the middleware chain). Configured from
    ``settings.SESSIONGATE`` (see :mod:`sessiongate.django.conf`), checked when Django loads
    the middleware (a wrong setting fails at start-up).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: SyncGetResponse | AsyncGetResponse) -> None:
        get_config()  # a wrong setting fails when Django loads the middleware, not per request
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __repr__(self) -> str:
        return "SessionGateMiddleware()"

    @staticmethod
    def _install(request: HttpRequest) -> None:
        cached: dict[str, Any] = {}

        def sync_user() -> Any:
            return get_user(request)

        async def auser() -> Any:
            if "user" not in cached:
                cached["user"] = await aget_user(request)
            return cached["user"]

        request.user = SimpleLazyObject(sync_user)  # type: ignore[assignment]
        request.auser = auser

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        self._install(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        self._install(request)
        response = self.get_response(request)
        assert not isinstance(response, HttpResponseBase)
        return await response

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        """Answer a :class:`~sessiongate.errors.SessionGateError` with the policy's response."""
        if not isinstance(exception, SessionGateError):
            return None
        rendered = refusal(request, exception).response
        return None if rendered is None else django_response(rendered)
