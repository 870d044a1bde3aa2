"""A JWKS outage is 503 ``provider_unavailable``, never a 401 that logs users out.

The case the older code got wrong: the keys are cached, a token arrives signed with a key the
provider has just rotated in (a ``kid`` not in the cache), and the refetch fails. The cached set
is known to be out of date, so the verifier cannot tell a new key from a made-up one: that is
503, not ``unknown_kid`` (401). Once the endpoint answers again, a made-up ``kid`` is 401.
"""

from __future__ import annotations

import asyncio

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from sessiongate import SessionGate
from sessiongate._b64json import b64url_encode
from sessiongate.errors import ProviderUnavailableError, UnknownKidError
from sessiongate.jwks import JWKSBearer, JWKSClient

JWKS_URL = "https://issuer.example/.well-known/jwks.json"
NOW = 1_800_000_000

CURRENT = ec.generate_private_key(ec.SECP256R1())
ROTATED_IN = ec.generate_private_key(ec.SECP256R1())


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


def build_token(key: ec.EllipticCurvePrivateKey, kid: str) -> str:
    return jwt.encode({"sub": "u1", "exp": NOW + 600}, key, algorithm="ES256", headers={"kid": kid})


def decode(bearer: JWKSBearer, token: str, mode: str) -> dict:
    if mode == "async":
        return asyncio.run(bearer.decode(token, now=NOW))
    return bearer.decode_sync(token, now=NOW)


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize(
    "outage",
    [httpx.Response(502), httpx.ConnectError("refused"), httpx.Response(200, text="<html>")],
    ids=["502", "refused", "garbage"],
)
def test_unknown_kid_during_jwks_outage_is_503_not_401(mode, outage):
    clock = Clock()
    client = JWKSClient(JWKS_URL, monotonic=clock, min_refetch_interval=30, retry_interval=5)
    bearer = JWKSBearer(jwks=client, algorithms=["ES256"], issuer=None, audience=None)
    gate = SessionGate(bearer, clock=lambda: NOW)
    new_token = build_token(ROTATED_IN, "k2")
    with respx.mock:
        route = respx.get(JWKS_URL).mock(
            return_value=httpx.Response(200, json={"keys": [public_jwk(CURRENT, "k1")]})
        )
        assert decode(bearer, build_token(CURRENT, "k1"), mode)["sub"] == "u1"

        clock.t += 31  # the provider rotates k2 in; its endpoint is down right now
        if isinstance(outage, Exception):
            route.mock(side_effect=outage)
        else:
            route.mock(return_value=outage)
        with pytest.raises(ProviderUnavailableError) as info:
            decode(bearer, new_token, mode)
        assert info.value.status_code == 503
        assert route.call_count == 2
        with pytest.raises(ProviderUnavailableError):  # rate-limited: no new fetch, still 503
            gate.authenticate_sync({"authorization": "Bearer " + new_token})
        assert route.call_count == 2
        assert decode(bearer, build_token(CURRENT, "k1"), mode)["sub"] == "u1"  # cache kept

        clock.t += 31  # the endpoint is back, with both keys
        route.mock(
            return_value=httpx.Response(
                200, json={"keys": [public_jwk(CURRENT, "k1"), public_jwk(ROTATED_IN, "k2")]}
            )
        )
        assert decode(bearer, new_token, mode)["sub"] == "u1"
        with pytest.raises(UnknownKidError):  # a made-up kid, endpoint healthy: 401
            decode(bearer, build_token(ROTATED_IN, "made-up"), mode)


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_kidless_token_no_cached_key_fits_during_jwks_outage_is_503_not_401(mode):
    """A token without ``kid`` whose ``alg`` no cached key fits, while refreshes fail."""
    clock = Clock()
    client = JWKSClient(JWKS_URL, monotonic=clock)
    bearer = JWKSBearer(jwks=client, algorithms=["ES256", "EdDSA"], issuer=None, audience=None)
    eddsa_key = ed25519.Ed25519PrivateKey.generate()
    kidless = jwt.encode({"sub": "u1", "exp": NOW + 600}, eddsa_key, algorithm="EdDSA")
    with respx.mock:
        route = respx.get(JWKS_URL).mock(
            return_value=httpx.Response(200, json={"keys": [public_jwk(CURRENT, "k1")]})
        )
        with pytest.raises(UnknownKidError):  # endpoint healthy: no key fits, 401
            decode(bearer, kidless, mode)
        clock.t += 601  # expired; the refresh fails, the stale keys are served
        route.mock(return_value=httpx.Response(503))
        assert decode(bearer, build_token(CURRENT, "k1"), mode)["sub"] == "u1"
        with pytest.raises(ProviderUnavailableError):
            decode(bearer, kidless, mode)
