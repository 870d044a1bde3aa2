"""``sessiongate serve`` as a real process on a loopback port, and the Express example against it.

Checks the contract nginx ``auth_request`` / Traefik ForwardAuth rely on over real HTTP (granian,
the default server: header values we emit must be valid on the wire), then runs
``examples/express-sidecar/server.js`` with node and sends it a v5 cookie and a Bearer token.
The sidecar is configured from the environment, as the README recommends (``AUTH_SECRET``, a
dedicated ``SESSIONGATE_JWT_SECRET`` for HS256 Bearer tokens).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256

ROOT = Path(__file__).resolve().parents[2]
EXPRESS_DIR = ROOT / "examples" / "express-sidecar"
S = "realserver-secret-0123456789abcdef"
JWT_S = "realserver-jwt-secret-0123456789abcd"  # HS256 Bearer: never the session secret
TRUSTED = "https://trusted.example.com"
ADMIN = {"sub": "user-1", "email": "ada@example.com", "name": "Ada", "role": "admin"}
VIEWER = {"sub": "user-2", "role": "viewer", "permissions": ["posts:read"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited early with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.stdout.read() if proc.stdout else ""


def start_sidecar(port: int, *flags: str) -> subprocess.Popen:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AUTH_SECRET", "NEXTAUTH", "SESSIONGATE_", "JWT_SECRET"))
    }
    env.update(
        DATABASE_URL="",
        AUTH_SECRET=S,
        SESSIONGATE_JWT_SECRET=JWT_S,
        SESSIONGATE_TRUSTED_ORIGINS=TRUSTED,
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sessiongate",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


@pytest.fixture(scope="module")
def sidecar() -> Iterator[str]:
    port = free_port()
    proc = start_sidecar(port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz", proc)
        yield base
    finally:
        output = stop(proc)
        assert S not in output and JWT_S not in output  # the secrets are never printed
        assert "verifying: HS256 Bearer JWTs (1 secret(s), no iss/aud check)" in output
        assert "warning" not in output  # no secret flag, nothing to warn about


def test_healthz_and_verify_contract(sidecar: str):
    r = httpx.get(sidecar + "/healthz")
    assert r.json() == {"status": "ok"}
    cookie = {"cookie": cookie_header(mint_authjs_v5(ADMIN, S))}
    r = httpx.get(sidecar + "/verify", headers=cookie)
    assert r.status_code == 200
    assert (r.headers["x-user-id"], r.headers["x-user-role"]) == ("user-1", "admin")
    assert r.headers["x-auth-source"] == "authjs-v5"
    # no version disclosed: granian always sends a bare "server: granian" (it has no switch to
    # omit it, emmett-framework/granian#594); uvicorn runs with server_header=False
    assert r.headers.get("server") in (None, "granian")
    # a POST to the sidecar itself (Envoy ext_authz keeps the original method) is a cookie
    # write: it needs an Origin of the Host it was sent to, or a trusted one
    r = httpx.post(sidecar + "/verify", headers=cookie)
    assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
    r = httpx.post(sidecar + "/verify", headers={**cookie, "origin": sidecar})
    assert r.status_code == 200
    r = httpx.post(sidecar + "/verify", headers={**cookie, "origin": TRUSTED})
    assert r.status_code == 200
    r = httpx.get(sidecar + "/verify", headers={**cookie, "x-original-method": "DELETE"})
    assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
    r = httpx.get(sidecar + "/verify")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == "missing_credentials"
    r = httpx.get(sidecar + "/verify?role=editor", headers=cookie)
    assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    bearer = {"authorization": "Bearer " + mint_hs256(VIEWER, JWT_S)}
    r = httpx.get(sidecar + "/verify?permission=posts:read", headers=bearer)
    assert r.status_code == 200 and r.headers["x-user-permissions"] == "posts:read"
    r = httpx.get(sidecar + "/verify", headers={"authorization": "Bearer " + mint_hs256(VIEWER, S)})
    assert r.status_code == 401  # an HS256 JWT signed with the session secret is nobody


def test_requirement_headers_over_the_wire(sidecar: str):
    cookie = {"cookie": cookie_header(mint_authjs_v5(ADMIN, S))}
    r = httpx.get(sidecar + "/verify", headers={**cookie, "x-require-role": "editor|admin"})
    assert r.status_code == 200
    r = httpx.get(sidecar + "/verify", headers={**cookie, "x-require-role": "editor,admin"})
    assert r.status_code == 403
    # two header lines on the wire are two clauses: the second cannot relax the first
    r = httpx.get(
        sidecar + "/verify",
        headers=[*cookie.items(), ("x-require-role", "admin,editor"), ("x-require-role", "admin")],
    )
    assert r.status_code == 403
    r = httpx.get(sidecar + "/verify", headers={**cookie, "x-require-mode": "any"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_injection_attempt_over_the_wire(sidecar: str):
    evil = "Ada\r\nX-Injected: 1\r\n\r\n<html>"
    cookie = {"cookie": cookie_header(mint_authjs_v5({"sub": "u", "name": evil}, S))}
    r = httpx.get(sidecar + "/verify", headers=cookie)
    assert r.status_code == 200
    assert "x-injected" not in r.headers
    assert unquote(r.headers["x-user-name"]) == evil


def test_large_chunked_cookie_is_accepted(sidecar: str):
    token = mint_authjs_v5({**ADMIN, "pad": "x" * 20_000}, S)
    header = cookie_header(token)
    assert "authjs.session-token.4=" in header  # really chunked
    r = httpx.get(sidecar + "/verify", headers={"cookie": header})
    assert r.status_code == 200 and r.headers["x-user-id"] == "user-1"


def test_oversized_headers_refused(sidecar: str):
    r = httpx.get(sidecar + "/verify", headers={"cookie": "a=" + "b" * 100_000})
    assert r.status_code in (400, 431)  # h11's own limit or ours: never a 200 or a crash


@pytest.fixture(scope="module")
def express_bin(node_bin: str) -> str:
    if not (EXPRESS_DIR / "node_modules" / "express").is_dir():
        from conftest import missing

        missing("npm packages for examples/express-sidecar (npm ci there)")
    return node_bin


@pytest.mark.node
def test_express_example_against_the_sidecar(express_bin: str):
    port = free_port()
    sidecar_proc = start_sidecar(port)
    base = f"http://127.0.0.1:{port}"
    express = None
    try:
        wait_http(base + "/healthz", sidecar_proc)
        env = {**os.environ, "SESSIONGATE_URL": base, "PORT": "0", "HOST": "127.0.0.1"}
        express = subprocess.Popen(
            [express_bin, "server.js"],
            cwd=EXPRESS_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert express.stdout is not None
        line = express.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), line
        app = line.removeprefix("listening on ")
        wait_http(app + "/health", express)

        r = httpx.get(app + "/me", headers={"cookie": cookie_header(mint_authjs_v5(ADMIN, S))})
        assert r.status_code == 200, r.text
        assert r.json()["user"]["id"] == "user-1"
        assert r.json()["user"]["source"] == "authjs-v5"
        assert r.json()["auth"]["credential"] == "cookie"

        viewer = {"authorization": "Bearer " + mint_hs256(VIEWER, JWT_S)}
        r = httpx.get(app + "/me", headers=viewer)
        assert r.status_code == 200 and r.json()["user"]["id"] == "user-2"
        assert r.json()["user"]["source"] == "jws"

        r = httpx.get(app + "/admin", headers=viewer)
        assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"

        r = httpx.get(app + "/admin", headers={"cookie": cookie_header(mint_authjs_v5(ADMIN, S))})
        assert r.json() == {"admin": True, "user": "user-1"}

        r = httpx.get(app + "/me")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"

        # CSRF: the middleware forwards the method, Origin and Host; a cookie POST from another
        # site is refused, from this site (or a trusted one) it passes
        admin = {"cookie": cookie_header(mint_authjs_v5(ADMIN, S))}
        r = httpx.post(app + "/posts", headers={**admin, "origin": "https://evil.example"})
        assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
        r = httpx.post(app + "/posts", headers=admin)  # neither Origin nor Referer
        assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
        for origin in (app, TRUSTED):
            r = httpx.post(app + "/posts", headers={**admin, "origin": origin})
            assert r.status_code == 201 and r.json() == {"created": True, "by": "user-1"}
        r = httpx.post(app + "/posts", headers={**admin, "referer": app + "/editor"})
        assert r.status_code == 201
        r = httpx.get(app + "/me", headers={**admin, "origin": "https://evil.example"})
        assert r.status_code == 200  # reads are not writes
        # Bearer requests are exempt from the Origin check; /posts needs admin or editor
        r = httpx.post(app + "/posts", headers={**viewer, "origin": "https://evil.example"})
        assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
        editor = {"authorization": "Bearer " + mint_hs256({"sub": "e", "role": "editor"}, JWT_S)}
        r = httpx.post(app + "/posts", headers={**editor, "origin": "https://evil.example"})
        assert r.status_code == 201 and r.json()["by"] == "e"

        expired = mint_authjs_v5(ADMIN, S, now=time.time() - 7200, max_age=60)
        r = httpx.get(app + "/me", headers={"cookie": cookie_header(expired)})
        assert r.status_code == 401 and r.json()["error"] == "expired"

        # the sidecar goes away: the Express app answers 503, never 401
        stop(sidecar_proc)
        r = httpx.get(app + "/me", headers=viewer)
        assert r.status_code == 503 and r.json()["error"] == "provider_unavailable"
    finally:
        stop(sidecar_proc)
        if express is not None:
            stop(express)
