"""The ASGI middleware and the Starlette authentication backend on a gate.

:class:`SessionGateMiddleware` authenticates every HTTP request and WebSocket handshake and
renders :func:`~sessiongate.policy.decide`'s refusals; :class:`SessionGateBackend` only labels
the connection (for Starlette's ``AuthenticationMiddleware``) and never refuses.
"""

from __future__ import annotations

import dataclasses
from typing import Unpack

from .._extras import missing_extra

try:
    from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
    from starlette.requests import HTTPConnection
except ModuleNotFoundError as err:
    raise missing_extra(err, "starlette") from None

from ..errors import ConfigurationError
from ..gate import SessionGate
from ..policy import WebOptions, WebPolicy, build_policy, decide
from .connection import ASGIApp, Receive, Scope, Send, authenticate_connection, credentials
from .refusal import guard_accept, send_decision

__all__ = ["SessionGateBackend", "SessionGateMiddleware"]


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
