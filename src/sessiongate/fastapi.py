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

The dependencies reuse ``scope["user"]`` when :class:`~sessiongate.asgi.SessionGateMiddleware`
(or ``SessionGateBackend``) with the same gate already ran, so a token is verified once per
request, but they always apply their own CSRF and WebSocket origin checks to a cookie
credential: a verdict made under a weaker policy is never trusted. Without the middleware they
authenticate themselves and cache the result on the connection.

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

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request, Security, WebSocketException
from fastapi.openapi.models import APIKey, APIKeyIn, HTTPBearer
from fastapi.responses import Response
from fastapi.security.base import SecurityBase
from fastapi.security.oauth2 import SecurityScopes
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from .asgi import (
    WEBSOCKET_SUBPROTOCOL,
    SessionGateCredentials,
    build_settings,
    origin_reject,
    resolve_connection,
)
from .cookies import AUTHJS_COOKIE
from .errors import ConfigurationError, SessionGateError
from .gate import SessionGate
from .guards import Mode, RoleHierarchy, require_authenticated, require_scopes
from .guards import Requirement as _Requirement
from .responses import ErrorRenderer, error_response, websocket_close_code

__all__ = [
    "SessionGateAuth",
    "SessionGateHTTPException",
    "SessionGateWebSocketException",
    "install_error_handlers",
    "negotiated_subprotocol",
]


class SessionGateHTTPException(HTTPException):
    """An authentication/authorization failure on an HTTP route.

    ``detail`` is ``{"error": code, "message": ...}``; ``error`` is the original error.
    """

    def __init__(self, error: SessionGateError, credential_sent: bool = False) -> None:
        rendered = error_response(error, credential_sent)
        headers = {k: v for k, v in rendered.headers if k.lower() != "content-type"}
        super().__init__(status_code=error.status_code, detail=error.to_dict(), headers=headers)
        self.error = error
        self.credential_sent = credential_sent


class SessionGateWebSocketException(WebSocketException):
    """A refused WebSocket handshake: close code 1008 (1013 for an outage), reason = code."""

    def __init__(self, error: SessionGateError, credential_sent: bool = False) -> None:
        super().__init__(code=websocket_close_code(error), reason=error.code)
        self.error = error
        self.credential_sent = credential_sent


class _Scheme(SecurityBase):
    """An OpenAPI-only security scheme: it documents a credential and does nothing else."""

    def __init__(self, model: HTTPBearer | APIKey, scheme_name: str) -> None:
        self.model = model
        self.scheme_name = scheme_name

    async def __call__(self) -> None:
        return None


def negotiated_subprotocol(websocket: WebSocket) -> str | None:
    """The subprotocol to pass to ``websocket.accept`` when the client sent its token as
    ``["sessiongate.bearer", token]`` (browsers fail the connection otherwise); else ``None``.

    Needed only without :class:`~sessiongate.asgi.SessionGateMiddleware`, which does it for you.
    """
    offered = websocket.scope.get("subprotocols") or ()
    return WEBSOCKET_SUBPROTOCOL if WEBSOCKET_SUBPROTOCOL in offered else None


