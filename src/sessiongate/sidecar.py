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
* ``/healthz``: liveness (``{"status": "ok"}``);
* ``/readyz``: readiness, 503 while a session store or JWKS key set is down
  (:mod:`sessiongate.readiness`);
* ``/metrics``: Prometheus metrics, when a ``metrics`` endpoint is given
  (:mod:`sessiongate.metrics`).

A request that repeats one the gate answered from its memo is answered from the rendered
``200`` it got then (:mod:`sessiongate.response_memo`); an ``observer`` and an ``audit_log``
are told about every verdict (:mod:`sessiongate.observe`, :mod:`sessiongate.audit`).

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
(``cookie`` or ``bearer``). Values are claims, so they are untrusted text: every character
outside printable ASCII, and ``%`` itself (and ``,`` inside list items), is percent-encoded as
UTF-8, so a value can never break or inject a header; decode with ``decodeURIComponent`` /
``urllib.parse.unquote``. A 200 always carries ``X-User-Id``: a user whose id is empty or longer
than ``max_value_bytes`` after encoding is refused (401 ``invalid_claim``). Any other value
longer than that is left out of the headers (it is still in the JSON body), so an absent header
means the user has no such field or it was too long to pass on.

Nothing the client sent is echoed: no token, cookie value or secret appears in a response or a
log line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from .audit import AuditLog, request_id_from
from .config import CSRFMode, GateConfig, SidecarOptions, build_gate, parse_csrf_mode
from .errors import ConfigurationError, SessionGateError
from .gate import AuthResult, SessionGate
from .guards import Requirement, RoleHierarchy
from .observe import CacheStats, DecisionObserver, presented_credential
from .origins import CSRFError, OriginPolicy, is_unsafe_method
from .readiness import ReadinessProbe
from .response_memo import Rendered, ResponseMemo
from .responses import error_response
from .sidecar_request import BadRequest, Facts, requirements
from .sidecar_response import (
    encode_header_value,
    json_bytes,
    raw_headers,
    user_headers,
    user_json,
)

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_RESPONSE_MEMO_SIZE",
    "CSRFMode",
    "MetricsEndpoint",
    "SidecarApp",
    "SidecarConfig",
    "SidecarOptions",
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

METRICS_FLUSH_SECONDS = 1.0
"""How often a worker publishes its counters to the other workers' ``/metrics``."""

DEFAULT_RESPONSE_MEMO_SIZE = 10_000
"""Rendered 200 answers the sidecar keeps for repeated requests (one per session and request
shape; ~2 KB each)."""


class MetricsEndpoint(Protocol):
    """What serves ``/metrics`` (:class:`sessiongate.metrics.SessionGateCollector`)."""

    def render(self) -> tuple[bytes, str]:
        """The current metrics in the exposition format, and its content type."""
        ...

    def flush(self) -> None:
        """Publish this process's counters to the other workers (called every second)."""
        ...


