"""Litestar integration: a native authentication middleware, guards and a plugin.

.. code-block:: python

    auth = SessionGatePlugin(gate, trusted_origins=["https://app.example.com"], exclude=["/health"])
    app = Litestar(route_handlers=[...], plugins=[auth])

    @get("/me")
    async def me(request: Request[User, SessionGateCredentials, Any]) -> dict[str, str]:
        return {"id": request.user.id}

    @get("/admin", guards=[require_role("admin")])
    async def admin() -> dict[str, str]: ...

    @get("/orgs/{org_id:str}/settings", guards=[org_required(org_admins)])  # an OrgGuard
    async def org_settings(request: Request[User, SessionGateCredentials, Any]) -> dict: ...

:class:`SessionGateMiddleware` is a Litestar ``AbstractAuthenticationMiddleware``: it
authenticates every HTTP request and WebSocket handshake that is not excluded (``exclude``
patterns anchored at the start of the path, ``opt={"exclude_from_auth": True}`` on a route,
``OPTIONS`` requests), and sets
``request.user`` (a :class:`~sessiongate.user.User`) and ``request.auth``
(:class:`~sessiongate.asgi.SessionGateCredentials`: scopes, how the request was
authenticated, and the verdict the guards reuse). As Litestar's own authentication backends
do, it refuses anonymous requests, unless ``allow_anonymous=True``: they then continue with an
:class:`~sessiongate.user.AnonymousUser` that carries why, and the routes protect themselves
with :data:`authenticated` or the other guards.

Everything is decided by :func:`sessiongate.policy.decide` under one
:class:`~sessiongate.policy.WebPolicy`; this module extracts the facts (through
:func:`sessiongate.asgi.authenticate_connection`, so WebSocket tokens offered as a subprotocol
work as with the ASGI middleware) and renders the decision the Litestar way:

* HTTP: :class:`SessionGateHTTPException`, a Litestar ``HTTPException`` with the status (401
  with ``WWW-Authenticate``, 403, 503 with ``Retry-After``) and headers of the decision. The
  plugin registers :func:`exception_handler`, which answers with the decision's own body
  ``{"error": code, "message": ...}``; without it Litestar's default handler renders the
  exception (same status and headers, Litestar's body).
* WebSocket: :class:`SessionGateWebSocketException`, a Litestar ``WebSocketException`` with
  close code 1008 (1013 for an outage), which Litestar sends before accepting: the client sees
  the handshake refused (HTTP 403 from uvicorn), never a close code 1000.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from copy import copy
from typing import Any, Unpack, cast

from ._extras import missing_extra

try:
    from litestar import Request, Response
    from litestar.config.app import AppConfig
    from litestar.connection import ASGIConnection
    from litestar.enums import ScopeType
    from litestar.exceptions import HTTPException, WebSocketException
    from litestar.handlers.base import BaseRouteHandler
    from litestar.middleware import AbstractAuthenticationMiddleware, DefineMiddleware
    from litestar.middleware.authentication import AuthenticationResult
    from litestar.openapi.spec import Components, SecurityScheme
    from litestar.plugins import InitPluginProtocol
    from litestar.types import ASGIApp, Message, Method, Receive, Scope, Scopes, Send
    from starlette.authentication import AuthCredentials  # noqa: F401 - for sessiongate.asgi
except ModuleNotFoundError as err:  # pragma: no cover - exercised by the missing-extra test
    raise missing_extra(err, "litestar") from None

from .asgi import (
    SessionGateCredentials,
    authenticate_connection,
    connection_facts,
    credentials,
    guard_accept,
)
from .cookies import AUTHJS_COOKIE
from .errors import ConfigurationError, SessionGateError
from .gate import SessionGate
from .guards import AUTHENTICATED, Mode, Requirement
from .organizations import OrgGuard
from .policy import (
    Decision,
    RequestFacts,
    Verdict,
    WebOptions,
    WebPolicy,
    build_policy,
    decide,
    refuse,
)
from .responses import ErrorResponse

__all__ = [
    "BEARER_SCHEME",
    "COOKIE_SCHEME",
    "AsyncGuard",
    "Guard",
    "SessionGateHTTPException",
    "SessionGateMiddleware",
    "SessionGatePlugin",
    "SessionGateWebSocketException",
    "authenticated",
    "exception_handler",
    "org_required",
    "require_permissions",
    "require_role",
    "requires",
]

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]
"""A Litestar guard: ``(connection, route_handler) -> None``, raising to refuse."""
AsyncGuard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]
"""A Litestar guard that awaits (Litestar accepts both)."""

BEARER_SCHEME = "SessionGateBearer"
"""The OpenAPI security scheme of the ``Authorization: Bearer`` header."""
COOKIE_SCHEME = "SessionGateCookie"
"""The OpenAPI security scheme of the session cookie."""

_WEBSOCKET_OFFER = "sessiongate.websocket_offer"
_DEFAULT_POLICY = WebPolicy()


class SessionGateHTTPException(HTTPException):
    """A refused HTTP request: the decision's status and headers, ``detail`` = the safe message.

    Attributes:
        error: the :class:`~sessiongate.errors.SessionGateError`.
        response: the rendered refusal (status, headers, JSON body) of the policy.
    """

    def __init__(self, error: SessionGateError, response: ErrorResponse) -> None:
        headers = {k: v for k, v in response.headers if k.lower() != "content-type"}
        super().__init__(
            detail=error.message,
            status_code=response.status,
            headers=headers,
            extra={"error": error.code},
        )
        self.error = error
        self.response = response


class SessionGateWebSocketException(WebSocketException):
    """A refused WebSocket handshake: close code 1008 (1013 for an outage), reason = the code."""

    def __init__(self, error: SessionGateError, close_code: int) -> None:
        super().__init__(detail=error.code, code=close_code)
        self.error = error


def _exception(decision: Decision, facts: RequestFacts) -> Exception:
    """The Litestar exception that renders a refused ``decision``."""
    error, response = decision.error, decision.response
    if error is None or response is None:  # pragma: no cover - callers pass refusals only
        raise ValueError("only a refused decision becomes an exception")
    if facts.websocket and decision.close_code is not None:
        return SessionGateWebSocketException(error, decision.close_code)
    return SessionGateHTTPException(error, response)


def exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Answer a :class:`SessionGateHTTPException` with the decision's own response:
    ``{"error": code, "message": ...}``, its status and its headers."""
    if not isinstance(exc, SessionGateHTTPException):  # pragma: no cover - registration
        raise exc
    rendered = exc.response
    headers = {k: v for k, v in rendered.headers if k.lower() != "content-type"}
    return Response(
        content=rendered.body,
        status_code=rendered.status,
        headers=headers,
        media_type="application/json",
    )


