"""A key removed from the JWKS (a compromised one, say) must stop verifying tokens.

Without help it is served until the cached set expires (``cache_ttl``; SECURITY.md says so);
``JWKSClient.force_refresh()`` / ``force_refresh_sync()`` drop it at once, tokens verified with it
earlier included, and no fetch that read the old set can bring it back.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import ec

from sessiongate import SessionGate
from sessiongate._b64json import b64url_encode
from sessiongate.errors import ProviderUnavailableError, UnknownKidError
from sessiongate.jwks import JWKSBearer, JWKSClient

JWKS_URL = "https://issuer.example/.well-known/jwks.json"
NOW = 1_800_000_000

COMPROMISED = ec.generate_private_key(ec.SECP256R1())
SURVIVOR = ec.generate_private_key(ec.SECP256R1())


class Clock:
    def __init__(self) -> None:
        self.t = 10_000.0

    def __call__(self) -> float:
        return self.t


def public_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict:
    """An ES256 JWK, coordinates padded to 32 bytes (PyJWT < 2.10's ``to_jwk`` does not)."""
    numbers = key.public_key().public_numbers()
    x, y = (b64url_encode(n.to_bytes(32, "big")) for n in (numbers.x, numbers.y))
    return {"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig"}


BEFORE = {"keys": [public_jwk(COMPROMISED, "old"), public_jwk(SURVIVOR, "new")]}
AFTER = {"keys": [public_jwk(SURVIVOR, "new")]}  # the operator removed "old"


def build_token_signed_with_compromised_key(sub: str = "victim") -> str:
    claims = {"sub": sub, "exp": NOW + 600}
    return jwt.encode(claims, COMPROMISED, algorithm="ES256", headers={"kid": "old"})


def build_token_signed_with_surviving_key() -> str:
    claims = {"sub": "user", "exp": NOW + 600}
    return jwt.encode(claims, SURVIVOR, algorithm="ES256", headers={"kid": "new"})


def verifier(client: JWKSClient) -> JWKSBearer:
    return JWKSBearer(jwks=client, algorithms=["ES256"], issuer=None, audience=None)


def force_refresh(client: JWKSClient, mode: str) -> tuple[str | None, ...]:
    if mode == "async":
        return asyncio.run(client.force_refresh())
    return client.force_refresh_sync()


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_removed_compromised_key_rejected_after_force_refresh(mode):
    client = JWKSClient(JWKS_URL, monotonic=Clock())
    bearer = verifier(client)
    gate = SessionGate(bearer, clock=lambda: NOW)
    stolen = build_token_signed_with_compromised_key()
    headers = {"authorization": "Bearer " + stolen}
    with respx.mock:
        route = respx.get(JWKS_URL).mock(return_value=httpx.Response(200, json=BEFORE))
        assert bearer.decode_sync(stolen, now=NOW)["sub"] == "victim"  # verified and cached
        assert gate.authenticate_sync(headers).user.id == "victim"

        route.mock(return_value=httpx.Response(200, json=AFTER))  # the operator removes "old"
        # what SECURITY.md documents: within the TTL the cached set still has the key
        assert bearer.decode_sync(stolen, now=NOW)["sub"] == "victim"
        assert route.call_count == 1

        assert force_refresh(client, mode) == ("new",)
        assert route.call_count == 2
        for attempt in (stolen, build_token_signed_with_compromised_key("attacker")):
            with pytest.raises(UnknownKidError):
                bearer.decode_sync(attempt, now=NOW)  # the cached verdict is gone too
            with pytest.raises(UnknownKidError):
                asyncio.run(bearer.decode(attempt, now=NOW))
        with pytest.raises(UnknownKidError):
            gate.authenticate_sync(headers)
        assert bearer.decode_sync(build_token_signed_with_surviving_key(), now=NOW)["sub"] == "user"


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_force_refresh_is_not_rate_limited(mode):
    client = JWKSClient(JWKS_URL, monotonic=Clock(), min_refetch_interval=30, cache_ttl=600)
    with respx.mock:
        route = respx.get(JWKS_URL).mock(return_value=httpx.Response(200, json=BEFORE))
        client.get_signing_keys_sync("old")
        force_refresh(client, mode)
        force_refresh(client, mode)
        assert route.call_count == 3


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize(
    "failure",
    [httpx.Response(500), httpx.ConnectError("down"), httpx.Response(200, json={"keys": []})],
    ids=["500", "down", "no-keys"],
)
def test_failed_force_refresh_is_503_and_keeps_the_cached_keys(mode, failure):
    """The operator must learn that the key was *not* dropped; the cache is never emptied."""
    client = JWKSClient(JWKS_URL, monotonic=Clock())
    bearer = verifier(client)
    with respx.mock:
        route = respx.get(JWKS_URL).mock(return_value=httpx.Response(200, json=BEFORE))
        bearer.decode_sync(build_token_signed_with_surviving_key(), now=NOW)
        if isinstance(failure, Exception):
            route.mock(side_effect=failure)
        else:
            route.mock(return_value=failure)
        with pytest.raises(ProviderUnavailableError):
            force_refresh(client, mode)
        assert client.kids == ("old", "new")
        assert bearer.decode_sync(build_token_signed_with_surviving_key(), now=NOW)["sub"] == "user"


def _race(client: JWKSClient, clock: Clock, second_fetch) -> None:
    """A sync fetch reads the old key set, then stalls; ``second_fetch`` runs meanwhile and
    reads the new one; then the stalled fetch finishes. Responses are served in that order."""
    entered, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def respond(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(200, json=BEFORE)  # the first fetch: both keys
        if len(calls) == 2:  # the slow fetch: it read the set before the key was removed
            entered.set()
            release.wait(5)
            return httpx.Response(200, json=BEFORE)
        return httpx.Response(200, json=AFTER)

    with respx.mock:
        respx.get(JWKS_URL).mock(side_effect=respond)
        client.get_signing_keys_sync("new")
        clock.t += 601  # expired: the next call refetches
        slow = threading.Thread(target=client.get_signing_keys_sync, args=("new",))
        slow.start()
        assert entered.wait(5)
        try:
            second_fetch()
        finally:
            release.set()
            slow.join(10)
        assert len(calls) == 3


def test_in_flight_fetch_started_before_force_refresh_cannot_restore_removed_key():
    clock = Clock()
    client = JWKSClient(JWKS_URL, monotonic=clock)
    bearer = verifier(client)
    _race(client, clock, lambda: asyncio.run(client.force_refresh()))
    assert client.kids == ("new",)
    with pytest.raises(UnknownKidError):
        bearer.decode_sync(build_token_signed_with_compromised_key(), now=NOW)


def test_late_older_fetch_cannot_restore_a_removed_key():
    """Without force_refresh: an async refresh and a slower sync refresh of expired keys overlap
    (they hold different locks); the older result, arriving last, must not win."""
    clock = Clock()
    client = JWKSClient(JWKS_URL, monotonic=clock)
    bearer = verifier(client)
    _race(client, clock, lambda: asyncio.run(client.get_signing_keys("new")))
    assert client.kids == ("new",)
    with pytest.raises(UnknownKidError):
        bearer.decode_sync(build_token_signed_with_compromised_key(), now=NOW)


def test_force_refresh_waits_for_a_fetch_under_way_then_fetches_again():
    """A fetch already running may have read the old set: force_refresh must not just reuse it."""
    clock = Clock()
    client = JWKSClient(JWKS_URL, monotonic=clock)
    started, release = asyncio.Event(), asyncio.Event()
    bodies = [BEFORE, BEFORE, AFTER]

    async def respond(request: httpx.Request) -> httpx.Response:
        body = bodies.pop(0)
        if len(bodies) == 1:  # the second fetch: a refresh of expired keys, slow
            started.set()
            await release.wait()
        return httpx.Response(200, json=body)

    async def main() -> tuple[str | None, ...]:
        await client.get_signing_keys("new")
        clock.t += 601
        refresh = asyncio.create_task(client.get_signing_keys("new"))
        await started.wait()
        forced = asyncio.create_task(client.force_refresh())
        await asyncio.sleep(0.01)
        assert not forced.done()  # single flight: it queues behind the running fetch
        release.set()
        await refresh
        return await forced

    with respx.mock:
        route = respx.get(JWKS_URL).mock(side_effect=respond)
        started_at = time.monotonic()
        assert asyncio.run(main()) == ("new",)
        assert route.call_count == 3
        assert time.monotonic() - started_at < 5
