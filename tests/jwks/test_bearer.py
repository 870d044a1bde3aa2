"""JWKSBearer: every algorithm, algorithm attacks, claims, the authenticator and the gate."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets

import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

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
from sessiongate.jwks import JWKSBearer

from .helpers import (
    AUD,
    ED448_KEY,
    ED25519_KEY,
    ISS,
    NOW,
    P256_KEY,
    P384_KEY,
    P521_KEY,
    RSA_KEY,
    RSA_KEY_2,
    URL,
    Clock,
    claims,
    jwk,
    jwks_body,
    make,
    mint,
    serve,
)

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
    assert bearer.decode_sync(token, now=NOW)["sub"] == "user-1"
    assert asyncio.run(bearer.decode(token, now=NOW))["sub"] == "user-1"


def _hide_pyjwt_check_key_length(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the installed PyJWT look like 2.8-2.10, which have no ``check_key_length``."""
    seen: set[type] = set()
    for algorithm in pyjwt.algorithms.get_default_algorithms().values():
        for cls in type(algorithm).__mro__:
            if cls not in seen and "check_key_length" in vars(cls):
                seen.add(cls)
                monkeypatch.delattr(cls, "check_key_length")


@pytest.mark.parametrize(("alg", "key"), ALGS)
def test_verification_needs_no_pyjwt_api_newer_than_2_8(router, clock, monkeypatch, alg, key):
    """Issue #10: with PyJWT 2.10 (pyproject allows >= 2.8) every JWKS token was a 500, because
    the signature check called ``Algorithm.check_key_length``, which only PyJWT 2.11 has."""
    token, other, forged = mint(key, alg), mint(key, alg, jti="2"), mint(key, alg, sub="x")
    forged = forged.rpartition(".")[0] + "." + token.rpartition(".")[2]
    _hide_pyjwt_check_key_length(monkeypatch)  # after minting: PyJWT's own encode needs it
    assert not hasattr(pyjwt.algorithms.get_default_algorithms()[alg], "check_key_length")
    serve(router, jwks_body(jwk(key, "k1")))
    bearer = make(clock, algorithms=[alg])
    assert bearer.decode_sync(token, now=NOW)["sub"] == "user-1"
    assert asyncio.run(bearer.decode(other, now=NOW))["sub"] == "user-1"
    with pytest.raises(InvalidSignatureError):
        bearer.decode_sync(forged, now=NOW)


def test_key_with_declared_alg_verifies(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY, "k1", "PS256", use="sig")))
    assert make(clock, algorithms=["PS256"]).decode_sync(mint(RSA_KEY, "PS256"), now=NOW)


def test_token_without_kid_uses_the_single_key(router, clock):
    serve(router, jwks_body(jwk(ED25519_KEY, None)))
    bearer = make(clock, algorithms=["EdDSA"])
    assert bearer.decode_sync(mint(ED25519_KEY, "EdDSA", kid=None), now=NOW)["sub"] == "user-1"


def test_token_without_kid_and_many_keys_is_refused(router, clock):
    keys = [jwk(ed25519.Ed25519PrivateKey.generate(), f"k{i}") for i in range(6)]
    serve(router, jwks_body(*keys))
    with pytest.raises(UnknownKidError):
        make(clock, algorithms=["EdDSA"]).decode_sync(mint(ED25519_KEY, "EdDSA", kid=None), now=NOW)


def test_duplicate_kid_tries_each_matching_key(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY_2, "k1"), jwk(RSA_KEY, "k1")))
    assert make(clock).decode_sync(mint(RSA_KEY, "RS256"), now=NOW)["sub"] == "user-1"


# --------------------------------------------------------------------------------------------
# algorithm attacks


def test_alg_none_rejected(router, clock):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    token = pyjwt.encode(claims(), None, algorithm="none", headers={"kid": "k1"})
    with pytest.raises(AlgorithmNotAllowedError):
        make(clock).decode_sync(token, now=NOW)
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
        make(clock, algorithms=["RS256", "ES256", "EdDSA"]).decode_sync(token, now=NOW)


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
        make(clock, algorithms=["RS256"]).decode_sync(mint(ED25519_KEY, "EdDSA", kid="k2"), now=NOW)
    assert route.call_count == 0


