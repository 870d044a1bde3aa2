"""ASGI adapter: :class:`SessionGateMiddleware`, a Starlette ``AuthenticationBackend`` and a
``requires``-style decorator with roles and permissions.

The middleware runs the gate once per HTTP request or WebSocket handshake and sets
``scope["user"]`` (a :class:`~sessiongate.user.User` or an
:class:`~sessiongate.user.AnonymousUser` that keeps the reason) and ``scope["auth"]``
(:class:`SessionGateCredentials`, a Starlette ``AuthCredentials`` whose ``.scopes`` are the
user's roles, expanded through the role hierarchy, plus permissions). ``request.user``,
``request.auth.scopes`` and Starlette's own ``requires()`` therefore work unchanged.

Options live in one :class:`~sessiongate.policy.WebPolicy` (``policy=``, or the same options
as keywords) and every decision is :func:`sessiongate.policy.decide`'s; this module only
extracts the request facts and renders the decision. The middleware never blocks a request by
itself, except:

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

import dataclasses
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any, ParamSpec, TypeVar, Unpack, cast
from urllib.parse import parse_qsl, urlencode

from ._extras import missing_extra

try:
    from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
    from starlette.requests import HTTPConnection
    from starlette.responses import Response
    from starlette.websockets import WebSocket
except ModuleNotFoundError as err:
    raise missing_extra(err, "starlette") from None

from .errors import ConfigurationError, SessionGateError
from .gate import SessionGate
from .guards import Mode, Requirement, RoleHierarchy, effective_scopes
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
from .responses import ErrorRenderer, websocket_close_code
from .user import User

__all__ = [
    "WEBSOCKET_SUBPROTOCOL",
    "SessionGateBackend",
    "SessionGateCredentials",
    "SessionGateMiddleware",
    "authenticate_connection",
    "connection_facts",
    "credentials",
    "guard_accept",
    "requires",
    "send_decision",
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

_DEFAULT_POLICY = WebPolicy()


class SessionGateCredentials(AuthCredentials):
    """``scope["auth"]``: Starlette ``AuthCredentials`` plus how the request was authenticated.

    Attributes:
        scopes: the user's roles (hierarchy-expanded) and permissions, sorted.
        credential: ``"cookie"``, ``"bearer"`` or ``None`` when anonymous.
        authenticator: name of the authenticator that proved the session, if any.
        error: why the request is anonymous, if it is.
        credential_sent: whether the request carried any cookie or bearer credential.
        gate / hierarchy: the gate and role hierarchy that produced this.
        verdict: the :class:`~sessiongate.policy.Verdict` (outcome, request facts and the
            policy it was decided under) that later layers reuse instead of verifying again;
            they decide again under their own policy.
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
        verdict: Verdict | None = None,
    ) -> None:
        super().__init__(scopes)
        self.credential = credential
        self.authenticator = authenticator
        self.error = error
        self.credential_sent = credential_sent
        self.gate = gate
        self.hierarchy = hierarchy
        self.verdict = verdict

    @property
    def policy(self) -> WebPolicy | None:
        """The policy this verdict was decided under."""
        return self.verdict.policy if self.verdict is not None else None

    def __repr__(self) -> str:
        return (
            f"SessionGateCredentials(scopes={self.scopes!r}, credential={self.credential!r}, "
            f"authenticator={self.authenticator!r}, "
            f"error={self.error.code if self.error else None!r})"
        )


# ------------------------------------------------------------------------------ facts in

_FACT_HEADERS = {
    b"origin": 0,
    b"referer": 1,
    b"host": 2,
    b"x-forwarded-host": 3,
    b"x-forwarded-proto": 4,
    b"cookie": 5,
    b"authorization": 5,
}


