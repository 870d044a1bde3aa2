"""The sidecar verifier behind ``sessiongate serve``: a pure ASGI application.

Non-Python services (Express, Go, Rails) and edge proxies (nginx ``auth_request``, Traefik
ForwardAuth, Envoy HTTP ``ext_authz``) forward a request's ``Cookie`` and ``Authorization``
headers to ``/verify`` and get the verdict back:

========  ======================================================================================
status    meaning
========  ======================================================================================
200       verified: the user in ``X-User-*`` response headers and as JSON
401       missing or bad credential (``WWW-Authenticate``; body ``{"error", "message"}``)
403       authenticated, but a required role/permission is missing (``insufficient_scope``)
431       the request headers are larger than allowed (checked before anything is parsed)
503       a session database or JWKS endpoint is down: an outage is never turned into a 401
========  ======================================================================================

Routes:

* ``/verify`` (any method; ``/verify/<anything>`` too, for Envoy's ``path_prefix``);
* ``/healthz`` (``{"status": "ok"}``).

Requirements per request: ``/verify?role=admin&permission=posts:write&mode=any`` (``mode``
applies to both lists; names repeat or are comma-separated) or the ``X-Require-Role``,
``X-Require-Permission`` and ``X-Require-Mode`` headers. The two sources are checked
*independently* and both must pass, so a client that manages to add ``X-Require-*`` headers to
the forwarded request can only make the check stricter, never looser. Under ``/verify/<path>``
the query string belongs to the original request and is ignored.

Response headers of a 200: ``X-User-Id``, ``X-User-Email``, ``X-User-Name``, ``X-User-Role``,
``X-User-Roles`` and ``X-User-Permissions`` (comma-separated, sorted), ``X-Auth-Source``
(``authjs-v5``, ``nextauth-v4``, ``jws``, ``database``, ``better-auth``, ``jwks``) and
``X-Auth-Credential`` (``cookie`` or ``bearer``). Values are claims, so they are untrusted
text: every character outside printable ASCII, and ``%`` itself (and ``,`` inside list items),
is percent-encoded as UTF-8, so a value can never break or inject a header; decode with
``decodeURIComponent`` / ``urllib.parse.unquote``. A value longer than ``max_value_bytes``
after encoding is left out of the headers (it is still in the JSON body). A header absent from
the response means the user has no such field.

Nothing the client sent is echoed: no token, cookie value or secret appears in a response or a
log line.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from .config import GateConfig, build_gate
from .errors import ConfigurationError, SessionGateError
from .gate import SessionGate
from .guards import Mode, Requirement, RoleHierarchy
from .responses import error_response

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "SidecarApp",
    "SidecarConfig",
    "build_gate",
    "encode_header_value",
    "user_headers",
]

logger = logging.getLogger("sessiongate")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_MAX_HEADER_BYTES = 80 * 1024
"""Cap on the sum of all request header names and values (a chunked session cookie of 64 KiB
plus ordinary headers fits)."""

_MAX_REQUIREMENT_NAMES = 32
_PRINTABLE = frozenset(chr(c) for c in range(0x20, 0x7F))
_SAFE_SCALAR = _PRINTABLE - {"%"}
_SAFE_ITEM = _SAFE_SCALAR - {","}


def encode_header_value(value: str, *, list_item: bool = False) -> str:
    """Make a claim value safe for an HTTP header, reversibly.

    Characters outside printable ASCII (CR, LF, NUL, other controls, anything non-ASCII), ``%``,
    leading/trailing spaces, and for list items ``,`` are percent-encoded as UTF-8. The result
    decodes back to ``value`` with ``decodeURIComponent`` or ``urllib.parse.unquote``.
    """
    safe = _SAFE_ITEM if list_item else _SAFE_SCALAR
    if value and safe.issuperset(value) and value[0] != " " and value[-1] != " ":
        return value
    out: list[str] = []
    last = len(value) - 1
    for i, ch in enumerate(value):
        if ch in safe and not (ch == " " and (i == 0 or i == last)):
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
    return "".join(out)


def user_headers(
    user: Any, source: str, credential: str, *, max_value_bytes: int = 1024
) -> list[tuple[str, str]]:
    """The ``X-User-*`` / ``X-Auth-*`` headers for a verified user (see the module docs)."""
    out: list[tuple[str, str]] = []

    def put(name: str, value: str | None, *, list_item: bool = False) -> None:
        if value is None or value == "":
            return
        encoded = encode_header_value(value, list_item=list_item)
        if len(encoded) <= max_value_bytes:
            out.append((name, encoded))

    def put_list(name: str, values: Iterable[str]) -> None:
        items = sorted(v for v in values if isinstance(v, str) and v)
        if not items:
            return
        encoded = ",".join(encode_header_value(v, list_item=True) for v in items)
        if len(encoded) <= max_value_bytes:
            out.append((name, encoded))

    def text(attr: str) -> str | None:
        value = getattr(user, attr, None)
        return value if isinstance(value, str) else None

    put("X-User-Id", str(getattr(user, "id", "") or ""))
    put("X-User-Email", text("email"))
    put("X-User-Name", text("name"))
    put("X-User-Role", text("role"))
    put_list("X-User-Roles", getattr(user, "roles", ()) or ())
    put_list("X-User-Permissions", getattr(user, "permissions", ()) or ())
    put("X-Auth-Source", source)
    put("X-Auth-Credential", credential)
    return out


def _user_json(user: Any, include_claims: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": getattr(user, "id", None),
        "email": getattr(user, "email", None),
        "name": getattr(user, "name", None),
        "image": getattr(user, "image", None),
        "role": getattr(user, "role", None),
        "roles": sorted(getattr(user, "roles", ()) or ()),
        "permissions": sorted(getattr(user, "permissions", ()) or ()),
        "source": getattr(user, "source", None),
        "expires_at": getattr(user, "expires_at", None),
    }
    if include_claims:
        claims = getattr(user, "claims", None)
        body["claims"] = _plain(claims) if isinstance(claims, Mapping) else {}
    return body


def _plain(value: Any) -> Any:
    """Mapping proxies and tuples to JSON-ready dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value


