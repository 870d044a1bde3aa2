"""What ``sessiongate serve`` runs: validated options, shared by the supervisor and its workers.

Pure: no I/O, no server imported. :class:`ServeOptions` is how the process serves (address,
workers, HTTP server, drain time); :class:`AppSpec` is what each worker builds its application
from. Both are frozen and picklable, so a worker receives them over the process boundary (never
on a command line: they may hold secrets given as flags).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...config import GateConfig, SidecarOptions
from ...errors import ConfigurationError

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "HTTP_PARSERS",
    "LOOPS",
    "SERVERS",
    "AppSpec",
    "HTTPParser",
    "LoopName",
    "ServeOptions",
    "ServerName",
    "parse_server",
]

ServerName = Literal["granian", "uvicorn"]
SERVERS: tuple[ServerName, ...] = ("granian", "uvicorn")
"""The HTTP servers ``serve`` can run; the first is the default (chosen by measurement, see
``docs/production.md``)."""

LoopName = Literal["auto", "asyncio", "uvloop"]
LOOPS: tuple[LoopName, ...] = ("auto", "asyncio", "uvloop")
"""Event loops; ``auto`` is uvloop when it is installed."""

HTTPParser = Literal["auto", "h11", "httptools"]
HTTP_PARSERS: tuple[HTTPParser, ...] = ("auto", "h11", "httptools")
"""uvicorn's HTTP/1 parsers; ``auto`` is httptools (C) when it is installed. granian parses in
Rust and ignores this."""

DEFAULT_CACHE_SIZE = 10_000
"""Sessions a worker keeps verified answers for (the gate's memo and the response memo): the
number of sessions that are active within a few minutes, at ~4 KB each."""


def parse_server(value: str) -> ServerName:
    """``value`` as a :data:`ServerName`; :class:`ConfigurationError` for anything else."""
    for name in SERVERS:
        if value == name:
            return name
    raise ConfigurationError(f"the server must be one of {', '.join(SERVERS)}, not {value!r}")


@dataclass(frozen=True, slots=True)
class AppSpec:
    """Everything a worker needs to build its sidecar application.

    Attributes:
        gate: what to verify (:class:`~sessiongate.config.GateConfig`).
        sidecar: the CSRF settings (:class:`~sessiongate.config.SidecarOptions`).
        include_claims: raw claims in the JSON body of a 200.
        cache_size: sessions remembered per worker (gate memo and response memo).
        metrics: serve ``/metrics``.
        metrics_dir: where the workers' counters meet (set by the supervisor).
        audit_log: a path or ``"-"`` (standard output) for JSON audit lines; ``None``: off.
        log_requests: one log line per verdict (codes only, no values).
    """

    gate: GateConfig
    sidecar: SidecarOptions = field(default_factory=SidecarOptions)
    include_claims: bool = False
    cache_size: int = DEFAULT_CACHE_SIZE
    metrics: bool = False
    metrics_dir: str | None = None
    audit_log: str | None = None
    log_requests: bool = False

    def __post_init__(self) -> None:
        if self.cache_size < 0:
            raise ConfigurationError("the cache size must be >= 0")
        if self.audit_log == "":
            raise ConfigurationError("the audit log must be a path or '-' (standard output)")


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """How the sidecar is served.

    Attributes:
        host / port: the address to bind.
        workers: worker processes (each one event loop); see ``docs/production.md`` to size it.
        server: the HTTP server (:data:`SERVERS`).
        graceful_timeout: seconds a stopping worker has to finish its in-flight requests
            (``SIGTERM``) before it is killed.
        backlog: the listening socket's queue of not-yet-accepted connections.
        loop / http: event loop and (uvicorn) HTTP parser; ``auto`` picks the fastest installed
            (benchmarks compare them; there are no command-line flags for them).
    """

    host: str = "127.0.0.1"
    port: int = 8787
    workers: int = 1
    server: ServerName = SERVERS[0]
    graceful_timeout: float = 30.0
    backlog: int = 1024
    loop: LoopName = "auto"
    http: HTTPParser = "auto"

    def __post_init__(self) -> None:
        if not 1 <= self.workers <= 256:
            raise ConfigurationError("--workers must be between 1 and 256")
        if not 0 <= self.port <= 65535:
            raise ConfigurationError("--port must be between 0 and 65535")
        if not 0 < self.graceful_timeout <= 3600:
            raise ConfigurationError("--graceful-timeout must be between 0 and 3600 seconds")
        if self.backlog < 1:
            raise ConfigurationError("the backlog must be positive")
        parse_server(self.server)
        if self.loop not in LOOPS or self.http not in HTTP_PARSERS:
            raise ConfigurationError("unknown event loop or HTTP parser")
