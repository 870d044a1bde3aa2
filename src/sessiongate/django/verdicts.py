"""One request's verdict: facts in, the gate's outcome once, decisions out.

Every Django-side adapter (the middleware, the decorators and mixins, DRF, Ninja) goes through
here: :func:`request_facts` extracts the :class:`~sessiongate.policy.RequestFacts`, the verdict
is computed once per request (sync or async) and kept on the request, and
:func:`sessiongate.policy.decide` judges it. Nothing here decides anything itself.

Host and scheme are Django's own (``request.get_host()``, ``request.scheme``), so
``ALLOWED_HOSTS``, ``USE_X_FORWARDED_HOST`` and ``SECURE_PROXY_SSL_HEADER`` apply as they do to
Django's CSRF check.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse

from ..errors import SessionGateError
from ..guards import Requirement
from ..policy import Decision, RequestFacts, Verdict, decide, refuse
from ..responses import ErrorResponse
from ..types import Headers
from ..wsgi import ENVIRON_VERDICT
from .conf import DjangoConfig, get_config
from .users import SessionGateAnonymousUser, SessionGateUser, as_django_user

__all__ = [
    "adecide_request",
    "aget_verdict",
    "decide_request",
    "django_response",
    "get_verdict",
    "refusal",
    "request_facts",
    "request_user",
]

_ATTR = "_sessiongate_verdict"


def request_facts(request: HttpRequest) -> RequestFacts:
    """The :class:`~sessiongate.policy.RequestFacts` of a Django request."""
    meta = request.META
    return RequestFacts(
        method=request.method or "GET",
        scheme=request.scheme or "http",
        host=request.get_host(),
        origin=meta.get("HTTP_ORIGIN"),
        referer=meta.get("HTTP_REFERER"),
        forwarded_host=meta.get("HTTP_X_FORWARDED_HOST"),
        forwarded_proto=meta.get("HTTP_X_FORWARDED_PROTO"),
        credential_sent=bool(meta.get("HTTP_COOKIE") or meta.get("HTTP_AUTHORIZATION")),
    )


def _headers(request: HttpRequest) -> Headers:
    """The credential headers, from the ASGI scope when there is one: Django joins repeated
    headers with ``","`` in ``META``, which breaks ``Cookie`` headers that HTTP/2 splits (the
    gate joins them with ``"; "``) and hides which ``Authorization`` header came first."""
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and isinstance(scope.get("headers"), list):
        return scope["headers"]  # type: ignore[no-any-return]
    meta = request.META
    return {
        name: value
        for key, name in (("HTTP_COOKIE", "cookie"), ("HTTP_AUTHORIZATION", "authorization"))
        if (value := meta.get(key))
    }


def _known(request: HttpRequest, config: DjangoConfig) -> Verdict | None:
    verdict = getattr(request, _ATTR, None)
    if isinstance(verdict, Verdict) and verdict.gate is config.gate:
        return verdict
    # a SessionGateWSGIMiddleware around Django with the same gate already verified: reuse its
    # outcome, with Django's facts and this project's policy
    outer = request.META.get(ENVIRON_VERDICT)
    if isinstance(outer, Verdict) and outer.gate is config.gate:
        return _keep(
            request, Verdict(config.gate, outer.outcome, request_facts(request), config.policy)
        )
    return None


def _keep(request: HttpRequest, verdict: Verdict) -> Verdict:
    setattr(request, _ATTR, verdict)
    return verdict


def get_verdict(request: HttpRequest, config: DjangoConfig | None = None) -> Verdict:
    """The request's verdict, verified on first call (synchronously) and kept on the request."""
    config = config or get_config()
    known = _known(request, config)
    if known is not None:
        return known
    facts = request_facts(request)
    try:
        outcome: Any = config.gate.authenticate_sync(_headers(request))
    except SessionGateError as err:
        outcome = err
    return _keep(request, Verdict(config.gate, outcome, facts, config.policy))


async def aget_verdict(request: HttpRequest, config: DjangoConfig | None = None) -> Verdict:
    """:func:`get_verdict` for async code: database and JWKS lookups are awaited."""
    config = config or get_config()
    known = _known(request, config)
    if known is not None:
        return known
    facts = request_facts(request)
    try:
        outcome: Any = await config.gate.authenticate(_headers(request))
    except SessionGateError as err:
        outcome = err
    return _keep(request, Verdict(config.gate, outcome, facts, config.policy))


def _decision(verdict: Verdict, require: Requirement | Iterable[Requirement] | None) -> Decision:
    return decide(verdict.outcome, verdict.facts, verdict.policy, require=require)


def decide_request(
    request: HttpRequest,
    require: Requirement | Iterable[Requirement] | None = None,
    config: DjangoConfig | None = None,
) -> Decision:
    """:func:`~sessiongate.policy.decide` for a Django request (``require=None``: pass-through)."""
    return _decision(get_verdict(request, config), require)


async def adecide_request(
    request: HttpRequest,
    require: Requirement | Iterable[Requirement] | None = None,
    config: DjangoConfig | None = None,
) -> Decision:
    """:func:`decide_request` for async code."""
    return _decision(await aget_verdict(request, config), require)


def request_user(
    decision: Decision, config: DjangoConfig | None = None
) -> SessionGateUser | SessionGateAnonymousUser:
    """The Django-shaped user of an allowed ``decision``."""
    config = config or get_config()
    if decision.credential is not None:  # proven: whatever type the gate's user_factory builds
        return SessionGateUser(
            decision.user,
            hierarchy=config.policy.hierarchy,
            local_mapping=config.local_user,
            credential=decision.credential,
            authenticator=decision.authenticator,
        )
    return as_django_user(
        decision.user,
        hierarchy=config.policy.hierarchy,
        local_mapping=config.local_user,
        credential=decision.credential,
        authenticator=decision.authenticator,
    )


def refusal(request: HttpRequest, error: SessionGateError) -> Decision:
    """The refusal of ``request`` with ``error``, rendered by the project's policy."""
    config = get_config()
    verdict = getattr(request, _ATTR, None)
    facts = verdict.facts if isinstance(verdict, Verdict) else request_facts(request)
    return refuse(error, facts, config.policy)


def django_response(rendered: ErrorResponse) -> HttpResponse:
    """A Django ``HttpResponse`` carrying a rendered refusal (status, headers, JSON body)."""
    response = HttpResponse(rendered.body, status=rendered.status)
    for name, value in rendered.headers:
        response[name] = value
    return response
