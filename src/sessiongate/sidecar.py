"""The sidecar verifier behind ``sessiongate serve``: a pure ASGI application.

Non-Python services (Express, Go, Rails) and edge proxies (nginx ``auth_request``, Traefik
ForwardAuth, Envoy HTTP ``ext_authz``) forward a request's ``Cookie`` and ``Authorization``
headers to ``/verify`` and get the verdict back:

========  ======================================================================================
status    meaning
========  ======================================================================================
200       verified: the user in ``X-User-*`` response headers and as JSON
400       a malformed or unsupported requirement (``invalid_request``)
401       missing or bad credential (``WWW-Authenticate``; body ``{"error", "message"}``)
403       a required role/permission is missing (``insufficient_scope``), or a cookie-authenticated
          write from a foreign origin (``csrf_failed``)
431       the request headers are larger than allowed (checked before anything is parsed)
503       a session database or JWKS endpoint is down: an outage is never turned into a 401
========  ======================================================================================

Routes:

* ``/verify`` (any method; ``/verify/<anything>`` too, for Envoy's ``path_prefix``);
* ``/healthz`` (``{"status": "ok"}``).

Requirements (set by the proxy; a client can only make them stricter)
-------------------------------------------------------------------------
``X-Require-Role`` and ``X-Require-Permission`` headers, and under ``/verify`` exactly the
``role`` and ``permission`` query parameters, share one grammar: a value is a comma-separated
list of *clauses* that must **all** hold; inside a clause, ``|`` separates alternatives of which
**one** is enough::

    X-Require-Role: admin,billing              admin and billing
    X-Require-Role: admin|billing              admin or billing
    X-Require-Role: staff, admin|billing       staff, and admin or billing
    /verify?role=admin|billing&permission=posts:write

Every header line, every query value and both sources together are clauses of one AND. A comma
is also how HTTP joins repeated header lines, so whatever a client manages to add (a second
``X-Require-Role``, a value a proxy appends to its own) only adds clauses: it can make the
check stricter, never looser. There is no mode switch to flip: ``X-Require-Mode`` and every
other ``X-Require-*`` header, a ``mode`` or any other query parameter, and names starting with
``any:`` or ``all:`` are refused with 400, so a typo in a proxy configuration fails closed
instead of requiring nothing. Under ``/verify/<path>`` the query string belongs to the original
request and is ignored.

CSRF for cookie sessions
------------------------
An nginx ``auth_request`` subrequest is a GET whatever the browser sent, so the original method
comes from ``X-Original-Method`` (nginx: ``proxy_set_header X-Original-Method $request_method``)
and ``X-Forwarded-Method`` (Traefik ForwardAuth sets it), plus the sidecar's own request method
when it is neither GET nor HEAD (Envoy ``ext_authz`` and direct callers keep the original one).
Every value counts: if any is unsafe (anything but GET, HEAD, OPTIONS, TRACE), the request is a
write, so a client-added method header can only switch the check on.

A cookie-authenticated write must carry an ``Origin`` (else a ``Referer``) that is the original
request's own origin or one of ``trusted_origins``; otherwise 403 ``csrf_failed``. The own
origin is taken from the last ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` values (the proxy must
set them; nginx: ``$scheme`` / ``$http_host``), else from the scheme and host of
``X-Original-URL``, else from the sidecar's own scheme and ``Host`` (right for Envoy, which keeps
the original ``Host``). Bearer-authenticated requests are exempt (a cross-site page cannot make
a browser send an ``Authorization`` header).

``csrf_mode="auto"`` (the default) checks whenever the method is known; when it is not (a GET with
neither method header) the sidecar cannot tell a write from a read and does not check, so the
upstream must check ``Origin`` itself. ``csrf_mode="strict"`` refuses such cookie requests instead
(403 ``csrf_failed``), so a proxy that forgets to forward the method fails closed.
``csrf_mode="off"`` never checks.

Response headers of a 200
-------------------------
``X-User-Id``, ``X-User-Email``, ``X-User-Name``, ``X-User-Role``, ``X-User-Roles`` and
``X-User-Permissions`` (comma-separated, sorted), ``X-Auth-Source`` (``authjs-v5``,
``nextauth-v4``, ``jws``, ``database``, ``better-auth``, ``jwks``) and ``X-Auth-Credential``
(``cookie`` or ``bearer``); ``X-User-Impersonated-By`` for a session an admin impersonates;
with Better Auth's organization plugin (``plugins=``), ``X-User-Org-Id`` and
``X-User-Org-Role`` (the member's roles) for the organization the request names in
``X-Organization-Id``, when the user is a member. With the api-key plugin a request carrying
``x-api-key`` is verified by that key alone (``X-Auth-Source: api-key``). Values are claims,
so they are untrusted text: every character outside printable ASCII, and ``%`` itself (and
``,`` inside list items), is percent-encoded as UTF-8, so a value can never break or inject a
header; decode with ``decodeURIComponent`` / ``urllib.parse.unquote``. A 200 always carries
``X-User-Id``: a user whose id is empty or longer than ``max_value_bytes`` after encoding is
refused (401 ``invalid_claim``). Any other value longer than that is left out of the headers (it
is still in the JSON body), so an absent header means the user has no such field or it was too
long to pass on.

Nothing the client sent is echoed: no token, cookie value or secret appears in a response or a
log line.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .config import CSRFMode, parse_csrf_mode
from .errors import ConfigurationError, InvalidClaimError, SessionGateError
from .gate import SessionGate
from .guards import Requirement, RoleHierarchy
from .origins import CSRFError, OriginPolicy, is_unsafe_method
from .responses import error_response

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "SidecarApp",
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
_REQUIRE_PREFIX = b"x-require-"
_METHOD_HEADERS = (b"x-original-method", b"x-forwarded-method")
_MODE_PREFIXES = ("any:", "all:")


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
    """The ``X-User-*`` / ``X-Auth-*`` headers for a verified user (see the module docs).

    Raises :class:`~sessiongate.errors.InvalidClaimError` when the user id is empty or longer
    than ``max_value_bytes`` once encoded: a verdict never passes without an identity.
    """
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
    if not out:
        raise InvalidClaimError("the user id is empty or too long to pass on in X-User-Id")
    put("X-User-Email", text("email"))
    put("X-User-Name", text("name"))
    put("X-User-Role", text("role"))
    put_list("X-User-Roles", getattr(user, "roles", ()) or ())
    put_list("X-User-Permissions", getattr(user, "permissions", ()) or ())
    put("X-User-Impersonated-By", _impersonator(user))
    put("X-Auth-Source", source)
    put("X-Auth-Credential", credential)
    return out


def _impersonator(user: Any) -> str | None:
    """The admin who impersonates this session (``session.impersonatedBy``), if any."""
    value = getattr(user, "impersonated_by", None)
    if value is None:
        claims = getattr(user, "claims", None) or {}
        session = claims.get("session") if isinstance(claims, Mapping) else None
        value = claims.get("impersonatedBy") if isinstance(claims, Mapping) else None
        if value is None and isinstance(session, Mapping):
            value = session.get("impersonatedBy")
    return value if isinstance(value, str) and value else None


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


class _BadRequest(Exception):
    """A malformed or unsupported requirement (400)."""


def _clauses(values: Iterable[str], budget: int) -> list[tuple[str, ...]]:
    """``"a, b|c"`` -> ``[("a",), ("b", "c")]``: commas AND clauses, ``|`` ORs inside one.

    Refuses more than ``budget`` names as soon as it sees them (a header full of commas costs
    one pass, not a quadratic de-duplication).
    """
    clauses: list[tuple[str, ...]] = []
    for value in values:
        for item in value.split(","):
            names = tuple(dict.fromkeys(n for n in (p.strip() for p in item.split("|")) if n))
            if not names:
                continue
            budget -= len(names)
            if budget < 0:
                raise _BadRequest("too many required roles or permissions")
            if any(n.lower().startswith(_MODE_PREFIXES) for n in names):
                raise _BadRequest(
                    "there is no requirement mode: write alternatives as admin|billing "
                    "(a comma means all of them)"
                )
            if names not in clauses:
                clauses.append(names)
    return clauses


def _requirements(
    roles: Iterable[str], permissions: Iterable[str], hierarchy: RoleHierarchy | None
) -> tuple[Requirement, ...]:
    """One :class:`Requirement` per clause; the user must meet every one of them."""
    role_clauses = _clauses(roles, _MAX_REQUIREMENT_NAMES)
    budget = _MAX_REQUIREMENT_NAMES - sum(map(len, role_clauses))
    permission_clauses = _clauses(permissions, budget)
    return tuple(
        Requirement(roles=c, roles_mode="any", hierarchy=hierarchy) for c in role_clauses
    ) + tuple(Requirement(permissions=c, permissions_mode="any") for c in permission_clauses)


@dataclass(slots=True)
class _Facts:
    """What ``/verify`` reads from the request headers, in one pass."""

    size: int = 0
    credential_sent: bool = False
    roles: list[str] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    refused_header: bool = False
    methods: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    referers: list[str] = field(default_factory=list)
    host: str | None = None
    forwarded_host: list[str] = field(default_factory=list)
    forwarded_proto: list[str] = field(default_factory=list)
    original_url: str | None = None

    @classmethod
    def read(cls, headers: Iterable[tuple[bytes, bytes]]) -> _Facts:
        facts = cls()
        size = 0
        for name, raw in headers:
            size += len(name) + len(raw)
            lname = name.lower()
            if lname in (b"cookie", b"authorization"):
                facts.credential_sent = True
            elif lname.startswith(_REQUIRE_PREFIX):
                if lname == b"x-require-role":
                    facts.roles.append(raw.decode("latin-1"))
                elif lname == b"x-require-permission":
                    facts.permissions.append(raw.decode("latin-1"))
                else:  # X-Require-Mode, a typo: never silently ignored
                    facts.refused_header = True
            elif lname in _METHOD_HEADERS:
                facts.methods.extend(m.strip() for m in raw.decode("latin-1").split(","))
            elif lname == b"origin":
                facts.origins.append(raw.decode("latin-1"))
            elif lname == b"referer":
                facts.referers.append(raw.decode("latin-1"))
            elif lname == b"host":
                facts.host = raw.decode("latin-1")
            elif lname == b"x-forwarded-host":
                facts.forwarded_host.append(raw.decode("latin-1"))
            elif lname == b"x-forwarded-proto":
                facts.forwarded_proto.append(raw.decode("latin-1"))
            elif lname == b"x-original-url":
                facts.original_url = raw.decode("latin-1")
        facts.size = size
        return facts


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
        csrf_mode: ``"auto"`` (default), ``"strict"`` or ``"off"``: the ``Origin``/``Referer`` check
            of cookie-authenticated writes (see the module docs).
        trusted_origins: origins allowed to send cookie-authenticated writes besides the
            original request's own, e.g. ``["https://app.example.com"]`` or
            ``["https://*.example.com"]``.
        max_header_bytes: cap on the total size of the request headers (431 above it).
        max_value_bytes: cap on one ``X-User-*`` response header value.
        realm: optional ``realm`` in ``WWW-Authenticate``.
        retry_after: seconds for ``Retry-After`` on a 503.
        close_gate: close the gate's stores/clients on ASGI lifespan shutdown.
        plugins: the Better Auth plugins enforced
            (:class:`~sessiongate.ba_detect.BetterAuthPlugins`): its API-key verifier answers
            requests carrying the key header (the key decides, never a cookie next to it),
            its organization directory fills ``X-User-Org-Role`` for the organization the
            request names in ``org_header``.
        org_header: the request header naming an organization (``X-Organization-Id``).
    """

    def __init__(
        self,
        gate: SessionGate,
        *,
        role_hierarchy: RoleHierarchy | Mapping[str, Sequence[str]] | None = None,
        include_claims: bool = False,
        csrf_mode: CSRFMode = "auto",
        trusted_origins: Iterable[str] = (),
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_value_bytes: int = 1024,
        realm: str | None = None,
        retry_after: int | None = 5,
        close_gate: bool = True,
        plugins: Any = None,
        org_header: str = "x-organization-id",
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
        self.csrf_mode = parse_csrf_mode(csrf_mode)
        # the sidecar always sits behind a proxy: the original host comes from its headers
        self.origin_policy = OriginPolicy(trusted_origins, trust_forwarded=True)
        self.max_header_bytes = max_header_bytes
        self.max_value_bytes = max_value_bytes
        self.realm = realm
        self.retry_after = retry_after
        self.close_gate = close_gate
        self.plugins = plugins
        self.api_keys = getattr(plugins, "api_keys", None)
        self.organizations = getattr(plugins, "organizations", None)
        self.org_header = org_header.lower().encode("latin-1")

    def __repr__(self) -> str:
        return f"SidecarApp(gate={self.gate!r}, csrf_mode={self.csrf_mode!r})"

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

    def _read_requirements(
        self, scope: Scope, facts: _Facts, use_query: bool
    ) -> tuple[Requirement, ...]:
        if facts.refused_header:
            raise _BadRequest(
                "only X-Require-Role and X-Require-Permission are read (there is no mode: "
                "write alternatives as admin|billing)"
            )
        roles, permissions = facts.roles, facts.permissions
        if use_query and scope.get("query_string"):
            query = parse_qsl(
                scope["query_string"].decode("latin-1"),
                keep_blank_values=True,
                max_num_fields=64,
            )
            roles, permissions = list(roles), list(permissions)
            for key, value in query:
                if key == "role":
                    roles.append(value)
                elif key == "permission":
                    permissions.append(value)
                else:
                    raise _BadRequest(
                        "/verify reads only the role and permission query parameters (there is "
                        "no mode: write alternatives as role=admin|billing)"
                    )
        return _requirements(roles, permissions, self.hierarchy)

    def _check_origin(self, scope: Scope, facts: _Facts) -> None:
        """Raise :class:`CSRFError` for a cookie-authenticated write from a foreign origin."""
        if self.csrf_mode == "off":
            return
        methods = facts.methods
        own_method = str(scope.get("method") or "GET").upper()
        if own_method not in ("GET", "HEAD"):
            methods = [*methods, own_method]
        if not methods:
            if self.csrf_mode == "strict":
                raise CSRFError(
                    "the proxy did not forward the original request method "
                    "(X-Original-Method or X-Forwarded-Method)"
                )
            return
        if not any(is_unsafe_method(m) for m in methods):
            return
        if len(facts.origins) > 1 or len(facts.referers) > 1:
            raise CSRFError("the request carries several Origin or Referer headers")
        scheme: str = scope.get("scheme") or "http"
        host = facts.host
        if facts.original_url is not None:
            try:
                parts = urlsplit(facts.original_url.strip())
            except ValueError:
                parts = None
            # an unusable X-Original-URL leaves no own origin: only trusted origins pass
            scheme, host = (parts.scheme, parts.netloc) if parts else (scheme, None)
        self.origin_policy.check(
            origin=facts.origins[0] if facts.origins else None,
            referer=facts.referers[0] if facts.referers else None,
            scheme=scheme,
            host=host,
            forwarded_host=", ".join(facts.forwarded_host) or None,
            forwarded_proto=", ".join(facts.forwarded_proto) or None,
        )

    async def _verify(self, scope: Scope, send: Send, *, use_query: bool) -> None:
        started = time.perf_counter()
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or ())
        facts = _Facts.read(headers)
        if facts.size > self.max_header_bytes:
            body = {"error": "headers_too_large", "message": "the request headers are too large"}
            await self._send(send, scope, 431, _json_bytes(body), [])
            self._log(scope, 431, "headers_too_large", started)
            return
        try:
            requirements = self._read_requirements(scope, facts, use_query)
        except (_BadRequest, ValueError) as err:
            message = str(err) if isinstance(err, _BadRequest) else "malformed requirements"
            body = {"error": "invalid_request", "message": message}
            await self._send(send, scope, 400, _json_bytes(body), [])
            self._log(scope, 400, "invalid_request", started)
            return
        try:
            keyed = None if self.api_keys is None else await self.api_keys.authenticate(headers)
            result = keyed if keyed is not None else await self.gate.authenticate(headers)
            user = result.user
            if result.credential == "cookie":
                self._check_origin(scope, facts)
            for requirement in requirements:
                requirement.check(user)
            source = str(getattr(user, "source", None) or result.authenticator)
            out_headers = user_headers(
                user, source, result.credential, max_value_bytes=self.max_value_bytes
            )
            out_headers += await self._org_headers(user, headers)
        except SessionGateError as err:
            response = error_response(
                err, facts.credential_sent, realm=self.realm, retry_after=self.retry_after
            )
            await self._send(send, scope, response.status, response.body, response.headers)
            self._log(scope, response.status, err.code, started)
            return
        body_obj = {
            "user": _user_json(user, self.include_claims),
            "credential": result.credential,
            "authenticator": result.authenticator,
        }
        await self._send(send, scope, 200, _json_bytes(body_obj), out_headers)
        self._log(scope, 200, "ok", started)

    async def _org_headers(
        self, user: Any, headers: list[tuple[bytes, bytes]]
    ) -> list[tuple[str, str]]:
        """``X-User-Org-Id`` / ``X-User-Org-Role`` for the organization the request names
        (none when it names none or the user is not a member; 503 when the lookup fails)."""
        if self.organizations is None:
            return []
        named = next((v for k, v in headers if k.lower() == self.org_header), None)
        if not named:
            return []
        org_id = named.decode("latin-1")
        membership = await self.organizations.membership(org_id, str(user.id))
        if membership is None:
            return []
        roles = ",".join(encode_header_value(r, list_item=True) for r in membership.roles)
        out = [("X-User-Org-Id", encode_header_value(org_id))]
        if roles and len(roles) <= self.max_value_bytes:
            out.append(("X-User-Org-Role", roles))
        return out

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
