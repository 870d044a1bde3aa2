"""Real servers on loopback, each in a thread: uvicorn for the ASGI server, werkzeug's threaded
WSGI server for the sync one (python-engineio's threading mode serves WebSockets through
simple-websocket on it)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import socketio
import uvicorn
from werkzeug.serving import make_server


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
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
    config = uvicorn.Config(
        socketio.ASGIApp(sio), log_level="warning", lifespan="off", ws="websockets"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_listening(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def serve_wsgi(sio: socketio.Server) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of werkzeug's threaded server serving ``sio``."""
    server = make_server("127.0.0.1", 0, socketio.WSGIApp(sio), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _wait_listening(server.server_port)
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
