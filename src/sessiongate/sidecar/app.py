"""The sidecar's ASGI application: routes, lifespan, and the options it is built from.

:class:`SidecarApp` validates its options once into a :class:`~sessiongate.policy.WebPolicy`
(the sidecar always sits behind a proxy, so the original host comes from ``X-Forwarded-*``) and
routes ``/verify`` (:mod:`.verify`), ``/healthz``, ``/readyz`` (:mod:`sessiongate.readiness`)
and ``/metrics`` (:mod:`sessiongate.metrics`); the ASGI lifespan publishes the metrics of a
worker every second and closes the gate and the audit log at shutdown.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from ..audit import AuditLog
from ..config import CSRFMode, parse_csrf_mode
from ..errors import ConfigurationError
from ..gate import SessionGate
from ..guards import RoleHierarchy
from ..observe import CacheStats, DecisionObserver
from ..policy import WebPolicy
from ..readiness import ReadinessProbe
from .headers import json_bytes, raw_headers
from .memo import ResponseMemo
from .refusals import RefusalMemo
from .verify import Message, Scope, Send, VerifyEndpoint, send_response

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_RESPONSE_MEMO_SIZE",
    "METRICS_FLUSH_SECONDS",
    "MetricsEndpoint",
    "SidecarApp",
    "sidecar_policy",
]

logger = logging.getLogger("sessiongate")

Receive = Callable[[], Awaitable[Message]]

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


def sidecar_policy(
    *,
    csrf_mode: CSRFMode = "auto",
    trusted_origins: Iterable[str] = (),
    role_hierarchy: RoleHierarchy | Mapping[str, Sequence[str]] | None = None,
    realm: str | None = None,
    retry_after: int | None = 5,
) -> WebPolicy:
    """The :class:`~sessiongate.policy.WebPolicy` the sidecar decides under.

    ``csrf_mode``: ``"auto"`` checks cookie writes whenever the original method is known,
    ``"strict"`` also refuses cookie requests whose method the proxy did not forward, ``"off"``
    never checks. Forwarded headers are trusted (the sidecar is only reached through a proxy).
    """
    mode = parse_csrf_mode(csrf_mode)
    return WebPolicy(
        csrf=mode != "off",
        unknown_method="allow" if mode == "auto" else "refuse",
        trusted_origins=trusted_origins,
        trust_forwarded=True,
        role_hierarchy=role_hierarchy,
        block_on_outage=True,
        retry_after=retry_after,
        realm=realm,
    )


class SidecarApp:
    """The ``/verify``, ``/healthz``, ``/readyz`` (and optional ``/metrics``) ASGI application.

    Args:
        gate: the :class:`~sessiongate.gate.SessionGate` that verifies requests.
        role_hierarchy: optional role hierarchy applied to role requirements.
        include_claims: add the raw verified claims to the JSON body of a 200 (off by default:
            a NextAuth token often carries the OAuth provider's ``accessToken``).
        csrf_mode: ``"auto"`` (default), ``"strict"`` or ``"off"``: the ``Origin``/``Referer`` check
            of cookie-authenticated writes (see the package docs).
        trusted_origins: origins allowed to send cookie-authenticated writes besides the
            original request's own, e.g. ``["https://app.example.com"]`` or
            ``["https://*.example.com"]``.
        max_header_bytes: cap on the total size of the request headers (431 above it).
        max_value_bytes: cap on one ``X-User-*`` response header value.
        realm: optional ``realm`` in ``WWW-Authenticate``.
        retry_after: seconds for ``Retry-After`` on a 503.
        close_gate: close the gate's stores/clients on ASGI lifespan shutdown.
        response_memo_size: rendered 200 answers kept for requests that repeat
            (:mod:`sessiongate.sidecar.memo`); 0 disables the memo.
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
        plugins: Any = None,
        org_header: str = "x-organization-id",
    ) -> None:
        if not isinstance(gate, SessionGate):
            raise ConfigurationError("gate must be a SessionGate")
        if max_header_bytes <= 0 or max_value_bytes <= 0:
            raise ConfigurationError("size caps must be positive")
        if observer is not None and not isinstance(observer, DecisionObserver):
            raise ConfigurationError("observer must have an on_decision() method")
        self.gate = gate
        self.csrf_mode = parse_csrf_mode(csrf_mode)
        policy = sidecar_policy(
            csrf_mode=self.csrf_mode,
            trusted_origins=trusted_origins,
            role_hierarchy=role_hierarchy,
            realm=realm,
            retry_after=retry_after,
        )
        # the same refusals, each rendered once (:mod:`.refusals`)
        self.policy = dataclasses.replace(policy, error_renderer=RefusalMemo(policy.render))
        self.max_header_bytes = max_header_bytes
        self.close_gate = close_gate
        self.memo = ResponseMemo(response_memo_size, max_header_bytes=max_header_bytes)
        self.audit_log = audit_log
        self.metrics = metrics
        self.readiness = readiness if readiness is not None else ReadinessProbe(gate.authenticators)
        self.verify = VerifyEndpoint(
            gate,
            self.policy,
            self.memo,
            include_claims=include_claims,
            max_value_bytes=max_value_bytes,
            max_header_bytes=max_header_bytes,
            observer=observer,
            audit_log=audit_log,
            api_keys=getattr(plugins, "api_keys", None),
            organizations=getattr(plugins, "organizations", None),
            org_header=org_header,
        )
        self.plugins = plugins
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
            await self.verify(scope, send, use_query=path == "/verify")
        elif path == "/healthz":
            await self._send(send, scope, 200, json_bytes({"status": "ok"}))
        elif path == "/readyz":
            readiness = await self.readiness.check()
            status = 200 if readiness.ready else 503
            await self._send(send, scope, status, json_bytes(readiness.to_dict()))
        elif path == "/metrics" and self.metrics is not None:
            body, content_type = self.metrics.render()
            await self._send(send, scope, 200, body, [("content-type", content_type)])
        else:
            await self._send(send, scope, 404, self._not_found)

    @staticmethod
    async def _send(
        send: Send, scope: Scope, status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        await send_response(send, scope, status, raw_headers(headers, body), body)

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
