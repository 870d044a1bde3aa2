from __future__ import annotations

import jwt as pyjwt
import pytest

from sessiongate import BearerJWT, SessionGate
from sessiongate.errors import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidSignatureError,
    MalformedTokenError,
)
from sessiongate.testing import mint_hs256

S = "jwt-secret-0123456789abcdef0123456789"
NOW = 1_800_000_000


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_pyjwt_tokens_verify(alg):
    t = pyjwt.encode({"sub": "u", "exp": NOW + 60}, S, algorithm=alg)
    assert BearerJWT(S, algorithms=[alg]).decode(t, now=NOW)["sub"] == "u"


def test_our_tokens_verify_with_pyjwt():
    t = mint_hs256({"sub": "u", "role": "x"}, S, now=NOW)
    out = pyjwt.decode(
        t, S, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert out == {"sub": "u", "role": "x", "iat": NOW, "exp": NOW + 3600}


def test_algorithm_pinned_by_configuration():
    t = pyjwt.encode({"sub": "u", "exp": NOW + 60}, S, algorithm="HS512")
    with pytest.raises(AlgorithmNotAllowedError):
        BearerJWT(S).decode(t, now=NOW)


def test_only_hmac_algorithms_configurable():
    for alg in ("RS256", "none", "EdDSA"):
        with pytest.raises(ConfigurationError):
            BearerJWT(S, algorithms=[alg])
    with pytest.raises(ConfigurationError):
        BearerJWT(S, algorithms=[])


def test_rotation_list():
    old = pyjwt.encode({"sub": "u", "exp": NOW + 60}, "old-secret", algorithm="HS256")
    assert BearerJWT([S, "old-secret"]).decode(old, now=NOW)["sub"] == "u"
    with pytest.raises(InvalidSignatureError):
        BearerJWT(S).decode(old, now=NOW)


def test_exp_required_by_default():
    t = pyjwt.encode({"sub": "u"}, S, algorithm="HS256")
    with pytest.raises(InvalidClaimError):
        BearerJWT(S).decode(t, now=NOW)
    assert BearerJWT(S, require_exp=False).decode(t, now=NOW)["sub"] == "u"


def test_expired():
    t = pyjwt.encode({"sub": "u", "exp": NOW - 16}, S, algorithm="HS256")
    with pytest.raises(ExpiredTokenError):
        BearerJWT(S).decode(t, now=NOW)
    assert BearerJWT(S, leeway=20).decode(t, now=NOW)


def test_issuer_audience():
    t = pyjwt.encode({"sub": "u", "exp": NOW + 60, "iss": "a", "aud": "b"}, S, algorithm="HS256")
    assert BearerJWT(S, issuer="a", audience="b").decode(t, now=NOW)
    with pytest.raises(InvalidClaimError):
        BearerJWT(S, issuer="x").decode(t, now=NOW)


def test_session_cookie_replaced_by_jws():
    t = mint_hs256({"sub": "u"}, S, now=NOW)
    gate = SessionGate(BearerJWT(S, cookie_names=["next-auth.session-token"]), clock=lambda: NOW)
    user = gate.authenticate_sync({"cookie": f"next-auth.session-token={t}"}).user
    assert (user.id, user.source) == ("u", "jws")


def test_gate_bearer_and_malformed_signature():
    t = mint_hs256({"sub": "u"}, S, now=NOW)
    gate = SessionGate(BearerJWT(S), clock=lambda: NOW)
    assert gate.authenticate_sync({"authorization": f"Bearer {t}"}).user.id == "u"
    with pytest.raises(MalformedTokenError):
        gate.authenticate_sync({"authorization": f"Bearer {t[:-3]}!!!"})


@pytest.mark.parametrize("cache_size", [4096, 0])
def test_decode_gives_nested_claims_as_a_private_mutable_copy(cache_size):
    """Like AuthJSToken.decode: the caller may change what it gets; the cache never sees it."""
    verifier = BearerJWT(S, cache_size=cache_size)
    t = mint_hs256({"sub": "u", "org": {"roles": ["reader"]}}, S, now=NOW)
    mine = verifier.decode(t, now=NOW)  # a miss: verified, then cached
    mine["org"]["roles"].append("admin")
    assert verifier.decode(t, now=NOW)["org"] == {"roles": ["reader"]}  # a hit when cached
