"""python-socketio servers (AsyncServer on uvicorn, Server on gunicorn) with real clients.

Every scenario runs with the Python client (WebSocket transport) and with the Node
``socket.io-client`` from the npm lockfile over long-polling and over WebSocket, which is what
a Next.js page does. Each result is exact: connected with the user the Socket.IO session
holds (``whoami`` reads it back), or refused with the code and status.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from sg_socketio_apps import FRONT, SECRET
from sg_socketio_clients import node_attempts, outcome, python_attempt

from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256

EVIL = "https://evil.example"
ADA = {"id": "u1", "name": "Ada", "roles": []}


def build_session_token(**claims: Any) -> str:
    return mint_authjs_v5({"sub": "u1", "name": "Ada", **claims}, SECRET)


def build_expired_token() -> str:
    return mint_authjs_v5({"sub": "u1"}, SECRET, max_age=60, now=time.time() - 3600)


def build_tampered_token() -> str:
    head, key, iv, ct, tag = build_session_token().split(".")
    return ".".join((head, key, iv, ("A" if ct[0] != "A" else "B") + ct[1:], tag))


def build_bearer_jwt(sub: str = "u2") -> str:
    return mint_hs256({"sub": sub, "name": "Bob"}, SECRET)


def scenarios(own_origin: str) -> list[tuple[str, dict[str, Any], Any]]:
    """``(name, attempt, expected outcome)``; the attempt is namespace, headers and auth."""
    cookie = cookie_header(build_session_token())
    bob = {"id": "u2", "name": "Bob", "roles": []}
    return [
        ("nothing", {}, ("refused", "missing_credentials", 401)),
        (
            "cookie from the trusted front end",
            {"headers": {"cookie": cookie, "origin": FRONT}},
            ("ok", ADA),
        ),
        (
            "cookie from the own origin",
            {"headers": {"cookie": cookie, "origin": own_origin}},
            ("ok", ADA),
        ),
        (
            "cookie from a foreign origin",
            {"headers": {"cookie": cookie, "origin": EVIL}},
            ("refused", "csrf_failed", 403),
        ),
        ("cookie without origin", {"headers": {"cookie": cookie}}, ("refused", "csrf_failed", 403)),
        (
            "authorization header from anywhere",
            {"headers": {"authorization": "Bearer " + build_bearer_jwt(), "origin": EVIL}},
            ("ok", bob),
        ),
        ("auth payload token", {"auth": {"token": build_session_token()}}, ("ok", ADA)),
        (
            "auth payload bearer jwt from anywhere",
            {"auth": {"token": build_bearer_jwt()}, "headers": {"origin": EVIL}},
            ("ok", bob),
        ),
        (
            "authorization header wins over the auth payload",
            {
                "headers": {"authorization": "Bearer " + build_bearer_jwt()},
                "auth": {"token": build_session_token()},
            },
            ("ok", bob),
        ),
        ("expired token", {"auth": {"token": build_expired_token()}}, ("refused", "expired", 401)),
        (
            "tampered token",
            {"auth": {"token": build_tampered_token()}},
            ("refused", "decryption_failed", 401),
        ),
        ("token that is not a string", {"auth": {"token": 42}}, ("refused", "malformed", 401)),
        (
            "admin namespace, admin role",
            {"namespace": "/admin", "auth": {"token": build_session_token(role="admin")}},
            ("ok", {**ADA, "roles": ["admin"]}),
        ),
        (
            "admin namespace, moderator role",
            {"namespace": "/admin", "auth": {"token": build_session_token(role="moderator")}},
            ("refused", "insufficient_scope", 403),
        ),
        (
            "open namespace, anonymous",
            {"namespace": "/open"},
            ("ok", {"anonymous": True, "why": "missing_credentials"}),
        ),
        (
            "open namespace, expired token",
            {"namespace": "/open", "auth": {"token": build_expired_token()}},
            ("ok", {"anonymous": True, "why": "expired"}),
        ),
        (
            "provider outage",
            {"namespace": "/outage", "auth": {"token": build_session_token()}},
            ("refused", "provider_unavailable", 503),
        ),
    ]


def node_attempt(spec: dict[str, Any]) -> dict[str, Any]:
    return {"namespace": "/", "headers": {}, "auth": None, **spec}


def test_python_client(server_url: str) -> None:
    table = scenarios(server_url)
    got = [(name, outcome(python_attempt(server_url, **spec))) for name, spec, _ in table]
    assert got == [(name, expected) for name, _, expected in table]


@pytest.mark.node
@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_node_client(node_bin: str, server_url: str, transport: str) -> None:
    table = scenarios(server_url)
    results = node_attempts(node_bin, server_url, [node_attempt(s) for _, s, _ in table], transport)
    got = [(name, outcome(result)) for (name, _, _), result in zip(table, results, strict=True)]
    assert got == [(name, expected) for name, _, expected in table]
