"""FastAPI integration: :class:`SessionGateAuth`, a security scheme with ready dependencies.

.. code-block:: python

    gate = SessionGate.from_env()
    auth = SessionGateAuth(gate)
    app = FastAPI()
    install_error_handlers(app)          # flat {"error", "message"} bodies, WebSocket denials

    @app.get("/me")
    async def me(user: User = Depends(auth.current_user)) -> dict[str, str]: ...

    @app.get("/admin", dependencies=[Depends(auth.require_role("admin"))])
    async def admin() -> ...: ...

    @app.get("/reports")
    async def reports(user: User = Security(auth.current_user, scopes=["reports:read"])): ...

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, user: User = Depends(auth.current_user)): ...

OpenAPI shows two schemes, either of which satisfies an operation: ``SessionGateBearer`` (HTTP
bearer; Swagger's "Authorize" button sends it) and ``SessionGateCookie`` (the session cookie).
The bearer scheme is the dependency itself; the cookie scheme is added to the document by
:func:`install_error_handlers` (it costs nothing per request).

The dependencies reuse the verdict of :class:`~sessiongate.asgi.SessionGateMiddleware` (or
``SessionGateBackend``) with the same gate, so a token is verified once per request, but they
always decide again under their *own* :class:`~sessiongate.policy.WebPolicy`: a verdict made
under a weaker policy (``csrf=False``, more trusted origins, the backend's no checks at all) is
never trusted. Share one policy between the middleware and the dependency. Without the
middleware they authenticate themselves and leave the verdict on the connection.

Failures raise :class:`SessionGateHTTPException` (a FastAPI ``HTTPException`` with the right
status and ``WWW-Authenticate``) or, on WebSocket routes, :class:`SessionGateWebSocketException`
(a ``WebSocketException`` with code 1008, or 1013 for an outage). :func:`install_error_handlers`
renders them as ``{"error": code, "message": ...}`` and answers refused handshakes with a real
401/403 through the denial-response extension when the server supports it.

In your tests, override the user: ``app.dependency_overrides[auth.current_user] = lambda: user``.
Role, permission and scope checks still run against that user, because they depend on
``auth.current_user``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Unpack

from ._extras import missing_extra

try:
    from fastapi import Depends, FastAPI, HTTPException, Request, WebSocketException
    from fastapi.openapi.models import APIKey, APIKeyIn, HTTPBearer
    from fastapi.responses import Response
    from fastapi.routing import APIRoute
    from fastapi.security.base import SecurityBase
    from fastapi.security.oauth2 import SecurityScopes
    from starlette.requests import HTTPConnection
    from starlette.websockets import WebSocket
except ModuleNotFoundError as err:
    raise missing_extra(err, "fastapi") from None

from .asgi import (
    WEBSOCKET_SUBPROTOCOL,
    SessionGateCredentials,
    authenticate_connection,
    connection_facts,
    credentials,
)
from .cookies import AUTHJS_COOKIE
from .errors import ConfigurationError, SessionGateError
from .gate import SessionGate
from .guards import AUTHENTICATED, Mode, Requirement, RoleHierarchy
from .policy import (
    Decision,
    RequestFacts,
    WebOptions,
    WebPolicy,
    build_policy,
    decide,
    refuse,
)
from .responses import ErrorRenderer, ErrorResponse, error_response, websocket_close_code

__all__ = [
    "SessionGateAuth",
    "SessionGateHTTPException",
    "SessionGateWebSocketException",
    "document_cookie_schemes",
    "install_error_handlers",
    "negotiated_subprotocol",
]


class SessionGateHTTPException(HTTPException):
    """An authentication/authorization failure on an HTTP route.

    ``detail`` is ``{"error": code, "message": ...}``; ``error`` is the original error and
    ``response`` the rendered refusal (status, headers, body) of the dependency's policy.
    """

    def __init__(
        self,
        error: SessionGateError,
        credential_sent: bool = False,
        *,
        response: ErrorResponse | None = None,
    ) -> None:
        rendered = response or error_response(error, credential_sent)
        headers = {k: v for k, v in rendered.headers if k.lower() != "content-type"}
        super().__init__(status_code=rendered.status, detail=error.to_dict(), headers=headers)
        self.error = error
        self.credential_sent = credential_sent
        self.response = rendered


class SessionGateWebSocketException(WebSocketException):
    """A refused WebSocket handshake: close code 1008 (1013 for an outage), reason = code."""

    def __init__(
        self,
        error: SessionGateError,
        credential_sent: bool = False,
        *,
        response: ErrorResponse | None = None,
    ) -> None:
        super().__init__(code=websocket_close_code(error), reason=error.code)
        self.error = error
        self.credential_sent = credential_sent
        self.response = response or error_response(error, credential_sent)


def _exception(facts: RequestFacts, decision: Decision) -> Exception:
    """The exception that renders a refused ``decision``."""
    error = decision.error
    if error is None:  # pragma: no cover - callers pass refusals only
        raise ValueError("only a refused decision becomes an exception")
    if facts.websocket:
        return SessionGateWebSocketException(
            error, facts.credential_sent, response=decision.response
        )
    return SessionGateHTTPException(error, facts.credential_sent, response=decision.response)


class _Scheme(SecurityBase):
    """An OpenAPI-only security scheme: it documents a credential and is never a dependency."""

    def __init__(self, model: HTTPBearer | APIKey, scheme_name: str) -> None:
        self.model = model
        self.scheme_name = scheme_name


def negotiated_subprotocol(websocket: WebSocket) -> str | None:
    """The subprotocol to pass to ``websocket.accept`` when the client sent its token as
    ``["sessiongate.bearer", token]`` (browsers fail the connection otherwise); else ``None``.

    Needed only without :class:`~sessiongate.asgi.SessionGateMiddleware`, which does it for you.
    """
    offered = websocket.scope.get("subprotocols") or ()
    return WEBSOCKET_SUBPROTOCOL if WEBSOCKET_SUBPROTOCOL in offered else None


class _UserDependency(SecurityBase):
    """``auth.current_user`` / ``auth.optional_user``: the bearer scheme, as one dependency."""

    def __init__(self, owner: SessionGateAuth, *, required: bool) -> None:
        self.owner = owner
        self.required = required
        self.model = owner.model
        self.scheme_name = owner.scheme_name

    def __repr__(self) -> str:
        kind = "current_user" if self.required else "optional_user"
        return f"{self.owner!r}.{kind}"

    async def __call__(self, conn: HTTPConnection, security_scopes: SecurityScopes) -> Any:
        return await self.owner._user(conn, security_scopes.scopes, self.required)


class SessionGateAuth(SecurityBase):
    """A FastAPI security scheme backed by a :class:`~sessiongate.gate.SessionGate`.

    Args:
        gate: the gate.
        policy: a :class:`~sessiongate.policy.WebPolicy` (the same one as the middleware's, if
            any); or give its options one by one as keywords (``csrf``, ``trusted_origins``,
            ``role_hierarchy``, ``retry_after``, ...), which also override ``policy``'s fields.
        auto_error: when ``False``, calling the scheme itself (``Depends(auth)``) returns
            ``None`` instead of raising for a missing or bad credential. ``auth.current_user``
            always raises and ``auth.optional_user`` never does (except for a refusal of the
            policy: CSRF, or an outage when ``block_on_outage``).
        cookie_name: the cookie documented in OpenAPI (``authjs.session-token`` by default).
        scheme_name / cookie_scheme_name: OpenAPI scheme names.
        bearer_format: shown in OpenAPI (``"JWE"``).
        description: OpenAPI description.
    """

    def __init__(
        self,
        gate: SessionGate,
        *,
        policy: WebPolicy | None = None,
        auto_error: bool = True,
        cookie_name: str = AUTHJS_COOKIE,
        scheme_name: str = "SessionGateBearer",
        cookie_scheme_name: str = "SessionGateCookie",
        bearer_format: str = "JWE",
        description: str | None = None,
        **options: Unpack[WebOptions],
    ) -> None:
        if not isinstance(gate, SessionGate):
            raise ConfigurationError("gate must be a SessionGate")
        self.gate = gate
        self.policy = build_policy(policy, options)
        self.auto_error = auto_error
        self.scheme_name = scheme_name
        self.model = HTTPBearer(
            bearerFormat=bearer_format,
            description=description
            or "A NextAuth/Auth.js session token or a bearer JWT in the Authorization header.",
        )
        self.cookie_scheme = _Scheme(
            APIKey.model_validate(
                {
                    "in": APIKeyIn.cookie,
                    "name": cookie_name,
                    "description": "The Next.js session cookie, sent by the browser.",
                }
            ),
            cookie_scheme_name,
        )
        self._requirements: dict[tuple[str, ...], Requirement] = {(): AUTHENTICATED}
        self.current_user: Callable[..., Awaitable[Any]] = _UserDependency(self, required=True)
        """Dependency: the authenticated user (401/403/503 otherwise)."""
        self.optional_user: Callable[..., Awaitable[Any]] = _UserDependency(self, required=False)
        """Dependency: the user, or ``None`` when anonymous (503 on an outage)."""

    @property
    def hierarchy(self) -> RoleHierarchy | None:
        """The role hierarchy of the policy."""
        return self.policy.hierarchy

    def __repr__(self) -> str:
        return f"SessionGateAuth(gate={self.gate!r}, auto_error={self.auto_error})"

    # ------------------------------------------------------------------ the verdict

    async def _user(self, conn: HTTPConnection, scopes: Sequence[str], required: bool) -> Any:
        """The user of ``conn`` under this policy, ``None`` for an allowed anonymous request."""
        scope = conn.scope
        auth = scope.get("auth")
        verdict = auth.verdict if isinstance(auth, SessionGateCredentials) else None
        if verdict is None or verdict.gate is not self.gate:
            # no middleware of this gate ran: authenticate, and leave the verdict for the next
            # dependency of this request (and for request.user / request.auth)
            verdict, _token, _marker = await authenticate_connection(scope, self.gate, self.policy)
            scope["user"] = verdict.user
            scope["auth"] = credentials(verdict)
        # always decided under our own policy, whoever authenticated
        outcome = verdict.outcome
        anonymous = isinstance(outcome, SessionGateError)
        if anonymous and not required:
            require = None
        else:
            key = tuple(scopes)
            require = self._requirements.get(key) or self._requirement(key)
        decision = decide(outcome, verdict.facts, self.policy, require=require)
        if decision.error is not None:
            raise _exception(verdict.facts, decision)
        return None if anonymous else decision.user

    def _requirement(self, scopes: tuple[str, ...]) -> Requirement:
        requirement = self._requirements[scopes] = Requirement(scopes=scopes)
        return requirement

    async def authenticate(self, conn: HTTPConnection, scopes: Iterable[str] = ()) -> Any:
        """The user of ``conn``, checked against ``scopes``; raises the FastAPI exceptions."""
        return await self._user(conn, tuple(scopes), True)

    async def __call__(self, conn: HTTPConnection, security_scopes: SecurityScopes) -> Any:
        """``Depends(auth)``: the user, or ``None`` when ``auto_error=False`` and anonymous."""
        return await self._user(conn, security_scopes.scopes, self.auto_error)

    # ------------------------------------------------------------------ guards

    def _guard(self, requirement: Requirement) -> Callable[..., Awaitable[Any]]:
        owner = self

        async def guard(conn: HTTPConnection, user: Any = Depends(self.current_user)) -> Any:  # noqa: B008
            """The user, if it satisfies the route's roles/permissions (403 otherwise)."""
            error = requirement.unmet(user, owner.policy.hierarchy)
            if error is not None:
                auth = conn.scope.get("auth")
                verdict = auth.verdict if isinstance(auth, SessionGateCredentials) else None
                facts = verdict.facts if verdict is not None else connection_facts(conn.scope)
                raise _exception(facts, refuse(error, facts, owner.policy))
            return user

        return guard

    def require_role(
        self, *roles: str, any_: bool = False, mode: Mode | None = None
    ) -> Callable[..., Awaitable[Any]]:
        """A dependency returning the user if it holds every role (``any_=True``: one of them).

        Roles are expanded through the role hierarchy. Keep the returned dependency in a
        module-level name if you want to override it in tests, or override
        ``auth.current_user`` instead (the role check then runs against your fake user).
        """
        if not roles:
            raise ConfigurationError("require_role needs at least one role")
        chosen: Mode = mode or ("any" if any_ else "all")
        return self._guard(Requirement(roles=roles, roles_mode=chosen))

    def require(self, requirement: Requirement) -> Callable[..., Awaitable[Any]]:
        """A dependency returning the user if it meets ``requirement`` (fresh session, no
        impersonation, access-control statements: :class:`~sessiongate.guards.Requirement`)."""
        if not isinstance(requirement, Requirement):
            raise ConfigurationError("require() takes a sessiongate.guards.Requirement")
        return self._guard(requirement)

    def require_permissions(
        self, *permissions: str, mode: Mode = "all"
    ) -> Callable[..., Awaitable[Any]]:
        """A dependency returning the user if it holds the permissions (all, or ``mode="any"``)."""
        if not permissions:
            raise ConfigurationError("require_permissions needs at least one permission")
        return self._guard(Requirement(permissions=permissions, permissions_mode=mode))


