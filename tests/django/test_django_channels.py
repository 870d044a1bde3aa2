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


# ------------------------------------------------------------------ organization guards


def test_org_membership_from_the_route_kwargs_is_put_in_the_scope():
    headers = [("cookie", build_v5_cookie(sub="u-multi")), ("origin", FRONT)]
    connected, _, first = communicate("/ws/orgs/org-1/", headers)
    assert connected
    assert first == {"id": "u-multi", "org": "org-1", "roles": ["member", "admin"]}


def test_org_refusals_close_before_accept():
    member = [("cookie", build_v5_cookie(sub="u-member")), ("origin", FRONT)]
    assert communicate("/ws/orgs/org-1/", member) == (False, 1008, None)  # member, not admin
    assert communicate("/ws/orgs/org-1/") == (False, 1008, None)  # anonymous
    foreign = [("cookie", build_v5_cookie(sub="u-admin")), ("origin", EVIL)]
    assert communicate("/ws/orgs/org-1/", foreign) == (False, 1008, None)  # hijacking first


def test_org_permission_from_a_header():
    named = [("origin", FRONT), ("x-organization-id", "org-1")]
    connected, _, first = communicate(
        "/ws/invite", [("cookie", build_v5_cookie(sub="u-admin")), *named]
    )
    assert connected and first["org"] == "org-1"
    member = [("cookie", build_v5_cookie(sub="u-member")), *named]
    assert communicate("/ws/invite", member) == (False, 1008, None)


def test_org_guard_behind_the_auth_middleware_outside_the_router():
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator
    from django.urls import path
    from sg_django_asgi import OrgMember
    from sg_django_orgs import org_admins

    from sessiongate.channels import OrgRequiredMiddleware, SessionGateAuthMiddleware

    app = SessionGateAuthMiddleware(
        URLRouter(
            [path("ws/orgs/<org_id>/", OrgRequiredMiddleware(OrgMember.as_asgi(), org_admins))]
        )
    )

    async def run(path_, user):
        headers = [(b"cookie", build_v5_cookie(sub=user).encode()), (b"origin", FRONT.encode())]
        communicator = WebsocketCommunicator(app, path_, headers=headers)
        connected, detail = await communicator.connect()
        first = await communicator.receive_json_from() if connected else None
        await communicator.disconnect()
        return connected, detail, first

    assert asyncio.run(run("/ws/orgs/org-2/", "u-member"))[2]["roles"] == ["owner"]
    assert asyncio.run(run("/ws/orgs/org-2/", "u-admin")) == (False, 1008, None)


def test_org_guard_without_the_auth_middleware_is_a_configuration_error_not_a_pass():
    headers = [("cookie", build_v5_cookie(sub="u-admin")), ("origin", FRONT)]
    connected, code, _ = communicate("/ws/unguarded-org/org-1/", headers)
    assert connected is False and code != 1000


def test_org_lookup_outage_closes_with_1013(monkeypatch):
    from sg_django_orgs import directory

    from sessiongate.errors import ProviderUnavailableError

    async def down(*args):
        raise ProviderUnavailableError("the session database did not answer in time")

    monkeypatch.setattr(directory, "membership", down)
    headers = [("cookie", build_v5_cookie(sub="u-admin")), ("origin", FRONT)]
    assert communicate("/ws/orgs/org-1/", headers) == (False, 1013, None)


def test_org_middleware_needs_an_org_guard():
    from sessiongate.channels import OrgRequiredMiddleware
    from sessiongate.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="OrgGuard"):
        OrgRequiredMiddleware(lambda *a: None, "admin")


def test_real_server_org_member_accepted(daphne_server):
    first, _ = ws_connect(
        daphne_server,
        "/ws/orgs/org-1/",
        {"Cookie": build_v5_cookie(sub="u-owner"), "Origin": FRONT},
    )
    assert first == {"id": "u-owner", "org": "org-1", "roles": ["owner"]}


def test_real_server_non_member_refused_at_handshake(daphne_server):
    status, _ = ws_connect(
        daphne_server,
        "/ws/orgs/org-2/",
        {"Cookie": build_v5_cookie(sub="u-admin"), "Origin": FRONT},
    )
    assert status == 403
    assert ws_connect(daphne_server, "/ws/orgs/org-1/")[0] == 403
