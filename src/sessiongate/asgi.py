"""ASGI adapter: :class:`SessionGateMiddleware`, a Starlette ``AuthenticationBackend`` and a
``requires``-style decorator with roles and permissions.

The middleware runs the gate once per HTTP request or WebSocket handshake and sets
``scope["user"]`` (a :class:`~sessiongate.user.User` or an
:class:`~sessiongate.user.AnonymousUser` that keeps the reason) and ``scope["auth"]``
(:class:`SessionGateCredentials`, a Starlette ``AuthCredentials`` whose ``.scopes`` are the
user's roles, expanded through the role hierarchy, plus permissions). ``request.user``,
``request.auth.scopes`` and Starlette's own ``requires()`` therefore work unchanged.

It never blocks a request by itself, except:

* **CSRF** (on by default): a *cookie*-authenticated POST/PUT/PATCH/DELETE whose ``Origin`` (or
  ``Referer``) is neither the request's own origin nor in ``trusted_origins`` gets 403
  ``csrf_failed``;
* **cross-site WebSocket hijacking**: a *cookie*-authenticated handshake from a foreign
  ``Origin`` is refused (403 ``csrf_failed``);
* **provider outage** (``block_on_outage=True``, the default): a request whose credential could
  not be checked because a session database or JWKS endpoint is down gets 503, never 401.

WebSocket credentials, in order: ``Authorization`` header, a token offered as a subprotocol pair
``["sessiongate.bearer", "<token>"]`` (what browsers can send:
``new WebSocket(url, ["sessiongate.bearer", token])``), a ``?access_token=`` query parameter when
``allow_query_token=True``, and the session cookie. The token is removed from
``scope["subprotocols"]``, the ``Sec-WebSocket-Protocol`` header and the query string before the
application sees them, and when the application accepts, the server echoes
``sessiongate.bearer`` (or the application's own choice), never the token.

Refused handshakes get a real HTTP 401/403/503 through the ``websocket.http.response``
extension when the server offers it (uvicorn, Starlette's TestClient), otherwise
``websocket.close`` with code 1008 (1013 for an outage), never 1000.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import parse_qsl, urlencode

from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.websockets import WebSocket

from .errors import ConfigurationError, ProviderUnavailableError, SessionGateError
from .gate import SessionGate
from .guards import Mode, Requirement, RoleHierarchy, effective_scopes
from .origins import CSRFError, OriginPolicy, is_unsafe_method
from .responses import (
    ErrorRenderer,
    ErrorResponse,
    default_renderer,
    error_response,
    websocket_close_code,
)
from .user import AnonymousUser, User

__all__ = [
    "WEBSOCKET_SUBPROTOCOL",
    "ConnectionSettings",
    "Resolution",
    "SessionGateBackend",
    "SessionGateCredentials",
    "SessionGateMiddleware",
    "build_settings",
    "guard_accept",
    "requires",
    "resolve_connection",
    "send_error",
]

WEBSOCKET_SUBPROTOCOL = "sessiongate.bearer"
"""The subprotocol marker; the entry right after it in the offered list is the bearer token."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

P = ParamSpec("P")
R = TypeVar("R")