# ---------------------------------------------------------------------- the application


def _cookie_schemes(dependant: Any) -> dict[str, _Scheme]:
    """Bearer scheme name -> cookie scheme, for every ``current_user``/``optional_user`` used
    anywhere in ``dependant``'s dependency tree."""
    found: dict[str, _Scheme] = {}
    stack = [dependant]
    while stack:
        current = stack.pop()
        call = getattr(current, "call", None)
        if isinstance(call, _UserDependency):
            found[call.scheme_name] = call.owner.cookie_scheme
        stack.extend(getattr(current, "dependencies", ()) or ())
    return found


def document_cookie_schemes(schema: dict[str, Any], routes: Iterable[Any]) -> None:
    """Add the session-cookie scheme next to the bearer scheme in an OpenAPI ``schema``.

    For each operation whose route depends on ``auth.current_user`` or ``auth.optional_user``,
    ``{"SessionGateCookie": scopes}`` follows ``{"SessionGateBearer": scopes}`` in its
    ``security`` list (either satisfies it), and the cookie scheme joins
    ``components.securitySchemes``. Idempotent.
    """
    paths = schema.get("paths") or {}
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        cookies = _cookie_schemes(route.dependant)
        if not cookies:
            continue
        operations = paths.get(route.path_format) or {}
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if not isinstance(operation, dict) or not operation.get("security"):
                continue
            security: list[dict[str, list[str]]] = []
            for item in operation["security"]:
                security.append(item)
                for name, scopes in item.items():
                    cookie = cookies.get(name)
                    if cookie is not None and len(item) == 1:
                        entry = {cookie.scheme_name: list(scopes)}
                        if entry not in operation["security"]:
                            security.append(entry)
            operation["security"] = security
            components = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            for cookie in cookies.values():
                components[cookie.scheme_name] = cookie.model.model_dump(
                    mode="json", by_alias=True, exclude_none=True
                )


