"""Error responses, framework-free: status, JSON body and headers for a ``SessionGateError``.

========  =========================  ===============================================================
status    when                       headers
========  =========================  ===============================================================
401       missing or bad credential  ``WWW-Authenticate: Bearer realm=...`` and, when a credential
                                     was sent, ``error="invalid_token"`` (RFC 6750 §3)
403       lacking role/permission    ``WWW-Authenticate: Bearer error="insufficient_scope"``
403       ``csrf_failed``            none (not a token problem)
503       provider unavailable       ``Retry-After`` when configured
========  =========================  ===============================================================

The body is always ``{"error": <code>, "message": <safe text>}``; every response carries
``Cache-Control: no-store``. Adapters accept an ``ErrorRenderer`` to change all of this.

WebSocket handshakes use the same response through the ASGI denial extension when the server
supports it; otherwise they are closed before accept with :func:`websocket_close_code`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import (
    AuthenticationError,
    AuthorizationError,
    MissingCredentialsError,
    ProviderUnavailableError,
    SessionGateError,
)
from .origins import CSRFError

__all__ = [
    "WS_CLOSE_POLICY_VIOLATION",
    "WS_CLOSE_TRY_AGAIN_LATER",
    "ErrorRenderer",
    "ErrorResponse",
    "default_renderer",
    "error_response",
    "websocket_close_code",
]

WS_CLOSE_POLICY_VIOLATION = 1008
"""Close code for a refused handshake (401/403) when the server lacks the denial extension."""
WS_CLOSE_TRY_AGAIN_LATER = 1013
"""Close code for a provider outage (503) when the server lacks the denial extension."""

_UNSAFE_QUOTED = re.compile(r'[^\x20-\x7e]|["\\]')


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """What to send: ``status``, ``headers`` (``(name, value)`` strings) and a JSON ``body``."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = field(default=())

    def header_list(self) -> list[tuple[bytes, bytes]]:
        """ASGI-style headers, with ``content-length``."""
        out = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]
        out.append((b"content-length", str(len(self.body)).encode("ascii")))
        return out


ErrorRenderer = Callable[[SessionGateError, bool], ErrorResponse]
"""``(error, credential_sent) -> ErrorResponse``: the hook adapters take as ``error_renderer``."""


def _quoted(text: str) -> str:
    return _UNSAFE_QUOTED.sub("", text)[:200]


def default_renderer(
    error_renderer: ErrorRenderer | None = None,
    *,
    realm: str | None = None,
    retry_after: int | None = None,
) -> ErrorRenderer:
    """``error_renderer`` when given, else :func:`error_response` with ``realm``/``retry_after``."""
    if error_renderer is not None:
        return error_renderer
    return functools.partial(error_response, realm=realm, retry_after=retry_after)


def error_response(
    error: SessionGateError,
    credential_sent: bool = False,
    *,
    realm: str | None = None,
    retry_after: int | None = None,
) -> ErrorResponse:
    """The standard response for ``error``.

    Args:
        error: what went wrong; its ``status_code``, ``code`` and ``message`` are used.
        credential_sent: whether the request carried a cookie or ``Authorization`` header; on a
            401 this adds ``error="invalid_token"`` (RFC 6750 says a request without any
            credential should get a bare challenge).
        realm: optional ``realm`` for the ``WWW-Authenticate`` challenge.
        retry_after: seconds for ``Retry-After`` on a 503.
    """
    status = error.status_code
    headers: list[tuple[str, str]] = [
        ("Content-Type", "application/json"),
        ("Cache-Control", "no-store"),
    ]
    params: list[str] = []
    if realm:
        params.append(f'realm="{_quoted(realm)}"')
    if isinstance(error, AuthenticationError):
        if credential_sent and not isinstance(error, MissingCredentialsError):
            params.append('error="invalid_token"')
            params.append(f'error_description="{_quoted(error.message)}"')
        headers.append(("WWW-Authenticate", "Bearer " + ", ".join(params) if params else "Bearer"))
    elif isinstance(error, AuthorizationError) and not isinstance(error, CSRFError):
        params.append('error="insufficient_scope"')
        params.append(f'error_description="{_quoted(error.message)}"')
        headers.append(("WWW-Authenticate", "Bearer " + ", ".join(params)))
    elif isinstance(error, ProviderUnavailableError) and retry_after is not None:
        headers.append(("Retry-After", str(int(retry_after))))
    body = json.dumps(error.to_dict(), separators=(",", ":")).encode("utf-8")
    return ErrorResponse(status=status, body=body, headers=tuple(headers))


def websocket_close_code(error: SessionGateError) -> int:
    """The close code for a handshake refused without the denial extension: never 1000.

    1013 (try again later) for a provider outage, 1008 (policy violation) for everything else.
    """
    if isinstance(error, ProviderUnavailableError):
        return WS_CLOSE_TRY_AGAIN_LATER
    return WS_CLOSE_POLICY_VIOLATION