def _state(scope: Scope) -> MutableMapping[str, Any]:
    """The scope as the plain mapping it is (Litestar types it as a closed TypedDict)."""
    return cast(MutableMapping[str, Any], scope)


def _guarded_send(scope: Scope, send: Send) -> Send:
    """``send`` that never echoes a WebSocket token offered as a subprotocol (see
    :func:`sessiongate.asgi.guard_accept`), once authentication has recorded the offer."""

    async def guarded(message: Message) -> None:
        offer = _state(scope).get(_WEBSOCKET_OFFER)
        if offer is not None and message["type"] == "websocket.accept":
            asgi_send = cast(Callable[[MutableMapping[str, Any]], Awaitable[None]], send)
            await guard_accept(asgi_send, *offer)(cast(MutableMapping[str, Any], message))
            return
        await send(message)

    return guarded


def _anchored_patterns(exclude: str | Sequence[str] | None) -> list[str] | None:
    """``exclude`` with every pattern anchored at the start of the path.

    Litestar searches its ``exclude`` patterns anywhere in the path (``re.findall``), so
    ``"/health"`` would also exempt ``/admin/health-report``; here a pattern must match from
    the path's first character (``"/schema"`` exempts ``/schema`` and ``/schema/...``).
    """
    if exclude is None:
        return None
    patterns = [exclude] if isinstance(exclude, str) else list(exclude)
    if not all(isinstance(p, str) and p for p in patterns):
        raise ConfigurationError("exclude must be path patterns (non-empty strings)")
    return [f"^(?:{pattern})" for pattern in patterns] or None


