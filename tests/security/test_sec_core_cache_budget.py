"""Issue #9 item 8: caches have a byte budget.

One signed-in user can make the app re-issue large tokens (a long profile name, many
permissions) and send a fresh one on every request. With an entry-count bound only, each
``AuthJSToken`` / ``BearerJWT`` cache kept 4096 of them (~200 MiB per worker at the 32 KiB
token cap) and the gate's memo 2048 credential headers. Now each cache has a budget of
``size x 4 KiB`` estimated bytes (``sessiongate._lru``); these tests measure the real memory
with ``tracemalloc``.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate._lru import SLOT_BYTES, ByteBudgetLRU, estimated_bytes
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256

S = "budget-secret-0123456789abcdef0123456789"
NOW = 1_800_000_000
V5 = "authjs.session-token"
SLOTS = 256
BUDGET = SLOTS * SLOT_BYTES  # 1 MiB

SHAPES: dict[str, Callable[[int, int], dict[str, object]]] = {
    # a long profile field: the cheapest memory per token byte
    "long-string": lambda i, size: {"sub": "attacker", "name": f"{i}-" + "x" * size},
    # many short strings (roles/permissions): the most memory per token byte of what NextAuth
    # jwt callbacks emit
    "many-strings": lambda i, size: {
        "sub": "attacker",
        "permissions": [f"p{i}:{n}" for n in range(size // 10)],
    },
}


@contextmanager
def traced() -> Iterator[list[int]]:
    """Yields a list that receives the traced memory still held after the block."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held: list[int] = []
    try:
        yield held
        gc.collect()
        held.append(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_large_reissued_tokens_cannot_grow_the_token_cache_past_its_budget(shape):
    make = SHAPES[shape]
    verifier = AuthJSToken(S, cache_size=SLOTS, clock=lambda: NOW)
    with traced() as held:
        for i in range(SLOTS + 44):  # every token re-issued, ~30 KB, sent twice (so it is stored)
            token = mint_authjs_v5(make(i, 20_000), S, now=NOW)
            for _ in range(2):
                assert verifier.decode(token, cookie_name=V5)["sub"] == "attacker"
        del token
    assert len(verifier._cache) > 0
    print(f"\n{shape}: AuthJSToken cache holds {held[0] / 2**20:.2f} MiB (budget 1 MiB)")
    assert verifier._cache.estimated_bytes <= BUDGET
    assert held[0] < BUDGET  # before: 12 MiB (long-string) and 40 MiB (many-strings)


def test_large_reissued_bearer_jwts_cannot_grow_the_jws_cache_past_its_budget():
    verifier = BearerJWT(S, cache_size=SLOTS, clock=lambda: NOW)
    with traced() as held:
        for i in range(SLOTS + 44):
            token = mint_hs256(SHAPES["long-string"](i, 20_000), S, now=NOW)
            for _ in range(2):  # sent twice, so it is stored
                assert verifier.decode(token)["sub"] == "attacker"
        del token
    assert len(verifier._cache) > 0
    print(f"\nBearerJWT cache holds {held[0] / 2**20:.2f} MiB (budget 1 MiB)")
    assert held[0] < BUDGET  # before: 12 MiB


def test_long_credential_headers_cannot_grow_the_gate_memo_past_its_budget():
    gate = SessionGate(AuthJSToken(S, cache_size=0), clock=lambda: NOW, memo_size=SLOTS)
    with traced() as held:
        for i in range(SLOTS + 44):  # just under the memo's 8 KiB key limit
            token = mint_authjs_v5(SHAPES["many-strings"](i, 4_800), S, now=NOW)
            header = cookie_header(token)
            assert 5 * 1024 < len(header) <= 8 * 1024  # two chunks; remembered by the memo
            assert gate.authenticate_sync({"cookie": header}).user.id == "attacker"
        del token, header
    assert gate._memo is not None and 0 < len(gate._memo) < SLOTS
    print(f"\nSessionGate memo holds {held[0] / 2**20:.2f} MiB (budget 1 MiB)")
    assert held[0] < BUDGET  # before: 14 MiB


def test_the_count_bound_still_holds_for_small_tokens():
    verifier = AuthJSToken(S, cache_size=8, clock=lambda: NOW)
    for i in range(20):
        token = mint_authjs_v5({"sub": str(i)}, S, now=NOW)
        for _ in range(2):  # stored on its second sight
            verifier.decode(token, cookie_name=V5)
    assert len(verifier._cache) == 8


def test_byte_budget_lru_evicts_least_recently_used_and_skips_oversized_entries():
    lru: ByteBudgetLRU[str, int] = ByteBudgetLRU(4)
    small = ["a", "b", "c", "d"]
    for n, key in enumerate(small):
        lru.put(key, n)
    assert lru.get("a") == 0  # "b" is now the least recently used
    lru.put("e", 4)
    assert (lru.get("b"), lru.get("a"), len(lru)) == (None, 0, 4)
    big = "x" * ((2 * SLOT_BYTES - 1024) // 6)  # costs two slots
    lru.put(big, 5)
    assert lru.get(big) == 5 and len(lru) == 3
    assert lru.estimated_bytes <= lru.max_bytes
    lru.put("y" * (4 * SLOT_BYTES), 6)  # larger than the whole budget: not stored
    assert lru.get("y" * (4 * SLOT_BYTES)) is None and len(lru) == 3
    assert lru.pop(big) == 5 and lru.estimated_bytes == 2 * SLOT_BYTES
    assert estimated_bytes(("ab", 1, "c")) == estimated_bytes("abc")
    lru.clear()
    assert (len(lru), lru.estimated_bytes) == (0, 0)
    with pytest.raises(ValueError):
        ByteBudgetLRU(0)
