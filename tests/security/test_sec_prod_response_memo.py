"""The sidecar's response memo under attack: client-chosen keys cannot grow it without bound.

An authenticated client controls most of a memo key (``X-Original-URL``, the Envoy path under
``/verify/``, ``Origin``...). With a limit on entries only, one valid session sending large,
distinct requests made each worker keep ``maxsize`` keys of up to 80 KiB (800 MiB with the
default 10,000). The memo now also has a byte budget (``maxsize`` x 4 KiB) and refuses keys
over 16 KiB.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import tracemalloc

import pytest

from sessiongate import AuthJSToken, SessionGate
from sessiongate.sidecar import SidecarApp
from sessiongate.testing import cookie_header, mint_authjs_v5

S = "memo-budget-secret-0123456789abcdef"


def test_large_distinct_requests_cannot_grow_the_response_memo(caplog: pytest.LogCaptureFixture):
    # an earlier test may have left sessiongate's logger at INFO: pytest would then keep one
    # captured record per request, which is not the memo's memory
    caplog.set_level(logging.WARNING, logger="sessiongate")
    app = SidecarApp(SessionGate(AuthJSToken(S)), response_memo_size=500)
    cookie = (b"cookie", cookie_header(mint_authjs_v5({"sub": "attacker"}, S)).encode())
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            sent.append(message)

    async def attack(n: int, size: int) -> None:
        for _ in range(n):
            url = b"https://api.example/" + secrets.token_hex(size // 2).encode()
            scope = {
                "type": "http",
                "method": "GET",
                "scheme": "http",
                "path": "/verify",
                "query_string": b"",
                "headers": [cookie, (b"x-original-url", url)],
            }
            await app(scope, receive, send)

    asyncio.run(attack(50, 12_000))  # warm up whatever is allocated once
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(attack(1500, 12_000))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert {m["status"] for m in sent} == {200}
    # 1,500 distinct 12 KB keys are 18 MB; the budget keeps ~2 MiB of them
    assert grown < 4 * 2**20, grown
    assert len(app.memo) < 500
    assert app.memo.estimated_bytes <= app.memo.max_bytes == 500 * 4096
