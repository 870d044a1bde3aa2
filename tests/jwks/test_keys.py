"""sessiongate.jwks.keys: usable JWKs, the key-set index, pinned algorithms, signatures."""

from __future__ import annotations

import json

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sessiongate.errors import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    InvalidSignatureError,
    UnknownKidError,
)
from sessiongate.jwks import ASYMMETRIC_ALGORITHMS, parse_jwk_set
from sessiongate.jwks.keys import SignatureVerifier, pin_algorithms, select_keys

from .helpers import ED25519_KEY, P256_KEY, RSA_KEY, RSA_KEY_2, jwk, jwks_body


def test_key_filtering():
    small_rsa = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    keyset = parse_jwk_set(
        jwks_body(
            jwk(RSA_KEY, "enc", use="enc"),
            jwk(RSA_KEY, "ops", key_ops=["encrypt"]),
            jwk(RSA_KEY, "private", d="AQAB"),
            jwk(small_rsa, "small"),
            jwk(P256_KEY, "mismatch", "ES384"),
            jwk(RSA_KEY, "hs", "HS256"),
            {"kty": "oct", "k": "c2VjcmV0", "kid": "oct"},
            {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "kid": "bad-point"},
            jwk(P256_KEY, 7),  # type: ignore[arg-type]
            jwk(P256_KEY, "x" * 257),
            "not-a-dict",
            jwk(RSA_KEY, "ok-rsa"),
            jwk(P256_KEY, "ok-ec", "ES256", use="sig", key_ops=["verify"]),
            jwk(ED25519_KEY, "ok-ed"),
        )
    )
    keys = keyset.keys
    assert keyset.kids == ("ok-rsa", "ok-ec", "ok-ed")
    assert keys[0].algorithms == {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    assert keys[1].algorithms == {"ES256"}
    assert keys[2].algorithms == {"EdDSA"}
    assert "key=" not in repr(keys[0])
    assert "by_kid" not in repr(keyset)


def test_key_set_lookup_by_kid():
    keyset = parse_jwk_set(
        jwks_body(
            jwk(RSA_KEY, "a"), jwk(RSA_KEY_2, "a"), jwk(P256_KEY, "b"), jwk(ED25519_KEY, None)
        )
    )
    assert [k.kty for k in keyset.lookup("a") or ()] == ["RSA", "RSA"]  # both keys named "a"
    assert [k.kid for k in keyset.lookup("b") or ()] == ["b"]
    assert keyset.lookup("c") is None
    assert keyset.lookup(None) == keyset.keys  # no kid: every key is a candidate
    with pytest.raises(TypeError):
        keyset.by_kid["c"] = ()  # type: ignore[index]  # read-only


def test_fingerprint_changes_exactly_when_the_usable_keys_change():
    one = parse_jwk_set(jwks_body(jwk(RSA_KEY, "k1")))
    same = parse_jwk_set(json.dumps(jwks_body(jwk(RSA_KEY, "k1"), {"kty": "oct"})).encode())
    other = parse_jwk_set(jwks_body(jwk(RSA_KEY, "k1"), jwk(RSA_KEY_2, "k2")))
    assert one.fingerprint == same.fingerprint  # an ignored key changes nothing
    assert one.fingerprint != other.fingerprint


def test_at_most_100_keys_are_kept():
    key = jwk(P256_KEY, None)
    keyset = parse_jwk_set(jwks_body(*[{**key, "kid": f"k{i}"} for i in range(150)]))
    assert len(keyset.keys) == 100
    assert keyset.kids[-1] == "k99"


@pytest.mark.parametrize(
    "data",
    [b"not json", b'{"keys": NaN}', b"[]", b'{"keys": "abc"}', b'{"keys": []}', b"\xff", {}],
)
def test_what_is_not_a_usable_key_set_raises_value_error(data):
    with pytest.raises(ValueError):
        parse_jwk_set(data)


def test_pinned_algorithms():
    assert pin_algorithms("ES256") == ("ES256",)
    assert pin_algorithms(["EdDSA", "RS256"]) == ("EdDSA", "RS256")
    assert {"HS256", "none"}.isdisjoint(ASYMMETRIC_ALGORITHMS)
    for bad in ([], ["HS256"], ["RS256", "none"], ["ES256K"], ["RSA-OAEP"]):
        with pytest.raises(ConfigurationError):
            pin_algorithms(bad)


def test_select_keys_by_type_and_curve():
    keyset = parse_jwk_set(jwks_body(jwk(RSA_KEY, "r"), jwk(P256_KEY, "e"), jwk(ED25519_KEY, "d")))
    assert [k.kid for k in select_keys(keyset.keys, "ES256", None)] == ["e"]
    assert [k.kid for k in select_keys(keyset.keys, "PS384", None)] == ["r"]
    with pytest.raises(AlgorithmNotAllowedError):  # the named key cannot verify this alg
        select_keys(keyset.lookup("r") or (), "ES256", "r")
    with pytest.raises(UnknownKidError):  # no kid and no key fits
        select_keys(keyset.keys, "ES384", None)


def test_kidless_token_is_tried_against_at_most_four_keys():
    keyset = parse_jwk_set(
        jwks_body(*[jwk(ec.generate_private_key(ec.SECP256R1()), None) for _ in range(5)])
    )
    assert len(select_keys(keyset.keys[:4], "ES256", None)) == 4
    with pytest.raises(UnknownKidError):
        select_keys(keyset.keys, "ES256", None)


def _signed(private_key: object, alg: str) -> tuple[bytes, bytes]:
    token = pyjwt.encode({"sub": "1"}, private_key, algorithm=alg)  # type: ignore[arg-type]
    head, payload, sig = token.split(".")
    return f"{head}.{payload}".encode(), pyjwt.utils.base64url_decode(sig)


def test_signature_verifier():
    keyset = parse_jwk_set(jwks_body(jwk(RSA_KEY_2, "k1"), jwk(RSA_KEY, "k1")))
    verifier = SignatureVerifier(["RS256", "PS256"])
    signing_input, signature = _signed(RSA_KEY, "PS256")
    verifier.verify("PS256", "k1", keyset.keys, signing_input, signature)  # second key matches
    with pytest.raises(InvalidSignatureError):
        verifier.verify("PS256", "k1", keyset.keys, signing_input + b"x", signature)
    with pytest.raises(InvalidSignatureError):
        verifier.verify("PS256", "k1", keyset.keys, signing_input, signature[:-1])
    with pytest.raises(AlgorithmNotAllowedError):  # not pinned, whatever the caller checked
        verifier.verify("RS512", "k1", keyset.keys, *_signed(RSA_KEY, "RS512"))
