"""Channels: SessionGateAuthMiddleware in process (Channels' WebsocketCommunicator) and
through a real ASGI server (Daphne) with a real WebSocket client."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sg_django_helpers import (
    EVIL,
    FRONT,
    SECRET,
    build_expired_v5_cookie,
    build_outage_gate,
    build_v5_cookie,
    claims,
)

from sessiongate.testing import mint_authjs_v5

HERE = Path(__file__).resolve().parent


# ------------------------------------------------------------------ in process


def communicate(path, headers=(), subprotocols=None):
    from channels.testing import WebsocketCommunicator
    from sg_django_asgi import application

    async def run():
        communicator = WebsocketCommunicator(
            application,
            path,
            headers=[(k.encode(), v.encode()) for k, v in headers],
            subprotocols=subprotocols,
        )
        connected, detail = await communicator.connect()
        first = await communicator.receive_json_from() if connected else None
        await communicator.disconnect()
        return connected, detail, first

    return asyncio.run(run())


def test_cookie_from_trusted_origin_sets_scope_user():
    headers = [("cookie", build_v5_cookie()), ("origin", FRONT), ("host", "testserver")]
    connected, _, first = communicate("/ws/open", headers)
    assert connected
    assert first["id"] == "u1"
    assert first["authenticated"] is True


def test_cookie_from_foreign_origin_is_closed_with_1008_before_accept():
    headers = [("cookie", build_v5_cookie()), ("origin", EVIL), ("host", "testserver")]
    assert communicate("/ws/open", headers) == (False, 1008, None)


def test_subprotocol_token_from_any_origin_and_stripped():
    token = mint_authjs_v5(claims(sub="sp"), SECRET)
    connected, chosen, first = communicate(
        "/ws/open", [("origin", EVIL)], subprotocols=["sessiongate.bearer", token]
    )
    assert connected
    assert chosen == "sessiongate.bearer"
    assert first["id"] == "sp"
    assert token not in json.dumps(first)


def test_anonymous_reaches_the_consumer_unless_required():
    connected, _, first = communicate("/ws/open")
    assert connected
    assert first == {
        "id": None,
        "authenticated": False,
        "error": "missing_credentials",
        "subprotocols": [],
    }
    assert communicate("/ws/members") == (False, 1008, None)
    expired = [("cookie", build_expired_v5_cookie()), ("origin", FRONT)]
    assert communicate("/ws/members", expired) == (False, 1008, None)


def test_outage_closes_with_1013(gate_settings):
    gate_settings(build_outage_gate())
    headers = [("cookie", "authjs.session-token=abc"), ("origin", FRONT)]
    assert communicate("/ws/open", headers) == (False, 1013, None)


# ------------------------------------------------------------------ a real server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def daphne_server(missing):
    try:
        import daphne  # noqa: F401
        import websockets  # noqa: F401
    except ImportError:
        missing("daphne and websockets (pip install -e '.[test]')")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "DJANGO_SETTINGS_MODULE": "sg_django_settings",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "sg_django_asgi:application",
        ],
        env=env,
        cwd=HERE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # importing Django, Channels and daphne took over 30 s on a loaded CI machine
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                pytest.fail(f"daphne exited: {err}")
            try:
                httpx.get(f"http://127.0.0.1:{port}/dj/whoami", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("daphne did not start in 120 s")
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ws_connect(server, path, headers=None, subprotocols=None):
    """Connect with the websockets client; the first message, or the refused HTTP status."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    try:
        with connect(
            f"ws://{server}{path}",
            additional_headers=headers or {},
            subprotocols=subprotocols,
            open_timeout=30,
        ) as ws:
            return json.loads(ws.recv(timeout=30)), ws.subprotocol
    except InvalidStatus as refused:
        return refused.response.status_code, None


def test_real_server_cookie_from_trusted_origin_accepted(daphne_server):
    first, _ = ws_connect(daphne_server, "/ws/open", {"Cookie": build_v5_cookie(), "Origin": FRONT})
    assert first["id"] == "u1"


def test_real_server_cookie_from_foreign_origin_refused_at_handshake(daphne_server):
    status, _ = ws_connect(daphne_server, "/ws/open", {"Cookie": build_v5_cookie(), "Origin": EVIL})
    assert status == 403


def test_real_server_anonymous_refused_where_required(daphne_server):
    assert ws_connect(daphne_server, "/ws/members")[0] == 403
    first, _ = ws_connect(
        daphne_server, "/ws/members", {"Cookie": build_v5_cookie(), "Origin": FRONT}
    )
    assert first["authenticated"] is True


def test_real_server_subprotocol_token(daphne_server):
    token = mint_authjs_v5(claims(sub="sp"), SECRET)
    first, chosen = ws_connect(
        daphne_server, "/ws/open", subprotocols=["sessiongate.bearer", token]
    )
    assert first["id"] == "sp"
    assert chosen == "sessiongate.bearer"


def test_real_server_composes_with_allowed_hosts_origin_validator(daphne_server):
    # a cookie from the front end passes both checks
    first, _ = ws_connect(
        daphne_server, "/ws/validated", {"Cookie": build_v5_cookie(), "Origin": FRONT}
    )
    assert first["id"] == "u1"
    # a bearer handshake passes ours (no cookie: no hijacking risk) but not Channels' host check
    token = mint_authjs_v5(claims(), SECRET)
    status, _ = ws_connect(
        daphne_server, "/ws/validated", {"Origin": EVIL}, ["sessiongate.bearer", token]
    )
    assert status == 403


def test_real_server_http_goes_through_the_django_middleware(daphne_server):
    response = httpx.get(
        f"http://{daphne_server}/dj/me", headers={"cookie": build_v5_cookie()}, timeout=5
    )
    assert response.json()["id"] == "u1"