class SessionGateCredentials(AuthCredentials):
    """``scope["auth"]``: Starlette ``AuthCredentials`` plus how the request was authenticated.

    Attributes:
        scopes: the user's roles (hierarchy-expanded) and permissions, sorted.
        credential: ``"cookie"``, ``"bearer"`` or ``None`` when anonymous.
        authenticator: name of the authenticator that proved the session, if any.
        error: why the request is anonymous, if it is.
        credential_sent: whether the request carried any cookie or bearer credential.
        gate / hierarchy: the gate and role hierarchy that produced this (adapters reuse them).
    """

    def __init__(
        self,
        scopes: Sequence[str] | None = None,
        *,
        credential: str | None = None,
        authenticator: str | None = None,
        error: SessionGateError | None = None,
        credential_sent: bool = False,
        gate: SessionGate | None = None,
        hierarchy: RoleHierarchy | None = None,
    ) -> None:
        super().__init__(scopes)
        self.credential = credential
        self.authenticator = authenticator
        self.error = error
        self.credential_sent = credential_sent
        self.gate = gate
        self.hierarchy = hierarchy

    def __repr__(self) -> str:
        return (
            f"SessionGateCredentials(scopes={self.scopes!r}, credential={self.credential!r}, "
            f"authenticator={self.authenticator!r}, "
            f"error={self.error.code if self.error else None!r})"
        )


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Per-application settings shared by the middleware and the FastAPI dependency."""

    gate: SessionGate
    origin_policy: OriginPolicy
    csrf: bool = True
    websocket_origin_check: bool = True
    allow_query_token: bool = False
    query_param: str = "access_token"
    hierarchy: RoleHierarchy | None = None
    block_on_outage: bool = True


@dataclass(slots=True)
class Resolution:
    """The outcome of authenticating one connection (see :func:`resolve_connection`).

    ``reject`` is set when the connection must be refused before the application runs (CSRF,
    foreign WebSocket origin, provider outage when blocking). ``ws_token`` is the token taken
    from the subprotocol list (never to be echoed).
    """

    user: Any
    auth: SessionGateCredentials
    reject: SessionGateError | None = None
    ws_token: str | None = None
    ws_marker_offered: bool = False


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _websocket_token(
    scope: Scope, settings: ConnectionSettings
) -> tuple[str | None, bool, list[tuple[bytes, bytes]]]:
    """Take the token from the subprotocols (or query); strip it from the app's view."""
    headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or ())
    offered: list[str] = list(scope.get("subprotocols") or ())
    token: str | None = None
    marker = WEBSOCKET_SUBPROTOCOL in offered
    if marker:
        index = offered.index(WEBSOCKET_SUBPROTOCOL)
        if index + 1 < len(offered):
            token = offered[index + 1]
            remaining = [p for p in offered if p != token]
            scope["subprotocols"] = remaining
            headers = [(k, v) for k, v in headers if k.lower() != b"sec-websocket-protocol"]
            headers.append((b"sec-websocket-protocol", ", ".join(remaining).encode("latin-1")))
            scope["headers"] = headers
    if settings.allow_query_token and scope.get("query_string"):
        query = scope["query_string"].decode("latin-1")
        pairs = parse_qsl(query, keep_blank_values=True)
        found = [v for k, v in pairs if k == settings.query_param]
        if found:
            if token is None:
                token = found[0]
            rest = [(k, v) for k, v in pairs if k != settings.query_param]
            scope["query_string"] = urlencode(rest).encode("latin-1")
    auth_headers = headers
    if token and _header(headers, b"authorization") is None:
        auth_headers = [*headers, (b"authorization", ("Bearer " + token).encode("latin-1"))]
    return token, marker, auth_headers


async def resolve_connection(scope: Scope, settings: ConnectionSettings) -> Resolution:
    """Authenticate an HTTP or WebSocket scope and apply the CSRF / origin policy.

    Mutates ``scope`` only to strip a WebSocket token from ``subprotocols``, the
    ``Sec-WebSocket-Protocol`` header and (when enabled) the query string.
    """
    is_ws = scope["type"] == "websocket"
    token: str | None = None
    marker = False
    if is_ws:
        token, marker, headers = _websocket_token(scope, settings)
    else:
        headers = scope.get("headers") or []
    hierarchy = settings.hierarchy
    try:
        result = await settings.gate.authenticate(headers)
    except SessionGateError as err:
        credential_sent = token is not None or any(
            k.lower() in (b"cookie", b"authorization") for k, _ in headers
        )
        blocked: SessionGateError | None = None
        if settings.block_on_outage and isinstance(err, ProviderUnavailableError):
            blocked = err
        auth = SessionGateCredentials(
            error=err,
            credential_sent=credential_sent,
            gate=settings.gate,
            hierarchy=hierarchy,
        )
        return Resolution(AnonymousUser(error=err), auth, blocked, token, marker)
    user = result.user
    if type(user) is User:
        held = user.roles | user.permissions
        if hierarchy is not None and user.roles:
            held = held | hierarchy.expand(user.roles)
    else:
        held = effective_scopes(user, hierarchy)
    auth = SessionGateCredentials(
        sorted(held),
        credential=result.credential,
        authenticator=result.authenticator,
        credential_sent=True,
        gate=settings.gate,
        hierarchy=hierarchy,
    )
    reject: SessionGateError | None = None
    if result.credential == "cookie":
        check = (
            settings.websocket_origin_check
            if is_ws
            else (settings.csrf and is_unsafe_method(scope.get("method", "GET")))
        )
        if check:
            try:
                settings.origin_policy.check(
                    origin=_header(headers, b"origin"),
                    referer=None if is_ws else _header(headers, b"referer"),
                    scheme=scope.get("scheme", "http"),
                    host=_header(headers, b"host"),
                    forwarded_host=_header(headers, b"x-forwarded-host"),
                    forwarded_proto=_header(headers, b"x-forwarded-proto"),
                    allow_referer=not is_ws,
                )
            except CSRFError as err:
                reject = err
    return Resolution(user, auth, reject, token, marker)


