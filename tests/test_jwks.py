"""JWKSClient cache paths and JWKSBearer verification (respx mocks; no network)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time

import httpx
import jwt as pyjwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from sessiongate import SessionGate
from sessiongate.cookies import RequestCredentials
from sessiongate.errors import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidSignatureError,
    MalformedTokenError,
    ProviderUnavailableError,
    UnknownKidError,
)
from sessiongate.jwks import JWKSBearer, JWKSClient, parse_jwk_set

URL = "https://idp.example.com/.well-known/jwks.json"
ISS = "https://idp.example.com"
AUD = "api://sessiongate"
NOW = 1_800_000_000

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_KEY_2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
P256_KEY = ec.generate_private_key(ec.SECP256R1())
P384_KEY = ec.generate_private_key(ec.SECP384R1())
P521_KEY = ec.generate_private_key(ec.SECP521R1())
ED25519_KEY = ed25519.Ed25519PrivateKey.generate()
ED448_KEY = ed448.Ed448PrivateKey.generate()


def jwk(private_key: object, kid: str | None, alg: str | None = None, **extra: object) -> dict:
    public = private_key.public_key()  # type: ignore[attr-defined]
    if isinstance(public, rsa.RSAPublicKey):
        data = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        data = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        data = OKPAlgorithm.to_jwk(public, as_dict=True)
    if kid is not None:
        data["kid"] = kid
    if alg is not None:
        data["alg"] = alg
    data.update(extra)
    return data


def jwks_body(*keys: dict) -> dict:
    return {"keys": list(keys)}


def claims(**over: object) -> dict:
    base = {"sub": "user-1", "iss": ISS, "aud": AUD, "iat": NOW, "exp": NOW + 900}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def mint(private_key: object, alg: str, kid: str | None = "k1", **over: object) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return pyjwt.encode(claims(**over), private_key, algorithm=alg, headers=headers)  # type: ignore[arg-type]


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False) as r:
        yield r


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(
    clock: Clock, *, algorithms=("RS256",), url: str = URL, cache_size: int = 64, **client_kw
) -> JWKSBearer:
    client = JWKSClient(url, clock=clock, **client_kw)
    return JWKSBearer(
        jwks=client, algorithms=algorithms, issuer=ISS, audience=AUD, cache_size=cache_size
    )


def serve(router, body: object, url: str = URL, **headers: str):
    return router.get(url).mock(return_value=httpx.Response(200, json=body, headers=headers))


# --------------------------------------------------------------------------------------------
# happy paths: every algorithm, both APIs


ALGS = [
    ("RS256", RSA_KEY),
    ("RS384", RSA_KEY),
    ("RS512", RSA_KEY),
    ("PS256", RSA_KEY),
    ("PS384", RSA_KEY),
    ("PS512", RSA_KEY),
    ("ES256", P256_KEY),
    ("ES384", P384_KEY),
    ("ES512", P521_KEY),
    ("EdDSA", ED25519_KEY),
    ("EdDSA", ED448_KEY),
]


@pytest.mark.parametrize(("alg", "key"), ALGS)
def test_every_algorithm_verifies_sync_and_async(router, clock, alg, key):
    serve(router, jwks_body(jwk(key, "k1")))
    bearer = make(clock, algorithms=[alg])
    token = mint(key, alg)
    assert bearer.decode(token, now=NOW)["sub"] == "user-1"
    assert asyncio.run(bearer.decode_async(token, now=NOW))["sub"] == "user-1"


def test_key_with_declared_alg_verifies(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY, "k1", "PS256", use="sig")))
    assert make(clock, algorithms=["PS256"]).decode(mint(RSA_KEY, "PS256"), now=NOW)


def test_token_without_kid_uses_the_single_key(router, clock):
    serve(router, jwks_body(jwk(ED25519_KEY, None)))
    bearer = make(clock, algorithms=["EdDSA"])
    assert bearer.decode(mint(ED25519_KEY, "EdDSA", kid=None), now=NOW)["sub"] == "user-1"


def test_token_without_kid_and_many_keys_is_refused(router, clock):
    keys = [jwk(ed25519.Ed25519PrivateKey.generate(), f"k{i}") for i in range(6)]
    serve(router, jwks_body(*keys))
    with pytest.raises(UnknownKidError):
        make(clock, algorithms=["EdDSA"]).decode(mint(ED25519_KEY, "EdDSA", kid=None), now=NOW)


def test_duplicate_kid_tries_each_matching_key(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY_2, "k1"), jwk(RSA_KEY, "k1")))
    assert make(clock).decode(mint(RSA_KEY, "RS256"), now=NOW)["sub"] == "user-1"


# --------------------------------------------------------------------------------------------
# cache paths


def test_cache_hit_does_not_refetch(router, clock):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    bearer = make(clock)
    for i in range(5):
        bearer.decode(mint(RSA_KEY, "RS256", jti=str(i)), now=NOW)
        clock.advance(60)
    assert route.call_count == 1


def test_ttl_expiry_refetches(router, clock):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    client = JWKSClient(URL, clock=clock)
    client.get_signing_keys("k1")
    clock.advance(599)
    client.get_signing_keys("k1")
    assert route.call_count == 1
    clock.advance(2)
    client.get_signing_keys("k1")
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
    client = JWKSClient(URL, clock=clock)
    client.get_signing_keys("k1")
    clock.advance(fresh_for - 1)
    client.get_signing_keys("k1")
    assert route.call_count == 1
    clock.advance(2)
    client.get_signing_keys("k1")
    assert route.call_count == 2


def test_unknown_kid_refetches_for_key_rotation(router, clock):
    route = router.get(URL).mock(
        side_effect=[
            httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1"))),
            httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1"), jwk(RSA_KEY_2, "k2"))),
        ]
    )
    bearer = make(clock)
    bearer.decode(mint(RSA_KEY, "RS256"), now=NOW)
    clock.advance(31)
    assert bearer.decode(mint(RSA_KEY_2, "RS256", kid="k2"), now=NOW)["sub"] == "user-1"
    assert route.call_count == 2


def test_unknown_kid_right_after_a_fetch_is_not_refetched(router, clock):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    bearer = make(clock)
    bearer.decode(mint(RSA_KEY, "RS256"), now=NOW)
    clock.advance(5)
    with pytest.raises(UnknownKidError):
        bearer.decode(mint(RSA_KEY_2, "RS256", kid="k2"), now=NOW)
    assert route.call_count == 1


def test_random_kid_flood_is_rate_limited(router, clock):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    bearer = make(clock)
    rejected = 0
    for _ in range(2000):  # 2000 requests over 200 simulated seconds
        token = mint(RSA_KEY, "RS256", kid=secrets.token_urlsafe(12))
        try:
            bearer.decode(token, now=NOW)
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
        await bearer.decode_async(mint(RSA_KEY, "RS256"), now=NOW)
        clock.advance(60)  # the refetch is allowed again, and the keys are still fresh
        tokens = [mint(RSA_KEY, "RS256", kid=secrets.token_hex(8)) for _ in range(200)]
        return await asyncio.gather(
            *(bearer.decode_async(t, now=NOW) for t in tokens), return_exceptions=True
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
    bearer.decode(token, now=NOW)
    clock.advance(601)  # expired: refresh fails, the stale key still verifies
    assert bearer.decode(token, now=NOW)["sub"] == "user-1"
    assert route.call_count == 2
    clock.advance(1)  # within retry_interval: no new attempt
    bearer.decode(token, now=NOW)
    assert route.call_count == 2
    clock.advance(5)
    bearer.decode(token, now=NOW)
    clock.advance(5)
    bearer.decode(token, now=NOW)
    assert route.call_count == 4
    assert bearer.jwks.kids == ("k1",)  # a failed fetch never empties the cache


def test_stale_window_is_bounded(router, clock):
    router.get(URL).mock(
        side_effect=[httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1")))]
        + [httpx.Response(503)] * 10
    )
    bearer = make(clock, cache_size=0, max_stale=3600)
    token = mint(RSA_KEY, "RS256")
    bearer.decode(token, now=NOW)
    clock.advance(600 + 3599)
    bearer.decode(token, now=NOW)
    clock.advance(2)
    with pytest.raises(ProviderUnavailableError) as info:
        bearer.decode(token, now=NOW)
    assert info.value.status_code == 503


def test_endpoint_down_without_keys_is_503_and_backs_off(router, clock):
    route = router.get(URL).mock(side_effect=httpx.ConnectError("refused"))
    bearer = make(clock)
    token = mint(RSA_KEY, "RS256")
    for _ in range(20):
        with pytest.raises(ProviderUnavailableError):
            bearer.decode(token, now=NOW)
    assert route.call_count == 1  # later callers do not hammer a dead endpoint
    clock.advance(5)
    with pytest.raises(ProviderUnavailableError):
        asyncio.run(bearer.decode_async(token, now=NOW))
    assert route.call_count == 2


def test_timeout_is_503(router, clock):
    router.get(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ProviderUnavailableError):
        make(clock).decode(mint(RSA_KEY, "RS256"), now=NOW)


def test_async_fetch_has_an_overall_deadline(router, clock):
    async def hang(request):
        await asyncio.sleep(5)
        return httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1")))

    router.get(URL).mock(side_effect=hang)
    bearer = make(clock, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailableError):
        asyncio.run(bearer.decode_async(mint(RSA_KEY, "RS256"), now=NOW))
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
        bearer.decode(token, now=NOW)
    clock.advance(5)  # recovery
    assert bearer.decode(token, now=NOW)["sub"] == "user-1"
    clock.advance(601)  # garbage again: the good keys stay
    assert bearer.decode(token, now=NOW)["sub"] == "user-1"
    assert bearer.jwks.kids == ("k1",)


def test_oversized_response_with_content_length(router, clock):
    body = jwks_body(jwk(RSA_KEY, "k1"), *[{"kty": "x", "pad": "a" * 1000}] * 600)
    router.get(URL).mock(return_value=httpx.Response(200, json=body))
    bearer = make(clock)
    with pytest.raises(ProviderUnavailableError):
        bearer.decode(mint(RSA_KEY, "RS256"), now=NOW)
    # the same body under a larger cap is fine: the cap, not the content, refused it
    assert make(clock, max_response_bytes=1 << 20).decode(mint(RSA_KEY, "RS256"), now=NOW)


def test_oversized_chunked_response(router, clock):
    chunks = [b'{"keys": [', *[b'{"kty": "x"},' for _ in range(50_000)], b"{}]}"]
    router.get(URL).mock(return_value=httpx.Response(200, content=iter(chunks)))
    client = JWKSClient(URL, clock=clock, max_response_bytes=64 * 1024)
    with pytest.raises(ProviderUnavailableError):
        client.get_signing_keys("k1")
    assert client.fetch_count == 1


def test_single_flight_async_many_callers_one_fetch(router, clock):
    async def slow(request):
        await asyncio.sleep(0.05)
        return httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1")))

    route = router.get(URL).mock(side_effect=slow)
    bearer = make(clock, cache_size=0)
    token = mint(RSA_KEY, "RS256")

    async def main() -> list[dict]:
        return await asyncio.gather(*(bearer.decode_async(token, now=NOW) for _ in range(100)))

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
            *(bearer.decode_async(token, now=NOW) for _ in range(50)), return_exceptions=True
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
            results.append(bearer.decode(token, now=NOW)["sub"])
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
    bearer.decode(token, now=NOW)
    clock.advance(601)
    refresher = threading.Thread(target=bearer.decode, args=(token,), kwargs={"now": NOW})
    refresher.start()
    assert entered.wait(5)
    assert bearer.decode(token, now=NOW)["sub"] == "user-1"  # did not wait for the refresh
    release.set()
    refresher.join()
    assert route.call_count == 2


def test_sync_and_async_share_one_cache(router, clock):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1"), jwk(P256_KEY, "k2")))
    client = JWKSClient(URL, clock=clock)
    rsa_bearer = JWKSBearer(jwks=client, algorithms=["RS256"], issuer=ISS, audience=AUD)
    ec_bearer = JWKSBearer(jwks=client, algorithms=["ES256"], issuer=ISS, audience=AUD)
    assert rsa_bearer.decode(mint(RSA_KEY, "RS256"), now=NOW)
    assert asyncio.run(ec_bearer.decode_async(mint(P256_KEY, "ES256", kid="k2"), now=NOW))
    assert route.call_count == 1
    clock.advance(601)
    asyncio.run(client.get_signing_keys_async("k1"))  # async refresh ...
    client.get_signing_keys("k2")  # ... serves the sync caller
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
    bearer.decode(token, now=NOW)
    version = bearer.jwks.version
    clock.advance(601)
    bearer.jwks.get_signing_keys("k1")  # same keys: the version (and the token cache) stays
    assert bearer.jwks.version == version
    bearer.decode(token, now=NOW)
    clock.advance(601)
    bearer.jwks.get_signing_keys("k2")
    assert bearer.jwks.version == version + 1
    with pytest.raises(UnknownKidError):
        bearer.decode(token, now=NOW)


def test_cached_token_still_expires(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    bearer = make(clock)
    token = mint(RSA_KEY, "RS256")
    bearer.decode(token, now=NOW)
    with pytest.raises(ExpiredTokenError):
        bearer.decode(token, now=NOW + 900 + 15)


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
        make(clock).decode(token, now=NOW)
    assert "JWKS" in caplog.text
    assert "secret-private-part" not in caplog.text
    assert token not in caplog.text
    assert jwk(RSA_KEY, "k1")["n"] not in caplog.text


# --------------------------------------------------------------------------------------------
# transport rules


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.com/jwks",
        "ftp://idp.example.com/jwks",
        "https:///jwks",
        "https://user:pw@idp.example.com/jwks",
        "/jwks",
        "",
    ],
)
def test_only_https_urls(url):
    with pytest.raises(ConfigurationError):
        JWKSClient(url)
    with pytest.raises(ConfigurationError):
        JWKSBearer(url, algorithms=["RS256"], issuer=None, audience=None)


def test_http_allowed_when_asked():
    assert JWKSClient("http://127.0.0.1:9/jwks", allow_http=True).url


def test_same_scheme_redirect_is_followed(router, clock):
    router.get(URL).mock(
        return_value=httpx.Response(302, headers={"location": "https://cdn.example.com/k"})
    )
    serve(router, jwks_body(jwk(RSA_KEY, "k1")), url="https://cdn.example.com/k")
    assert make(clock).decode(mint(RSA_KEY, "RS256"), now=NOW)


@pytest.mark.parametrize("allow_http", [False, True])
def test_redirect_to_another_scheme_is_refused(router, clock, allow_http):
    router.get(URL).mock(
        return_value=httpx.Response(301, headers={"location": "http://evil.example.com/k"})
    )
    evil = serve(router, jwks_body(jwk(RSA_KEY, "k1")), url="http://evil.example.com/k")
    with pytest.raises(ProviderUnavailableError):
        make(clock, allow_http=allow_http).decode(mint(RSA_KEY, "RS256"), now=NOW)
    assert evil.call_count == 0


def test_redirect_loop_is_bounded(router, clock):
    route = router.get(URL).mock(return_value=httpx.Response(307, headers={"location": URL}))
    with pytest.raises(ProviderUnavailableError):
        make(clock).decode(mint(RSA_KEY, "RS256"), now=NOW)
    assert route.call_count == 4


def test_oidc_discovery(router, clock):
    issuer = "https://login.example.org/tenant/v2.0"
    disco = router.get(issuer + "/.well-known/openid-configuration").mock(
        return_value=httpx.Response(
            200, json={"issuer": issuer, "jwks_uri": "https://login.example.org/keys"}
        )
    )
    keys = serve(router, jwks_body(jwk(RSA_KEY, "k1")), url="https://login.example.org/keys")
    bearer = JWKSBearer.from_oidc_issuer(issuer, algorithms=["RS256"], audience=AUD)
    bearer.jwks.clock = clock
    token = mint(RSA_KEY, "RS256", iss=issuer)
    assert bearer.decode(token, now=NOW)["iss"] == issuer
    clock.advance(601)
    bearer.decode(token, now=NOW)  # a verified-token cache hit: no I/O
    assert keys.call_count == 1
    bearer.jwks.get_signing_keys("k1")  # the expired keys are refetched ...
    assert keys.call_count == 2
    assert disco.call_count == 1  # ... from the remembered jwks_uri
    with pytest.raises(InvalidClaimError):
        bearer.decode(mint(RSA_KEY, "RS256"), now=NOW)  # iss checked


@pytest.mark.parametrize(
    "doc",
    [
        {"issuer": "https://other.example.org", "jwks_uri": "https://login.example.org/keys"},
        {"issuer": "https://login.example.org", "jwks_uri": "http://login.example.org/keys"},
        {"issuer": "https://login.example.org"},
    ],
)
def test_oidc_discovery_rejects_bad_documents(router, doc):
    issuer = "https://login.example.org"
    router.get(issuer + "/.well-known/openid-configuration").mock(
        return_value=httpx.Response(200, json=doc)
    )
    keys = router.get(url__regex=r".*/keys$").mock(
        return_value=httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1")))
    )
    client = JWKSClient(issuer=issuer)
    with pytest.raises(ProviderUnavailableError):
        client.get_signing_keys("k1")
    assert keys.call_count == 0


def test_client_needs_exactly_one_source():
    with pytest.raises(ConfigurationError):
        JWKSClient()
    with pytest.raises(ConfigurationError):
        JWKSClient(URL, issuer=ISS)
    with pytest.raises(ConfigurationError):
        JWKSClient(URL, timeout=0)
    with pytest.raises(ConfigurationError):
        JWKSClient(URL, max_response_bytes=0)
    with pytest.raises(ConfigurationError):
        JWKSClient(URL, min_cache_ttl=100, max_cache_ttl=10)


# --------------------------------------------------------------------------------------------
# which keys are usable


def test_key_filtering():
    small_rsa = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    keys, _ = parse_jwk_set(
        jwks_body(
            jwk(RSA_KEY, "enc", use="enc"),
            jwk(RSA_KEY, "ops", key_ops=["encrypt"]),
            jwk(RSA_KEY, "private", d="AQAB"),
            jwk(small_rsa, "small"),
            jwk(P256_KEY, "mismatch", "ES384"),
            jwk(RSA_KEY, "hs", "HS256"),
            {"kty": "oct", "k": "c2VjcmV0", "kid": "oct"},
            {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "kid": "bad-point"},
            "not-a-dict",
            jwk(RSA_KEY, "ok-rsa"),
            jwk(P256_KEY, "ok-ec", "ES256", use="sig", key_ops=["verify"]),
            jwk(ED25519_KEY, "ok-ed"),
        )
    )
    assert [k.kid for k in keys] == ["ok-rsa", "ok-ec", "ok-ed"]
    assert keys[0].algorithms == {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    assert keys[1].algorithms == {"ES256"}
    assert keys[2].algorithms == {"EdDSA"}
    assert "key=" not in repr(keys[0])


# --------------------------------------------------------------------------------------------
# algorithm attacks


def test_alg_none_rejected(router, clock):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    token = pyjwt.encode(claims(), None, algorithm="none", headers={"kid": "k1"})
    with pytest.raises(AlgorithmNotAllowedError):
        make(clock).decode(token, now=NOW)
    assert route.call_count == 0  # refused before any I/O


def test_hs256_with_public_key_rejected(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    signing_input = (
        pyjwt.utils.base64url_encode(json.dumps(header).encode()).decode()
        + "."
        + pyjwt.utils.base64url_encode(json.dumps(claims()).encode()).decode()
    )
    sig = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + pyjwt.utils.base64url_encode(sig).decode()
    with pytest.raises(AlgorithmNotAllowedError):
        make(clock, algorithms=["RS256", "ES256", "EdDSA"]).decode(token, now=NOW)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512", "none", "RSA-OAEP", "ES256K"])
def test_symmetric_or_unknown_algorithms_refused_at_construction(alg):
    with pytest.raises(ConfigurationError):
        JWKSBearer(URL, algorithms=[alg], issuer=ISS, audience=AUD)
    with pytest.raises(ConfigurationError):
        JWKSBearer(URL, algorithms=["RS256", alg], issuer=ISS, audience=AUD)


def test_algorithms_are_required_and_non_empty():
    with pytest.raises(ConfigurationError):
        JWKSBearer(URL, algorithms=[], issuer=ISS, audience=AUD)
    with pytest.raises(TypeError):
        JWKSBearer(URL, issuer=ISS, audience=AUD)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError):
        JWKSBearer(algorithms=["RS256"], issuer=ISS, audience=AUD)


def test_eddsa_token_against_rs256_only_verifier(router, clock):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1"), jwk(ED25519_KEY, "k2")))
    with pytest.raises(AlgorithmNotAllowedError):
        make(clock, algorithms=["RS256"]).decode(mint(ED25519_KEY, "EdDSA", kid="k2"), now=NOW)
    assert route.call_count == 0


def test_key_type_must_match_alg(router, clock):
    """An ES256 token naming an RSA key's kid is refused, whoever signed it."""
    serve(router, jwks_body(jwk(RSA_KEY, "rsa"), jwk(P256_KEY, "ec")))
    bearer = make(clock, algorithms=["RS256", "ES256", "EdDSA"])
    with pytest.raises(AlgorithmNotAllowedError):
        bearer.decode(mint(P256_KEY, "ES256", kid="rsa"), now=NOW)
    with pytest.raises(AlgorithmNotAllowedError):
        bearer.decode(mint(RSA_KEY, "RS256", kid="ec"), now=NOW)
    with pytest.raises(AlgorithmNotAllowedError):
        bearer.decode(mint(ED25519_KEY, "EdDSA", kid="ec"), now=NOW)


