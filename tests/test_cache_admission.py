"""The verified-token caches store a token on its second miss (``second_sight``, issue #10)."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from sessiongate import AuthJSToken, BearerJWT
from sessiongate._lru import ByteBudgetLRU
from sessiongate.testing import mint_authjs_v5, mint_hs256

S = "s" * 32
NOW = 1_700_000_000.0
V5 = "authjs.session-token"


def test_a_key_is_admitted_on_its_second_miss_only():
    lru: ByteBudgetLRU[str, int] = ByteBudgetLRU(4, second_sight=True)
    cell = hash("a") & lru._mask  # another key in another cell (string hashes vary per run)
    other = next(k for k in map(str, range(100)) if hash(k) & lru._mask != cell)
    assert lru.admit("a") is False
    assert lru.admit(other) is False
    assert lru.admit("a") is True
    lru.clear()  # forgets what it has seen too
    assert lru.admit("a") is False


def test_without_second_sight_every_miss_is_admitted():
    lru: ByteBudgetLRU[str, int] = ByteBudgetLRU(4)
    assert lru.admit("a") is True


@pytest.mark.parametrize("fmt", ["v5", "hs256"])
def test_decode_returns_the_same_claims_on_first_sight_second_sight_and_hit(fmt):
    if fmt == "v5":
        verifier: Any = AuthJSToken(S, clock=lambda: NOW)
        token = mint_authjs_v5({"sub": "u1", "org": {"id": "o1"}, "roles": ["a"]}, S, now=NOW)
        decode = partial(verifier.decode, cookie_name=V5)
    else:
        verifier = BearerJWT(S, clock=lambda: NOW)
        token = mint_hs256({"sub": "u1", "org": {"id": "o1"}, "roles": ["a"]}, S, now=NOW)
        decode = verifier.decode
    results = [decode(token) for _ in range(3)]
    assert results[0] == results[1] == results[2]
    assert len(verifier._cache) == 1
    for claims in results:  # each caller gets its own mutable copy, never the cached record
        claims["org"]["id"] = "changed"
        claims["roles"].append("admin")
    again = decode(token)
    assert again["org"] == {"id": "o1"} and again["roles"] == ["a"]


def test_a_token_is_cached_from_its_second_request_on():
    verifier = AuthJSToken(S, clock=lambda: NOW)
    token = mint_authjs_v5({"sub": "u1"}, S, now=NOW)
    first = verifier.decode_full(token, cookie_name=V5)
    second = verifier.decode_full(token, cookie_name=V5)
    assert first is not second  # decrypted twice: the first sight stored nothing
    assert verifier.decode_full(token, cookie_name=V5) is second  # a hit from now on
    assert len(verifier._cache) == 1


def test_a_scan_of_distinct_tokens_does_not_evict_the_sessions_in_use():
    verifier = BearerJWT(S, cache_size=16, clock=lambda: NOW)
    hot = [mint_hs256({"sub": f"hot{i}"}, S, now=NOW) for i in range(8)]
    for token in hot:  # each sent twice in a row: stored whatever the hash seed
        verifier.decode(token)
        verifier.decode(token)
    kept = {t: verifier.decode_full(t) for t in hot}
    for i in range(200):  # each presented once: none is admitted
        verifier.decode(mint_hs256({"sub": f"scan{i}", "jti": str(i)}, S, now=NOW))
    assert all(verifier.decode_full(t) is kept[t] for t in hot)
    assert len(verifier._cache) == 8