def connection_facts(
    scope: Scope,
    headers: Iterable[tuple[bytes, bytes]] | None = None,
    *,
    query_token: bool = False,
) -> RequestFacts:
    """The :class:`~sessiongate.policy.RequestFacts` of an HTTP or WebSocket scope.

    ``headers`` defaults to the scope's; the first occurrence of each header counts.
    ``query_token``: the bearer token was taken from the query string.
    """
    found: list[bytes | None] = [None] * 6
    for key, value in scope.get("headers") or () if headers is None else headers:
        slot = _FACT_HEADERS.get(key.lower())
        if slot is not None and found[slot] is None:
            found[slot] = value
    origin, referer, host, forwarded_host, forwarded_proto, credential = found
    return RequestFacts(
        scope.get("method", "GET"),
        scope.get("scheme", "http"),
        None if host is None else host.decode("latin-1"),
        None if origin is None else origin.decode("latin-1"),
        None if referer is None else referer.decode("latin-1"),
        None if forwarded_host is None else forwarded_host.decode("latin-1"),
        None if forwarded_proto is None else forwarded_proto.decode("latin-1"),
        scope["type"] == "websocket",
        credential is not None,
        query_token,
    )


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _websocket_token(
    scope: Scope, policy: WebPolicy
) -> tuple[str | None, bool, list[tuple[bytes, bytes]], bool]:
    """Take the token from the subprotocols (or query); strip it from the app's view.

    Returns the token, whether ``sessiongate.bearer`` was offered, the headers to authenticate
    with (an ``Authorization`` header made from the token when there is none) and whether the
    token used came from the query string.
    """
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
    from_query = False
    if policy.allow_query_token and scope.get("query_string"):
        query = scope["query_string"].decode("latin-1")
        pairs = parse_qsl(query, keep_blank_values=True)
        found = [v for k, v in pairs if k == policy.query_param]
        if found:
            if token is None:
                token = found[0]
                from_query = True
            rest = [(k, v) for k, v in pairs if k != policy.query_param]
            scope["query_string"] = urlencode(rest).encode("latin-1")
    auth_headers = headers
    if token and _header(headers, b"authorization") is None:
        auth_headers = [*headers, (b"authorization", ("Bearer " + token).encode("latin-1"))]
    else:
        from_query = False
    return token, marker, auth_headers, from_query


async def authenticate_connection(
    scope: Scope, gate: SessionGate, policy: WebPolicy
) -> tuple[Verdict, str | None, bool]:
    """Authenticate an HTTP or WebSocket scope: ``(verdict, websocket token, marker offered)``.

    Mutates ``scope`` only to strip a WebSocket token from ``subprotocols``, the
    ``Sec-WebSocket-Protocol`` header and (when ``policy`` allows query tokens) the query
    string. Nothing is decided here: pass the verdict to :func:`~sessiongate.policy.decide`.
    """
    token: str | None = None
    marker = from_query = False
    headers: Iterable[tuple[bytes, bytes]]
    if scope["type"] == "websocket":
        token, marker, headers, from_query = _websocket_token(scope, policy)
    else:
        headers = scope.get("headers") or ()
    facts = connection_facts(scope, headers, query_token=from_query)
    try:
        outcome: Any = await gate.authenticate(headers)
    except SessionGateError as err:
        outcome = err
    return Verdict(gate, outcome, facts, policy), token, marker


def _held_scopes(user: Any, hierarchy: RoleHierarchy | None) -> list[str]:
    if type(user) is User:
        if not user.roles:
            return sorted(user.permissions)
        held = user.roles | user.permissions
        if hierarchy is not None:
            held = held | hierarchy.expand(user.roles)
        return sorted(held)
    return sorted(effective_scopes(user, hierarchy))


def credentials(verdict: Verdict) -> SessionGateCredentials:
    """``scope["auth"]`` for ``verdict``: the scopes of its user, and the verdict itself."""
    hierarchy = verdict.policy.hierarchy
    outcome = verdict.outcome
    if isinstance(outcome, SessionGateError):
        return SessionGateCredentials(
            error=outcome,
            credential_sent=verdict.facts.credential_sent,
            gate=verdict.gate,
            hierarchy=hierarchy,
            verdict=verdict,
        )
    return SessionGateCredentials(
        _held_scopes(outcome.user, hierarchy),
        credential=outcome.credential,
        authenticator=outcome.authenticator,
        credential_sent=True,
        gate=verdict.gate,
        hierarchy=hierarchy,
        verdict=verdict,
    )


# ------------------------------------------------------------------------------ decision out


def _response(decision: Decision, sent: bool, error_renderer: ErrorRenderer | None) -> Response:
    rendered = decision.response
    if error_renderer is not None and decision.error is not None:
        rendered = error_renderer(decision.error, sent)
    if rendered is None:
        raise ValueError("only a refused decision has a response")
    return Response(rendered.body, status_code=rendered.status, headers=dict(rendered.headers))


