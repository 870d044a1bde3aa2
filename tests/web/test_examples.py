"""Every example runs as written: imported and exercised, and started as a real process."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse

from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "example-test-secret-0123456789abcdef0123"
FRONT = "http://localhost:3000"


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("AUTH_SECRET", SECRET)
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cookie(**claims: object) -> dict[str, str]:
    return {"cookie": cookie_header(mint_authjs_v5({"sub": "u1", "name": "Ada", **claims}, SECRET))}


def bearer(**claims: object) -> dict[str, str]:
    return {"authorization": "Bearer " + mint_hs256({"sub": "u1", **claims}, SECRET)}


def test_fastapi_example(monkeypatch):
    client = TestClient(load("fastapi_app", monkeypatch).app)
    assert client.get("/").json() == {"hello": "anonymous"}
    assert client.get("/", headers=cookie()).json() == {"hello": "Ada"}
    assert client.get("/me").status_code == 401
    assert client.get("/admin", headers=cookie(role="moderator")).status_code == 403
    assert client.get("/admin", headers=cookie(role="admin")).json() == {"area": "admin"}
    assert client.get("/reports", headers=cookie(role="admin")).status_code == 200
    write = cookie(permissions=["posts:write"])
    assert (
        client.post("/posts", headers={**write, "origin": "https://evil.example"}).status_code
        == 403
    )
    assert client.post("/posts", headers={**write, "origin": FRONT}).json() == {"created_by": "u1"}
    with client.websocket_connect("/ws", headers={**cookie(), "origin": FRONT}) as ws:
        assert ws.receive_json() == {"hello": "Ada"}
    with pytest.raises(WebSocketDenialResponse) as exc, client.websocket_connect("/ws"):
        pass
    assert exc.value.status_code == 401
    assert "/me" in client.get("/openapi.json").json()["paths"]


def test_starlette_example(monkeypatch):
    client = TestClient(load("starlette_app", monkeypatch).app)
    assert client.get("/").json() == {"hello": "anonymous", "why": "missing_credentials"}
    assert client.get("/me", headers=bearer(role="admin")).json() == {
        "id": "u1",
        "scopes": ["admin", "moderator", "user"],
    }
    assert client.get("/moderate", headers=cookie(role="user")).status_code == 403
    assert client.get("/moderate", headers=cookie(role="moderator")).status_code == 200
    assert client.get("/legacy", headers=cookie(role="admin")).status_code == 200
    assert client.get("/legacy").status_code == 403
    write = cookie(permissions=["posts:write"])
    assert client.post("/posts", headers=write).status_code == 403  # no Origin: CSRF
    assert client.post("/posts", headers={**write, "origin": FRONT}).status_code == 200


def test_flask_example(monkeypatch):
    client = load("flask_app", monkeypatch).app.test_client(use_cookies=False)
    assert client.get("/").get_json() == {"hello": "anonymous"}
    assert client.get("/me", headers=cookie(role="user")).get_json() == {
        "id": "u1",
        "roles": ["user"],
    }
    assert client.get("/moderate", headers=cookie(role="admin")).status_code == 200
    assert client.get("/moderate", headers=cookie(role="user")).status_code == 403
    write = cookie(permissions=["posts:write"])
    assert (
        client.post("/posts", headers={**write, "Origin": "https://evil.example"}).status_code
        == 403
    )
    assert client.post("/posts", headers={**write, "Origin": FRONT}).status_code == 200


def test_websocket_chat_example(monkeypatch):
    client = TestClient(load("websocket_chat", monkeypatch).app)
    assert client.get("/").status_code == 200
    with client.websocket_connect(
        "/chat", headers={**cookie(), "origin": "http://testserver"}
    ) as ws:
        ws.send_text("hi")
        assert ws.receive_json() == {"from": "Ada", "text": "hi"}
    token = mint_authjs_v5({"sub": "u2", "name": "Bob"}, SECRET)
    with client.websocket_connect("/chat", subprotocols=["sessiongate.bearer", token]) as ws:
        assert ws.accepted_subprotocol == "sessiongate.bearer"
        ws.send_text("yo")
        assert ws.receive_json() == {"from": "Bob", "text": "yo"}
    headers = {**cookie(), "origin": "https://evil.example"}
    with (
        pytest.raises(WebSocketDenialResponse) as exc,
        client.websocket_connect("/chat", headers=headers),
    ):
        pass
    assert exc.value.status_code == 403


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("name", ["fastapi_app", "starlette_app", "flask_app", "websocket_chat"])
def test_example_starts_as_written(name):
    port = free_port()
    env = {**os.environ, "PORT": str(port), "AUTH_SECRET": SECRET}
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # a loaded CI machine can take long to import FastAPI and start uvicorn
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status is None:
            if proc.poll() is not None:
                pytest.fail(
                    f"{name} exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
                )
            try:
                status = httpx.get(
                    f"http://127.0.0.1:{port}/", headers=cookie(), timeout=2
                ).status_code
            except httpx.TransportError:
                time.sleep(0.1)
        assert status == 200
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