class SessionGateMiddleware(AbstractAuthenticationMiddleware):
    """Litestar authentication middleware on a :class:`~sessiongate.gate.SessionGate`.

    Use it through :class:`SessionGatePlugin`, or as
    ``DefineMiddleware(SessionGateMiddleware, gate=gate, ...)``.

    Args:
        app: the next ASGI app (Litestar passes it).
        gate: the gate.
        policy: a :class:`~sessiongate.policy.WebPolicy`; or its options one by one as keywords
            (``csrf``, ``trusted_origins``, ``role_hierarchy``, ``block_on_outage``...),
            which also override ``policy``'s fields.
        allow_anonymous: let requests without a valid credential continue as an
            ``AnonymousUser`` (the guards then refuse them); by default they get 401.
        exclude, exclude_from_auth_key, exclude_http_methods, scopes: Litestar's own options
            of ``AbstractAuthenticationMiddleware``: path patterns (regular expressions that,
            unlike Litestar's, must match from the start of the path: see
            ``_anchored_patterns``), the route ``opt`` key and the methods (``OPTIONS`` by
            default) that skip authentication, and the scope types authenticated (HTTP and
            WebSocket).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        gate: SessionGate,
        policy: WebPolicy | None = None,
        allow_anonymous: bool = False,
        exclude: str | list[str] | None = None,
        exclude_from_auth_key: str = "exclude_from_auth",
        exclude_http_methods: Sequence[Method] | None = None,
        scopes: Scopes | None = None,
        **options: Unpack[WebOptions],
    ) -> None:
        if not isinstance(gate, SessionGate):
            raise ConfigurationError("gate must be a SessionGate")
        if not isinstance(allow_anonymous, bool):
            raise ConfigurationError("allow_anonymous must be True or False")
        super().__init__(
            app,
            exclude=_anchored_patterns(exclude),
            exclude_from_auth_key=exclude_from_auth_key,
            exclude_http_methods=exclude_http_methods,
            scopes=scopes,
        )
        self.gate = gate
        self.policy = build_policy(policy, options)
        self.require = None if allow_anonymous else AUTHENTICATED

    def __repr__(self) -> str:
        return f"SessionGateMiddleware(gate={self.gate!r}, policy={self.policy!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.WEBSOCKET:
            send = _guarded_send(scope, send)
        await super().__call__(scope, receive, send)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        """Authenticate and decide; raise the refusal, else return the user and credentials."""
        scope = connection.scope
        verdict, token, marker = await authenticate_connection(
            scope,  # type: ignore[arg-type]
            self.gate,
            self.policy,
        )
        decision = decide(verdict.outcome, verdict.facts, self.policy, require=self.require)
        if decision.error is not None:
            raise _exception(decision, verdict.facts)
        if marker:
            offered: tuple[str, ...] = tuple(_state(scope).get("subprotocols") or ())
            _state(scope)[_WEBSOCKET_OFFER] = (token, offered)
        return AuthenticationResult(user=decision.user, auth=credentials(verdict))


def _allowed(
    connection: ASGIConnection[Any, Any, Any, Any], requirement: Requirement
) -> tuple[Verdict, Decision]:
    """The middleware's verdict, decided again with ``requirement``: raises the refusal."""
    scope = connection.scope
    auth = scope.get("auth")
    verdict = auth.verdict if isinstance(auth, SessionGateCredentials) else None
    if verdict is None:
        # an excluded route, or no middleware: a configuration error (500), never a pass
        facts = connection_facts(scope)  # type: ignore[arg-type]
        error = ConfigurationError(
            "a sessiongate guard on a route the sessiongate middleware does not authenticate"
        )
        raise _exception(refuse(error, facts, _DEFAULT_POLICY), facts)
    decision = decide(verdict.outcome, verdict.facts, verdict.policy, require=requirement)
    if decision.error is not None:
        raise _exception(decision, verdict.facts)
    return verdict, decision


def _guard(requirement: Requirement) -> Guard:
    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        _allowed(connection, requirement)

    guard.__qualname__ = guard.__name__ = f"sessiongate_guard({requirement!r})"
    return guard


authenticated: Guard = _guard(AUTHENTICATED)
"""Guard: a signed-in user (for ``allow_anonymous=True``): 401, or 503 on an outage."""


def requires(
    roles: str | Iterable[str] = (),
    permissions: str | Iterable[str] = (),
    *,
    mode: Mode = "all",
    permissions_mode: Mode | None = None,
) -> Guard:
    """A guard demanding roles (hierarchy-expanded) and/or permissions: 403 otherwise.

    ``mode`` applies to ``roles`` (``"all"`` or ``"any"``); ``permissions_mode`` defaults to
    ``mode``. An anonymous user gets the error it carries (401, 503).
    """
    return _guard(
        Requirement(
            roles=(roles,) if isinstance(roles, str) else tuple(roles),
            permissions=(permissions,) if isinstance(permissions, str) else tuple(permissions),
            roles_mode=mode,
            permissions_mode=permissions_mode or mode,
        )
    )


def require_role(*roles: str, mode: Mode = "all") -> Guard:
    """A guard demanding every role (``mode="any"``: one of them), hierarchy-expanded."""
    if not roles:
        raise ConfigurationError("require_role needs at least one role")
    return requires(roles, mode=mode)


def require_permissions(*permissions: str, mode: Mode = "all") -> Guard:
    """A guard demanding every permission (``mode="any"``: one of them)."""
    if not permissions:
        raise ConfigurationError("require_permissions needs at least one permission")
    return requires(permissions=permissions, permissions_mode=mode)


