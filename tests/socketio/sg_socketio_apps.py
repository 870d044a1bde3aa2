"""The Socket.IO servers the tests connect to: one async (ASGI) and one sync (WSGI), alike.

Namespaces:

* ``/``: a signed-in user is required; ``whoami`` answers from the Socket.IO session;
* ``/admin``: the ``admin`` role is required (``moderator`` implies nothing, ``admin`` implies
  ``moderator``);
* ``/open``: anonymous connections are let in (``require=None``), carrying the reason;
* ``/outage``: the gate's provider is down.
"""

from __future__ import annotations

from typing import Any

import socketio

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.cookies import RequestCredentials
from sessiongate.errors import ProviderUnavailableError
from sessiongate.guards import Requirement
from sessiongate.socketio import SessionGateSocketIO
from sessiongate.types import Verified

SECRET = "socketio-test-secret-0123456789abcdef0123"
FRONT = "https://app.example.com"
ADMIN = Requirement(roles=("admin",))
HIERARCHY = {"admin": ["moderator"]}


def describe(user: Any) -> dict[str, Any]:
    """What ``whoami`` answers: enough to prove which user the session holds."""
    if not user.is_authenticated:
        error = getattr(user, "error", None)
        return {"anonymous": True, "why": error.code if error is not None else None}
    return {"id": user.id, "name": user.name, "roles": sorted(user.roles)}


class OutageAuthenticator:
    """Answers every credentialed request with 'provider unavailable' (a database that is down)."""

    name = "outage"

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        if credentials.cookie_header or credentials.authorization:
            raise ProviderUnavailableError()
        return None


def make_gate(**options: Any) -> SessionGate:
    return SessionGate(AuthJSToken(secret=SECRET), BearerJWT(secret=SECRET), **options)


def gates() -> tuple[SessionGate, SessionGate]:
    return make_gate(), SessionGate(OutageAuthenticator())


def build_async_server(gate: SessionGate | None = None) -> socketio.AsyncServer:
    gate, outage_gate = (gate, gates()[1]) if gate is not None else gates()
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
    auth = SessionGateSocketIO(gate, trusted_origins=[FRONT], role_hierarchy=HIERARCHY)
    outage = SessionGateSocketIO(outage_gate, policy=auth.policy)
    sio.sessiongate = auth  # type: ignore[attr-defined]

    @sio.on("connect")
    async def connect(sid: str, environ: dict[str, Any], payload: Any) -> None:
        await auth.authenticate(sio, sid, environ, payload)

    @sio.on("connect", namespace="/admin")
    async def connect_admin(sid: str, environ: dict[str, Any], payload: Any) -> None:
        await auth.authenticate(sio, sid, environ, payload, namespace="/admin", require=ADMIN)

    @sio.on("connect", namespace="/open")
    async def connect_open(sid: str, environ: dict[str, Any], payload: Any) -> None:
        await auth.authenticate(sio, sid, environ, payload, namespace="/open", require=None)

    @sio.on("connect", namespace="/outage")
    async def connect_outage(sid: str, environ: dict[str, Any], payload: Any) -> None:
        await outage.authenticate(sio, sid, environ, payload, namespace="/outage")

    for namespace in ("/", "/admin", "/open"):

        def register(ns: str) -> None:
            @sio.on("whoami", namespace=ns)
            async def whoami(sid: str, *args: Any) -> dict[str, Any]:
                return describe(await auth.user(sio, sid, namespace=ns))

        register(namespace)
    return sio


def build_sync_server(gate: SessionGate | None = None) -> socketio.Server:
    gate, outage_gate = (gate, gates()[1]) if gate is not None else gates()
    sio = socketio.Server(async_mode="threading", cors_allowed_origins="*")
    auth = SessionGateSocketIO(gate, trusted_origins=[FRONT], role_hierarchy=HIERARCHY)
    outage = SessionGateSocketIO(outage_gate, policy=auth.policy)
    sio.sessiongate = auth  # type: ignore[attr-defined]

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], payload: Any) -> None:
        auth.authenticate_sync(sio, sid, environ, payload)

    @sio.on("connect", namespace="/admin")
    def connect_admin(sid: str, environ: dict[str, Any], payload: Any) -> None:
        auth.authenticate_sync(sio, sid, environ, payload, namespace="/admin", require=ADMIN)

    @sio.on("connect", namespace="/open")
    def connect_open(sid: str, environ: dict[str, Any], payload: Any) -> None:
        auth.authenticate_sync(sio, sid, environ, payload, namespace="/open", require=None)

    @sio.on("connect", namespace="/outage")
    def connect_outage(sid: str, environ: dict[str, Any], payload: Any) -> None:
        outage.authenticate_sync(sio, sid, environ, payload, namespace="/outage")

    for namespace in ("/", "/admin", "/open"):

        def register(ns: str) -> None:
            @sio.on("whoami", namespace=ns)
            def whoami(sid: str, *args: Any) -> dict[str, Any]:
                return describe(auth.user_sync(sio, sid, namespace=ns))

        register(namespace)
    return sio
