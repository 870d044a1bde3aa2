"""Channels: :class:`SessionGateAuthMiddleware`, ``scope["user"]`` for consumers.

.. code-block:: python

    # asgi.py
    application = ProtocolTypeRouter({
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(       # optional: Channels' own host check
            SessionGateAuthMiddleware(URLRouter(websocket_urlpatterns))
        ),
    })

    # consumers.py
    class Chat(AsyncJsonWebsocketConsumer):
        async def connect(self):
            user = self.scope["user"]          # SessionGateUser or SessionGateAnonymousUser
            ...

The handshake is authenticated once, eagerly, and judged by :func:`sessiongate.policy.decide`
under the project's policy (``settings.SESSIONGATE``), as the ASGI middleware does: a
*cookie*-authenticated handshake whose ``Origin`` is neither the server's own nor in
``TRUSTED_ORIGINS`` (cross-site WebSocket hijacking) is refused, and so is a handshake during
a provider outage (``BLOCK_ON_OUTAGE``) and, with ``require=``, one that does not meet the
requirement. A refused handshake is never accepted: the server gets a real HTTP 401/403/503
through the denial-response extension when it offers it, else ``websocket.close`` before
``accept`` (Daphne and uvicorn then answer the handshake with 403; the close code is 1008, 1013
for an outage), never an accept followed by a close 1000.

Bearer tokens come from ``Authorization`` or the subprotocol pair
``["sessiongate.bearer", token]`` (stripped before the consumer sees the subprotocols; the
accept then selects ``sessiongate.bearer``), or ``?access_token=`` with ``ALLOW_QUERY_TOKEN``.
HTTP scopes (an ``AsyncHttpConsumer``) are handled alike; other scope types pass through.
"""

from __future__ import annotations

from typing import Any

from .asgi import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    authenticate_connection,
    guard_accept,
    send_decision,
)
from .django.conf import get_config
from .django.verdicts import request_user
from .errors import ConfigurationError
from .guards import Requirement
from .policy import decide

__all__ = ["SCOPE_VERDICT", "SessionGateAuthMiddleware"]

SCOPE_VERDICT = "sessiongate"
"""The scope key holding the :class:`~sessiongate.policy.Verdict` of the handshake."""


class SessionGateAuthMiddleware:
    """ASGI middleware for Channels setting ``scope["user"]`` from the gate.

    Args:
        inner: the application (a ``URLRouter``, a consumer's ``as_asgi()``...).
        require: an optional :class:`~sessiongate.guards.Requirement` every connection must
            meet (``Requirement()``: a signed-in user; ``Requirement(roles=("staff",))``...);
            without it anonymous handshakes reach the consumer with an anonymous user.
    """

    def __init__(self, inner: ASGIApp, *, require: Requirement | None = None) -> None:
        if require is not None and not isinstance(require, Requirement):
            raise ConfigurationError("require must be a sessiongate.guards.Requirement")
        get_config()  # a wrong setting fails at start-up, not on the first handshake
        self.inner = inner
        self.require = require

    def __repr__(self) -> str:
        return f"SessionGateAuthMiddleware({self.inner!r}, require={self.require!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] not in ("http", "websocket"):
            return await self.inner(scope, receive, send)
        config = get_config()
        scope = dict(scope)  # Channels' convention: never change the server's scope in place
        verdict, token, marker = await authenticate_connection(scope, config.gate, config.policy)
        decision = decide(verdict.outcome, verdict.facts, config.policy, require=self.require)
        if decision.error is not None:
            await send_decision(scope, receive, send, decision)
            return None
        scope["user"] = request_user(decision, config)
        scope[SCOPE_VERDICT] = verdict
        if marker:
            send = guard_accept(send, token, scope.get("subprotocols") or ())
        return await self.inner(scope, receive, send)
