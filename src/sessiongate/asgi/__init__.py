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
extension when the server offers it (uvicorn, Hypercorn, Starlette's TestClient), otherwise
``websocket.close`` before accept with code 1008 (1013 for an outage), never 1000; either way
the server logs no error for a refusal (:mod:`sessiongate.asgi.refusal`).

The package: :mod:`~sessiongate.asgi.connection` (facts in, the verdict),
:mod:`~sessiongate.asgi.refusal` (decision out), :mod:`~sessiongate.asgi.middleware` and
:mod:`~sessiongate.asgi.decorator` (``requires()``); every public name is importable from
``sessiongate.asgi``.
"""

from __future__ import annotations

from .connection import (
    WEBSOCKET_SUBPROTOCOL,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    SessionGateCredentials,
    authenticate_connection,
    connection_facts,
    credentials,
)
from .decorator import requires
from .middleware import SessionGateBackend, SessionGateMiddleware
from .refusal import guard_accept, refuse_websocket, send_decision

__all__ = [
    "WEBSOCKET_SUBPROTOCOL",
    "ASGIApp",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "SessionGateBackend",
    "SessionGateCredentials",
    "SessionGateMiddleware",
    "authenticate_connection",
    "connection_facts",
    "credentials",
    "guard_accept",
    "refuse_websocket",
    "requires",
    "send_decision",
]
