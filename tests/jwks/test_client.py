"""JWKSClient through HTTP (respx mocks): caching, refetch, outages, single flight."""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time

import httpx
import pytest

from sessiongate.errors import (
    ExpiredTokenError,
    ProviderUnavailableError,
    UnknownKidError,
)
from sessiongate.jwks import JWKSBearer, JWKSClient

from .helpers import (
    AUD,
    ISS,
    NOW,
    P256_KEY,
    RSA_KEY,
    RSA_KEY_2,
    URL,
    jwk,
    jwks_body,
    make,
    mint,
    serve,
)

# --------------------------------------------------------------------------------------------
# cache paths


def test_cache_hit_does_not_refetch(router, clock):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    bearer = make(clock)
    for i in range(5):
        bearer.decode_sync(mint(RSA_KEY, "RS256", jti=str(i)), now=NOW)
        clock.advance(60)
    assert route.call_count == 1


def test_ttl_expiry_refetches(router, clock):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    client = JWKSClient(URL, monotonic=clock)
    client.get_signing_keys_sync("k1")
    clock.advance(599)
    client.get_signing_keys_sync("k1")
    assert route.call_count == 1
    clock.advance(2)
    client.get_signing_keys_sync("k1")
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("cache_control", "fresh_for"),
    [
        ("public, max-age=120", 120),
        ("max-age=999999", 3600),  # bounded by max_cache_ttl
        ("no-store", 60),  # bounded by min_cache_ttl
        ("max-age=5", 60),
        ("max-age=junk", 600),  # unparsable: the default TTL
    ],
)
def test_cache_control_max_age_is_honoured_within_bounds(router, clock, cache_control, fresh_for):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")), **{"cache-control": cache_control})
    client = JWKSClient(URL, monotonic=clock)
    client.get_signing_keys_sync("k1")
    clock.advance(fresh_for - 1)
    client.get_signing_keys_sync("k1")
    assert route.call_count == 1
    clock.advance(2)
    client.get_signing_keys_sync("k1")
    assert route.call_count == 2


def test_unknown_kid_refetches_for_key_rotation(router, clock):
    route = router.get(URL).mock(
        side_effect=[
            httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1"))),
            httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1"), jwk(RSA_KEY_2, "k2"))),
        ]
    )
    bearer = make(clock)
    bearer.decode_sync(mint(RSA_KEY, "RS256"), now=NOW)
    clock.advance(31)
    assert bearer.decode_sync(mint(RSA_KEY_2, "RS256", kid="k2"), now=NOW)["sub"] == "user-1"
    assert route.call_count == 2


def test_unknown_kid_right_after_a_fetch_is_not_refetched(router, clock):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    bearer = make(clock)
    bearer.decode_sync(mint(RSA_KEY, "RS256"), now=NOW)
    clock.advance(5)
    with pytest.raises(UnknownKidError):
        bearer.decode_sync(mint(RSA_KEY_2, "RS256", kid="k2"), now=NOW)
    assert route.call_count == 1


def test_random_kid_flood_is_rate_limited(router, clock):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    bearer = make(clock)
    rejected = 0
    for _ in range(2000):  # 2000 requests over 200 simulated seconds
        token = mint(RSA_KEY, "RS256", kid=secrets.token_urlsafe(12))
        try:
            bearer.decode_sync(token, now=NOW)
        except UnknownKidError:
            rejected += 1
        clock.advance(0.1)
    assert rejected == 2000
    # the first fetch, then at most one per 30 s
    assert route.call_count <= 1 + 200 // 30 + 1
    assert route.call_count >= 2  # the refetch does happen, just rate-limited


def test_random_kid_flood_concurrent_async_is_one_refetch(router, clock):
    async def slow(request):
        await asyncio.sleep(0.02)
        return httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1")))

    route = router.get(URL).mock(side_effect=slow)
    bearer = make(clock)

    async def main() -> list[object]:
        await bearer.decode(mint(RSA_KEY, "RS256"), now=NOW)
        clock.advance(60)  # the refetch is allowed again, and the keys are still fresh
        tokens = [mint(RSA_KEY, "RS256", kid=secrets.token_hex(8)) for _ in range(200)]
        return await asyncio.gather(
            *(bearer.decode(t, now=NOW) for t in tokens), return_exceptions=True
        )

    results = asyncio.run(main())
    assert all(isinstance(r, UnknownKidError) for r in results)
    assert route.call_count == 2


def test_endpoint_down_serves_stale_keys(router, clock):
    route = router.get(URL).mock(
        side_effect=[
            httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1"))),
            httpx.Response(500),
            httpx.ConnectError("refused"),
            httpx.Response(200, text="<html>maintenance</html>"),
        ]
    )
    bearer = make(clock, cache_size=0)
    token = mint(RSA_KEY, "RS256")
    bearer.decode_sync(token, now=NOW)
    clock.advance(601)  # expired: refresh fails, the stale key still verifies
    assert bearer.decode_sync(token, now=NOW)["sub"] == "user-1"
    assert route.call_count == 2
    clock.advance(1)  # within retry_interval: no new attempt
    bearer.decode_sync(token, now=NOW)
    assert route.call_count == 2
    clock.advance(5)
    bearer.decode_sync(token, now=NOW)
    clock.advance(5)
    bearer.decode_sync(token, now=NOW)
    assert route.call_count == 4
    assert bearer.jwks.kids == ("k1",)  # a failed fetch never empties the cache


