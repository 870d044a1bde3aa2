"""Shared builders for the JWKS tests: keys, JWKs, tokens, a hand-driven clock."""

from __future__ import annotations

import httpx
import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from sessiongate._b64json import b64url_encode
from sessiongate.jwks import JWKSBearer, JWKSClient

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


_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def ec_public_jwk(public: ec.EllipticCurvePublicKey) -> dict:
    """RFC 7518 6.2.1: coordinates padded to the curve size. PyJWT < 2.10's ``to_jwk`` drops
    leading zero bytes (half of all P-521 keys), which its own ``from_jwk`` then refuses."""
    size = (public.curve.key_size + 7) // 8
    numbers = public.public_numbers()
    return {
        "kty": "EC",
        "crv": _CURVES[public.curve.name],
        "x": b64url_encode(numbers.x.to_bytes(size, "big")),
        "y": b64url_encode(numbers.y.to_bytes(size, "big")),
    }


def jwk(private_key: object, kid: str | None, alg: str | None = None, **extra: object) -> dict:
    public = private_key.public_key()  # type: ignore[attr-defined]
    if isinstance(public, rsa.RSAPublicKey):
        data = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        data = ec_public_jwk(public)
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


def make(
    clock: Clock, *, algorithms=("RS256",), url: str = URL, cache_size: int = 64, **client_kw
) -> JWKSBearer:
    client = JWKSClient(url, monotonic=clock, **client_kw)
    return JWKSBearer(
        jwks=client, algorithms=algorithms, issuer=ISS, audience=AUD, cache_size=cache_size
    )


def serve(router, body: object, url: str = URL, **headers: str):
    return router.get(url).mock(return_value=httpx.Response(200, json=body, headers=headers))