class SessionGateAuth(SecurityBase):
    """A FastAPI security scheme backed by a :class:`~sessiongate.gate.SessionGate`.

    Args:
        gate: the gate.
        auto_error: when ``False``, calling the scheme itself (``Depends(auth)``) returns
            ``None`` instead of raising for a missing or bad credential. ``auth.current_user``
            always raises and ``auth.optional_user`` never does (except for an outage, 503).
        cookie_name: the cookie documented in OpenAPI (``authjs.session-token`` by default).
        scheme_name / cookie_scheme_name: OpenAPI scheme names.
        bearer_format: shown in OpenAPI (``"JWE"``).
        description: OpenAPI description.
        role_hierarchy: ``RoleHierarchy`` or mapping used by role and scope checks.
        csrf, websocket_origin_check, trusted_origins, trust_forwarded, allow_query_token,
            query_param: as :class:`~sessiongate.asgi.SessionGateMiddleware`; used only when the
            middleware did not run.
    """

    def __init__(
        self,
        gate: SessionGate,
        *,
        auto_error: bool = True,
        cookie_name: str = AUTHJS_COOKIE,
        scheme_name: str = "SessionGateBearer",
        cookie_scheme_name: str = "SessionGateCookie",
        bearer_format: str = "JWE",
        description: str | None = None,
        role_hierarchy: RoleHierarchy | dict[str, list[str]] | None = None,
        csrf: bool = True,
        websocket_origin_check: bool = True,
        trusted_origins: Iterable[str] = (),
        trust_forwarded: bool = False,
        allow_query_token: bool = False,
        query_param: str = "access_token",
    ) -> None:
        self.settings = build_settings(
            gate,
            csrf=csrf,
            websocket_origin_check=websocket_origin_check,
            trusted_origins=trusted_origins,
            trust_forwarded=trust_forwarded,
            allow_query_token=allow_query_token,
            query_param=query_param,
            role_hierarchy=role_hierarchy,
        )
        self.gate = gate
        self.auto_error = auto_error
        self.hierarchy = self.settings.hierarchy
        self.scheme_name = scheme_name
        self.model = HTTPBearer(
            bearerFormat=bearer_format,
            description=description
            or "A NextAuth/Auth.js session token or a bearer JWT in the Authorization header.",
        )
        cookie = _Scheme(
            APIKey.model_validate(
                {
                    "in": APIKeyIn.cookie,
                    "name": cookie_name,
                    "description": "The Next.js session cookie, sent by the browser.",
                }
            ),
            cookie_scheme_name,
        )
        self.current_user = self._user_dependency(cookie, required=True)
        """Dependency: the authenticated user (401/403/503 otherwise)."""
        self.optional_user = self._user_dependency(cookie, required=False)
        """Dependency: the user, or ``None`` when anonymous (503 on an outage)."""

    def __repr__(self) -> str:
        return f"SessionGateAuth(gate={self.gate!r}, auto_error={self.auto_error})"

    # ------------------------------------------------------------------ resolution

    async def _resolve(self, conn: HTTPConnection) -> tuple[Any, SessionGateCredentials]:
        scope = conn.scope
        auth = scope.get("auth")
        if isinstance(auth, SessionGateCredentials) and auth.gate is self.gate and "user" in scope:
            if auth.settings is not self.settings:
                # decided under another policy (SessionGateBackend checks no origin at all, a
                # middleware may have csrf=False or trust more origins): apply ours as well
                reject = origin_reject(
                    scope, scope.get("headers") or (), self.settings, auth.credential
                )
                if reject is not None:
                    self._raise(conn, reject, auth.credential_sent)
            return scope["user"], auth
        resolution = await resolve_connection(scope, self.settings)
        if resolution.reject is not None:
            self._raise(conn, resolution.reject, resolution.auth.credential_sent)
        scope["user"] = resolution.user
        scope["auth"] = resolution.auth
        return resolution.user, resolution.auth

    @staticmethod
    def _raise(conn: HTTPConnection, error: SessionGateError, credential_sent: bool) -> Any:
        if conn.scope["type"] == "websocket":
            raise SessionGateWebSocketException(error, credential_sent)
        raise SessionGateHTTPException(error, credential_sent)

    async def authenticate(self, conn: HTTPConnection, scopes: Iterable[str] = ()) -> Any:
        """The user of ``conn``, checked against ``scopes``; raises the FastAPI exceptions."""
        user, auth = await self._resolve(conn)
        try:
            require_scopes(user, scopes, hierarchy=self.hierarchy)
        except SessionGateError as err:
            self._raise(conn, err, auth.credential_sent)
        return user

    async def __call__(self, conn: HTTPConnection, security_scopes: SecurityScopes) -> Any:
        """``Depends(auth)``: the user, or ``None`` when ``auto_error=False`` and anonymous."""
        user, auth = await self._resolve(conn)
        if not self.auto_error and not getattr(user, "is_authenticated", False):
            try:
                require_authenticated(user)
            except SessionGateError as err:
                if err.status_code == 503:
                    self._raise(conn, err, auth.credential_sent)
            return None
        return await self.authenticate(conn, security_scopes.scopes)

    def _user_dependency(self, cookie: _Scheme, *, required: bool) -> Callable[..., Awaitable[Any]]:
        """Build ``current_user``/``optional_user``.

        Each is itself a ``SecurityBase`` (the bearer scheme) with the cookie scheme as its only
        sub-dependency, so OpenAPI lists both schemes at the cost of one extra dependency.
        """
        owner = self

        class UserDependency(SecurityBase):
            def __init__(self) -> None:
                self.model = owner.model
                self.scheme_name = owner.scheme_name

            def __repr__(self) -> str:
                kind = "current_user" if required else "optional_user"
                return f"{owner!r}.{kind}"

            async def __call__(
                self,
                conn: HTTPConnection,
                security_scopes: SecurityScopes,
                _cookie: None = Security(cookie),
            ) -> Any:
                if required:
                    return await owner.authenticate(conn, security_scopes.scopes)
                user, auth = await owner._resolve(conn)
                if not getattr(user, "is_authenticated", False):
                    error = getattr(user, "error", None)
                    if isinstance(error, SessionGateError) and error.status_code == 503:
                        owner._raise(conn, error, auth.credential_sent)
                    return None
                return await owner.authenticate(conn, security_scopes.scopes)

        return UserDependency()

    # ------------------------------------------------------------------ guards

    def _guard(self, requirement: _Requirement) -> Callable[..., Awaitable[Any]]:
        owner = self
        user_dep = self.current_user

        async def guard(conn: HTTPConnection, user: Any = Depends(user_dep)) -> Any:  # noqa: B008
            """The user, if it satisfies the route's roles/permissions (403 otherwise)."""
            try:
                requirement.check(user)
            except SessionGateError as err:
                auth = conn.scope.get("auth")
                owner._raise(conn, err, bool(getattr(auth, "credential_sent", False)))
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
        return self._guard(_Requirement(roles=roles, roles_mode=chosen, hierarchy=self.hierarchy))

    def require_permissions(
        self, *permissions: str, mode: Mode = "all"
    ) -> Callable[..., Awaitable[Any]]:
        """A dependency returning the user if it holds the permissions (all, or ``mode="any"``)."""
        if not permissions:
            raise ConfigurationError("require_permissions needs at least one permission")
        return self._guard(_Requirement(permissions=permissions, permissions_mode=mode))


