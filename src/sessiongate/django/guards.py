"""The check behind the decorators and mixins: one requirement, decided by the policy.

A refusal is the policy's JSON response (401 with ``WWW-Authenticate``, 403, 503), or, with
``raise_exception=True``, Django's own :class:`~django.core.exceptions.PermissionDenied` for
401/403 refusals so the project's ``handler403`` renders them (an outage stays a 503: it is not
the user's fault).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from ..errors import ProviderUnavailableError
from ..guards import Requirement
from ..policy import Decision
from .conf import get_config
from .verdicts import adecide_request, decide_request, django_response, request_user

__all__ = ["acheck", "check"]


def _refused(decision: Decision, raise_exception: bool) -> HttpResponseBase:
    error, rendered = decision.error, decision.response
    assert error is not None
    assert rendered is not None
    if raise_exception and not isinstance(error, ProviderUnavailableError):
        raise PermissionDenied(error.message)
    return django_response(rendered)


def check(
    request: HttpRequest, requirement: Requirement, *, raise_exception: bool = False
) -> HttpResponseBase | None:
    """``None`` when ``request`` meets ``requirement`` (``request.user`` is then the session
    user), else the refusal to answer."""
    config = get_config()
    decision = decide_request(request, requirement, config)
    if decision.error is not None:
        return _refused(decision, raise_exception)
    request.user = request_user(decision, config)  # type: ignore[assignment]
    return None


async def acheck(
    request: HttpRequest, requirement: Requirement, *, raise_exception: bool = False
) -> HttpResponseBase | None:
    """:func:`check` for async views (lookups awaited)."""
    config = get_config()
    decision = await adecide_request(request, requirement, config)
    if decision.error is not None:
        return _refused(decision, raise_exception)
    request.user = request_user(decision, config)  # type: ignore[assignment]
    return None