def test_stale_window_is_bounded(router, clock):
    router.get(URL).mock(
        side_effect=[httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1")))]
        + [httpx.Response(503)] * 10
    )
    bearer = make(clock, cache_size=0, max_stale=3600)
    token = mint(RSA_KEY, "RS256")
    bearer.decode_sync(token, now=NOW)
    clock.advance(600 + 3599)
    bearer.decode_sync(token, now=NOW)
    clock.advance(2)
    with pytest.raises(ProviderUnavailableError) as info:
        bearer.decode_sync(token, now=NOW)
    assert info.value.status_code == 503


def test_endpoint_down_without_keys_is_503_and_backs_off(router, clock):
    route = router.get(URL).mock(side_effect=httpx.ConnectError("refused"))
    bearer = make(clock)
    token = mint(RSA_KEY, "RS256")
    for _ in range(20):
        with pytest.raises(ProviderUnavailableError):
            bearer.decode_sync(token, now=NOW)
    assert route.call_count == 1  # later callers do not hammer a dead endpoint
    clock.advance(5)
    with pytest.raises(ProviderUnavailableError):
        asyncio.run(bearer.decode(token, now=NOW))
    assert route.call_count == 2


def test_timeout_is_503(router, clock):
    router.get(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ProviderUnavailableError):
        make(clock).decode_sync(mint(RSA_KEY, "RS256"), now=NOW)


def test_async_fetch_has_an_overall_deadline(router, clock):
    async def hang(request):
        await asyncio.sleep(5)
        return httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1")))

    router.get(URL).mock(side_effect=hang)
    bearer = make(clock, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailableError):
        asyncio.run(bearer.decode(mint(RSA_KEY, "RS256"), now=NOW))
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="not json"),
        httpx.Response(200, text='{"keys": NaN}'),
        httpx.Response(200, json=[]),
        httpx.Response(200, json={"keys": "abc"}),
        httpx.Response(200, json={"keys": []}),
        httpx.Response(200, json={"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "k1"}]}),
        httpx.Response(200, content=b"\xff\xfe"),
        httpx.Response(200, text="[" * 100_000 + "]" * 100_000),
        httpx.Response(404, json=jwks_body(jwk(RSA_KEY, "k1"))),
    ],
    ids=["text", "nan", "list", "keys-str", "empty", "only-oct", "not-utf8", "deep", "404"],
)
def test_garbage_is_a_failed_fetch(router, clock, response):
    router.get(URL).mock(
        side_effect=[response, httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1"))), response]
    )
    bearer = make(clock, cache_size=0)
    token = mint(RSA_KEY, "RS256")
    with pytest.raises(ProviderUnavailableError):
        bearer.decode_sync(token, now=NOW)
    clock.advance(5)  # recovery
    assert bearer.decode_sync(token, now=NOW)["sub"] == "user-1"
    clock.advance(601)  # garbage again: the good keys stay
    assert bearer.decode_sync(token, now=NOW)["sub"] == "user-1"
    assert bearer.jwks.kids == ("k1",)


def test_oversized_response_with_content_length(router, clock):
    body = jwks_body(jwk(RSA_KEY, "k1"), *[{"kty": "x", "pad": "a" * 1000}] * 600)
    router.get(URL).mock(return_value=httpx.Response(200, json=body))
    bearer = make(clock)
    with pytest.raises(ProviderUnavailableError):
        bearer.decode_sync(mint(RSA_KEY, "RS256"), now=NOW)
    # the same body under a larger cap is fine: the cap, not the content, refused it
    assert make(clock, max_response_bytes=1 << 20).decode_sync(mint(RSA_KEY, "RS256"), now=NOW)


def test_oversized_chunked_response(router, clock):
    chunks = [b'{"keys": [', *[b'{"kty": "x"},' for _ in range(50_000)], b"{}]}"]
    router.get(URL).mock(return_value=httpx.Response(200, content=iter(chunks)))
    client = JWKSClient(URL, monotonic=clock, max_response_bytes=64 * 1024)
    with pytest.raises(ProviderUnavailableError):
        client.get_signing_keys_sync("k1")
    assert client.fetch_count == 1


def test_single_flight_async_many_callers_one_fetch(router, clock):
    async def slow(request):
        await asyncio.sleep(0.05)
        return httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1")))

    route = router.get(URL).mock(side_effect=slow)
    bearer = make(clock, cache_size=0)
    token = mint(RSA_KEY, "RS256")

    async def main() -> list[dict]:
        return await asyncio.gather(*(bearer.decode(token, now=NOW) for _ in range(100)))

    results = asyncio.run(main())
    assert len(results) == 100
    assert all(r["sub"] == "user-1" for r in results)
    assert route.call_count == 1


def test_single_flight_async_failure_shared(router, clock):
    async def slow_fail(request):
        await asyncio.sleep(0.05)
        return httpx.Response(502)

    route = router.get(URL).mock(side_effect=slow_fail)
    bearer = make(clock)
    token = mint(RSA_KEY, "RS256")

    async def main() -> list[object]:
        return await asyncio.gather(
            *(bearer.decode(token, now=NOW) for _ in range(50)), return_exceptions=True
        )

    assert all(isinstance(r, ProviderUnavailableError) for r in asyncio.run(main()))
    assert route.call_count == 1


def test_single_flight_threads_many_callers_one_fetch(router, clock):
    def slow(request):
        time.sleep(0.05)
        return httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1")))

    route = router.get(URL).mock(side_effect=slow)
    bearer = make(clock, cache_size=0)
    token = mint(RSA_KEY, "RS256")
    results: list[object] = []
    barrier = threading.Barrier(32)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(bearer.decode_sync(token, now=NOW)["sub"])
        except Exception as err:
            results.append(err)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["user-1"] * 32
    assert route.call_count == 1


def test_expired_keys_refresh_does_not_block_other_callers(router, clock):
    """While one caller refreshes expired keys, others verify with the still-usable ones."""
    release = threading.Event()
    entered = threading.Event()

    calls = []

    def first_then_slow(request):
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1")))
        entered.set()
        release.wait(5)
        return httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1")))

    route = router.get(URL).mock(side_effect=first_then_slow)
    bearer = make(clock, cache_size=0)
    token = mint(RSA_KEY, "RS256")
    bearer.decode_sync(token, now=NOW)
    clock.advance(601)
    refresher = threading.Thread(target=bearer.decode_sync, args=(token,), kwargs={"now": NOW})
    refresher.start()
    assert entered.wait(5)
    assert bearer.decode_sync(token, now=NOW)["sub"] == "user-1"  # did not wait for the refresh
    release.set()
    refresher.join()
    assert route.call_count == 2


def test_sync_and_async_share_one_cache(router, clock):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1"), jwk(P256_KEY, "k2")))
    client = JWKSClient(URL, monotonic=clock)
    rsa_bearer = JWKSBearer(jwks=client, algorithms=["RS256"], issuer=ISS, audience=AUD)
    ec_bearer = JWKSBearer(jwks=client, algorithms=["ES256"], issuer=ISS, audience=AUD)
    assert rsa_bearer.decode_sync(mint(RSA_KEY, "RS256"), now=NOW)
    assert asyncio.run(ec_bearer.decode(mint(P256_KEY, "ES256", kid="k2"), now=NOW))
    assert route.call_count == 1
    clock.advance(601)
    asyncio.run(client.get_signing_keys("k1"))  # async refresh ...
    client.get_signing_keys_sync("k2")  # ... serves the sync caller
    assert route.call_count == 2


def test_verified_token_cache_is_dropped_when_the_key_set_changes(router, clock):
    router.get(URL).mock(
        side_effect=[
            httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1"))),
            httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1"))),
            httpx.Response(200, json=jwks_body(jwk(RSA_KEY_2, "k2"))),  # k1 retired
        ]
    )
    bearer = make(clock)
    token = mint(RSA_KEY, "RS256")
    bearer.decode_sync(token, now=NOW)
    version = bearer.jwks.version
    clock.advance(601)
    bearer.jwks.get_signing_keys_sync("k1")  # same keys: the version (and the token cache) stays
    assert bearer.jwks.version == version
    bearer.decode_sync(token, now=NOW)
    clock.advance(601)
    bearer.jwks.get_signing_keys_sync("k2")
    assert bearer.jwks.version == version + 1
    with pytest.raises(UnknownKidError):
        bearer.decode_sync(token, now=NOW)


def test_cached_token_still_expires(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    bearer = make(clock)
    token = mint(RSA_KEY, "RS256")
    bearer.decode_sync(token, now=NOW)
    with pytest.raises(ExpiredTokenError):
        bearer.decode_sync(token, now=NOW + 900 + 15)


def test_failures_are_logged_without_key_material_or_token(router, clock, caplog):
    router.get(URL).mock(
        side_effect=[
            httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1", d="secret-private-part"))),
        ]
    )
    token = mint(RSA_KEY, "RS256")
    with (
        caplog.at_level(logging.DEBUG, logger="sessiongate"),
        pytest.raises(ProviderUnavailableError),
    ):
        make(clock).decode_sync(token, now=NOW)
    assert "JWKS" in caplog.text
    assert "secret-private-part" not in caplog.text
    assert token not in caplog.text
    assert jwk(RSA_KEY, "k1")["n"] not in caplog.text
