"""The application each worker serves, built from an :class:`~.options.AppSpec`.

Runs in the worker process (after the fork), so every worker has its own gate, connection
pools, caches, replica listeners and counters; the supervisor only checks the spec
(:func:`check_spec`) and never starts a listener or a pool before forking.
"""

from __future__ import annotations

import logging

from ...audit import AuditLog
from ...config import better_auth_plugins, build_authenticators
from ...gate import SessionGate
from ...observe import DecisionStats
from ...replicas import attach_replicas, replicated
from ..app import SidecarApp, sidecar_policy
from .options import AppSpec

__all__ = ["build_app", "build_spec_gate", "check_spec"]


def build_spec_gate(spec: AppSpec) -> SessionGate:
    """The gate of ``spec``, with what many replicas need (:mod:`sessiongate.replicas`: the
    listeners are started in this process) and the Better Auth plugins detected at start
    (``gate.better_auth_plugins``).

    The gate's memo gets two slots per cached session: a slot stands for 4 KiB of estimated
    memory and an Auth.js v5 cookie of ~600 characters takes about two.
    """
    authenticators = build_authenticators(spec.gate)
    plugins = better_auth_plugins(spec.gate, authenticators)
    replicas = replicated(spec.gate, authenticators)
    gate = SessionGate(
        *replicas.authenticators,
        memo_size=2 * spec.cache_size,
        secure_only=spec.gate.secure_only,
    )
    gate.better_auth_plugins = plugins
    return gate


def check_spec(spec: AppSpec) -> list[str]:
    """Validate ``spec`` in the supervisor (a :class:`~sessiongate.errors.ConfigurationError`
    stops ``serve`` before any worker starts); the replica and Better Auth plugin banner lines.

    Detection runs once here (no listener is started: workers start their own after the fork).
    """
    authenticators = build_authenticators(spec.gate)
    plugins = better_auth_plugins(spec.gate, authenticators)
    sidecar_policy(csrf_mode=spec.sidecar.csrf_mode, trusted_origins=spec.sidecar.trusted_origins)
    if spec.audit_log:
        AuditLog(spec.audit_log)
    setup = attach_replicas(
        authenticators, database_url=spec.gate.database_url, redis_url=spec.gate.redis_url
    )
    return [*setup.describe(), *([plugins.describe()] if plugins is not None else [])]


def build_app(spec: AppSpec) -> SidecarApp:
    """A :class:`~sessiongate.sidecar.SidecarApp` with the metrics and audit log of ``spec``."""
    logging.basicConfig(level=logging.INFO if spec.log_requests else logging.WARNING)
    gate = build_spec_gate(spec)
    stats = DecisionStats() if spec.metrics else None
    collector = None
    if stats is not None:
        from ...metrics import SessionGateCollector

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
        plugins=gate.better_auth_plugins,
    )
    if collector is not None:
        collector.sources.append(app)
        collector.readiness = app.readiness
    return app
