"""Static keys in the gate: StaticKeyJWT (sync, memoised), JWKSBearer(jwks=StaticKeys), config."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sessiongate import SessionGate
from sessiongate.config import GateConfig, build_authenticators
from sessiongate.errors import (
    ConfigurationError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidSignatureError,
)
from sessiongate.jwks import JWKSBearer, StaticKeyJWT, StaticKeys
from sessiongate.types import AsyncAuthenticator

from .helpers import AUD, ISS, NOW, P256_KEY, RSA_KEY, RSA_KEY_2, jwk, mint
from .test_static import pem


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_static_key_jwt_is_a_plain_sync_authenticator_the_gate_memoises():
    auth = StaticKeyJWT(StaticKeys(pem(RSA_KEY)), algorithms=["RS256"], issuer=ISS, audience=AUD)
    assert not isinstance(auth, AsyncAuthenticator)  # no I/O: nothing to await
    clock = Clock(NOW)
    gate = SessionGate(auth, clock=clock)
    assert not gate.has_async
    token = mint(RSA_KEY, "RS256", exp=NOW + 60)
    headers = {"cookie": f"__Secure-authjs.session-token={token}"}
    first = gate.authenticate_sync(headers)
    assert first.user.id == "user-1"
    assert (first.credential, first.authenticator) == ("cookie", "static-key")
    assert gate.authenticate_sync(headers) is first  # answered from the verdict memo
    assert asyncio.run(gate.authenticate(headers)) is first
    clock.now = NOW + 120
    with pytest.raises(ExpiredTokenError):  # the memo re-checks exp
        gate.authenticate_sync(headers)


def test_static_keys_plug_into_jwks_bearer():
    bearer = JWKSBearer(
        jwks=StaticKeys({"keys": [jwk(RSA_KEY, "k1"), jwk(P256_KEY, "k2")]}),
        algorithms=["RS256", "ES256"],
        issuer=ISS,
        audience=AUD,
        clock=lambda: NOW,
    )
    gate = SessionGate(bearer, clock=lambda: NOW)
    for token in (mint(RSA_KEY, "RS256", kid="k1"), mint(P256_KEY, "ES256", kid="k2")):
        result = asyncio.run(gate.authenticate({"authorization": f"Bearer {token}"}))
        assert result.user.id == "user-1"
        assert gate.authenticate_sync({"authorization": f"Bearer {token}"}).authenticator == "jwks"
    with pytest.raises(InvalidSignatureError):
        bearer.decode_sync(mint(RSA_KEY_2, "RS256", kid="k1"))
    with pytest.raises(ConfigurationError, match="JWKSClient or StaticKeys"):
        JWKSBearer(jwks=object(), algorithms=["RS256"], issuer=None, audience=None)  # type: ignore[arg-type]


def test_sessiongate_jwt_public_key_builds_the_verifier(tmp_path: Path):
    key_file = tmp_path / "public.pem"
    key_file.write_bytes(pem(RSA_KEY))
    env = {"SESSIONGATE_JWT_PUBLIC_KEY": str(key_file), "SESSIONGATE_JWT_AUDIENCE": AUD}
    config = GateConfig.from_sources(environ=env)
    assert config.jwt_public_key == str(key_file)
    assert config.describe() == [
        f"JWT cookies and Bearer (EdDSA, RS256, ES256) signed with the key in {key_file}"
    ]
    (auth,) = build_authenticators(config)
    assert isinstance(auth, StaticKeyJWT)
    gate = SessionGate.from_env(env, clock=lambda: NOW)
    assert repr(gate) == "SessionGate(static-key)"
    token = mint(RSA_KEY, "RS256", iss=None)
    assert gate.authenticate_sync({"authorization": f"Bearer {token}"}).user.id == "user-1"
    wrong_audience = mint(RSA_KEY, "RS256", aud="another-app")
    with pytest.raises(InvalidClaimError):
        gate.authenticate_sync({"authorization": f"Bearer {wrong_audience}"})
    # the flag wins over the environment, and a missing file stops the start
    flagged = GateConfig.from_sources(jwt_public_key=str(tmp_path / "nope.pem"), environ=env)
    with pytest.raises(ConfigurationError, match=r"nope\.pem"):
        build_authenticators(flagged)
