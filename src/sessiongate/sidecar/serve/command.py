"""``sessiongate serve``'s production part: its flags, its banner, and the start of the workers.

:mod:`sessiongate.cli` reads the gate's flags and the environment into a
:class:`~sessiongate.config.GateConfig` and hands over to :func:`start`, which validates every
option once (a :class:`~sessiongate.errors.ConfigurationError` stops ``serve`` with exit status
2 before any worker starts), prints the banner (no secret, no URL) and serves until stopped.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from ..._extras import require
from ...config import GateConfig, SidecarOptions
from ...errors import SessionGateError
from .options import DEFAULT_CACHE_SIZE, SERVERS, AppSpec, ServeOptions, parse_server

__all__ = ["add_serve_flags", "start"]


def add_serve_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of how the sidecar is served: workers, server, drain, caches, metrics, logs."""
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1): about one per CPU core the sidecar may use; "
        "see docs/production.md",
    )
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default=SERVERS[0],
        help=f"HTTP server (default {SERVERS[0]}, the faster in our measurements)",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=float,
        default=30.0,
        help="seconds a worker has to finish in-flight requests on SIGTERM (default 30)",
    )
    parser.add_argument(
        "--cache-size",
        type=int,
        default=DEFAULT_CACHE_SIZE,
        help=f"sessions each worker remembers verified answers for (default {DEFAULT_CACHE_SIZE}"
        ", ~4 KB each; 0 turns the response memo off)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="serve Prometheus metrics on /metrics (needs sessiongate[metrics])",
    )
    parser.add_argument(
        "--audit-log",
        metavar="PATH",
        help="write one JSON line per verdict to PATH (- for standard output); no token, "
        "cookie or secret is ever written",
    )


def start(args: argparse.Namespace, config: GateConfig, out: TextIO) -> int:
    """Validate, print the banner and serve until stopped; the exit status (2: bad options)."""
    from . import run
    from .app import check_spec
    from .runners import server_version

    try:
        options = ServeOptions(
            host=args.host,
            port=args.port,
            workers=args.workers,
            server=parse_server(args.server),
            graceful_timeout=args.graceful_timeout,
        )
        spec = AppSpec(
            gate=config,
            sidecar=SidecarOptions.from_sources(
                csrf_mode=args.csrf, trusted_origins=args.trusted_origin or ()
            ),
            include_claims=args.include_claims,
            cache_size=args.cache_size,
            metrics=args.metrics,
            audit_log=args.audit_log,
            log_requests=args.log_requests,
        )
        server = server_version(options.server)
        if args.metrics:
            require("prometheus_client", "metrics")
        replica_lines = check_spec(spec)  # every configuration error stops here
    except SessionGateError as err:
        out.write(f"sessiongate serve: {err.message}\n")
        return 2
    routes = "/verify, /healthz, /readyz" + (", /metrics" if args.metrics else "")
    out.write(f"sessiongate sidecar on http://{args.host}:{args.port} ({routes})\n")
    out.write(f"  server: {server}, {options.workers} worker(s)\n")
    for line in config.describe():
        out.write(f"  verifying: {line}\n")
    for line in replica_lines:
        out.write(f"  {line}\n")
    out.write(f"  csrf: {spec.sidecar.describe()}\n")
    if args.audit_log:
        where = "standard output" if args.audit_log == "-" else args.audit_log
        out.write(f"  audit log: one JSON line per verdict to {where}\n")
    out.flush()
    return run(options, spec)