def test_curve_must_match_alg(router, clock):
    serve(router, jwks_body(jwk(P256_KEY, "p256")))
    with pytest.raises(AlgorithmNotAllowedError):
        make(clock, algorithms=["ES384"]).decode(mint(P384_KEY, "ES384", kid="p256"), now=NOW)


def test_key_declared_alg_must_match(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY, "k1", "RS256")))
    with pytest.raises(AlgorithmNotAllowedError):
        make(clock, algorithms=["RS256", "PS256"]).decode(mint(RSA_KEY, "PS256"), now=NOW)


def test_signature_by_another_key_with_the_same_kid(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    with pytest.raises(InvalidSignatureError):
        make(clock).decode(mint(RSA_KEY_2, "RS256"), now=NOW)


def test_tampered_payload(router, clock):
    serve(router, jwks_body(jwk(ED25519_KEY, "k1")))
    token = mint(ED25519_KEY, "EdDSA")
    head, _, sig = token.split(".")
    forged = pyjwt.utils.base64url_encode(json.dumps(claims(sub="admin")).encode()).decode()
    with pytest.raises(InvalidSignatureError):
        make(clock, algorithms=["EdDSA"]).decode(f"{head}.{forged}.{sig}", now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "RS256", "kid": "k1", "jku": "https://evil.example.com/jwks"},
        {"alg": "RS256", "kid": "k1", "jwk": {"kty": "RSA"}},
        {"alg": "RS256", "kid": "k1", "x5u": "https://evil.example.com/cert"},
        {"alg": "RS256", "kid": 7},
    ],
)
def test_key_carrying_headers_refused(router, clock, header):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    seg = pyjwt.utils.base64url_encode(json.dumps(header).encode()).decode()
    token = seg + "." + mint(RSA_KEY, "RS256").split(".", 1)[1]
    with pytest.raises(MalformedTokenError):
        make(clock).decode(token, now=NOW)
    assert route.call_count == 0


