"""Organization guards on FastAPI and Starlette (:mod:`sessiongate.organizations` decides).

.. code-block:: python

    orgs = OrgDirectory(store)
    admins = require_org_role("admin", org=org_from_path("org_id"), directory=orgs)

    # FastAPI: a dependency returning the Membership (401/403/503 as the other guards)
    @app.get("/orgs/{org_id}/settings")
    async def settings(member: Membership = Depends(org_dependency(auth, admins))): ...

    # Starlette, behind SessionGateMiddleware
    @org_required(admins)
    async def settings(request): ...

The adapters only extract the request's facts (its user, path parameters, headers) and render
the refusal with the policy that authenticated the request; the guard and the membership
lookup decide.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from ._extras import missing_extra

try:
    from starlette.requests import HTTPConnection, Request
    from starlette.responses import Response
except ModuleNotFoundError as err:
    raise missing_extra(err, "starlette") from None

from .asgi import SessionGateCredentials, connection_facts
from .errors import ConfigurationError, SessionGateError
from .guards import AUTHENTICATED
from .organizations import Membership, OrgGuard
from .policy import WebPolicy

__all__ = ["org_dependency", "org_required"]

_DEFAULT_POLICY = WebPolicy()


def _policy_and_sent(conn: HTTPConnection) -> tuple[WebPolicy, bool]:
    auth = conn.scope.get("auth")
    verdict = auth.verdict if isinstance(auth, SessionGateCredentials) else None
    if verdict is None:
        return _DEFAULT_POLICY, connection_facts(conn.scope).credential_sent
    return verdict.policy or _DEFAULT_POLICY, verdict.facts.credential_sent


async def _judge(guard: OrgGuard, conn: HTTPConnection, user: Any) -> Membership:
    error = AUTHENTICATED.unmet(user)
    if error is not None:
        raise error
    return await guard.check(user, conn.path_params, conn.headers)


def org_dependency(auth: Any, guard: OrgGuard) -> Callable[[Request], Awaitable[Membership]]:
    """A FastAPI dependency: the user's :class:`Membership` when ``guard`` passes.

    ``auth`` is the app's :class:`~sessiongate.fastapi.SessionGateAuth`: the user is its
    ``authenticate(request)`` (the middleware's verdict is reused), and refusals are its
    :class:`~sessiongate.fastapi.SessionGateHTTPException`.
    """
    if not isinstance(guard, OrgGuard):
        raise ConfigurationError("org_dependency needs an OrgGuard (require_org_role...)")
    from .fastapi import SessionGateAuth, SessionGateHTTPException

    if not isinstance(auth, SessionGateAuth):
        raise ConfigurationError("org_dependency needs the app's SessionGateAuth")

    async def dependency(request: Request) -> Membership:
        user = await auth.authenticate(request)
        try:
            return await _judge(guard, request, user)
        except SessionGateError as error:
            _policy, sent = _policy_and_sent(request)
            raise SessionGateHTTPException(
                error, sent, response=auth.policy.render(error, sent)
            ) from None

    return dependency


def org_required(guard: OrgGuard) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Starlette endpoint decorator (the endpoint takes ``request``): run it only when the
    user's membership in the organization the request names satisfies ``guard``; the
    :class:`Membership` is left in ``request.state.membership``."""
    if not isinstance(guard, OrgGuard):
        raise ConfigurationError("org_required needs an OrgGuard (require_org_role...)")

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        params = list(inspect.signature(func).parameters)
        if "request" not in params:
            raise ConfigurationError(f"{func!r} needs a 'request' parameter")
        index = params.index("request")

        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.get("request", args[index] if index < len(args) else None)
            if not isinstance(request, Request):
                raise ConfigurationError("'request' is not a Starlette request")
            if "user" not in request.scope:
                error: SessionGateError = ConfigurationError(
                    "SessionGateMiddleware is not installed"
                )
            else:
                try:
                    request.state.membership = await _judge(guard, request, request.scope["user"])
                except SessionGateError as exc:
                    error = exc
                else:
                    result = func(*args, **kwargs)
                    return await result if inspect.isawaitable(result) else result
            policy, sent = _policy_and_sent(request)
            rendered = policy.render(error, sent)
            return Response(rendered.body, rendered.status, headers=dict(rendered.headers))

        return wrapper

    return decorator
