"""python-socketio: authenticate a Socket.IO connection in its ``connect`` handler.

.. code-block:: python

    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[FRONT_END])
    auth = SessionGateSocketIO(gate, trusted_origins=[FRONT_END])

    @sio.event
    async def connect(sid, environ, payload):
        await auth.authenticate(sio, sid, environ, payload)   # refuses, or saves the user

    @sio.event
    async def whoami(sid):
        user = await auth.user(sio, sid)

The synchronous server (``socketio.Server``, WSGI) has the twins
:meth:`~SessionGateSocketIO.authenticate_sync` and :meth:`~SessionGateSocketIO.user_sync`.

The credentials come from the connection's handshake:

* the session cookie, which browsers send with the handshake;
* an ``Authorization: Bearer <token>`` header (``extraHeaders`` of the JS client, ``headers``
  of the Python client);
* the Socket.IO ``auth`` payload ``{"token": "<token>"}`` (``io(url, {auth: {token}})``), which
  travels in the CONNECT packet, never in the URL. It is used as the bearer token when the
  handshake has no ``Authorization`` header.

When a cookie and a token both arrive, the gate's authenticators decide in their order, as for
an HTTP request.

Nothing is decided here: the helper extracts the :class:`~sessiongate.policy.RequestFacts` of
the handshake, runs the gate and renders :func:`~sessiongate.policy.decide`'s decision. A
Socket.IO connection is judged like a WebSocket handshake: a connection authenticated by a
*cookie* must carry an ``Origin`` that is the server's own or in ``trusted_origins``
(cross-site hijacking), an outage is refused with status 503, and ``require`` (a
:class:`~sessiongate.guards.Requirement`) is the role/permission check.

``org=`` (a Better Auth organization guard, :mod:`sessiongate.organizations`) also demands a
membership of the organization the connection names (the ``auth`` payload, a header or the
session's active one: :func:`org_facts`); it is saved in the session under
:data:`MEMBERSHIP_KEY`.

A refusal raises :class:`SessionGateConnectionRefused`, a
``socketio.exceptions.ConnectionRefusedError`` that python-socketio turns into the client's
``connect_error``: its ``message`` is the error's safe text and its ``data`` is
``{"code", "message", "status"}`` (plus ``retry_after``, in seconds, for an outage when the
policy sets ``retry_after``; in the JS client: ``err.message`` and ``err.data``). A token is
never part of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Unpack, cast

from ._extras import missing_extra

try:
    import socketio  # type: ignore[import-untyped]
except ModuleNotFoundError as err:  # pragma: no cover - exercised by the missing-extra test
    raise missing_extra(err, "socketio") from None

from .errors import ConfigurationError, MalformedTokenError, SessionGateError
from .gate import SessionGate
from .guards import AUTHENTICATED, Requirement
from .organizations import OrgGuard
from .policy import (
    Decision,
    Outcome,
    RequestFacts,
    WebOptions,
    WebPolicy,
    build_policy,
    decide,
    refuse,
)
from .user import AnonymousUser
from .wsgi import environ_facts

__all__ = [
    "MEMBERSHIP_KEY",
    "SESSION_KEY",
    "SessionGateConnectionRefused",
    "SessionGateSocketIO",
    "handshake",
    "org_facts",
]

SESSION_KEY = "user"
"""The key of the user in the Socket.IO session (``await sio.get_session(sid)``)."""
MEMBERSHIP_KEY = "membership"
"""The key of the :class:`~sessiongate.organizations.Membership` an ``org=`` guard found."""

Environ = Mapping[str, Any]
HeaderPairs = list[tuple[bytes, bytes]]


class SessionGateConnectionRefused(socketio.exceptions.ConnectionRefusedError):  # type: ignore[misc]
    """A refused connection: python-socketio sends ``connect_error`` to the client.

    The client receives ``{"message": <safe text>, "data": {"code", "message", "status"}}``:
    ``code`` is the error code (``missing_credentials``, ``expired``, ``csrf_failed``,
    ``insufficient_scope``, ``provider_unavailable``...), ``status`` the HTTP status the same
    refusal gets on an HTTP route (401, 403, 503).

    Attributes:
        error: the :class:`~sessiongate.errors.SessionGateError`.
        decision: the refused :class:`~sessiongate.policy.Decision`.
    """

    def __init__(self, decision: Decision) -> None:
        error = decision.error
        if error is None:
            raise ValueError("only a refused decision refuses a connection")
        data: dict[str, Any] = {
            "code": error.code,
            "message": error.message,
            "status": decision.status,
        }
        headers = () if decision.response is None else decision.response.headers
        for name, value in headers:
            if name.lower() == "retry-after" and value.isdigit():
                data["retry_after"] = int(value)  # an outage: when to reconnect
        super().__init__(error.message, data)
        self.error = error
        self.decision = decision

    def __repr__(self) -> str:
        return f"SessionGateConnectionRefused(code={self.error.code!r})"


def _payload_token(payload: Any) -> str | None:
    """The token of an ``auth`` payload ``{"token": ...}``; ``None`` when it carries none."""
    if not isinstance(payload, Mapping):
        return None
    token = payload.get("token")
    if token is None or token == "":
        return None
    if not isinstance(token, str) or not token.isascii():
        raise MalformedTokenError("the auth payload's token must be an ASCII string")
    return token


def handshake(
    environ: Environ, payload: Any = None
) -> tuple[HeaderPairs, RequestFacts, SessionGateError | None]:
    """The credential headers and :class:`~sessiongate.policy.RequestFacts` of a connection.

    ``environ`` is what python-socketio passes to ``connect`` (a WSGI environ, or the one
    python-engineio builds from an ASGI scope, which it keeps as ``environ["asgi.scope"]``);
    ``payload`` is the Socket.IO ``auth`` payload. The token of ``{"token": ...}`` becomes an
    ``Authorization: Bearer`` header when the handshake has none. The facts are those of a
    WebSocket handshake (the ``Origin`` check applies to cookie credentials). The third value
    is the error of an unusable payload (a token that is not a string), else ``None``.
    """
    facts = environ_facts(cast(MutableMapping[str, Any], environ))
    scope = environ.get("asgi.scope")
    headers: HeaderPairs
    if isinstance(scope, Mapping):
        # python-engineio copies the client's X-Forwarded-Proto into wsgi.url_scheme: the ASGI
        # scope's scheme is the connection's own. The credentials come from the raw headers
        # (engineio joins repeated headers with "," where Cookie needs "; ").
        scheme = str(scope.get("scheme") or "http")
        headers = [
            (k, v) for k, v in scope.get("headers") or () if k.lower() in _CREDENTIAL_HEADERS
        ]
    else:
        scheme = _driver_scheme(environ) or facts.scheme
        headers = [
            (name, value.encode("latin-1"))
            for key, name in _ENVIRON_CREDENTIALS
            if isinstance(value := environ.get(key), str) and value
        ]
    error: SessionGateError | None = None
    try:
        token = _payload_token(payload)
    except MalformedTokenError as err:
        token, error = None, err
    if token is not None and not any(k.lower() == b"authorization" for k, _ in headers):
        headers.append((b"authorization", b"Bearer " + token.encode("ascii")))
    sent = facts.credential_sent or token is not None or error is not None
    facts = facts._replace(method="GET", scheme=scheme, websocket=True, credential_sent=sent)
    return headers, facts, error


def _driver_scheme(environ: Environ) -> str | None:
    """The connection's own scheme under python-engineio's aiohttp, Sanic and Tornado drivers.

    Like the ASGI one, those drivers copy the client's ``X-Forwarded-Proto`` into
    ``wsgi.url_scheme``; the framework's request object they keep in the environ knows the
    scheme the server actually saw (under the framework's own proxy settings). ``None`` for a
    WSGI server's environ, whose ``wsgi.url_scheme`` is the server's.
    """
    if (request := environ.get("aiohttp.request") or environ.get("sanic.request")) is not None:
        value = getattr(request, "scheme", None)
    elif (handler := environ.get("tornado.handler")) is not None:
        value = getattr(getattr(handler, "request", None), "protocol", None)
    else:
        return None
    return value if isinstance(value, str) and value else "http"


_CREDENTIAL_HEADERS = frozenset((b"cookie", b"authorization"))
_ENVIRON_CREDENTIALS = (("HTTP_COOKIE", b"cookie"), ("HTTP_AUTHORIZATION", b"authorization"))


def org_facts(environ: Environ, payload: Any = None) -> tuple[dict[str, str], dict[str, str]]:
    """What an organization selector reads in a Socket.IO handshake: ``(params, headers)``.

    Socket.IO URLs carry no route, so the string values of the ``auth`` payload (but its
    ``token``) stand for path parameters (``io(url, {auth: {token, org_id}})`` with
    ``org_from_path("org_id")``); the headers are the handshake's, by lower-case name.
    """
    params: dict[str, str] = {}
    if isinstance(payload, Mapping):
        params = {
            k: v
            for k, v in payload.items()
            if isinstance(k, str) and k != "token" and isinstance(v, str)
        }
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_") and isinstance(value, str)
    }
    return params, headers


class SessionGateSocketIO:
    """Authenticate python-socketio connections with a :class:`~sessiongate.gate.SessionGate`.

    Args:
        gate: the gate.
        policy: a :class:`~sessiongate.policy.WebPolicy` (share the one of your HTTP layer);
            or its options one by one as keywords, which also override ``policy``'s fields.
            Those that matter here: ``websocket_origin_check``, ``trusted_origins``,
            ``trust_forwarded``, ``role_hierarchy`` and ``block_on_outage`` (with
            ``require=None``). A Socket.IO token is read from the ``auth`` payload, never from
            the URL, so ``allow_query_token`` has no effect.
        session_key: where the user is kept in the Socket.IO session.
    """

    def __init__(
        self,
        gate: SessionGate,
        *,
        policy: WebPolicy | None = None,
        session_key: str = SESSION_KEY,
        **options: Unpack[WebOptions],
    ) -> None:
        if not isinstance(gate, SessionGate):
            raise ConfigurationError("gate must be a SessionGate")
        if not isinstance(session_key, str) or not session_key:
            raise ConfigurationError("session_key must be a non-empty string")
        self.gate = gate
        self.policy = build_policy(policy, options)
        self.session_key = session_key

    def __repr__(self) -> str:
        return f"SessionGateSocketIO(gate={self.gate!r}, policy={self.policy!r})"

    def _judge(
        self,
        outcome: Outcome,
        facts: RequestFacts,
        require: Requirement | Iterable[Requirement] | None,
        org: OrgGuard | None,
    ) -> Decision:
        if org is not None and require is None:
            require = AUTHENTICATED  # an organization guard needs a user
        decision = decide(outcome, facts, self.policy, require=require)
        if decision.error is not None:
            raise SessionGateConnectionRefused(decision)
        return decision

    def _org_refused(self, error: SessionGateError, facts: RequestFacts) -> Exception:
        return SessionGateConnectionRefused(refuse(error, facts, self.policy))

    async def authenticate(
        self,
        sio: socketio.AsyncServer,
        sid: str,
        environ: Environ,
        payload: Any = None,
        *,
        namespace: str | None = None,
        require: Requirement | Iterable[Requirement] | None = AUTHENTICATED,
        org: OrgGuard | None = None,
    ) -> Any:
        """Authenticate a connection of an ``AsyncServer`` from its ``connect`` handler.

        Args:
            sio: the server.
            sid, environ, payload: the ``connect`` handler's arguments (``payload`` is the
                ``auth`` argument: ``{"token": ...}`` or ``None``).
            namespace: the handler's namespace, when not ``"/"``.
            require: what the user must satisfy (default: be signed in); ``None`` lets an
                anonymous connection in as an :class:`~sessiongate.user.AnonymousUser` carrying
                the reason (an outage is still refused with ``block_on_outage``).
            org: a Better Auth organization guard
                (:func:`~sessiongate.organizations.require_org_role` /
                :func:`~sessiongate.organizations.require_org_permission`) the user's
                membership must satisfy: ``org_from_path(name)`` reads ``name`` of the ``auth``
                payload (Socket.IO URLs have no route), ``org_from_header`` the handshake's
                headers, ``active_org()`` the session. The membership is saved in the session
                under ``"membership"``.

        Returns:
            The user, also saved in the Socket.IO session under ``session_key``.

        Raises:
            SessionGateConnectionRefused: the connection is refused (401, 403
                ``insufficient_scope`` for a non-member, 503 when a lookup fails).
        """
        if isinstance(sio, socketio.Server):
            raise ConfigurationError("a socketio.Server connects through authenticate_sync()")
        headers, facts, unusable = handshake(environ, payload)
        outcome: Outcome
        if unusable is not None:
            outcome = unusable
        else:
            try:
                outcome = await self.gate.authenticate(headers)
            except SessionGateError as err:
                outcome = err
        user = self._judge(outcome, facts, require, org).user
        membership = None
        if org is not None:
            try:
                membership = await org.check(user, *org_facts(environ, payload))
            except SessionGateError as err:
                raise self._org_refused(err, facts) from None
        async with sio.session(sid, namespace=namespace) as session:
            session[self.session_key] = user
            if membership is not None:
                session[MEMBERSHIP_KEY] = membership
        return user

    def authenticate_sync(
        self,
        sio: socketio.Server,
        sid: str,
        environ: Environ,
        payload: Any = None,
        *,
        namespace: str | None = None,
        require: Requirement | Iterable[Requirement] | None = AUTHENTICATED,
        org: OrgGuard | None = None,
    ) -> Any:
        """:meth:`authenticate` for the synchronous ``socketio.Server``."""
        if isinstance(sio, socketio.AsyncServer):
            raise ConfigurationError("a socketio.AsyncServer connects through authenticate()")
        headers, facts, unusable = handshake(environ, payload)
        outcome: Outcome
        if unusable is not None:
            outcome = unusable
        else:
            try:
                outcome = self.gate.authenticate_sync(headers)
            except SessionGateError as err:
                outcome = err
        user = self._judge(outcome, facts, require, org).user
        membership = None
        if org is not None:
            try:
                membership = org.check_sync(user, *org_facts(environ, payload))
            except SessionGateError as err:
                raise self._org_refused(err, facts) from None
        with sio.session(sid, namespace=namespace) as session:
            session[self.session_key] = user
            if membership is not None:
                session[MEMBERSHIP_KEY] = membership
        return user

    async def user(self, sio: socketio.AsyncServer, sid: str, namespace: str | None = None) -> Any:
        """The user saved by :meth:`authenticate`, or an ``AnonymousUser`` when there is none."""
        session = await sio.get_session(sid, namespace=namespace)
        return session.get(self.session_key) or AnonymousUser()

    def user_sync(self, sio: socketio.Server, sid: str, namespace: str | None = None) -> Any:
        """:meth:`user` for the synchronous ``socketio.Server``."""
        session = sio.get_session(sid, namespace=namespace)
        return session.get(self.session_key) or AnonymousUser()