async def send_error(
    scope: Scope,
    receive: Receive,
    send: Send,
    response: ErrorResponse,
    error: SessionGateError,
) -> None:
    """Send ``response`` on an HTTP scope, or refuse a WebSocket handshake with it.

    WebSocket: the denial extension when offered, else ``websocket.close`` with 1008 (1013 for
    an outage).
    """
    if scope["type"] == "websocket":
        message = await receive()
        if message.get("type") != "websocket.connect":
            return
        if "websocket.http.response" in (scope.get("extensions") or {}):
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": response.status,
                    "headers": response.header_list(),
                }
            )
            await send({"type": "websocket.http.response.body", "body": response.body})
        else:
            await send(
                {
                    "type": "websocket.close",
                    "code": websocket_close_code(error),
                    "reason": error.code,
                }
            )
        return
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": response.header_list(),
        }
    )
    await send({"type": "http.response.body", "body": response.body})


def guard_accept(send: Send, token: str | None, offered: Sequence[str]) -> Send:
    """Wrap ``send`` so a ``websocket.accept`` never echoes ``token`` as the subprotocol.

    The client offered ``sessiongate.bearer``; browsers fail the connection unless the server
    selects one of the offered subprotocols, so ``sessiongate.bearer`` is selected when the
    application chose none (or chose something it was not offered).
    """
    allowed = frozenset(offered)

    async def guarded(message: Message) -> None:
        if message.get("type") == "websocket.accept":
            chosen = message.get("subprotocol")
            if chosen is None or chosen == token or chosen not in allowed:
                message = {**message, "subprotocol": WEBSOCKET_SUBPROTOCOL}
            extra = message.get("headers")
            if extra:
                message["headers"] = [
                    (k, v) for k, v in extra if k.lower() != b"sec-websocket-protocol"
                ]
        await send(message)

    return guarded


