"""The application each worker serves, built from an :class:`~.options.AppSpec`.

Runs in the worker process (after the fork), so every worker has its own gate, connection
pools, caches and counters; the supervisor never builds one to serve with.
"""

from __future__ import annotations

import logging

from ..audit import AuditLog
from ..config import build_gate
from ..gate import SessionGate
from ..observe import DecisionStats
from ..sidecar import SidecarApp
from .options import AppSpec

__all__ = ["build_app", "build_spec_gate"]


def build_spec_gate(spec: AppSpec) -> SessionGate:
    """The gate of ``spec``; raises :class:`~sessiongate.errors.ConfigurationError` early.

    The gate's memo gets two slots per cached session: a slot stands for 4 KiB of estimated
    memory and an Auth.js v5 cookie of ~600 characters takes about two.
    """
    return build_gate(spec.gate, memo_size=2 * spec.cache_size)


def build_app(spec: AppSpec) -> SidecarApp:
    """A :class:`~sessiongate.sidecar.SidecarApp` with the metrics and audit log of ``spec``."""
    logging.basicConfig(level=logging.INFO if spec.log_requests else logging.WARNING)
    gate = build_spec_gate(spec)
    stats = DecisionStats() if spec.metrics else None
    collector = None
    if stats is not None:
        from ..metrics import SessionGateCollector

        collector = SessionGateCollector(
            stats, [gate, *gate.authenticators], directory=spec.metrics_dir
        )
    app = SidecarApp(
        gate,
        include_claims=spec.include_claims,
        csrf_mode=spec.sidecar.csrf_mode,
        trusted_origins=spec.sidecar.trusted_origins,
        response_memo_size=spec.cache_size,
        observer=stats,
        audit_log=AuditLog(spec.audit_log) if spec.audit_log else None,
        metrics=collector,
    )
    if collector is not None:
        collector.sources.append(app)
        collector.readiness = app.readiness
    return app
