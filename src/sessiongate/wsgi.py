"""WSGI adapter: :class:`SessionGateWSGIMiddleware` for Flask, Django or any WSGI application.

For each request it runs the gate on the synchronous path and stores:

* ``environ["sessiongate.user"]``: the :class:`~sessiongate.user.User`, or an
  :class:`~sessiongate.user.AnonymousUser` carrying the reason;
* ``environ["sessiongate.error"]``: that reason (a ``SessionGateError``) or ``None``;
* ``environ["sessiongate.credential"]``: ``"cookie"``, ``"bearer"`` or ``None``.

Like the ASGI middleware it never blocks a request by itself, except for CSRF (a
cookie-authenticated POST/PUT/PATCH/DELETE from a foreign ``Origin``/``Referer`` gets 403
``csrf_failed``) and provider outages (503, never 401) when ``block_on_outage=True``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Protocol

from .errors import ConfigurationError, ProviderUnavailableError, SessionGateError
from .gate import SessionGate
from .guards import RoleHierarchy
from .origins import CSRFError, OriginPolicy, is_unsafe_method
from .responses import ErrorRenderer, ErrorResponse, default_renderer
from .user import AnonymousUser

__all__ = [
    "ENVIRON_CREDENTIAL",
    "ENVIRON_ERROR",
    "ENVIRON_USER",
    "EnvironResolution",
    "SessionGateWSGIMiddleware",
    "WSGISettings",
    "resolve_environ",
]

ENVIRON_USER = "sessiongate.user"
ENVIRON_ERROR = "sessiongate.error"
ENVIRON_CREDENTIAL = "sessiongate.credential"
_ENVIRON_STATE = "sessiongate.state"

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

_HEADERS = {
    "HTTP_COOKIE": "cookie",
    "HTTP_AUTHORIZATION": "authorization",
}


@dataclass(frozen=True, slots=True)
class WSGISettings:
    """Validated adapter options shared by the WSGI middleware and the Flask extension."""

    gate: SessionGate
    origin_policy: OriginPolicy
    csrf: bool = True
    hierarchy: RoleHierarchy | None = None
    block_on_outage: bool = True

    @classmethod
    def build(
        cls,
        gate: SessionGate,
        *,
        csrf: bool = True,
        trusted_origins: Iterable[str] = (),
        trust_forwarded: bool = False,
        role_hierarchy: RoleHierarchy | Mapping[str, Iterable[str]] | None = None,
        block_on_outage: bool = True,
    ) -> WSGISettings:
        """Validate options once, at construction time."""
        if not isinstance(gate, SessionGate):
            raise ConfigurationError("gate must be a SessionGate")
        hierarchy = (
            role_hierarchy
            if role_hierarchy is None or isinstance(role_hierarchy, RoleHierarchy)
            else RoleHierarchy(role_hierarchy)
        )
        return cls(
            gate=gate,
            origin_policy=OriginPolicy(trusted_origins, trust_forwarded=trust_forwarded),
            csrf=csrf,
            hierarchy=hierarchy,
            block_on_outage=block_on_outage,
        )


@dataclass(slots=True)
class EnvironResolution:
    """The outcome for one request; ``reject`` is set when it must be refused outright."""

    user: Any
    error: SessionGateError | None
    credential: str | None
    credential_sent: bool
    reject: SessionGateError | None
    gate: SessionGate


def resolve_environ(environ: Environ, settings: WSGISettings) -> EnvironResolution:
    """Authenticate a WSGI request (cached in ``environ``) and apply the CSRF policy."""
    cached = environ.get(_ENVIRON_STATE)
    if isinstance(cached, EnvironResolution) and cached.gate is settings.gate:
        return cached
    headers = {name: environ[key] for key, name in _HEADERS.items() if environ.get(key)}
    credential_sent = bool(headers)
    try:
        result = settings.gate.authenticate_sync(headers)
    except SessionGateError as err:
        blocked = (
            err if settings.block_on_outage and isinstance(err, ProviderUnavailableError) else None
        )
        resolution = EnvironResolution(
            AnonymousUser(error=err), err, None, credential_sent, blocked, settings.gate
        )
    else:
        reject: SessionGateError | None = None
        method = str(environ.get("REQUEST_METHOD", "GET"))
        if result.credential == "cookie" and settings.csrf and is_unsafe_method(method):
            try:
                settings.origin_policy.check(
                    origin=environ.get("HTTP_ORIGIN"),
                    referer=environ.get("HTTP_REFERER"),
                    scheme=str(environ.get("wsgi.url_scheme", "http")),
                    host=environ.get("HTTP_HOST") or environ.get("SERVER_NAME"),
                    forwarded_host=environ.get("HTTP_X_FORWARDED_HOST"),
                    forwarded_proto=environ.get("HTTP_X_FORWARDED_PROTO"),
                )
            except CSRFError as err:
                reject = err
        resolution = EnvironResolution(
            result.user, None, result.credential, True, reject, settings.gate
        )
    environ[_ENVIRON_STATE] = resolution
    environ[ENVIRON_USER] = resolution.user
    environ[ENVIRON_ERROR] = resolution.error
    environ[ENVIRON_CREDENTIAL] = resolution.credential
    return resolution


def status_line(status: int) -> str:
    """``401 Unauthorized`` and friends."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


class SessionGateWSGIMiddleware:
    """WSGI middleware authenticating every request with a gate.

    Args:
        app: the WSGI application.
        gate: the :class:`~sessiongate.gate.SessionGate` (sync path; database stores run their
            I/O on a background loop).
        csrf, trusted_origins, trust_forwarded: the CSRF policy (see
            :mod:`sessiongate.origins`); on by default.
        role_hierarchy: kept for the Flask decorators.
        block_on_outage: answer 503 when the session provider is down (default).
        retry_after, realm, error_renderer: response options (see :mod:`sessiongate.responses`).
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        gate: SessionGate,
        csrf: bool = True,
        trusted_origins: Iterable[str] = (),
        trust_forwarded: bool = False,
        role_hierarchy: RoleHierarchy | Mapping[str, Iterable[str]] | None = None,
        block_on_outage: bool = True,
        retry_after: int | None = None,
        realm: str | None = None,
        error_renderer: ErrorRenderer | None = None,
    ) -> None:
        self.app = app
        self.settings = WSGISettings.build(
            gate,
            csrf=csrf,
            trusted_origins=trusted_origins,
            trust_forwarded=trust_forwarded,
            role_hierarchy=role_hierarchy,
            block_on_outage=block_on_outage,
        )
        self.render: ErrorRenderer = default_renderer(
            error_renderer, realm=realm, retry_after=retry_after
        )

    def __repr__(self) -> str:
        return f"SessionGateWSGIMiddleware(gate={self.settings.gate!r}, csrf={self.settings.csrf})"

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        resolution = resolve_environ(environ, self.settings)
        if resolution.reject is not None:
            response = self.render(resolution.reject, resolution.credential_sent)
            return send_wsgi_error(response, start_response)
        return self.app(environ, start_response)


def send_wsgi_error(response: ErrorResponse, start_response: StartResponse) -> list[bytes]:
    """Start an error response and return its body."""
    headers = [*response.headers, ("Content-Length", str(len(response.body)))]
    start_response(status_line(response.status), headers)
    return [response.body]
