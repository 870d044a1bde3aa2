"""examples/litestar_app.py runs as written: through Litestar's test client, and as a real
uvicorn process where a refused WebSocket handshake is an HTTP 403 (close 1008 before accept)."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "litestar_app.py"
SECRET = "example-test-secret-0123456789abcdef0123"
FRONT = "http://localhost:3000"


def cookie(**claims: Any) -> dict[str, str]:
    return {"cookie": cookie_header(mint_authjs_v5({"sub": "u1", "name": "Ada", **claims}, SECRET))}


def load(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("AUTH_SECRET", SECRET)
    monkeypatch.setenv("FRONTEND_ORIGIN", FRONT)
    spec = importlib.util.spec_from_file_location("example_litestar_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # Litestar resolves annotations there
    spec.loader.exec_module(module)
    return module


def test_example_through_the_test_client(monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(load(monkeypatch).app) as client:
        assert client.get("/", headers=cookie()).json() == {"hello": "Ada", "via": "cookie"}
        bearer = {"authorization": "Bearer " + mint_hs256({"sub": "u2", "role": "admin"}, SECRET)}
        assert client.get("/", headers=bearer).json() == {"hello": "u2", "via": "bearer"}
        assert client.get("/moderate", headers=bearer).json() == {"moderator": "u2"}
        assert client.get("/moderate", headers=cookie(role="user")).status_code == 403
        assert client.get("/health").json() == {"ok": True}
        writer = cookie(permissions=["posts:write"])
        assert client.post("/posts", headers={**writer, "origin": FRONT}).status_code == 201
        assert (
            client.post("/posts", headers={**writer, "origin": "https://evil.example"}).json()[
                "error"
            ]
            == "csrf_failed"
        )
        assert (
            "SessionGateBearer"
            in client.get("/schema/openapi.json").json()["components"]["securitySchemes"]
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def example_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "AUTH_SECRET": SECRET, "FRONTEND_ORIGIN": FRONT}
    log = tmp_path_factory.mktemp("litestar") / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE)], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the example exited: {log.read_text()[-2000:]}")
            try:
                httpx.get(url + "/health", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("the example did not start")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_example_as_a_real_process_over_http(example_url: str) -> None:
    r = httpx.get(example_url + "/", headers=cookie(), timeout=5)
    assert (r.status_code, r.json()) == (200, {"hello": "Ada", "via": "cookie"})
    r = httpx.get(example_url + "/", timeout=5)
    assert (r.status_code, r.json()["error"], r.headers["www-authenticate"]) == (
        401,
        "missing_credentials",
        "Bearer",
    )


def handshake(url: str, headers: dict[str, str]) -> Any:
    """The first message of an accepted handshake, or the HTTP status of a refused one."""
    try:
        with connect(url, additional_headers=headers, open_timeout=5) as ws:
            return json.loads(ws.recv(timeout=5))
    except InvalidStatus as refused:
        return refused.response.status_code


def test_example_as_a_real_process_over_websocket(example_url: str) -> None:
    ws_url = example_url.replace("http://", "ws://") + "/ws"
    accepted = handshake(ws_url, {**cookie(), "origin": FRONT})
    assert accepted == {"hello": "Ada"}
    for headers in ({}, {**cookie(), "origin": "https://evil.example"}):
        assert handshake(ws_url, headers) == 403