def _names(values: Iterable[str]) -> tuple[str, ...]:
    names: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part and part not in names:
                names.append(part)
    if len(names) > _MAX_REQUIREMENT_NAMES:
        raise _BadRequest("too many required roles or permissions")
    return tuple(names)


class _BadRequest(Exception):
    """A malformed requirement (400)."""


def _mode(value: str | None) -> Mode:
    if value is None or value.strip() == "":
        return "all"
    value = value.strip().lower()
    if value == "any":
        return "any"
    if value == "all":
        return "all"
    raise _BadRequest("mode must be 'all' or 'any'")


def _requirement(
    roles: Iterable[str],
    permissions: Iterable[str],
    mode: str | None,
    hierarchy: RoleHierarchy | None,
) -> Requirement | None:
    role_names = _names(roles)
    permission_names = _names(permissions)
    chosen = _mode(mode)
    if not role_names and not permission_names:
        return None
    return Requirement(role_names, permission_names, chosen, chosen, hierarchy)


def _json_bytes(obj: Any) -> bytes:
    # ASCII-only JSON: a claim with a lone UTF-16 surrogate (a JS string cut mid-emoji) is
    # escaped as \udXXX instead of failing to encode as UTF-8
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii")


class SidecarApp:
    """The ``/verify`` + ``/healthz`` ASGI application.

    Args:
        gate: the :class:`~sessiongate.gate.SessionGate` that verifies requests.
        role_hierarchy: optional role hierarchy applied to role requirements.
        include_claims: add the raw verified claims to the JSON body of a 200 (off by default:
            a NextAuth token often carries the OAuth provider's ``accessToken``).
        max_header_bytes: cap on the total size of the request headers (431 above it).
        max_value_bytes: cap on one ``X-User-*`` response header value.
        realm: optional ``realm`` in ``WWW-Authenticate``.
        retry_after: seconds for ``Retry-After`` on a 503.
        close_gate: close the gate's stores/clients on ASGI lifespan shutdown.
    """

    def __init__(
        self,
        gate: SessionGate,
        *,
        role_hierarchy: RoleHierarchy | Mapping[str, Sequence[str]] | None = None,
        include_claims: bool = False,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_value_bytes: int = 1024,
        realm: str | None = None,
        retry_after: int | None = 5,
        close_gate: bool = True,
    ) -> None:
        if not isinstance(gate, SessionGate):
            raise ConfigurationError("gate must be a SessionGate")
        if max_header_bytes <= 0 or max_value_bytes <= 0:
            raise ConfigurationError("size caps must be positive")
        self.gate = gate
        self.hierarchy = (
            role_hierarchy
            if role_hierarchy is None or isinstance(role_hierarchy, RoleHierarchy)
            else RoleHierarchy(role_hierarchy)
        )
        self.include_claims = include_claims
        self.max_header_bytes = max_header_bytes
        self.max_value_bytes = max_value_bytes
        self.realm = realm
        self.retry_after = retry_after
        self.close_gate = close_gate

    def __repr__(self) -> str:
        return f"SidecarApp(gate={self.gate!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return  # websockets are not served: the connection is refused by the server
        path: str = scope.get("path", "")
        if path == "/healthz":
            await self._send(send, scope, 200, _json_bytes({"status": "ok"}), [])
        elif path == "/verify" or path.startswith("/verify/"):
            await self._verify(scope, send, use_query=path == "/verify")
        else:
            body = {"error": "not_found", "message": "use /verify or /healthz"}
            await self._send(send, scope, 404, _json_bytes(body), [])

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.close_gate:
                    try:
                        await self.gate.aclose()
                    except Exception as exc:  # shutdown must complete
                        logger.warning("closing the gate failed: %s", type(exc).__name__)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _send(
        self,
        send: Send,
        scope: Scope,
        status: int,
        body: bytes,
        headers: Iterable[tuple[str, str]],
    ) -> None:
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        names = {k for k, _ in raw}
        if b"content-type" not in names:
            raw.append((b"content-type", b"application/json"))
        if b"cache-control" not in names:
            raw.append((b"cache-control", b"no-store"))
        raw.append((b"content-length", str(len(body)).encode("ascii")))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send(
            {"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body}
        )

    async def _verify(self, scope: Scope, send: Send, *, use_query: bool) -> None:
        started = time.perf_counter()
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or ())
        size = 0
        require_role: list[str] = []
        require_permission: list[str] = []
        require_mode: str | None = None
        credential_sent = False
        for name, value in headers:
            size += len(name) + len(value)
            lname = name.lower()
            if lname in (b"cookie", b"authorization"):
                credential_sent = True
            elif lname == b"x-require-role":
                require_role.append(value.decode("latin-1"))
            elif lname == b"x-require-permission":
                require_permission.append(value.decode("latin-1"))
            elif lname == b"x-require-mode":
                require_mode = value.decode("latin-1")
        if size > self.max_header_bytes:
            body = {"error": "headers_too_large", "message": "the request headers are too large"}
            await self._send(send, scope, 431, _json_bytes(body), [])
            self._log(scope, 431, "headers_too_large", started)
            return
        try:
            requirements = [
                _requirement(require_role, require_permission, require_mode, self.hierarchy)
            ]
            if use_query and scope.get("query_string"):
                query = parse_qsl(scope["query_string"].decode("latin-1"), max_num_fields=64)
                requirements.append(
                    _requirement(
                        [v for k, v in query if k == "role"],
                        [v for k, v in query if k == "permission"],
                        next((v for k, v in query if k == "mode"), None),
                        self.hierarchy,
                    )
                )
        except (_BadRequest, ValueError, ConfigurationError) as err:
            message = str(err) if isinstance(err, _BadRequest) else "malformed requirements"
            body = {"error": "invalid_request", "message": message}
            await self._send(send, scope, 400, _json_bytes(body), [])
            self._log(scope, 400, "invalid_request", started)
            return
        try:
            result = await self.gate.authenticate_request(headers)
            for requirement in requirements:
                if requirement is not None:
                    requirement.check(result.user)
        except SessionGateError as err:
            response = error_response(
                err, credential_sent, realm=self.realm, retry_after=self.retry_after
            )
            await self._send(send, scope, response.status, response.body, response.headers)
            self._log(scope, response.status, err.code, started)
            return
        user = result.user
        source = str(getattr(user, "source", None) or result.authenticator)
        out_headers = user_headers(
            user, source, result.credential, max_value_bytes=self.max_value_bytes
        )
        body_obj = {
            "user": _user_json(user, self.include_claims),
            "credential": result.credential,
            "authenticator": result.authenticator,
        }
        await self._send(send, scope, 200, _json_bytes(body_obj), out_headers)
        self._log(scope, 200, "ok", started)

    def _log(self, scope: Scope, status: int, code: str, started: float) -> None:
        if logger.isEnabledFor(logging.INFO):
            # never the path's query or any header value: they may carry tokens
            logger.info(
                "verify %s -> %d %s (%.1f ms)",
                scope.get("method", "?"),
                status,
                code,
                (time.perf_counter() - started) * 1000,
            )


# ------------------------------------------------------------------------------ configuration


# The configuration (flags over environment) lives in config.py, shared with
# SessionGate.from_env; the sidecar keeps its historical names.
SidecarConfig = GateConfig