@pytest.mark.parametrize(
    "token",
    ["a.b", "..", "eyJhbGciOiJSUzI1NiJ9.e30.", "eyJhbGciOiJSUzI1NiJ9.e30=.c2ln", "x" * 20000],
)
def test_malformed_tokens_do_no_io(router, clock, token):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    with pytest.raises(MalformedTokenError):
        make(clock).decode(token, now=NOW)
    assert route.call_count == 0


# --------------------------------------------------------------------------------------------
# claims


@pytest.mark.parametrize(
    ("over", "error"),
    [
        ({"iss": "https://evil.example.com"}, InvalidClaimError),
        ({"iss": None}, InvalidClaimError),
        ({"aud": "api://other"}, InvalidClaimError),
        ({"aud": None}, InvalidClaimError),
        ({"aud": ["api://other", "api://x"]}, InvalidClaimError),
        ({"exp": None}, InvalidClaimError),
        ({"exp": NOW - 16}, ExpiredTokenError),
        ({"exp": "soon"}, InvalidClaimError),
    ],
)
def test_claim_failures(router, clock, over, error):
    serve(router, jwks_body(jwk(ED25519_KEY, "k1")))
    with pytest.raises(error):
        make(clock, algorithms=["EdDSA"]).decode(mint(ED25519_KEY, "EdDSA", **over), now=NOW)


