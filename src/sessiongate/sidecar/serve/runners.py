"""The two HTTP servers ``serve`` can run the sidecar on: granian (default) and uvicorn.

Both serve the same application (:func:`~.app.build_app`, built in each worker) on one address
with ``workers`` processes, replace a worker that dies, and drain on ``SIGTERM``:

* **granian** (Rust HTTP/1 on hyper, the ASGI app on uvloop when installed): its own process
  manager, with ``respawn_failed_workers`` and ``workers_kill_timeout`` = the graceful timeout.
  It always sends ``server: granian`` (it has no switch to omit it).
* **uvicorn** (httptools and uvloop when installed, else h11 and asyncio): our
  :class:`~.supervisor.Supervisor` (with one worker too, so that a dead one is replaced, as
  granian does) over a socket from :func:`~.sockets.listen_socket`, which
  carries ``TCP_NODELAY`` to every connection; ``uvicorn --workers`` binds a socket that does
  not, and its keep-alive requests then wait ~40 ms each for a delayed ACK.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..._extras import require
from .. import DEFAULT_MAX_HEADER_BYTES
from .options import ServeOptions, ServerName
from .sockets import listen_socket
from .supervisor import Supervisor

__all__ = ["RUNNERS", "AppFactory", "run_granian", "run_uvicorn", "server_version"]

AppFactory = Callable[[], Any]
"""Builds the ASGI application in a worker process (it is never built in the supervisor)."""


def server_version(server: ServerName) -> str:
    """``"granian 2.8.9"``; raises :class:`~sessiongate.errors.MissingExtraError` (one
    ``pip install 'sessiongate[serve]'`` line) when it is not installed."""
    from importlib import metadata

    require(server, "serve")
    return f"{server} {metadata.version(server)}"


def run_granian(options: ServeOptions, factory: AppFactory) -> int:
    """Serve ``factory()`` with granian until stopped; the exit status."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels

    server = Granian(
        "sessiongate.sidecar.serve.app:build_app",  # a label: the app comes from target_loader
        address=options.host,
        port=options.port,
        interface=Interfaces.ASGI,
        workers=options.workers,
        http=HTTPModes.http1,
        loop=Loops(options.loop),
        websockets=False,
        backlog=options.backlog,
        log_level=LogLevels.warning,
        respawn_failed_workers=True,
        workers_kill_timeout=max(1, math.ceil(options.graceful_timeout)),
    )
    try:
        server.serve(target_loader=factory, wrap_loader=False)
    except SystemExit as stop:  # granian exits 1 after a crash loop of its workers
        return stop.code if isinstance(stop.code, int) else 1
    return 0


def run_uvicorn(options: ServeOptions, factory: AppFactory) -> int:
    """Serve ``factory()`` with uvicorn until stopped; the exit status."""
    import uvicorn

    sock = listen_socket(options.host, options.port, options.backlog)

    def worker() -> None:
        app = factory()
        max_header_bytes = getattr(app, "max_header_bytes", DEFAULT_MAX_HEADER_BYTES)
        config = uvicorn.Config(
            app,
            loop=options.loop,
            http=options.http,
            log_level="warning",
            access_log=False,  # uvicorn's access log prints query strings; ours never does
            lifespan="on",
            h11_max_incomplete_event_size=max_header_bytes + 16 * 1024,
            server_header=False,
            timeout_graceful_shutdown=math.ceil(options.graceful_timeout),
        )
        uvicorn.Server(config).run(sockets=[sock])

    try:
        supervisor = Supervisor(
            worker, workers=options.workers, graceful_timeout=options.graceful_timeout + 1.0
        )
        return supervisor.run()
    finally:
        sock.close()


RUNNERS: dict[ServerName, Callable[[ServeOptions, AppFactory], int]] = {
    "granian": run_granian,
    "uvicorn": run_uvicorn,
}
