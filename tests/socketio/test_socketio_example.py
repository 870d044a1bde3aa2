"""examples/socketio_server.py runs as written, as a real process, with both real clients."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio
from sg_socketio_clients import node_attempts, outcome, python_attempt
from sg_socketio_servers import _wait_listening, free_port, stop

from sessiongate.testing import cookie_header, mint_authjs_v5

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "socketio_server.py"
SECRET = "example-test-secret-0123456789abcdef0123"
FRONT = "http://localhost:3000"


def token(**claims: object) -> str:
    return mint_authjs_v5({"sub": "u1", "name": "Ada", **claims}, SECRET)


@pytest.fixture(scope="module")
def example_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "AUTH_SECRET": SECRET, "FRONTEND_ORIGIN": FRONT}
    log = tmp_path_factory.mktemp("example") / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE)], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        _wait_listening(port, proc=proc, log=log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def test_example_with_the_python_client(example_url: str) -> None:
    assert outcome(python_attempt(example_url, auth={"token": token()})) == (
        "ok",
        {"id": "u1", "name": "Ada", "roles": []},
    )
    assert outcome(python_attempt(example_url)) == ("refused", "missing_credentials", 401)
    moderation = "/moderation"
    refused = python_attempt(example_url, moderation, auth={"token": token()})
    assert outcome(refused) == ("refused", "insufficient_scope", 403)


def test_example_broadcasts_with_the_sender_name(example_url: str) -> None:
    # without suppress_origin, websocket-client sends an Origin that the example's
    # cors_allowed_origins refuses
    client = socketio.Client(reconnection=False, websocket_extra_options={"suppress_origin": True})
    received: list[dict[str, str]] = []
    arrived = threading.Event()

    @client.on("message")
    def on_message(data: dict[str, str]) -> None:
        received.append(data)
        arrived.set()

    client.connect(
        example_url, auth={"token": token(name="Grace")}, transports=["websocket"], wait_timeout=5
    )
    try:
        client.emit("message", "hello")
        assert arrived.wait(5)
    finally:
        client.eio.disconnect(abort=True)
    assert received == [{"from": "Grace", "text": "hello"}]


@pytest.mark.node
def test_example_with_the_node_client(node_bin: str, example_url: str) -> None:
    cookie = cookie_header(token(role="admin"))
    attempts = [
        {"namespace": "/", "headers": {"cookie": cookie, "origin": FRONT}, "auth": None},
        {"namespace": "/moderation", "headers": {"cookie": cookie, "origin": FRONT}, "auth": None},
        {"namespace": "/", "headers": {}, "auth": {"token": token()}},
        {"namespace": "/", "headers": {"cookie": cookie}, "auth": None},
    ]
    for transport in ("polling", "websocket"):
        results = [outcome(r) for r in node_attempts(node_bin, example_url, attempts, transport)]
        assert results == [
            ("ok", {"id": "u1", "name": "Ada", "roles": ["admin"]}),
            ("ok", {"id": "u1", "name": "Ada", "roles": ["admin"]}),
            ("ok", {"id": "u1", "name": "Ada", "roles": []}),
            ("refused", "csrf_failed", 403),
        ]
