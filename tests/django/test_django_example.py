"""examples/django_project runs as a real process (Daphne) and does what its README says."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "django_project"
SECRET = "django-example-secret-0123456789abcdef0123"
FRONT = "http://localhost:3000"


def cookie(**claims: object) -> str:
    return cookie_header(
        mint_authjs_v5({"sub": "u1", "email": "ada@example.com", **claims}, SECRET)
    )


@pytest.fixture(scope="module")
def example(missing):
    try:
        import daphne  # noqa: F401
        import websockets  # noqa: F401
    except ImportError:
        missing("daphne and websockets (pip install -e '.[test]')")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "BETTER_AUTH_SECRET", "NEXTAUTH_SECRET", "JWT_SECRET")
        and not key.startswith(("AUTH_SECRET", "SESSIONGATE_", "DJANGO_SETTINGS"))
    }
    env.update(AUTH_SECRET=SECRET, SESSIONGATE_JWT_SECRET=SECRET + "-jwt", FRONTEND_ORIGIN=FRONT)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=EXAMPLE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                pytest.fail(f"the example exited: {err}")
            try:
                httpx.get(f"http://{base}/api/me", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("the example did not start in 30 s")
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_api(example):
    url = f"http://{example}"
    assert httpx.get(f"{url}/api/me").status_code == 401
    me = httpx.get(f"{url}/api/me", headers={"cookie": cookie(role="admin")}).json()
    assert me == {"id": "u1", "email": "ada@example.com", "roles": ["admin", "editor", "user"]}
    bearer = "Bearer " + mint_hs256({"sub": "svc"}, SECRET + "-jwt")
    assert httpx.get(f"{url}/api/me", headers={"authorization": bearer}).json()["id"] == "svc"
    editor = {"cookie": cookie(role="editor"), "origin": FRONT}
    assert httpx.post(f"{url}/api/posts", headers=editor).json() == {"created_by": "u1"}
    user = {"cookie": cookie(role="user"), "origin": FRONT}
    assert httpx.post(f"{url}/api/posts", headers=user).status_code == 403
    foreign = {"cookie": cookie(role="editor"), "origin": "https://evil.example"}
    refused = httpx.post(f"{url}/api/posts", headers=foreign)
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf_failed"
    schema = httpx.get(f"{url}/api/schema?format=json", headers={"cookie": cookie()}).json()
    assert set(schema["components"]["securitySchemes"]) == {
        "SessionGateBearer",
        "SessionGateCookie",
    }


def test_websocket(example):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    headers = {"Cookie": cookie(), "Origin": FRONT}
    with connect(f"ws://{example}/ws/chat", additional_headers=headers, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10)) == {"hello": "ada@example.com"}
        ws.send(json.dumps({"text": "hi"}))
        assert json.loads(ws.recv(timeout=10)) == {"from": "u1", "text": "hi"}
    for refused in ({"Cookie": cookie(), "Origin": "https://evil.example"}, {"Origin": FRONT}):
        with pytest.raises(InvalidStatus) as exc:
            connect(f"ws://{example}/ws/chat", additional_headers=refused, open_timeout=10)
        assert exc.value.response.status_code == 403
