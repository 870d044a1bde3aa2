"""Decision out: the one place a refused HTTP request or WebSocket handshake is sent.

A refused WebSocket handshake gets a real HTTP response (401/403/503 with the JSON body) through
the ASGI WebSocket Denial Response extension (``websocket.http.response.start``) when the server
advertises it in ``scope["extensions"]`` (uvicorn, Hypercorn, Starlette's TestClient), else
``websocket.close`` before accept with 1008 (1013 for an outage), which servers turn into an
HTTP 403. Either way the server completes the handshake itself, so it logs no error for a
normal refusal. :func:`refuse_websocket` is that rule; the middleware, ``requires()`` and the
FastAPI exception handler all call it.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._extras import missing_extra

try:
    from starlette.responses import Response
except ModuleNotFoundError as err:
    raise missing_extra(err, "starlette") from None

from ..errors import SessionGateError
from ..policy import Decision
from ..responses import ErrorRenderer, ErrorResponse, websocket_close_code
from .connection import WEBSOCKET_SUBPROTOCOL, Message, Receive, Scope, Send

__all__ = [
    "DENIAL_EXTENSION",
    "guard_accept",
    "refuse_websocket",
    "render",
    "send_decision",
]

DENIAL_EXTENSION = "websocket.http.response"
"""The ASGI extension a server advertises when it can send an HTTP response to a handshake."""


def render(response: ErrorResponse) -> Response:
    """A Starlette ``Response`` for a rendered refusal."""
    return Response(response.body, status_code=response.status, headers=dict(response.headers))


def rendered(decision: Decision, sent: bool, error_renderer: ErrorRenderer | None) -> ErrorResponse:
    """The refusal of ``decision``, through ``error_renderer`` when one is given."""
    out = decision.response
    if error_renderer is not None and decision.error is not None:
        out = error_renderer(decision.error, sent)
    if out is None:
        raise ValueError("only a refused decision has a response")
    return out


async def refuse_websocket(
    scope: Scope,
    send: Send,
    response: ErrorResponse,
    error: SessionGateError,
    close_code: int | None = None,
) -> None:
    """Refuse a WebSocket handshake that was not accepted: ``response`` through the denial
    extension when ``scope`` advertises it, else ``websocket.close`` with ``close_code``
    (default :func:`~sessiongate.responses.websocket_close_code`) and the error code as reason.

    ``send`` is the ASGI send callable, or a Starlette ``WebSocket.send`` (its state machine
    then follows).
    """
    if DENIAL_EXTENSION in (scope.get("extensions") or {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": response.status,
                "headers": response.header_list(),
            }
        )
        await send({"type": "websocket.http.response.body", "body": response.body})
        return
    code = close_code or websocket_close_code(error)
    await send({"type": "websocket.close", "code": code, "reason": error.code})


async def send_decision(scope: Scope, receive: Receive, send: Send, decision: Decision) -> None:
    """Send a refused ``decision`` on an HTTP scope, or refuse a WebSocket handshake with it
    (:func:`refuse_websocket`, after reading the client's ``websocket.connect``)."""
    response, error = decision.response, decision.error
    if response is None or error is None:
        raise ValueError("only a refused decision can be sent")
    if scope["type"] == "websocket":
        message = await receive()
        if message.get("type") != "websocket.connect":
            return
        await refuse_websocket(scope, send, response, error, decision.close_code)
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
