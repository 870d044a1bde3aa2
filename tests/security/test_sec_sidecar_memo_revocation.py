"""A revoked token must not be answered 200 from the sidecar's response memo.

The response memo (issue #16) replays the rendered 200 of a request the gate answered from its
own memo; the revocation list (issue #15) is checked by the gate on each of its memo hits. Put
together, the sidecar's memo answered a repeated request without asking the gate at all: once
a session's answer was memoised, revoking the user (sign-out everywhere, a ban) changed
nothing for that cookie until the token expired (30 days for Auth.js). The memo now replays an
answer only while the gate still returns the very result it was memoised with.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from sessiongate import AuthJSToken, SessionGate
from sessiongate.revocation import Revocation, RevocationMirror, revocable
from sessiongate.sidecar import SidecarApp
from sessiongate.testing import cookie_header, mint_authjs_v5
from sg_revocation import MemoryBackend

S = "memo-revocation-secret-0123456789abcdef"


def test_revoked_user_is_not_replayed_from_the_sidecar_response_memo():
    mirror = RevocationMirror(MemoryBackend(), max_stale=3600.0)
    asyncio.run(mirror.reload())
    app = SidecarApp(SessionGate(revocable(AuthJSToken(S), mirror)))
    issued = time.time() - 60
    cookie = {"cookie": cookie_header(mint_authjs_v5({"sub": "u1", "iat": int(issued)}, S))}

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as client:
            before = [await client.get("/verify", headers=cookie) for _ in range(4)]
            assert app.memo.hits >= 1  # the answer is being replayed from the memo
            now_ms = int(time.time() * 1000)
            mirror.apply(Revocation("user", "u1", now_ms + 86_400_000, before_ms=now_ms))
            after = [await client.get("/verify", headers=cookie) for _ in range(3)]
            return before + after

    responses = asyncio.run(go())
    assert [r.status_code for r in responses[:4]] == [200] * 4
    # on the old code the three requests after the revocation were 200 with X-User-Id: u1
    for r in responses[4:]:
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "revoked"
        assert "x-user-id" not in r.headers
