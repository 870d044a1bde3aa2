"""Issue #9 item 4: the sidecar refuses cross-origin cookie-authenticated writes.

nginx sends ``auth_request`` subrequests as GET, so the proxy tells the sidecar the original
method (``X-Original-Method``; Traefik: ``X-Forwarded-Method``) and host (``X-Forwarded-Host``
/ ``-Proto``); the browser's ``Origin`` / ``Referer`` arrive as sent. Bearer requests are exempt.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.errors import ConfigurationError
from sessiongate.sidecar import SidecarApp
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256

S = "sec-sidecar-csrf-secret-0123456789abcdef"
JWT = "sec-sidecar-csrf-jwt-secret-0123456789ab"
USER = {"sub": "u1", "role": "admin"}
APP = "https://app.example.com"
EVIL = "https://evil.example"
# what nginx's /_sessiongate location adds for a POST to https://app.example.com/api/posts
NGINX_POST = [
    ("x-original-method", "POST"),
    ("x-forwarded-host", "app.example.com"),
    ("x-forwarded-proto", "https"),
]


def verify(
    headers: list[tuple[str, str]],
    *,
    method: str = "GET",
    credential: str = "cookie",
    **options: Any,
) -> httpx.Response:
    app = SidecarApp(SessionGate(AuthJSToken(S), BearerJWT(JWT)), **options)
    if credential == "cookie":
        cred = ("cookie", cookie_header(mint_authjs_v5(USER, S)))
    else:
        cred = ("authorization", "Bearer " + mint_hs256(USER, JWT))

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sidecar:8787") as c:
            return await c.request(method, "/verify", headers=[cred, *headers])

    return asyncio.run(go())


def refused(r: httpx.Response) -> bool:
    return (
        r.status_code == 403 and r.json()["error"] == "csrf_failed" and "x-user-id" not in r.headers
    )


def test_cross_origin_cookie_post_refused_by_sidecar():
    # on the old code the sidecar never looked at the method or Origin: 200 and X-User-Id
    r = verify([*NGINX_POST, ("origin", EVIL)])
    assert refused(r), r.text
    assert "www-authenticate" not in r.headers  # not a token problem


def test_same_origin_cookie_post_passes():
    r = verify([*NGINX_POST, ("origin", APP)])
    assert r.status_code == 200 and r.headers["x-user-id"] == "u1"


def test_referer_is_the_fallback_when_origin_is_absent():
    assert verify([*NGINX_POST, ("referer", APP + "/posts/new?x=1")]).status_code == 200
    assert refused(verify([*NGINX_POST, ("referer", EVIL + "/attack")]))


@pytest.mark.parametrize("origin", ["null", "not a url", "file:///etc/passwd", ""])
def test_cookie_post_without_usable_origin_is_refused(origin):
    headers = [*NGINX_POST, ("origin", origin)] if origin else NGINX_POST
    assert refused(verify(headers))


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "PROPFIND", "post", "", "GET, POST"])
def test_every_unsafe_or_unknown_original_method_is_checked(method):
    headers = [("x-original-method", method), *NGINX_POST[1:], ("origin", EVIL)]
    assert refused(verify(headers)), method


def test_client_method_header_cannot_hide_a_write():
    # Traefik sets X-Forwarded-Method: POST; a client-added X-Original-Method: GET must not win
    headers = [
        ("x-original-method", "GET"),
        ("x-forwarded-method", "POST"),
        *NGINX_POST[1:],
        ("origin", EVIL),
    ]
    assert refused(verify(headers))
    headers[0], headers[1] = ("x-forwarded-method", "POST"), ("x-original-method", "GET")
    assert refused(verify(headers))


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE"])
def test_safe_original_methods_are_not_checked(method):
    headers = [("x-original-method", method), *NGINX_POST[1:], ("origin", EVIL)]
    assert verify(headers).status_code == 200


def test_bearer_cross_origin_post_is_exempt():
    r = verify([*NGINX_POST, ("origin", EVIL)], credential="bearer")
    assert r.status_code == 200 and r.headers["x-auth-credential"] == "bearer"


def test_trusted_origins_pass_and_others_do_not():
    options = {"trusted_origins": ["https://admin.example.com", "https://*.partner.example"]}
    for origin in ("https://admin.example.com", "https://a.partner.example"):
        assert verify([*NGINX_POST, ("origin", origin)], **options).status_code == 200
    for origin in ("http://admin.example.com", "https://partner.example", EVIL):
        assert refused(verify([*NGINX_POST, ("origin", origin)], **options)), origin


def test_several_origin_headers_are_refused():
    headers = [*NGINX_POST, ("origin", APP), ("origin", EVIL)]
    assert refused(verify(headers))


def test_envoy_keeps_the_original_method_and_host():
    # Envoy ext_authz: the check request has the original method and Host, no method header
    headers = [("host", "app.example.com"), ("x-forwarded-proto", "https")]
    assert refused(verify([*headers, ("origin", EVIL)], method="POST"))
    assert verify([*headers, ("origin", APP)], method="POST").status_code == 200


def test_original_url_gives_the_host_when_no_forwarded_host():
    base = [("x-original-method", "DELETE"), ("x-original-url", APP + "/api/posts/1")]
    assert verify([*base, ("origin", APP)]).status_code == 200
    assert refused(verify([*base, ("origin", EVIL)]))
    # the host the proxy set wins over the sidecar's own Host (the upstream's name under nginx)
    assert refused(verify([*base, ("host", "evil.example"), ("origin", EVIL)]))


def test_forwarded_host_wins_over_original_url():
    headers = [
        *NGINX_POST,
        ("x-original-url", "https://other.example.com/x"),
        ("origin", "https://other.example.com"),
    ]
    assert refused(verify(headers))


def test_unusable_original_url_leaves_no_own_origin():
    headers = [("x-original-method", "POST"), ("x-original-url", "http://[::1"), ("origin", APP)]
    assert refused(verify(headers))
    assert verify(headers, trusted_origins=[APP]).status_code == 200


def test_unknown_method_auto_skips_and_strict_refuses():
    # a GET with no method header: the proxy did not say, the sidecar cannot tell a write
    headers = [("x-forwarded-host", "app.example.com"), ("origin", EVIL)]
    assert verify(headers).status_code == 200
    r = verify(headers, csrf_mode="strict")
    assert refused(r) and "X-Original-Method" in r.json()["message"]
    assert verify([("x-original-method", "GET"), *headers], csrf_mode="strict").status_code == 200
    assert verify(headers, csrf_mode="strict", credential="bearer").status_code == 200


def test_csrf_off_never_checks():
    assert verify([*NGINX_POST, ("origin", EVIL)], csrf_mode="off").status_code == 200


def test_bad_csrf_options_fail_at_construction():
    gate = SessionGate(AuthJSToken(S))
    with pytest.raises(ConfigurationError):
        SidecarApp(gate, csrf_mode="on")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        SidecarApp(gate, trusted_origins=["https://app.example.com/path"])
