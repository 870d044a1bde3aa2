"""WSGI adapter: :class:`SessionGateWSGIMiddleware` for Flask, Django or any WSGI application.

For each request it runs the gate on the synchronous path and stores:

* ``environ["sessiongate.user"]``: the :class:`~sessiongate.user.User`, or an
  :class:`~sessiongate.user.AnonymousUser` carrying the reason;
* ``environ["sessiongate.error"]``: that reason (a ``SessionGateError``) or ``None``;
* ``environ["sessiongate.credential"]``: ``"cookie"``, ``"bearer"`` or ``None``;
* ``environ["sessiongate.verdict"]``: the :class:`~sessiongate.policy.Verdict`, which the Flask
  extension reuses (no second verification) while deciding under its own policy.

Like the ASGI middleware it never blocks a request by itself, except for CSRF (a
cookie-authenticated POST/PUT/PATCH/DELETE from a foreign ``Origin``/``Referer`` gets 403
``csrf_failed``) and provider outages (503, never 401) when ``block_on_outage=True``; both are
decided by :func:`sessiongate.policy.decide`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from http import HTTPStatus
from types import TracebackType
from typing import Any, Protocol, Unpack

from .errors import ConfigurationError, SessionGateError
from .gate import SessionGate
from .policy import RequestFacts, Verdict, WebOptions, WebPolicy, build_policy, decide
from .responses import ErrorResponse

__all__ = [
    "ENVIRON_CREDENTIAL",
    "ENVIRON_ERROR",
    "ENVIRON_USER",
    "ENVIRON_VERDICT",
    "SessionGateWSGIMiddleware",
    "authenticate_environ",
    "environ_facts",
    "send_wsgi_error",
    "status_line",
]

ENVIRON_USER = "sessiongate.user"
ENVIRON_ERROR = "sessiongate.error"
ENVIRON_CREDENTIAL = "sessiongate.credential"
ENVIRON_VERDICT = "sessiongate.verdict"

Environ = MutableMapping[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class StartResponse(Protocol):
    """The WSGI ``start_response`` callable."""

    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = ...,
        /,
    ) -> Callable[[bytes], object]: ...


WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def environ_facts(environ: Environ) -> RequestFacts:
    """The :class:`~sessiongate.policy.RequestFacts` of a WSGI request."""
    return RequestFacts(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        scheme=str(environ.get("wsgi.url_scheme", "http")),
        host=environ.get("HTTP_HOST") or environ.get("SERVER_NAME"),
        origin=environ.get("HTTP_ORIGIN"),
        referer=environ.get("HTTP_REFERER"),
        forwarded_host=environ.get("HTTP_X_FORWARDED_HOST"),
        forwarded_proto=environ.get("HTTP_X_FORWARDED_PROTO"),
        credential_sent=bool(environ.get("HTTP_COOKIE") or environ.get("HTTP_AUTHORIZATION")),
    )


def authenticate_environ(environ: Environ, gate: SessionGate, policy: WebPolicy) -> Verdict:
    """The request's verdict: the one already in ``environ`` from ``gate``, or a new one.

    A new verdict is stored in ``environ`` (with the user, error and credential keys). Nothing
    is decided here: pass the verdict to :func:`~sessiongate.policy.decide`, under your policy.
    """
    cached = environ.get(ENVIRON_VERDICT)
    if isinstance(cached, Verdict) and cached.gate is gate:
        return cached
    headers = {
        name: value
        for key, name in (("HTTP_COOKIE", "cookie"), ("HTTP_AUTHORIZATION", "authorization"))
        if (value := environ.get(key))
    }
    try:
        outcome: Any = gate.authenticate_sync(headers)
    except SessionGateError as err:
        outcome = err
    verdict = Verdict(gate, outcome, environ_facts(environ), policy)
    environ[ENVIRON_VERDICT] = verdict
    environ[ENVIRON_USER] = verdict.user
    failed = isinstance(outcome, SessionGateError)
    environ[ENVIRON_ERROR] = outcome if failed else None
    environ[ENVIRON_CREDENTIAL] = None if failed else outcome.credential
    return verdict


def status_line(status: int) -> str:
    """``401 Unauthorized`` and friends."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


def send_wsgi_error(response: ErrorResponse, start_response: StartResponse) -> list[bytes]:
    """Start an error response and return its body."""
    headers = [*response.headers, ("Content-Length", str(len(response.body)))]
    start_response(status_line(response.status), headers)
    return [response.body]


class SessionGateWSGIMiddleware:
    """WSGI middleware authenticating every request with a gate.

    Args:
        app: the WSGI application.
        gate: the :class:`~sessiongate.gate.SessionGate` (sync path; database stores run their
            I/O on a background loop).
        policy: a :class:`~sessiongate.policy.WebPolicy` (share it with the Flask extension);
            or its options one by one as keywords (``csrf``, ``trusted_origins``,
            ``trust_forwarded``, ``role_hierarchy``, ``block_on_outage``, ``retry_after``,
            ``realm``, ``error_renderer``...), which also override ``policy``'s fields.
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        gate: SessionGate,
        policy: WebPolicy | None = None,
        **options: Unpack[WebOptions],
    ) -> None:
        if not isinstance(gate, SessionGate):
            raise ConfigurationError("gate must be a SessionGate")
        self.app = app
        self.gate = gate
        self.policy = build_policy(policy, options)

    def __repr__(self) -> str:
        return f"SessionGateWSGIMiddleware(gate={self.gate!r}, policy={self.policy!r})"

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        verdict = authenticate_environ(environ, self.gate, self.policy)
        decision = decide(verdict.outcome, verdict.facts, self.policy)
        if decision.response is not None:
            return send_wsgi_error(decision.response, start_response)
        return self.app(environ, start_response)