def install_error_handlers(app: FastAPI, *, error_renderer: ErrorRenderer | None = None) -> None:
    """Render sessiongate failures as ``{"error": code, "message": ...}`` and refuse WebSocket
    handshakes with a real 401/403/503 when the server supports the denial extension.

    Without this, HTTP failures still get the right status and ``WWW-Authenticate`` but
    FastAPI's ``{"detail": {...}}`` body, and WebSockets are closed with 1008.
    """
    render: ErrorRenderer = error_renderer or error_response

    async def on_http(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, SessionGateHTTPException):  # pragma: no cover - routing guarantee
            raise exc
        rendered = render(exc.error, exc.credential_sent)
        return Response(rendered.body, status_code=rendered.status, headers=dict(rendered.headers))

    async def on_websocket(websocket: WebSocket, exc: Exception) -> None:
        if not isinstance(exc, SessionGateWebSocketException):  # pragma: no cover
            raise exc
        if "websocket.http.response" in (websocket.scope.get("extensions") or {}):
            rendered = render(exc.error, exc.credential_sent)
            await websocket.send_denial_response(
                Response(rendered.body, status_code=rendered.status, headers=dict(rendered.headers))
            )
        else:
            await websocket.close(code=exc.code, reason=exc.reason)

    app.add_exception_handler(SessionGateHTTPException, on_http)
    app.add_exception_handler(SessionGateWebSocketException, on_websocket)
