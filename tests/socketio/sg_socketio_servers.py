"""Real servers on loopback: uvicorn in a thread for the ASGI server; gunicorn with threaded
workers, in a process, for the sync (WSGI) one.

Gunicorn's ``gthread`` worker is what python-socketio's documentation deploys the threading
mode on (WebSockets through simple-websocket). Werkzeug's development server also works, but
it reads a client's WebSocket close frame as a new HTTP request and makes every
client-initiated close wait for the client's 3 s close timeout.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import socketio
import uvicorn

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(
    port: int,
    timeout: float = 20.0,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            err = log.read_text(errors="replace")[-2000:] if log is not None else ""
            raise RuntimeError(f"the server exited ({proc.returncode}): {err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextmanager
def serve_asgi(sio: socketio.AsyncServer) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of uvicorn serving ``sio`` until the block ends."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(socketio.ASGIApp(sio), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_listening(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        # long-polls still pending would hold a graceful shutdown until the next ping
        server.should_exit = server.force_exit = True
        thread.join(timeout=10)
        sock.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server process we started, by its pid: SIGINT, then SIGKILL after 3 s (uvicorn's
    graceful shutdown would wait for pending long-polls until the next ping)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextmanager
def serve_wsgi(app: str, home: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of gunicorn (``gthread``) serving ``module:app`` of this folder.

    ``home`` is the process's HOME (recent gunicorn versions put a control socket there) and
    holds its log, ``server.log``.
    """
    # gunicorn serves a socket bound here (fd://): no other test can take the port meanwhile
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    command = [
        sys.executable, "-m", "gunicorn",
        "--worker-class", "gthread", "--threads", "16", "--workers", "1",
        "--bind", f"fd://{sock.fileno()}", "--chdir", str(HERE),
        "--graceful-timeout", "1", "--log-level", "warning",
        app,
    ]  # fmt: skip
    environ = {**os.environ, **(env or {}), "HOME": str(home)}
    log = home / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            command,
            env=environ,
            stdout=sink,
            stderr=subprocess.STDOUT,
            pass_fds=(sock.fileno(),),
        )
    sock.close()
    try:
        _wait_listening(port, proc=proc, log=log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
