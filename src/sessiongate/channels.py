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

:class:`OrgRequiredMiddleware`, inside the URL router, behind :class:`SessionGateAuthMiddleware`,
requires a Better Auth organization membership (:mod:`sessiongate.organizations`) at the
handshake and puts it in ``scope["membership"]``.
"""

from __future__ import annotations

from typing import Any

from .asgi import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    authenticate_connection,
    connection_facts,
    guard_accept,
    send_decision,
)
from .django.conf import get_config
from .django.verdicts import request_user
from .errors import ConfigurationError, SessionGateError
from .guards import AUTHENTICATED, Requirement
from .organizations import OrgGuard
from .policy import Decision, Verdict, decide, refuse

__all__ = [
    "SCOPE_MEMBERSHIP",
    "SCOPE_VERDICT",
    "OrgRequiredMiddleware",
    "SessionGateAuthMiddleware",
]

SCOPE_VERDICT = "sessiongate"
"""The scope key holding the :class:`~sessiongate.policy.Verdict` of the handshake."""
SCOPE_MEMBERSHIP = "membership"
"""The scope key holding the :class:`~sessiongate.organizations.Membership` that
:class:`OrgRequiredMiddleware` found."""


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


def _first_headers(scope: Scope) -> dict[str, str]:
    """The handshake's headers by lower-case name; the first occurrence counts."""
    found: dict[str, str] = {}
    for key, value in scope.get("headers") or ():
        found.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
    return found


class OrgRequiredMiddleware:
    """Channels middleware: the handshake's user must hold a Better Auth organization
    membership that satisfies ``guard`` (:func:`~sessiongate.organizations.require_org_role`,
    :func:`~sessiongate.organizations.require_org_permission`).

    .. code-block:: python

        admins = require_org_role("admin", org=org_from_path("org_id"), directory=directory)
        SessionGateAuthMiddleware(URLRouter([
            path("ws/orgs/<org_id>/", OrgRequiredMiddleware(OrgChat.as_asgi(), admins)),
        ]))

    Put it inside the URL router (``org_from_path`` reads ``scope["url_route"]["kwargs"]``),
    behind :class:`SessionGateAuthMiddleware`, whose verdict it reuses; ``org_from_header``
    reads the handshake's headers, ``active_org`` the session. A refused handshake is never
    accepted, as with :class:`SessionGateAuthMiddleware`: anonymous 401 (503 on an outage),
    not a member or a role that does not grant what ``guard`` asks 403 ``insufficient_scope``,
    a membership lookup that fails 503 (close 1008, 1013 for an outage). The membership is
    ``scope["membership"]``.
    """

    def __init__(self, inner: ASGIApp, guard: OrgGuard) -> None:
        if not isinstance(guard, OrgGuard):
            raise ConfigurationError(
                "OrgRequiredMiddleware needs an OrgGuard (require_org_role...)"
            )
        self.inner = inner
        self.guard = guard

    def __repr__(self) -> str:
        return f"OrgRequiredMiddleware({self.inner!r}, {self.guard!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] not in ("http", "websocket"):
            return await self.inner(scope, receive, send)
        policy = get_config().policy
        verdict = scope.get(SCOPE_VERDICT)
        decision: Decision
        if not isinstance(verdict, Verdict):
            error = ConfigurationError("OrgRequiredMiddleware needs SessionGateAuthMiddleware")
            decision = refuse(error, connection_facts(scope), policy)
        else:
            decision = decide(verdict.outcome, verdict.facts, policy, require=AUTHENTICATED)
            if decision.error is None:
                route = scope.get("url_route") or {}
                try:
                    membership = await self.guard.check(
                        decision.user, route.get("kwargs") or {}, _first_headers(scope)
                    )
                except SessionGateError as err:
                    decision = refuse(err, verdict.facts, policy)
                else:
                    return await self.inner({**scope, SCOPE_MEMBERSHIP: membership}, receive, send)
        await send_decision(scope, receive, send, decision)
        return None