def test_key_type_must_match_alg(router, clock):
    """An ES256 token naming an RSA key's kid is refused, whoever signed it."""
    serve(router, jwks_body(jwk(RSA_KEY, "rsa"), jwk(P256_KEY, "ec")))
    bearer = make(clock, algorithms=["RS256", "ES256", "EdDSA"])
    with pytest.raises(AlgorithmNotAllowedError):
        bearer.decode_sync(mint(P256_KEY, "ES256", kid="rsa"), now=NOW)
    with pytest.raises(AlgorithmNotAllowedError):
        bearer.decode_sync(mint(RSA_KEY, "RS256", kid="ec"), now=NOW)
    with pytest.raises(AlgorithmNotAllowedError):
        bearer.decode_sync(mint(ED25519_KEY, "EdDSA", kid="ec"), now=NOW)


def test_curve_must_match_alg(router, clock):
    serve(router, jwks_body(jwk(P256_KEY, "p256")))
    with pytest.raises(AlgorithmNotAllowedError):
        make(clock, algorithms=["ES384"]).decode_sync(mint(P384_KEY, "ES384", kid="p256"), now=NOW)


def test_key_declared_alg_must_match(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY, "k1", "RS256")))
    with pytest.raises(AlgorithmNotAllowedError):
        make(clock, algorithms=["RS256", "PS256"]).decode_sync(mint(RSA_KEY, "PS256"), now=NOW)


def test_signature_by_another_key_with_the_same_kid(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    with pytest.raises(InvalidSignatureError):
        make(clock).decode_sync(mint(RSA_KEY_2, "RS256"), now=NOW)


def test_tampered_payload(router, clock):
    serve(router, jwks_body(jwk(ED25519_KEY, "k1")))
    token = mint(ED25519_KEY, "EdDSA")
    head, _, sig = token.split(".")
    forged = pyjwt.utils.base64url_encode(json.dumps(claims(sub="admin")).encode()).decode()
    with pytest.raises(InvalidSignatureError):
        make(clock, algorithms=["EdDSA"]).decode_sync(f"{head}.{forged}.{sig}", now=NOW)


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
        make(clock).decode_sync(token, now=NOW)
    assert route.call_count == 0


@pytest.mark.parametrize(
    "token",
    ["a.b", "..", "eyJhbGciOiJSUzI1NiJ9.e30.", "eyJhbGciOiJSUzI1NiJ9.e30=.c2ln", "x" * 20000],
)
def test_malformed_tokens_do_no_io(router, clock, token):
    route = serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    with pytest.raises(MalformedTokenError):
        make(clock).decode_sync(token, now=NOW)
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
        make(clock, algorithms=["EdDSA"]).decode_sync(mint(ED25519_KEY, "EdDSA", **over), now=NOW)


def test_audience_list_containing_ours(router, clock):
    serve(router, jwks_body(jwk(ED25519_KEY, "k1")))
    token = mint(ED25519_KEY, "EdDSA", aud=["api://other", AUD])
    assert make(clock, algorithms=["EdDSA"]).decode_sync(token, now=NOW)["sub"] == "user-1"


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
        assert bearer.authenticate_sync(creds(header), NOW) is None
        assert asyncio.run(bearer.authenticate(creds(header), NOW)) is None
    assert route.call_count == 0


def test_authenticator_verifies_bearer(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    bearer = make(clock)
    c = creds("Bearer " + mint(RSA_KEY, "RS256"))
    verified = bearer.authenticate_sync(c, NOW)
    assert verified is not None
    assert verified.source == "jwks"
    assert verified.credential == "bearer"
    assert verified.expires_at == NOW + 900
    again = asyncio.run(bearer.authenticate(c, NOW))
    assert again is verified  # cached


def test_gate_with_jwks_bearer(router, clock):
    route = serve(router, jwks_body(jwk(ED25519_KEY, "k1")))
    gate = SessionGate(make(clock, algorithms=["EdDSA"]), clock=lambda: NOW)
    headers = {"authorization": "Bearer " + mint(ED25519_KEY, "EdDSA")}
    assert gate.authenticate_sync(headers).user.id == "user-1"
    assert asyncio.run(gate.authenticate(headers)).user.id == "user-1"
    route.mock(side_effect=httpx.ConnectError("down"))
    gate_down = SessionGate(make(Clock(), algorithms=["EdDSA"]), clock=lambda: NOW)
    with pytest.raises(ProviderUnavailableError):
        gate_down.authenticate_sync(headers)


def test_repr_has_no_key_material(router, clock):
    serve(router, jwks_body(jwk(RSA_KEY, "k1")))
    bearer = make(clock)
    bearer.decode_sync(mint(RSA_KEY, "RS256"), now=NOW)
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
    bearer.jwks.monotonic = clock
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
    assert bearer.decode_sync(token, now=NOW)["email"] == "a@example.com"