async def send_decision(scope: Scope, receive: Receive, send: Send, decision: Decision) -> None:
    """Send a refused ``decision`` on an HTTP scope, or refuse a WebSocket handshake with it.

    WebSocket: the denial-response extension when offered, else ``websocket.close`` with the
    decision's close code (1008, 1013 for an outage).
    """
    response, error = decision.response, decision.error
    if response is None or error is None:
        raise ValueError("only a refused decision can be sent")
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
            code = decision.close_code or websocket_close_code(error)
            await send({"type": "websocket.close", "code": code, "reason": error.code})
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


def _check_gate(gate: object) -> SessionGate:
    if not isinstance(gate, SessionGate):
        raise ConfigurationError("gate must be a SessionGate")
    return gate


class SessionGateMiddleware:
    """Pure ASGI middleware authenticating every HTTP request and WebSocket handshake.

    Args:
        app: the ASGI application.
        gate: the :class:`~sessiongate.gate.SessionGate`.
        policy: a :class:`~sessiongate.policy.WebPolicy` (share it with
            :class:`~sessiongate.fastapi.SessionGateAuth`).
        **options: or the policy's options one by one (``csrf``, ``websocket_origin_check``,
            ``trusted_origins``, ``trust_forwarded``, ``allow_query_token``, ``query_param``,
            ``role_hierarchy``, ``block_on_outage``, ``retry_after``, ``realm``,
            ``error_renderer``; see :class:`~sessiongate.policy.WebPolicy`); given with
            ``policy``, they override its fields.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        gate: SessionGate,
        policy: WebPolicy | None = None,
        **options: Unpack[WebOptions],
    ) -> None:
        self.app = app
        self.gate = _check_gate(gate)
        self.policy = build_policy(policy, options)

    def __repr__(self) -> str:
        return f"SessionGateMiddleware(gate={self.gate!r}, policy={self.policy!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        verdict, token, marker = await authenticate_connection(scope, self.gate, self.policy)
        decision = decide(verdict.outcome, verdict.facts, self.policy)
        if decision.error is not None:
            await send_decision(scope, receive, send, decision)
            return
        scope["user"] = decision.user
        scope["auth"] = credentials(verdict)
        if marker:
            send = guard_accept(send, token, scope.get("subprotocols") or ())
        await self.app(scope, receive, send)


class SessionGateBackend(AuthenticationBackend):
    """A Starlette ``AuthenticationBackend`` on a gate, for ``AuthenticationMiddleware``.

    Never refuses (Starlette would answer 400): a missing or bad credential yields an
    ``AnonymousUser`` carrying the reason, and no CSRF or WebSocket Origin check is made (its
    verdict records them as off, so a FastAPI dependency after it applies its own). Prefer
    :class:`SessionGateMiddleware`, which checks. ``policy``/``**options`` as there; only the
    role hierarchy and the WebSocket query-token options matter here.
    """

    def __init__(
        self,
        gate: SessionGate,
        *,
        policy: WebPolicy | None = None,
        **options: Unpack[WebOptions],
    ) -> None:
        self.gate = _check_gate(gate)
        self.policy = dataclasses.replace(
            build_policy(policy, options),
            csrf=False,
            websocket_origin_check=False,
            block_on_outage=False,
        )

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        """Return ``(SessionGateCredentials, user)``; anonymous users keep the error."""
        verdict, _token, _marker = await authenticate_connection(conn.scope, self.gate, self.policy)
        decision = decide(verdict.outcome, verdict.facts, self.policy)
        user: BaseUser = decision.user
        return credentials(verdict), user


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
                if "websocket.http.response" in (websocket.scope.get("extensions") or {}):
                    await websocket.send_denial_response(_response(decision, sent, error_renderer))
                elif decision.error is not None:
                    code = decision.close_code or websocket_close_code(decision.error)
                    await websocket.close(code, decision.error.code)

            return ws_wrapper

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                refusal = judge(conn_of(args, kwargs))
                if refusal is not None:
                    return _response(*refusal, error_renderer)
                return await func(*args, **kwargs)

            return async_wrapper

        @functools.wraps(func)
        def sync_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            refusal = judge(conn_of(args, kwargs))
            if refusal is not None:
                return _response(*refusal, error_renderer)
            return func(*args, **kwargs)

        return sync_wrapper

    return decorator
