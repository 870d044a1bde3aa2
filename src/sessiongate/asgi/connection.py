"""Facts in: what an HTTP request or WebSocket handshake presents, and its verdict.

:func:`authenticate_connection` takes the WebSocket token out of the subprotocols (or the query
string), runs the gate once and returns a :class:`~sessiongate.policy.Verdict`;
:func:`credentials` turns that verdict into ``scope["auth"]``. Nothing is decided here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .._extras import missing_extra

try:
    from starlette.authentication import AuthCredentials
except ModuleNotFoundError as err:
    raise missing_extra(err, "starlette") from None

from ..errors import SessionGateError
from ..gate import SessionGate
from ..guards import RoleHierarchy, effective_scopes
from ..policy import RequestFacts, Verdict, WebPolicy
from ..user import User

__all__ = [
    "WEBSOCKET_SUBPROTOCOL",
    "ASGIApp",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "SessionGateCredentials",
    "authenticate_connection",
    "connection_facts",
    "credentials",
]

WEBSOCKET_SUBPROTOCOL = "sessiongate.bearer"
"""The subprotocol marker; the entry right after it in the offered list is the bearer token."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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
        # Starlette's __init__ only sets ``scopes``; ours is computed on first read when the
        # verdict carries a user (most requests never read it)
        self._scopes: list[str] | None = [] if scopes is None else list(scopes)
        self._scope_user: Any = None
        self.credential = credential
        self.authenticator = authenticator
        self.error = error
        self.credential_sent = credential_sent
        self.gate = gate
        self.hierarchy = hierarchy
        self.verdict = verdict

    @property
    def scopes(self) -> list[str]:
        """The user's roles (hierarchy-expanded) and permissions, sorted."""
        scopes = self._scopes
        if scopes is None:
            scopes = self._scopes = _held_scopes(self._scope_user, self.hierarchy)
        return scopes

    @scopes.setter
    def scopes(self, value: Sequence[str]) -> None:
        self._scopes = list(value)

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
    found = SessionGateCredentials(
        credential=outcome.credential,
        authenticator=outcome.authenticator,
        credential_sent=True,
        gate=verdict.gate,
        hierarchy=hierarchy,
        verdict=verdict,
    )
    found._scopes, found._scope_user = None, outcome.user  # computed on first read
    return found