def test_audience_list_containing_ours(router, clock):
    serve(router, jwks_body(jwk(ED25519_KEY, "k1")))
    token = mint(ED25519_KEY, "EdDSA", aud=["api://other", AUD])
    assert make(clock, algorithms=["EdDSA"]).decode(token, now=NOW)["sub"] == "user-1"


def test_issuer_and_audience_must_be_stated():
    with pytest.raises(TypeError):
        JWKSBearer(URL, algorithms=["RS256"])  # type: ignore[call-arg]
    bearer = JWKSBearer(URL, algorithms=["RS256"], issuer=None, audience=None)
    assert bearer.rules.issuer is None
    assert bearer.rules.audience is None


# --------------------------------------------------------------------------------------------
# the authenticator and the gate


def creds(authorization: str | None) -> RequestCredentials:
    headers = {"authorization": authorization} if authorization else {}
    return RequestCredentials.from_headers(headers)


def test_authenticator_returns_none_for_what_is_not_a_jwt(router, clock):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    bearer = make(clock)
    for header in (None, "Basic dXNlcjpwdw==", "Bearer opaque-session-token"):
        assert bearer.authenticate_blocking(creds(header), NOW) is None
        assert asyncio.run(bearer.authenticate_async(creds(header), NOW)) is None
    assert route.call_count == 0


