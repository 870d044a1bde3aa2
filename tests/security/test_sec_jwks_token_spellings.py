"""One token, several valid spellings: deny-list tokens by ``jti``, never by the token string.

SECURITY.md ("One token, several spellings") states what these tests prove:

* the last base64url character of a signature carries unused low bits (2 for HS256's 32 bytes,
  4 for RS256's 256 bytes and for the 64 bytes of ES256 and Ed25519; likewise the tag of a JWE
  session cookie). sessiongate's base64url decoder, like Python's ``binascii`` and ``jose`` 6
  on Node, ignores them, so every variant of that character verifies as the same token;
* an ECDSA signature ``(r, s)`` has a twin ``(r, n - s)`` that anyone can compute without the
  key, and it verifies too (OpenSSL accepts both);
* Ed25519 has no such twin: ``S + L`` is refused.

Header and payload cannot be respelled: they are signed as transmitted.
"""

from __future__ import annotations

import string

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from sessiongate import AuthJSToken, BearerJWT
from sessiongate._b64json import b64url_decode, b64url_encode
from sessiongate.errors import InvalidSignatureError
from sessiongate.jwks import JWKSBearer, JWKSClient
from sessiongate.testing import mint_authjs_v5, mint_nextauth_v4

JWKS_URL = "https://issuer.example/.well-known/jwks.json"
NOW = 1_800_000_000
SECRET = "spellings-secret-0123456789abcdef0123456789"
B64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ED25519_L = 2**252 + 27742317777372353535851937790883648493

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
P256_KEY = ec.generate_private_key(ec.SECP256R1())
ED25519_KEY = ed25519.Ed25519PrivateKey.generate()
KEYS = {"RS256": RSA_KEY, "ES256": P256_KEY, "EdDSA": ED25519_KEY}
CLAIMS = {"sub": "u1", "jti": "7c0e2b8e-1f5d-4a53-9d1e-3f6f2f0c9a11", "exp": NOW + 600}


def public_jwk(alg: str) -> dict:
    public = KEYS[alg].public_key()
    if alg == "ES256":  # coordinates padded to 32 bytes (PyJWT < 2.10's to_jwk does not)
        numbers = public.public_numbers()  # type: ignore[union-attr]
        x, y = (b64url_encode(n.to_bytes(32, "big")) for n in (numbers.x, numbers.y))
        data = {"kty": "EC", "crv": "P-256", "x": x, "y": y}
    else:
        data = {"RS256": RSAAlgorithm, "EdDSA": OKPAlgorithm}[alg].to_jwk(public, as_dict=True)
    data.update({"kid": alg, "alg": alg})
    return data


def jwks_bearer() -> JWKSBearer:
    client = JWKSClient(JWKS_URL)
    return JWKSBearer(jwks=client, algorithms=list(KEYS), issuer=None, audience=None, cache_size=0)


def build_token(alg: str) -> str:
    return jwt.encode(CLAIMS, KEYS[alg], algorithm=alg, headers={"kid": alg})


def build_spellings_differing_in_unused_bits(token: str) -> list[str]:
    """Every other spelling of the signature's last character (same decoded bytes)."""
    head, _, sig = token.rpartition(".")
    unused = (len(sig) * 6) % 8  # bits the last character carries beyond the signature bytes
    assert unused in (2, 4)
    index = B64URL.index(sig[-1])
    spellings = [head + "." + sig[:-1] + B64URL[index ^ low] for low in range(1, 1 << unused)]
    assert all(b64url_decode(s.rpartition(".")[2]) == b64url_decode(sig) for s in spellings)
    return spellings


def build_ecdsa_twin(token: str) -> str:
    """The same ES256 token with ``s`` replaced by ``n - s``: no key needed."""
    head, _, sig = token.rpartition(".")
    raw = b64url_decode(sig)
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    twin = r.to_bytes(32, "big") + (P256_ORDER - s).to_bytes(32, "big")
    return head + "." + b64url_encode(twin)


def build_ed25519_twin(token: str) -> str:
    """The same EdDSA token with ``S`` replaced by ``S + L`` (still 32 bytes)."""
    head, _, sig = token.rpartition(".")
    raw = b64url_decode(sig)
    s = int.from_bytes(raw[32:], "little") + ED25519_L
    return head + "." + b64url_encode(raw[:32] + s.to_bytes(32, "little"))


def test_hs256_token_spelled_with_other_unused_signature_bits_is_the_same_token():
    verifier = BearerJWT(SECRET, cache_size=0)
    token = verifier.encode(CLAIMS, expires_in=None, now=NOW)
    spellings = build_spellings_differing_in_unused_bits(token)
    assert len(spellings) == 3
    for spelling in spellings:
        assert spelling != token
        assert verifier.decode(spelling, now=NOW) == verifier.decode(token, now=NOW)
        assert verifier.decode(spelling, now=NOW)["jti"] == CLAIMS["jti"]


@pytest.mark.parametrize(("alg", "count"), [("RS256", 15), ("ES256", 15), ("EdDSA", 15)])
def test_jwks_token_spelled_with_other_unused_signature_bits_is_the_same_token(alg, count):
    bearer = jwks_bearer()
    token = build_token(alg)
    with respx.mock:
        respx.get(JWKS_URL).mock(
            return_value=httpx.Response(200, json={"keys": [public_jwk(a) for a in KEYS]})
        )
        spellings = build_spellings_differing_in_unused_bits(token)
        assert len(spellings) == count
        for spelling in spellings:
            assert spelling != token
            assert bearer.decode_sync(spelling, now=NOW) == bearer.decode_sync(token, now=NOW)


def test_ecdsa_token_has_a_twin_anyone_can_compute():
    bearer = jwks_bearer()
    token = build_token("ES256")
    twin = build_ecdsa_twin(token)
    with respx.mock:
        respx.get(JWKS_URL).mock(
            return_value=httpx.Response(200, json={"keys": [public_jwk(a) for a in KEYS]})
        )
        assert twin != token
        assert bearer.decode_sync(twin, now=NOW) == bearer.decode_sync(token, now=NOW)
        assert bearer.decode_sync(twin, now=NOW)["jti"] == CLAIMS["jti"]


def test_ed25519_token_has_no_s_plus_l_twin():
    bearer = jwks_bearer()
    token = build_token("EdDSA")
    with respx.mock:
        respx.get(JWKS_URL).mock(
            return_value=httpx.Response(200, json={"keys": [public_jwk(a) for a in KEYS]})
        )
        assert bearer.decode_sync(token, now=NOW)["jti"] == CLAIMS["jti"]
        with pytest.raises(InvalidSignatureError):
            bearer.decode_sync(build_ed25519_twin(token), now=NOW)


@pytest.mark.parametrize("version", ["v5", "v4"])
def test_authjs_session_token_spelled_with_other_unused_tag_bits_is_the_same_token(version):
    """The same holds for the JWE session cookies (the authentication tag's last character)."""
    secret = "spellings-auth-secret-0123456789abcdef012345"
    verifier = AuthJSToken(secret=secret, cache_size=0)
    if version == "v5":
        token = mint_authjs_v5(CLAIMS, secret, now=NOW)
    else:
        token = mint_nextauth_v4(CLAIMS, secret, now=NOW)
    spellings = build_spellings_differing_in_unused_bits(token)
    assert len(spellings) == (3 if version == "v5" else 15)  # 32-byte and 16-byte tags
    for spelling in spellings:
        assert spelling != token
        assert verifier.decode(spelling, now=NOW)["jti"] == verifier.decode(token, now=NOW)["jti"]
