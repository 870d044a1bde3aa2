"""The shipped ``examples/nginx/auth_request.conf`` run by a real nginx, in front of a real
``sessiongate serve`` and an upstream that echoes the ``X-User-*`` headers it receives.

Only the ports in the example are substituted; every location block is used as written.
Besides the user headers this covers the two things only a real nginx can prove: requirement
headers a client adds never reach (or loosen) the sidecar, and the CSRF check sees the original
method, ``Origin``/``Referer`` and host although nginx sends ``auth_request`` subrequests as GET.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256

from .test_sidecar_realserver import (
    ADMIN,
    JWT_S,
    ROOT,
    TRUSTED,
    VIEWER,
    S,
    free_port,
    start_sidecar,
    stop,
    wait_http,
)

CONF = ROOT / "examples" / "nginx" / "auth_request.conf"
EVIL = "https://evil.example"
BILLING = {"sub": "user-3", "roles": ["admin", "billing"]}


class Echo(BaseHTTPRequestHandler):
    """The upstream: answers with the X-User-* / X-Auth-* / X-Require-* headers it received
    (and the method), so a test sees exactly what nginx let through."""

    def do_GET(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        seen = {
            k.lower(): v
            for k, v in self.headers.items()
            if k.lower().startswith(("x-user", "x-auth", "x-require"))
        }
        body = json.dumps({**seen, "method": self.command}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture(scope="module")
def stack(nginx_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    tmp = tmp_path_factory.mktemp("nginx")
    os.chmod(tmp, 0o777)  # workers may run as another user
    sidecar_port, app_port, nginx_port = free_port(), free_port(), free_port()
    upstream = ThreadingHTTPServer(("127.0.0.1", app_port), Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    sidecar = start_sidecar(sidecar_port)
    conf = (
        CONF.read_text()
        .replace("127.0.0.1:8787", f"127.0.0.1:{sidecar_port}")
        .replace("127.0.0.1:3001", f"127.0.0.1:{app_port}")
        .replace("listen 8080;", f"listen 127.0.0.1:{nginx_port};")
    )
    assert conf.count(f"server 127.0.0.1:{sidecar_port};") == 1
    assert conf.count(f"server 127.0.0.1:{app_port};") == 1
    (tmp / "site.conf").write_text(conf)
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {tmp}/nginx.pid;\n"
        f"error_log {tmp}/error.log warn;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp}/body;\n"
        f"  proxy_temp_path {tmp}/proxy;\n  fastcgi_temp_path {tmp}/fcgi;\n"
        f"  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n"
        f"  include {tmp}/site.conf;\n}}\n"
    )
    check = subprocess.run(
        [nginx_bin, "-t", "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    nginx = subprocess.Popen(
        [nginx_bin, "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{sidecar_port}/healthz", sidecar)
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{nginx_port}/", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (tmp / "error.log").read_text()
                assert nginx.poll() is None, stop(nginx)
                time.sleep(0.1)
        yield {"base": f"http://127.0.0.1:{nginx_port}", "sidecar": sidecar, "tmp": tmp}
    finally:
        stop(nginx)
        stop(sidecar)
        upstream.shutdown()


def get(stack: dict[str, object], path: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{stack['base']}{path}", headers=headers, timeout=10)


def send(
    stack: dict[str, object], method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    return httpx.request(
        method, f"{stack['base']}{path}", headers=headers, content=b'{"x": 1}', timeout=10
    )


def cookie(claims: dict[str, object] = ADMIN) -> dict[str, str]:
    return {"cookie": cookie_header(mint_authjs_v5(claims, S))}


def bearer(claims: dict[str, object] = VIEWER) -> dict[str, str]:
    return {"authorization": "Bearer " + mint_hs256(claims, JWT_S)}


def test_v5_cookie_passes_and_the_user_reaches_the_upstream(stack):
    token = mint_authjs_v5({**ADMIN, "name": "Zoë\r\nX-Evil: 1"}, S)
    r = get(stack, "/api/me", {"cookie": cookie_header(token)})
    assert r.status_code == 200, r.text
    seen = r.json()
    assert seen["x-user-id"] == "user-1"
    assert seen["x-user-email"] == "ada@example.com"
    assert seen["x-user-name"] == "Zo%C3%AB%0D%0AX-Evil: 1"  # percent-encoded, no header injected
    assert "x-evil" not in seen
    assert seen["x-auth-source"] == "authjs-v5"


def test_bearer_token_passes(stack):
    r = get(stack, "/api/me", bearer())
    assert r.status_code == 200
    assert (r.json()["x-user-id"], r.json()["x-auth-source"]) == ("user-2", "jws")


def test_client_cannot_forge_the_user_headers(stack):
    r = get(
        stack,
        "/api/me",
        {
            **bearer(),
            "x-user-id": "admin",
            "x-user-role": "admin",
        },
    )
    assert r.json()["x-user-id"] == "user-2"
    assert r.json().get("x-user-role") == "viewer"


def test_no_credentials_is_401_with_www_authenticate(stack):
    r = get(stack, "/api/me", {})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_expired_cookie_is_401_invalid_token(stack):
    token = mint_authjs_v5(ADMIN, S, now=time.time() - 7200, max_age=3600)
    r = get(stack, "/api/me", {"cookie": cookie_header(token)})
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_large_chunked_cookie_fits_the_configured_buffers(stack):
    token = mint_authjs_v5({**ADMIN, "blob": "x" * 9000}, S)
    header = cookie_header(token)
    assert header.count("authjs.session-token.") >= 3
    assert get(stack, "/api/me", {"cookie": header}).json()["x-user-id"] == "user-1"


def test_admin_location_requires_the_admin_role(stack):
    assert get(stack, "/api/admin/x", bearer()).status_code == 403
    r = get(stack, "/api/admin/x?role=viewer", bearer())
    assert r.status_code == 403  # the client's query string cannot relax the requirement
    ok = get(stack, "/api/admin/x", cookie())
    assert ok.status_code == 200
    assert ok.json()["x-user-id"] == "user-1"


# ------------------------------------------------------------- issue #9 item 2: requirements


@pytest.mark.parametrize(
    "client_headers",
    [
        {},
        {"x-require-mode": "any"},  # the old loosening switch (403 -> 200 on the old code)
        {"x-require-role": "admin"},
        {"x-require-role": "admin|viewer"},
        {"x-require-role": "any:admin"},
        {"x-require-mode": "any", "x-require-role": "admin|billing"},
    ],
)
def test_client_require_headers_cannot_loosen_the_billing_requirement(stack, client_headers):
    # /api/billing/ needs admin AND billing; ADMIN has only admin
    r = get(stack, "/api/billing/invoices", {**cookie(), **client_headers})
    assert r.status_code == 403, r.text
    ok = get(stack, "/api/billing/invoices", {**cookie(BILLING), **client_headers})
    assert ok.status_code == 200, ok.text  # nginx replaced or cleared the client's headers
    assert ok.json()["x-user-id"] == "user-3"


def test_client_require_headers_are_cleared_before_the_sidecar(stack):
    # on /api/ nothing is required; a client's X-Require-* headers are dropped by nginx rather
    # than turned into requirements (or a 400 -> 500)
    for extra in ({"x-require-role": "superuser"}, {"x-require-mode": "any"}):
        r = get(stack, "/api/me", {**cookie(), **extra})
        assert r.status_code == 200, (extra, r.text)
        assert r.json()["x-user-id"] == "user-1"


# ---------------------------------------------------------------- issue #9 item 4: CSRF


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_cross_origin_cookie_write_refused_through_nginx(stack, method):
    r = send(stack, method, "/api/posts", {**cookie(), "origin": EVIL})
    assert r.status_code == 403
    assert "x-user-id" not in r.text  # the upstream was never reached


def test_same_origin_cookie_write_passes_through_nginx(stack):
    own = str(stack["base"])  # the Origin a browser on this site sends: scheme://host:port
    r = send(stack, "POST", "/api/posts", {**cookie(), "origin": own})
    assert r.status_code == 200, r.text
    assert r.json()["method"] == "POST" and r.json()["x-user-id"] == "user-1"


def test_nginx_forwards_referer_and_origin_to_the_sidecar(stack):
    own = str(stack["base"])
    # Referer alone (no Origin): proves nginx passes it on to the auth subrequest
    r = send(stack, "DELETE", "/api/posts/1", {**cookie(), "referer": own + "/editor?id=1"})
    assert r.status_code == 200, r.text
    r = send(stack, "DELETE", "/api/posts/1", {**cookie(), "referer": EVIL + "/attack"})
    assert r.status_code == 403
    # neither: refused (the check is on, so the Origin the same-origin test sent was seen)
    assert send(stack, "POST", "/api/posts", cookie()).status_code == 403


def test_trusted_origin_passes_through_nginx(stack):
    r = send(stack, "POST", "/api/posts", {**cookie(), "origin": TRUSTED})
    assert r.status_code == 200 and r.json()["x-user-id"] == "user-1"


def test_client_cannot_hide_the_method_or_fake_the_host(stack):
    # nginx overwrites X-Original-Method / X-Forwarded-Host / -Proto with the real values
    forged = {
        "x-original-method": "GET",
        "x-forwarded-host": "evil.example",
        "x-forwarded-proto": "https",
        "origin": EVIL,
    }
    assert send(stack, "POST", "/api/posts", {**cookie(), **forged}).status_code == 403


def test_bearer_write_and_cookie_read_are_not_csrf_checked(stack):
    r = send(stack, "POST", "/api/posts", {**bearer(), "origin": EVIL})
    assert r.status_code == 200 and r.json()["x-user-id"] == "user-2"
    r = get(stack, "/api/me", {**cookie(), "origin": EVIL})
    assert r.status_code == 200


def test_sidecar_down_is_500_never_a_pass(stack):
    # last: stops the sidecar. nginx turns any non-2xx/401/403 subrequest answer into 500.
    stop(stack["sidecar"])  # type: ignore[arg-type]
    r = get(stack, "/api/me", {"cookie": cookie_header(mint_authjs_v5(ADMIN, S))})
    assert r.status_code == 500
    assert "x-user-id" not in r.text
