"""``sessiongate serve`` in production: worker processes, metrics, readiness, audit logs.

:func:`run` serves the sidecar (:mod:`sessiongate.sidecar`) with ``options.workers`` processes
on the chosen HTTP server (:mod:`.runners`), each building its own application from the same
:class:`~.options.AppSpec` (:mod:`.app`). With metrics on, it creates the directory the
workers' counters meet in (:mod:`sessiongate.metrics`) and removes it on exit.

Modules: :mod:`.options` (pure, validated options), :mod:`.app` (the worker's application),
:mod:`.sockets` (the listening socket), :mod:`.supervisor` (the pre-fork supervisor used with
uvicorn), :mod:`.runners` (granian and uvicorn). See ``docs/production.md``.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from .options import DEFAULT_CACHE_SIZE, SERVERS, AppSpec, ServeOptions, ServerName, parse_server

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "SERVERS",
    "AppSpec",
    "ServeOptions",
    "ServerName",
    "parse_server",
    "run",
    "serve_app",
]


def run(options: ServeOptions, spec: AppSpec) -> int:
    """Serve the sidecar until stopped (``SIGTERM``/``SIGINT``); the exit status."""
    from .app import build_app

    metrics_dir = tempfile.mkdtemp(prefix="sessiongate-metrics-") if spec.metrics else None
    try:
        spec = dataclasses.replace(spec, metrics_dir=metrics_dir)
        return serve_app(options, functools.partial(build_app, spec))
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def serve_app(options: ServeOptions, factory: Callable[[], Any]) -> int:
    """Serve the ASGI app ``factory()`` builds in each worker (benchmarks serve a no-op app
    this way, on exactly the same server set-up); the exit status."""
    from .runners import RUNNERS

    return RUNNERS[options.server](options, factory)