def test_authenticator_verifies_bearer(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    bearer = make(clock)
    c = creds("Bearer " + mint(RSA_KEY, "RS256"))
    verified = bearer.authenticate_blocking(c, NOW)
    assert verified is not None
    assert verified.source == "jwks"
    assert verified.credential == "bearer"
    assert verified.expires_at == NOW + 900
    again = asyncio.run(bearer.authenticate_async(c, NOW))
    assert again is verified  # cached


def test_gate_with_jwks_bearer(router, clock):
    route = serve(router, jwks_body(jwk(ED25519_KEY, "k1")))
    gate = SessionGate(make(clock, algorithms=["EdDSA"]), clock=lambda: NOW)
    headers = {"authorization": "Bearer " + mint(ED25519_KEY, "EdDSA")}
    assert gate.authenticate_sync(headers).id == "user-1"
    assert asyncio.run(gate.authenticate(headers)).id == "user-1"
    route.mock(side_effect=httpx.ConnectError("down"))
    gate_down = SessionGate(make(Clock(), algorithms=["EdDSA"]), clock=lambda: NOW)
    with pytest.raises(ProviderUnavailableError):
        gate_down.authenticate_sync(headers)


def test_repr_has_no_key_material(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    bearer = make(clock)
    bearer.decode(mint(RSA_KEY, "RS256"), now=NOW)
    assert repr(bearer) == f"JWKSBearer(JWKSClient(url={URL!r}), algorithms=['RS256'])"


# --------------------------------------------------------------------------------------------
# Better Auth helper


@pytest.mark.parametrize(
    ("base_url", "jwks_url", "origin"),
    [
        ("https://app.example.com", "https://app.example.com/api/auth/jwks", ""),
        ("https://app.example.com/", "https://app.example.com/api/auth/jwks", ""),
        ("HTTPS://App.Example.com:443", "https://app.example.com/api/auth/jwks", ""),
        ("https://app.example.com:8443", "https://app.example.com:8443/api/auth/jwks", ":8443"),
        # a base URL with a path is the auth base path itself, as in Better Auth's getBaseURL
        ("https://app.example.com/auth", "https://app.example.com/auth/jwks", ""),
        ("https://app.example.com/auth/", "https://app.example.com/auth/jwks", ""),
    ],
)
def test_for_better_auth_urls(base_url, jwks_url, origin):
    bearer = JWKSBearer.for_better_auth(base_url)
    assert bearer.jwks.url == jwks_url
    assert bearer.rules.issuer == {"https://app.example.com" + origin}
    assert bearer.rules.audience == {"https://app.example.com" + origin}
    assert bearer.algorithms == ("EdDSA",)


def test_for_better_auth_ipv6_origin():
    bearer = JWKSBearer.for_better_auth("https://[::1]:3000")
    assert bearer.jwks.url == "https://[::1]:3000/api/auth/jwks"
    assert bearer.rules.issuer == {"https://[::1]:3000"}


def test_for_better_auth_options():
    bearer = JWKSBearer.for_better_auth(
        "http://localhost:3000",
        allow_http=True,
        issuer="my-iss",
        audience=["a", "b"],
        leeway=0,
        cache_size=0,
    )
    assert bearer.jwks.url == "http://localhost:3000/api/auth/jwks"
    assert bearer.rules.issuer == {"my-iss"}
    assert bearer.rules.audience == {"a", "b"}
    with pytest.raises(ConfigurationError):
        JWKSBearer.for_better_auth("http://localhost:3000")


def test_better_auth_shaped_token(router, clock):
    """The shape SPEC 5.8 describes: EdDSA, kid, iss = aud = origin, 15-minute exp, no typ."""
    base = "https://app.example.com"
    kid = secrets.token_urlsafe(24)[:32]
    serve(
        router,
        {"keys": [jwk(ED25519_KEY, kid, "EdDSA", crv="Ed25519")]},
        url=base + "/api/auth/jwks",
    )
    bearer = JWKSBearer.for_better_auth(base)
    bearer.jwks.clock = clock
    payload = {
        "id": "u1",
        "name": "Ann",
        "email": "a@example.com",
        "emailVerified": False,
        "image": None,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "iat": NOW,
        "sub": "u1",
        "exp": NOW + 900,
        "iss": base,
        "aud": base,
    }
    token = pyjwt.encode(payload, ED25519_KEY, algorithm="EdDSA", headers={"kid": kid, "typ": None})
    assert bearer.decode(token, now=NOW)["email"] == "a@example.com"
