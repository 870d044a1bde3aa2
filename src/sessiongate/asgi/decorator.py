"""``requires()``: a Starlette endpoint decorator for authentication, roles and permissions.

The route's requirement is judged against the verdict :class:`SessionGateMiddleware` left on the
scope, under the policy it was decided with; refusals are rendered by
:mod:`sessiongate.asgi.refusal`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar, cast

from .._extras import missing_extra

try:
    from starlette.requests import HTTPConnection
    from starlette.websockets import WebSocket
except ModuleNotFoundError as err:
    raise missing_extra(err, "starlette") from None

from ..errors import ConfigurationError, SessionGateError
from ..guards import Mode, Requirement, RoleHierarchy
from ..policy import Decision, WebPolicy, refuse
from ..responses import ErrorRenderer
from .connection import SessionGateCredentials, connection_facts
from .refusal import refuse_websocket, render, rendered

__all__ = ["requires"]

P = ParamSpec("P")
R = TypeVar("R")

_DEFAULT_POLICY = WebPolicy()


def requires(
    roles: str | Sequence[str] = (),
    permissions: str | Sequence[str] = (),
    *,
    mode: Mode = "all",
    permissions_mode: Mode | None = None,
    role_hierarchy: RoleHierarchy | Mapping[str, Iterable[str]] | None = None,
    error_renderer: ErrorRenderer | None = None,
    requirement: Requirement | None = None,
) -> Callable[[Callable[P, Any]], Callable[P, Any]]:
    """Starlette endpoint decorator: require authentication and, optionally, roles/permissions.

    Works like ``starlette.authentication.requires`` (the endpoint needs a ``request`` or
    ``websocket`` parameter) but answers 401 with the precise reason, 403 ``insufficient_scope``
    or 503, with the standard JSON body; refused WebSockets get a denial response or close 1008.
    ``mode`` applies to ``roles``; ``permissions_mode`` defaults to ``mode``. The role hierarchy
    and the error responses default to the middleware's policy. ``requirement`` (a
    :class:`~sessiongate.guards.Requirement`: fresh session, no impersonation, access-control
    statements...) replaces ``roles``/``permissions``.
    """
    hierarchy = (
        RoleHierarchy(role_hierarchy)
        if role_hierarchy is not None and not isinstance(role_hierarchy, RoleHierarchy)
        else role_hierarchy
    )
    if requirement is not None and (roles or permissions or hierarchy is not None):
        raise ConfigurationError("requires(): give requirement= or roles/permissions, not both")
    requirement = requirement or Requirement(
        roles=(roles,) if isinstance(roles, str) else tuple(roles),
        permissions=(permissions,) if isinstance(permissions, str) else tuple(permissions),
        roles_mode=mode,
        permissions_mode=permissions_mode or mode,
        hierarchy=hierarchy,
    )

    def judge(conn: HTTPConnection) -> tuple[Decision, bool] | None:
        """``None`` when the route may run, else the refusal and whether a credential was sent."""
        scope = conn.scope
        auth = scope.get("auth")
        verdict = auth.verdict if isinstance(auth, SessionGateCredentials) else None
        # the middleware already decided the request under its policy: the route adds its
        # requirement, judged with that policy's hierarchy and rendered by it
        policy = _DEFAULT_POLICY if verdict is None else verdict.policy
        facts = connection_facts(scope) if verdict is None else verdict.facts
        if "user" not in scope:
            error: SessionGateError | None = ConfigurationError(
                "SessionGateMiddleware is not installed"
            )
        else:
            error = requirement.unmet(scope["user"], policy.hierarchy)
        if error is None:
            return None
        return refuse(error, facts, policy), facts.credential_sent

    def decorator(func: Callable[P, Any]) -> Callable[P, Any]:
        params = list(inspect.signature(func).parameters)
        kind = next((p for p in params if p in ("request", "websocket")), None)
        if kind is None:
            raise ConfigurationError(f"{func!r} needs a 'request' or 'websocket' parameter")
        index = params.index(kind)

        def conn_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> HTTPConnection:
            conn = kwargs.get(kind, args[index] if index < len(args) else None)
            if not isinstance(conn, HTTPConnection):
                raise ConfigurationError(f"{kind!r} is not a Starlette connection")
            return conn

        if kind == "websocket":

            @functools.wraps(func)
            async def ws_wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
                websocket = cast(WebSocket, conn_of(args, kwargs))
                refusal = judge(websocket)
                if refusal is None:
                    await func(*args, **kwargs)
                    return
                decision, sent = refusal
                assert decision.error is not None  # judge() returns refusals only
                await refuse_websocket(
                    websocket.scope,
                    websocket.send,
                    rendered(decision, sent, error_renderer),
                    decision.error,
                    decision.close_code,
                )

            return ws_wrapper

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                refusal = judge(conn_of(args, kwargs))
                if refusal is not None:
                    return render(rendered(*refusal, error_renderer))
                return await func(*args, **kwargs)

            return async_wrapper

        @functools.wraps(func)
        def sync_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            refusal = judge(conn_of(args, kwargs))
            if refusal is not None:
                return render(rendered(*refusal, error_renderer))
            return func(*args, **kwargs)

        return sync_wrapper

    return decorator
