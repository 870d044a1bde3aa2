"""The two real clients: python-socketio's ``Client`` and the Node ``socket.io-client``.

Both answer an attempt the same way: ``{"connected": True, "reply": <whoami's answer>}`` or
``{"connected": False, "message": ..., "data": {"code", "message", "status"}}``.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import socketio

ROOT = Path(__file__).resolve().parents[2]
NODE_CLIENT = Path(__file__).resolve().parent / "sio_node_client.mjs"
INTEROP_PACKAGE = ROOT / "tests" / "interop" / "package.json"


def python_attempt(
    url: str,
    namespace: str = "/",
    headers: dict[str, str] | None = None,
    auth: Any = None,
) -> dict[str, Any]:
    """One connection of the Python client over the WebSocket transport.

    (Over long-polling, python-engineio's client waits for its pending poll when it closes,
    which the server answers only at the next ping: up to 45 s per refused attempt. The Node
    client covers long-polling.) ``suppress_origin``: websocket-client would add an
    ``Origin`` of its own next to the one in ``headers``. The outcome is awaited here rather
    than by ``connect(wait=True)``, which before python-socketio 5.14 waits out its whole
    timeout when a namespace is refused.
    """
    client = socketio.Client(  # request_timeout: a loaded CI machine took over engineio's 5 s
        reconnection=False, request_timeout=30, websocket_extra_options={"suppress_origin": True}
    )
    settled = threading.Event()
    errors: list[Any] = []

    def on_error(data: Any) -> None:
        errors.append(data)
        settled.set()

    client.on("connect", settled.set, namespace=namespace)
    client.on("connect_error", on_error, namespace=namespace)
    try:
        client.connect(
            url,
            headers=headers or {},
            auth=auth,
            transports=["websocket"],
            namespaces=[namespace],
            wait=False,
        )
        if not settled.wait(30):
            raise AssertionError("the server neither accepted nor refused the connection")
        if errors:
            error = errors[0]
            return {"connected": False, "message": error.get("message"), "data": error.get("data")}
        return {"connected": True, "reply": client.call("whoami", namespace=namespace, timeout=30)}
    finally:
        client.eio.disconnect(abort=True)


def node_attempts(
    node: str, url: str, attempts: list[dict[str, Any]], transport: str
) -> list[dict[str, Any]]:
    """Run every attempt with ``socket.io-client`` in one Node process."""
    specs = [{**a, "transport": transport} for a in attempts]
    done = subprocess.run(
        [node, str(NODE_CLIENT), str(INTEROP_PACKAGE)],
        input=json.dumps({"url": url, "attempts": specs}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def outcome(result: dict[str, Any]) -> Any:
    """``("ok", reply)`` or ``("refused", code, status)``, checking the refusal's shape."""
    if result["connected"]:
        return ("ok", result["reply"])
    data = result["data"]
    assert set(data) == {"code", "message", "status"}, data
    assert result["message"] == data["message"], result
    return ("refused", data["code"], data["status"])