def org_required(guard: OrgGuard) -> AsyncGuard:
    """A guard demanding the user's membership in the organization the request names (a path
    parameter, a header or the session's active one) to satisfy ``guard``
    (:func:`~sessiongate.organizations.require_org_role` /
    :func:`~sessiongate.organizations.require_org_permission`).

    Anonymous: the error it carries (401, 503 on an outage); not a member, or a role that does
    not grant what ``guard`` asks: 403 ``insufficient_scope``; a membership lookup that fails:
    503. On a WebSocket route the handshake is refused (close 1008, 1013 for an outage). The
    :class:`~sessiongate.organizations.Membership` is ``connection.state.membership``.
    """
    if not isinstance(guard, OrgGuard):
        raise ConfigurationError("org_required needs an OrgGuard (require_org_role...)")

    async def org_guard(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        verdict, decision = _allowed(connection, AUTHENTICATED)
        try:
            membership = await guard.check(
                decision.user, connection.path_params, connection.headers
            )
        except SessionGateError as error:
            facts = verdict.facts
            raise _exception(refuse(error, facts, verdict.policy), facts) from None
        connection.state.membership = membership

    org_guard.__qualname__ = org_guard.__name__ = f"sessiongate_org_guard({guard!r})"
    return org_guard


class SessionGatePlugin(InitPluginProtocol):
    """Install sessiongate in a Litestar app: ``Litestar(..., plugins=[SessionGatePlugin(gate)])``.

    Adds :class:`SessionGateMiddleware` (outermost), :func:`exception_handler` for
    :class:`SessionGateHTTPException` (unless the app has its own) and, in the OpenAPI
    document, the bearer and session-cookie security schemes, either of which satisfies every
    operation.

    Args:
        gate: the gate.
        policy: a :class:`~sessiongate.policy.WebPolicy`; or its options one by one as
            keywords, which also override ``policy``'s fields.
        allow_anonymous: as :class:`SessionGateMiddleware`.
        exclude / exclude_from_auth_key / exclude_http_methods: as
            :class:`SessionGateMiddleware`.
        cookie_name: the cookie documented in OpenAPI (``authjs.session-token``).
        openapi: add the security schemes to the OpenAPI document.
    """

    def __init__(
        self,
        gate: SessionGate,
        *,
        policy: WebPolicy | None = None,
        allow_anonymous: bool = False,
        exclude: str | list[str] | None = None,
        exclude_from_auth_key: str = "exclude_from_auth",
        exclude_http_methods: Sequence[Method] | None = None,
        cookie_name: str = AUTHJS_COOKIE,
        openapi: bool = True,
        **options: Unpack[WebOptions],
    ) -> None:
        if not isinstance(gate, SessionGate):
            raise ConfigurationError("gate must be a SessionGate")
        if not isinstance(allow_anonymous, bool):
            raise ConfigurationError("allow_anonymous must be True or False")
        _anchored_patterns(exclude)  # checked now, not when Litestar builds the first route
        self.gate = gate
        self.policy = build_policy(policy, options)
        self.cookie_name = cookie_name
        self.openapi = openapi
        self.middleware = DefineMiddleware(
            SessionGateMiddleware,
            gate=gate,
            policy=self.policy,
            allow_anonymous=allow_anonymous,
            exclude=exclude,
            exclude_from_auth_key=exclude_from_auth_key,
            exclude_http_methods=exclude_http_methods,
        )

    def __repr__(self) -> str:
        return f"SessionGatePlugin(gate={self.gate!r}, policy={self.policy!r})"

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add the middleware, the exception handler and the OpenAPI security schemes."""
        app_config.middleware.insert(0, self.middleware)
        app_config.exception_handlers.setdefault(SessionGateHTTPException, exception_handler)
        config = app_config.openapi_config
        if self.openapi and config is not None:
            components = Components(
                security_schemes={
                    BEARER_SCHEME: SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWE",
                        description="A NextAuth/Auth.js session token or a bearer JWT.",
                    ),
                    COOKIE_SCHEME: SecurityScheme(
                        type="apiKey",
                        name=self.cookie_name,
                        security_scheme_in="cookie",
                        description="The Next.js session cookie, sent by the browser.",
                    ),
                }
            )
            config = app_config.openapi_config = copy(config)  # as Litestar's own JWTAuth
            existing = config.components
            listed = existing if isinstance(existing, list) else [existing] if existing else []
            config.components = [*listed, components]
            config.security = [*(config.security or ()), {BEARER_SCHEME: []}, {COOKIE_SCHEME: []}]
        return app_config