class SessionGateMiddleware:
    """Pure ASGI middleware authenticating every HTTP request and WebSocket handshake.

    Args:
        app: the ASGI application.
        gate: the :class:`~sessiongate.gate.SessionGate`.
        csrf: check ``Origin``/``Referer`` on cookie-authenticated unsafe methods (default on).
        websocket_origin_check: check ``Origin`` on cookie-authenticated handshakes (default on).
        trusted_origins: origins allowed besides the request's own (both checks), e.g. the
            Next.js front end ``"https://app.example.com"``; ``"https://*.example.com"`` allowed.
        trust_forwarded: take host and scheme from ``X-Forwarded-Host``/``-Proto``.
        allow_query_token: accept ``?access_token=`` on WebSocket handshakes (off: URLs leak
            into logs).
        query_param: the query parameter name for that token.
        role_hierarchy: ``RoleHierarchy`` or a plain mapping; expands ``scope["auth"].scopes``.
        block_on_outage: answer 503 when the provider is down (default). With ``False`` the
            request continues anonymous and protected routes answer 503 themselves.
        retry_after: seconds for ``Retry-After`` on 503 responses.
        realm: optional ``realm`` in ``WWW-Authenticate``.
        error_renderer: ``(error, credential_sent) -> ErrorResponse`` to customise responses.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        gate: SessionGate,
        csrf: bool = True,
        websocket_origin_check: bool = True,
        trusted_origins: Iterable[str] = (),
        trust_forwarded: bool = False,
        allow_query_token: bool = False,
        query_param: str = "access_token",
        role_hierarchy: RoleHierarchy | dict[str, list[str]] | None = None,
        block_on_outage: bool = True,
        retry_after: int | None = None,
        realm: str | None = None,
        error_renderer: ErrorRenderer | None = None,
    ) -> None:
        self.app = app
        self.settings = build_settings(
            gate,
            csrf=csrf,
            websocket_origin_check=websocket_origin_check,
            trusted_origins=trusted_origins,
            trust_forwarded=trust_forwarded,
            allow_query_token=allow_query_token,
            query_param=query_param,
            role_hierarchy=role_hierarchy,
            block_on_outage=block_on_outage,
        )
        self.render: ErrorRenderer = default_renderer(
            error_renderer, realm=realm, retry_after=retry_after
        )

    def __repr__(self) -> str:
        return f"SessionGateMiddleware(gate={self.settings.gate!r}, csrf={self.settings.csrf})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        resolution = await resolve_connection(scope, self.settings)
        if resolution.reject is not None:
            error = resolution.reject
            response = self.render(error, resolution.auth.credential_sent)
            await send_error(scope, receive, send, response, error)
            return
        scope["user"] = resolution.user
        scope["auth"] = resolution.auth
        if resolution.ws_marker_offered:
            send = guard_accept(send, resolution.ws_token, scope.get("subprotocols") or ())
        await self.app(scope, receive, send)


def build_settings(
    gate: SessionGate,
    *,
    csrf: bool = True,
    websocket_origin_check: bool = True,
    trusted_origins: Iterable[str] = (),
    trust_forwarded: bool = False,
    allow_query_token: bool = False,
    query_param: str = "access_token",
    role_hierarchy: RoleHierarchy | dict[str, list[str]] | None = None,
    block_on_outage: bool = True,
) -> ConnectionSettings:
    """Validate adapter options once, at construction time."""
    if not isinstance(gate, SessionGate):
        raise ConfigurationError("gate must be a SessionGate")
    if not isinstance(query_param, str) or not query_param:
        raise ConfigurationError("query_param must be a non-empty string")
    hierarchy = (
        role_hierarchy
        if role_hierarchy is None or isinstance(role_hierarchy, RoleHierarchy)
        else RoleHierarchy(role_hierarchy)
    )
    return ConnectionSettings(
        gate=gate,
        origin_policy=OriginPolicy(trusted_origins, trust_forwarded=trust_forwarded),
        csrf=csrf,
        websocket_origin_check=websocket_origin_check,
        allow_query_token=allow_query_token,
        query_param=query_param,
        hierarchy=hierarchy,
        block_on_outage=block_on_outage,
    )


class SessionGateBackend(AuthenticationBackend):
    """A Starlette ``AuthenticationBackend`` on a gate, for ``AuthenticationMiddleware``.

    Never raises (Starlette would answer 400): a missing or bad credential yields an
    ``AnonymousUser`` carrying the reason. It reads the ``Cookie`` and ``Authorization``
    headers only and does no CSRF or WebSocket origin checks; prefer
    :class:`SessionGateMiddleware`, which does.
    """

    def __init__(
        self,
        gate: SessionGate,
        *,
        role_hierarchy: RoleHierarchy | dict[str, list[str]] | None = None,
    ) -> None:
        self.settings = build_settings(
            gate,
            csrf=False,
            websocket_origin_check=False,
            role_hierarchy=role_hierarchy,
            block_on_outage=False,
        )

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        """Return ``(SessionGateCredentials, user)``; anonymous users keep the error."""
        resolution = await resolve_connection(conn.scope, self.settings)
        user: BaseUser = resolution.user
        return resolution.auth, user


def requires(
    roles: str | Sequence[str] = (),
    permissions: str | Sequence[str] = (),
    *,
    mode: Mode = "all",
    permissions_mode: Mode | None = None,
    role_hierarchy: RoleHierarchy | None = None,
    error_renderer: ErrorRenderer | None = None,
) -> Callable[[Callable[P, Any]], Callable[P, Any]]:
    """Starlette endpoint decorator: require authentication and, optionally, roles/permissions.

    Works like ``starlette.authentication.requires`` (the endpoint needs a ``request`` or
    ``websocket`` parameter) but answers 401 with the precise reason, 403 ``insufficient_scope``
    or 503, with the standard JSON body; refused WebSockets get a denial response or close 1008.
    ``mode`` applies to ``roles``; ``permissions_mode`` defaults to ``mode``. The role hierarchy
    defaults to the middleware's.
    """
    requirement = Requirement(
        roles=(roles,) if isinstance(roles, str) else tuple(roles),
        permissions=(permissions,) if isinstance(permissions, str) else tuple(permissions),
        roles_mode=mode,
        permissions_mode=permissions_mode or mode,
        hierarchy=role_hierarchy,
    )
    render: ErrorRenderer = error_renderer or error_response

    def check(conn: HTTPConnection) -> SessionGateError | None:
        auth = conn.scope.get("auth")
        if "user" not in conn.scope:
            return ConfigurationError("SessionGateMiddleware is not installed")
        req = requirement
        if req.hierarchy is None and isinstance(auth, SessionGateCredentials) and auth.hierarchy:
            req = Requirement(
                req.roles, req.permissions, req.roles_mode, req.permissions_mode, auth.hierarchy
            )
        try:
            req.check(conn.scope["user"])
        except SessionGateError as err:
            return err
        return None

    def sent(conn: HTTPConnection) -> bool:
        auth = conn.scope.get("auth")
        return bool(getattr(auth, "credential_sent", False))

    def to_response(error: SessionGateError, conn: HTTPConnection) -> Response:
        rendered = render(error, sent(conn))
        return Response(rendered.body, status_code=rendered.status, headers=dict(rendered.headers))

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
                error = check(websocket)
                if error is None:
                    await func(*args, **kwargs)
                    return
                if "websocket.http.response" in (websocket.scope.get("extensions") or {}):
                    await websocket.send_denial_response(to_response(error, websocket))
                else:
                    await websocket.close(websocket_close_code(error), error.code)

            return ws_wrapper

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                request = conn_of(args, kwargs)
                error = check(request)
                if error is not None:
                    return to_response(error, request)
                return await func(*args, **kwargs)

            return async_wrapper

        @functools.wraps(func)
        def sync_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            request = conn_of(args, kwargs)
            error = check(request)
            if error is not None:
                return to_response(error, request)
            return func(*args, **kwargs)

        return sync_wrapper

    return decorator
