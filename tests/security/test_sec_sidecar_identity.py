"""Issue #9 item 9: the sidecar never answers 200 without an identity.

A user id longer than ``max_value_bytes`` once percent-encoded used to be left out of the
headers while the verdict stayed 200: an upstream that trusts ``auth_request`` would then serve
a request with no ``X-User-Id`` (or take a default user). Fail closed instead.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from sessiongate import AuthJSToken, SessionGate
from sessiongate.errors import InvalidClaimError
from sessiongate.sidecar import SidecarApp, user_headers
from sessiongate.testing import cookie_header, mint_authjs_v5
from sessiongate.user import User

S = "sec-sidecar-identity-secret-0123456789abc"


def verify(app: SidecarApp, claims: dict[str, Any]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as client:
            cookie = cookie_header(mint_authjs_v5(claims, S))
            return await client.get("/verify", headers={"cookie": cookie})

    return asyncio.run(go())


@pytest.mark.parametrize(
    "sub",
    [
        "u" * 1025,  # one byte over the cap
        "é" * 200,  # 400 characters, 1200 bytes once percent-encoded
        "\r\n" * 200,
    ],
)
def test_sidecar_never_200_without_user_id(sub):
    r = verify(SidecarApp(SessionGate(AuthJSToken(S))), {"sub": sub, "role": "admin"})
    assert r.status_code == 401, r.headers  # the old code: 200 and no X-User-Id
    assert r.json()["error"] == "invalid_claim"
    assert not any(k.lower().startswith(("x-user", "x-auth")) for k in r.headers)
    assert sub not in r.text


def test_user_id_at_the_cap_still_passes():
    r = verify(SidecarApp(SessionGate(AuthJSToken(S))), {"sub": "u" * 1024})
    assert r.status_code == 200 and r.headers["x-user-id"] == "u" * 1024


def test_custom_user_factory_without_an_id_is_refused():
    def no_id(claims: Any, source: str, expires_at: float | None) -> User:
        return User(id="", source=source)

    gate = SessionGate(AuthJSToken(S), user_factory=no_id)
    r = verify(SidecarApp(gate), {"sub": "u1"})
    assert (r.status_code, r.json()["error"]) == (401, "invalid_claim")


def test_user_headers_raises_instead_of_dropping_the_id():
    with pytest.raises(InvalidClaimError):
        user_headers(User(id="x" * 50, source="jws"), "jws", "bearer", max_value_bytes=40)
    with pytest.raises(InvalidClaimError):
        user_headers(object(), "jws", "bearer")
    # other over-long values are still left out, the id stays
    headers = dict(user_headers(User(id="x", name="n" * 50), "jws", "bearer", max_value_bytes=40))
    assert headers["X-User-Id"] == "x" and "X-User-Name" not in headers