def install_error_handlers(app: FastAPI, *, error_renderer: ErrorRenderer | None = None) -> None:
    """Render sessiongate failures as ``{"error": code, "message": ...}``, refuse WebSocket
    handshakes with a real 401/403/503 when the server supports the denial extension, and list
    the session-cookie scheme next to the bearer one in the app's OpenAPI document.

    Without this, HTTP failures still get the right status and ``WWW-Authenticate`` but
    FastAPI's ``{"detail": {...}}`` body, WebSockets are closed with 1008, and OpenAPI shows
    the bearer scheme only. ``error_renderer`` replaces the dependencies' policy renderer.
    """

    def rendered(exc: SessionGateHTTPException | SessionGateWebSocketException) -> Response:
        out = (
            exc.response
            if error_renderer is None
            else error_renderer(exc.error, exc.credential_sent)
        )
        return Response(out.body, status_code=out.status, headers=dict(out.headers))

    async def on_http(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, SessionGateHTTPException):  # pragma: no cover - routing guarantee
            raise exc
        return rendered(exc)

    async def on_websocket(websocket: WebSocket, exc: Exception) -> None:
        if not isinstance(exc, SessionGateWebSocketException):  # pragma: no cover
            raise exc
        if "websocket.http.response" in (websocket.scope.get("extensions") or {}):
            await websocket.send_denial_response(rendered(exc))
        else:
            await websocket.close(code=exc.code, reason=exc.reason)

    app.add_exception_handler(SessionGateHTTPException, on_http)
    app.add_exception_handler(SessionGateWebSocketException, on_websocket)

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        document_cookie_schemes(schema, app.routes)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
