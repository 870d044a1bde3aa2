"""Static public keys (PEM, JWK, JWK set) and StaticKeyJWT: cookies and Bearer, pinned rules."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sessiongate._b64json import b64url_encode
from sessiongate.cookies import RequestCredentials
from sessiongate.errors import (
    AlgorithmNotAllowedError,
    AuthenticationError,
    ConfigurationError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidSignatureError,
    MalformedTokenError,
    UnknownKidError,
)
from sessiongate.jwks.keys import parse_public_keys
from sessiongate.jwks.static import StaticKeyJWT, StaticKeys

from .helpers import (
    AUD,
    ED25519_KEY,
    ISS,
    NOW,
    P256_KEY,
    P384_KEY,
    RSA_KEY,
    RSA_KEY_2,
    claims,
    jwk,
    mint,
)


def pem(private_key: object) -> bytes:
    return private_key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_pem(private_key: object) -> bytes:
    return private_key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def certificate(private_key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sessiongate test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2020, 1, 1))
        .not_valid_after(dt.datetime(2040, 1, 1))
        .sign(private_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def verifier(keys: StaticKeys, algorithms=("RS256",), **options) -> StaticKeyJWT:
    return StaticKeyJWT(
        keys, algorithms=algorithms, issuer=ISS, audience=AUD, clock=lambda: NOW, **options
    )


def cookie_creds(cookies: dict[str, str]) -> RequestCredentials:
    return RequestCredentials(cookies=cookies)


def bearer_creds(token: str) -> RequestCredentials:
    return RequestCredentials(authorization=f"Bearer {token}")


# ------------------------------------------------------------------------------ key parsing


@pytest.mark.parametrize(
    ("private_key", "kty", "alg"),
    [(RSA_KEY, "RSA", "RS256"), (P256_KEY, "EC", "ES256"), (ED25519_KEY, "OKP", "EdDSA")],
)
def test_pem_public_keys(private_key, kty, alg):
    keyset = parse_public_keys(pem(private_key))
    (key,) = keyset.keys
    assert (key.kid, key.kty) == (None, kty)
    assert alg in key.algorithms


def test_pkcs1_rsa_public_key_certificate_and_several_blocks_for_rotation():
    pkcs1 = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )
    assert pkcs1.startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    both = parse_public_keys(pkcs1 + certificate(RSA_KEY_2) + pem(P256_KEY))
    assert [k.kty for k in both.keys] == ["RSA", "RSA", "EC"]
    named = parse_public_keys(pem(RSA_KEY).decode(), kid="2026-11")
    assert named.kids == ("2026-11",)
    with pytest.raises(ConfigurationError, match="several"):
        parse_public_keys(pem(RSA_KEY) + pem(RSA_KEY_2), kid="k")


def test_jwk_and_jwk_set():
    assert parse_public_keys(jwk(RSA_KEY, "a")).kids == ("a",)
    assert parse_public_keys(json.dumps(jwk(RSA_KEY, "a"))).kids == ("a",)
    keys = {"keys": [jwk(RSA_KEY, "a", "RS256"), jwk(ED25519_KEY, "b")]}
    assert parse_public_keys(json.dumps(keys).encode()).kids == ("a", "b")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (private_pem(RSA_KEY), "private key"),
        (private_pem(P256_KEY), "private key"),
        (
            rsa.generate_private_key(public_exponent=65537, key_size=1024)
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            "2048 bits",
        ),
        (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not a public key"),
        (b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n", "not a public key"),
        ({"kty": "oct", "k": "c2VjcmV0"}, "symmetric"),
        ({"keys": [jwk(RSA_KEY, "a", d="AAAA")]}, "private key members"),
        ({"keys": [jwk(RSA_KEY, "a", "ES256")]}, "not a usable"),  # alg does not fit the key
        ({"keys": [jwk(RSA_KEY, "a", use="enc")]}, "not a usable"),
        ({"keys": []}, "no keys"),
        ({"keys": [jwk(RSA_KEY, str(i)) for i in range(101)]}, "more than 100"),
        (b"not a key", "neither PEM nor"),
        (b"[1, 2]", "neither PEM nor"),
        (b"x" * (1024 * 1024 + 1), "larger than 1 MiB"),
    ],
)
def test_unusable_static_keys_are_refused_at_start_up(data, message):
    with pytest.raises(ConfigurationError, match=message):
        parse_public_keys(data)


def test_kid_belongs_to_pem_only():
    with pytest.raises(ConfigurationError, match="carries its own kid"):
        parse_public_keys(jwk(RSA_KEY, "a"), kid="b")


# ------------------------------------------------------------------------------ StaticKeys


def test_static_keys_from_a_file(tmp_path: Path):
    path = tmp_path / "public.pem"
    path.write_bytes(pem(RSA_KEY))
    keys = StaticKeys(path=path)
    assert keys.path == str(path)
    assert keys.kids == (None,)
    assert keys.version == 0 and keys.failing is False
    assert str(path) in repr(keys)
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [jwk(RSA_KEY, "a")]}))
    assert StaticKeys(path=str(jwks_file)).kids == ("a",)


def test_missing_key_file_names_the_path(tmp_path: Path):
    with pytest.raises(ConfigurationError, match=str(tmp_path / "nope.pem")):
        StaticKeys(path=tmp_path / "nope.pem")
    with pytest.raises(ConfigurationError, match="exactly one"):
        StaticKeys()
    with pytest.raises(ConfigurationError, match="exactly one"):
        StaticKeys(pem(RSA_KEY), path=tmp_path / "x")


def test_kid_lookup_falls_back_to_keys_without_kid_only():
    mixed = StaticKeys({"keys": [jwk(RSA_KEY, "a"), {**jwk(RSA_KEY_2, None)}]})
    assert [k.kid for k in mixed.get_signing_keys_sync("a")] == ["a"]
    assert [k.kid for k in mixed.get_signing_keys_sync("other")] == [None]
    assert len(asyncio.run(mixed.get_signing_keys(None))) == 2
    only_kids = StaticKeys({"keys": [jwk(RSA_KEY, "a")]})
    with pytest.raises(UnknownKidError):
        only_kids.get_signing_keys_sync("other")


# ------------------------------------------------------------------------------ StaticKeyJWT


@pytest.mark.parametrize(
    ("private_key", "alg"),
    [(RSA_KEY, "RS256"), (RSA_KEY, "PS256"), (P256_KEY, "ES256"), (ED25519_KEY, "EdDSA")],
)
def test_cookie_and_bearer_verify(private_key, alg):
    auth = verifier(StaticKeys(pem(private_key)), algorithms=[alg])
    token = mint(private_key, alg)
    by_cookie = auth.authenticate_sync(cookie_creds({"authjs.session-token": token}), NOW)
    by_bearer = auth.authenticate_sync(bearer_creds(token), NOW)
    assert by_cookie is not None and by_bearer is not None
    assert (by_cookie.credential, by_bearer.credential) == ("cookie", "bearer")
    assert by_cookie.claims["sub"] == "user-1"
    assert by_cookie.source == "static-key"
    assert auth.decode(token)["sub"] == "user-1"


def test_every_auth_js_cookie_name_and_chunks_are_read():
    auth = verifier(StaticKeys(pem(RSA_KEY)))
    token = mint(RSA_KEY, "RS256", extra="x" * 5000)
    for name in (
        "__Secure-authjs.session-token",
        "authjs.session-token",
        "__Secure-next-auth.session-token",
        "next-auth.session-token",
    ):
        verified = auth.authenticate_sync(cookie_creds({name: token}), NOW)
        assert verified is not None and verified.claims["extra"] == "x" * 5000
    chunks = {f"authjs.session-token.{i}": token[i * 3000 : (i + 1) * 3000] for i in range(3)}
    assert auth.authenticate_sync(cookie_creds(chunks), NOW) is not None


def test_custom_cookie_names_and_bearer_only():
    keys = StaticKeys(pem(RSA_KEY))
    token = mint(RSA_KEY, "RS256")
    custom = verifier(keys, cookie_names=["app.session"])
    assert custom.authenticate_sync(cookie_creds({"app.session": token}), NOW) is not None
    assert custom.authenticate_sync(cookie_creds({"authjs.session-token": token}), NOW) is None
    bearer_only = verifier(keys, cookie_names=())
    assert bearer_only.authenticate_sync(cookie_creds({"authjs.session-token": token}), NOW) is None
    cookie_only = verifier(keys, accept_bearer=False)
    assert cookie_only.authenticate_sync(bearer_creds(token), NOW) is None
    with pytest.raises(ConfigurationError):
        verifier(keys, cookie_names="authjs.session-token")


def test_nothing_for_us_is_none():
    auth = verifier(StaticKeys(pem(RSA_KEY)))
    assert auth.authenticate_sync(RequestCredentials(), NOW) is None
    assert auth.authenticate_sync(RequestCredentials(authorization="Basic eDp5"), NOW) is None
    assert auth.authenticate_sync(bearer_creds("a.b.c.d.e"), NOW) is None  # a JWE: not ours


def test_claims_are_checked():
    auth = verifier(StaticKeys(pem(RSA_KEY)))
    with pytest.raises(ExpiredTokenError):
        auth.authenticate_sync(bearer_creds(mint(RSA_KEY, "RS256", exp=NOW - 60)), NOW)
    with pytest.raises(InvalidClaimError):
        auth.authenticate_sync(bearer_creds(mint(RSA_KEY, "RS256", aud="other")), NOW)
    with pytest.raises(InvalidClaimError):
        auth.authenticate_sync(bearer_creds(mint(RSA_KEY, "RS256", iss="https://evil")), NOW)
    no_exp = mint(RSA_KEY, "RS256", exp=None)
    with pytest.raises(AuthenticationError):
        auth.authenticate_sync(bearer_creds(no_exp), NOW)
    lenient = verifier(StaticKeys(pem(RSA_KEY)), require_exp=False)
    assert lenient.authenticate_sync(bearer_creds(no_exp), NOW) is not None


def test_a_cached_token_still_expires():
    auth = verifier(StaticKeys(pem(RSA_KEY)))
    token = mint(RSA_KEY, "RS256", exp=NOW + 60)
    assert auth.authenticate_sync(bearer_creds(token), NOW) is not None
    with pytest.raises(ExpiredTokenError):
        auth.authenticate_sync(bearer_creds(token), NOW + 120)


def test_wrong_key_and_unknown_kid():
    auth = verifier(StaticKeys({"keys": [jwk(RSA_KEY, "k1")]}))
    with pytest.raises(InvalidSignatureError):
        auth.authenticate_sync(bearer_creds(mint(RSA_KEY_2, "RS256", kid="k1")), NOW)
    with pytest.raises(UnknownKidError):
        auth.authenticate_sync(bearer_creds(mint(RSA_KEY, "RS256", kid="k2")), NOW)


def test_configuration_is_checked_at_start_up():
    keys = StaticKeys(pem(RSA_KEY))
    with pytest.raises(ConfigurationError, match="BearerJWT"):
        verifier(keys, algorithms=["HS256"])
    with pytest.raises(ConfigurationError, match="no configured key can verify"):
        verifier(keys, algorithms=["ES256"])
    with pytest.raises(ConfigurationError):
        verifier(keys, algorithms=[])
    with pytest.raises(ConfigurationError, match="StaticKeys"):
        StaticKeyJWT(pem(RSA_KEY), algorithms=["RS256"], issuer=None, audience=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        StaticKeyJWT(keys, algorithms=["RS256"])  # type: ignore[call-arg]  # issuer, audience


# ------------------------------------------------------------------------------ attacks


def _hs256_with(secret: bytes, payload: dict) -> str:
    signing_input = (
        b64url_encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        + "."
        + b64url_encode(json.dumps(payload).encode())
    )
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url_encode(sig)


def test_hs256_signed_with_the_static_public_key_is_refused():
    """The classic confusion: the public PEM used as an HMAC secret."""
    public = pem(RSA_KEY)
    auth = verifier(StaticKeys(public))
    forged = _hs256_with(public, claims(sub="admin"))
    with pytest.raises(AlgorithmNotAllowedError):
        auth.authenticate_sync(bearer_creds(forged), NOW)
    with pytest.raises(AlgorithmNotAllowedError):
        auth.authenticate_sync(cookie_creds({"authjs.session-token": forged}), NOW)


def test_alg_none_is_refused():
    header = b64url_encode(json.dumps({"alg": "none"}).encode())
    body = b64url_encode(json.dumps(claims(sub="admin")).encode())
    auth = verifier(StaticKeys(pem(RSA_KEY)))
    for token in (f"{header}.{body}.", f"{header}.{body}.c2ln"):
        with pytest.raises((AlgorithmNotAllowedError, MalformedTokenError)):
            auth.authenticate_sync(bearer_creds(token), NOW)


def test_token_carrying_its_own_key_is_refused():
    attacker = P384_KEY
    token = pyjwt.encode(
        claims(sub="admin"),
        attacker,
        algorithm="ES384",
        headers={"jwk": jwk(attacker, None)},
    )
    auth = verifier(StaticKeys(pem(P384_KEY)), algorithms=["ES384"])
    with pytest.raises(MalformedTokenError):
        auth.authenticate_sync(bearer_creds(token), NOW)


def test_rs256_token_is_refused_by_an_es256_only_verifier():
    auth = verifier(StaticKeys({"keys": [jwk(RSA_KEY, "r"), jwk(P256_KEY, "e")]}), ["ES256"])
    with pytest.raises(AlgorithmNotAllowedError):
        auth.authenticate_sync(bearer_creds(mint(RSA_KEY, "RS256", kid="r")), NOW)
    # an allowed alg naming a key of another type: refused, not tried
    forged = mint(P256_KEY, "ES256", kid="r")
    with pytest.raises(AlgorithmNotAllowedError):
        auth.authenticate_sync(bearer_creds(forged), NOW)


def test_plain_cookie_cannot_stand_in_for_a_failing_secure_static_key_cookie():
    """A plain cookie (plantable by a sibling subdomain or over http) is never read once a
    ``__Secure-`` session cookie is present, even when that one fails."""
    auth = verifier(StaticKeys(pem(RSA_KEY)))
    expired_victim = mint(RSA_KEY, "RS256", sub="victim", exp=NOW - 60)
    attacker = mint(RSA_KEY, "RS256", sub="attacker")
    cookies = {"__Secure-authjs.session-token": expired_victim, "authjs.session-token": attacker}
    with pytest.raises(ExpiredTokenError):
        auth.authenticate_sync(cookie_creds(cookies), NOW)
    # and the cookie names' order does not matter
    listed_plain_first = verifier(
        StaticKeys(pem(RSA_KEY)),
        cookie_names=["authjs.session-token", "__Secure-authjs.session-token"],
    )
    with pytest.raises(ExpiredTokenError):
        listed_plain_first.authenticate_sync(cookie_creds(cookies), NOW)


def test_oversized_token_is_refused_before_parsing():
    auth = verifier(StaticKeys(pem(RSA_KEY)), max_token_bytes=100)
    from sessiongate.errors import TokenTooLargeError

    with pytest.raises(TokenTooLargeError):
        auth.authenticate_sync(bearer_creds(mint(RSA_KEY, "RS256")), NOW)