class SidecarApp:
    """The ``/verify``, ``/healthz``, ``/readyz`` (and optional ``/metrics``) ASGI application.

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
        response_memo_size: rendered 200 answers kept for requests that repeat
            (:mod:`sessiongate.response_memo`); 0 disables the memo.
        observer: told about every verdict (:class:`~sessiongate.observe.DecisionObserver`),
            e.g. the metrics of :mod:`sessiongate.metrics`.
        audit_log: writes one JSON line per verdict (:class:`~sessiongate.audit.AuditLog`).
        metrics: serves ``/metrics`` (404 without it).
        readiness: checks the stores and key sets for ``/readyz`` (default: those of ``gate``).
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
        response_memo_size: int = DEFAULT_RESPONSE_MEMO_SIZE,
        observer: DecisionObserver | None = None,
        audit_log: AuditLog | None = None,
        metrics: MetricsEndpoint | None = None,
        readiness: ReadinessProbe | None = None,
    ) -> None:
        if not isinstance(gate, SessionGate):
            raise ConfigurationError("gate must be a SessionGate")
        if max_header_bytes <= 0 or max_value_bytes <= 0:
            raise ConfigurationError("size caps must be positive")
        if observer is not None and not isinstance(observer, DecisionObserver):
            raise ConfigurationError("observer must have an on_decision() method")
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
        self.memo = ResponseMemo(response_memo_size, max_header_bytes=max_header_bytes)
        self.observer = observer
        self.audit_log = audit_log
        self.metrics = metrics
        self.readiness = readiness if readiness is not None else ReadinessProbe(gate.authenticators)
        self._not_found = json_bytes(
            {
                "error": "not_found",
                "message": "use /verify, /healthz, /readyz" + (" or /metrics" if metrics else ""),
            }
        )

    def __repr__(self) -> str:
        return f"SidecarApp(gate={self.gate!r}, csrf_mode={self.csrf_mode!r})"

    def cache_stats(self) -> list[CacheStats]:
        """The response memo's counters (:class:`~sessiongate.observe.CacheStatsSource`)."""
        return [CacheStats("sidecar_responses", self.memo.hits, self.memo.misses)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await self._lifespan(receive, send)
            return  # websockets are not served: the connection is refused by the server
        path: str = scope.get("path", "")
        if path == "/verify" or path.startswith("/verify/"):
            await self._verify(scope, send, use_query=path == "/verify")
        elif path == "/healthz":
            await self._send(send, scope, 200, json_bytes({"status": "ok"}), [])
        elif path == "/readyz":
            readiness = await self.readiness.check()
            status = 200 if readiness.ready else 503
            await self._send(send, scope, status, json_bytes(readiness.to_dict()), [])
        elif path == "/metrics" and self.metrics is not None:
            body, content_type = self.metrics.render()
            await self._send(send, scope, 200, body, [("content-type", content_type)])
        else:
            await self._send(send, scope, 404, self._not_found, [])

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        flusher: asyncio.Task[None] | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.metrics is not None:
                    flusher = asyncio.create_task(self._flush_metrics(self.metrics))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if flusher is not None:
                    flusher.cancel()
                if self.close_gate:
                    try:
                        await self.gate.aclose()
                    except Exception as exc:  # shutdown must complete
                        logger.warning("closing the gate failed: %s", type(exc).__name__)
                if self.metrics is not None:
                    self._flush_once(self.metrics)
                if self.audit_log is not None:
                    self.audit_log.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    def _flush_once(metrics: MetricsEndpoint) -> None:
        try:
            metrics.flush()
        except OSError as exc:  # a full disk must not stop the verifier
            logger.warning("writing the metrics failed: %s", type(exc).__name__)

    async def _flush_metrics(self, metrics: MetricsEndpoint) -> None:
        while True:
            await asyncio.sleep(METRICS_FLUSH_SECONDS)
            self._flush_once(metrics)

    async def _send(
        self,
        send: Send,
        scope: Scope,
        status: int,
        body: bytes,
        headers: Iterable[tuple[str, str]],
    ) -> None:
        await self._send_raw(send, scope, status, raw_headers(headers, body), body)

    @staticmethod
    async def _send_raw(
        send: Send, scope: Scope, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body}
        )

    def _read_requirements(
        self, scope: Scope, facts: Facts, use_query: bool
    ) -> tuple[Requirement, ...]:
        if facts.refused_header:
            raise BadRequest(
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
                    raise BadRequest(
                        "/verify reads only the role and permission query parameters (there is "
                        "no mode: write alternatives as role=admin|billing)"
                    )
        return requirements(roles, permissions, self.hierarchy)

    def _check_origin(self, scope: Scope, facts: Facts) -> None:
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
        memo = self.memo
        key = memo.key(scope)
        if key is not None:
            hit = memo.get(key, self.gate.clock())
            if hit is not None:  # a repeat of a request the gate answered from its memo
                await self._send_raw(send, scope, 200, hit.headers, hit.body)
                self._record(
                    scope, 200, "ok", hit.credential, hit.authenticator, hit.user_id, started
                )
                return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or ())
        facts = Facts.read(headers)
        presented = presented_credential(facts.cookie_sent, facts.authorization_sent)
        if facts.size > self.max_header_bytes:
            body = {"error": "headers_too_large", "message": "the request headers are too large"}
            await self._send(send, scope, 431, json_bytes(body), [])
            self._record(scope, 431, "headers_too_large", presented, "none", None, started)
            return
        try:
            needed = self._read_requirements(scope, facts, use_query)
        except (BadRequest, ValueError) as err:
            message = str(err) if isinstance(err, BadRequest) else "malformed requirements"
            body = {"error": "invalid_request", "message": message}
            await self._send(send, scope, 400, json_bytes(body), [])
            self._record(scope, 400, "invalid_request", presented, "none", None, started)
            return
        try:
            result = await self.gate.authenticate_request(headers)
            user = result.user
            if result.credential == "cookie":
                self._check_origin(scope, facts)
            for requirement in needed:
                requirement.check(user)
            rendered = self._render_ok(result)
        except SessionGateError as err:
            response = error_response(
                err,
                facts.cookie_sent or facts.authorization_sent,
                realm=self.realm,
                retry_after=self.retry_after,
            )
            await self._send(send, scope, response.status, response.body, response.headers)
            self._record(scope, response.status, err.code, presented, "none", None, started)
            return
        if key is not None:
            memo.offer(key, result, rendered, getattr(user, "expires_at", None))
        await self._send_raw(send, scope, 200, rendered.headers, rendered.body)
        self._record(
            scope, 200, "ok", rendered.credential, rendered.authenticator, rendered.user_id, started
        )

    def _render_ok(self, result: AuthResult) -> Rendered:
        """The 200 answer for a verified user (headers first: they refuse an unusable id)."""
        user = result.user
        source = str(getattr(user, "source", None) or result.authenticator)
        out_headers = user_headers(
            user, source, result.credential, max_value_bytes=self.max_value_bytes
        )
        body = json_bytes(
            {
                "user": user_json(user, self.include_claims),
                "credential": result.credential,
                "authenticator": result.authenticator,
            }
        )
        return Rendered(
            raw_headers(out_headers, body),
            body,
            str(getattr(user, "id", "")),
            result.credential,
            result.authenticator,
        )

    def _record(
        self,
        scope: Scope,
        status: int,
        outcome: str,
        credential: str,
        authenticator: str,
        user_id: str | None,
        started: float,
    ) -> None:
        """Tell the observer, the audit log and the request log about a verdict."""
        latency = time.perf_counter() - started
        if self.observer is not None:
            self.observer.on_decision(outcome, credential, authenticator, latency)
        if self.audit_log is not None:
            self.audit_log.record(
                request_id=request_id_from(scope.get("headers") or ()),
                outcome=outcome,
                status=status,
                credential=credential,
                authenticator=authenticator,
                user_id=user_id,
                latency_s=latency,
            )
        if logger.isEnabledFor(logging.INFO):
            # never the path's query or any header value: they may carry tokens
            logger.info(
                "verify %s -> %d %s (%.1f ms)",
                scope.get("method", "?"),
                status,
                outcome,
                latency * 1000,
            )


# ------------------------------------------------------------------------------ configuration


# The configuration (flags over environment) lives in config.py, shared with
# SessionGate.from_env; the sidecar keeps its historical names.
SidecarConfig = GateConfig
