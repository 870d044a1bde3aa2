"""One named test per attack on the token formats. Each asserts the exact rejection code and
that the error message does not echo the token."""

from __future__ import annotations

import hmac
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate._b64json import b64url_encode
from sessiongate.authjs import v5_key
from sessiongate.errors import SessionGateError
from sessiongate.testing import chunk_cookie, mint_authjs_v5, mint_hs256

S = "attack-secret-0123456789abcdef0123456789"
NOW = 1_800_000_000
V5 = "authjs.session-token"


def rejects(fn, token: str, code: str) -> None:
    with pytest.raises(SessionGateError) as info:
        fn(token)
    assert info.value.code == code, info.value
    assert token[:40] not in str(info.value) or len(token) < 12
    assert S not in str(info.value)


def jwe_decode(token: str):
    return AuthJSToken(S).decode(token, cookie_name=V5, now=NOW)


def jws_decode(token: str):
    return BearerJWT(S).decode(token, now=NOW)


def b64json(obj) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def sign(header: dict, payload: dict, key: bytes) -> str:
    si = b64json(header) + "." + b64json(payload)
    return si + "." + b64url_encode(hmac.digest(key, si.encode(), "sha256"))


def token() -> str:
    return mint_authjs_v5({"sub": "victim"}, S, now=NOW)


# ---------------------------------------------------------------- JWS


def test_alg_none_rejected():
    t = (
        b64json({"alg": "none", "typ": "JWT"})
        + "."
        + b64json({"sub": "admin", "exp": NOW + 60})
        + "."
    )
    rejects(jws_decode, t, "algorithm_not_allowed")


def test_alg_none_case_variants_rejected():
    for alg in ("None", "NONE", "nOnE", ""):
        t = b64json({"alg": alg}) + "." + b64json({"sub": "admin", "exp": NOW + 60}) + "."
        rejects(jws_decode, t, "algorithm_not_allowed")


def test_hs256_with_public_key_rejected():
    pub = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    t = sign({"alg": "HS256"}, {"sub": "admin", "exp": NOW + 60}, pub)
    rejects(jws_decode, t, "invalid_signature")


def test_rs256_header_refused_by_hmac_verifier():
    t = b64json({"alg": "RS256"}) + "." + b64json({"sub": "a", "exp": NOW + 60}) + ".AAAA"
    rejects(jws_decode, t, "algorithm_not_allowed")


@pytest.mark.parametrize("param", ["crit", "jku", "x5u", "jwk", "x5c", "b64"])
def test_jws_dangerous_header_params_refused(param):
    t = sign({"alg": "HS256", param: ["x"]}, {"sub": "a", "exp": NOW + 60}, S.encode())
    rejects(jws_decode, t, "malformed")


def test_jws_signature_stripped():
    t = mint_hs256({"sub": "a"}, S, now=NOW)
    rejects(jws_decode, t.rsplit(".", 1)[0] + ".", "invalid_signature")


def test_jws_payload_swapped():
    t = mint_hs256({"sub": "user"}, S, now=NOW)
    h, _, sig = t.split(".")
    rejects(
        jws_decode,
        h + "." + b64json({"sub": "admin", "exp": NOW + 60}) + "." + sig,
        "invalid_signature",
    )


@pytest.mark.parametrize("value", ['"1800000060"', "true", "null", "[1]", "1e400"])
def test_exp_of_wrong_type(value):
    si = (
        b64json({"alg": "HS256"})
        + "."
        + b64url_encode(('{"sub":"a","exp":' + value + "}").encode())
    )
    t = si + "." + b64url_encode(hmac.digest(S.encode(), si.encode(), "sha256"))
    rejects(jws_decode, t, "invalid_claim")


# ---------------------------------------------------------------- JWE


def reheader(tok: str, header: dict) -> str:
    parts = tok.split(".")
    parts[0] = b64json(header)
    return ".".join(parts)


def kid() -> str:
    return v5_key(S, V5).kid or ""


@pytest.mark.parametrize("alg", ["A256KW", "RSA-OAEP", "none", "dir "])
def test_jwe_alg_other_than_dir_rejected(alg):
    rejects(
        jwe_decode,
        reheader(token(), {"alg": alg, "enc": "A256CBC-HS512", "kid": kid()}),
        "algorithm_not_allowed",
    )


@pytest.mark.parametrize("enc", ["A128CBC-HS256", "A128GCM", "A192GCM", "none"])
def test_jwe_enc_not_allowed(enc):
    rejects(jwe_decode, reheader(token(), {"alg": "dir", "enc": enc}), "algorithm_not_allowed")


def test_jwe_zip_rejected():
    rejects(
        jwe_decode,
        reheader(token(), {"alg": "dir", "enc": "A256CBC-HS512", "zip": "DEF"}),
        "algorithm_not_allowed",
    )


@pytest.mark.parametrize("param", ["crit", "jku", "x5u", "jwk", "epk", "p2s"])
def test_jwe_unexpected_header_params_rejected(param):
    rejects(
        jwe_decode,
        reheader(token(), {"alg": "dir", "enc": "A256CBC-HS512", param: "x"}),
        "malformed",
    )


def test_jwe_nonempty_encrypted_key_rejected():
    parts = token().split(".")
    parts[1] = "AAAA"
    rejects(jwe_decode, ".".join(parts), "malformed")


def test_tampered_header_fails_authentication():
    # same kid, header re-encoded with an extra allowed member: the AAD no longer matches
    rejects(
        jwe_decode,
        reheader(token(), {"alg": "dir", "enc": "A256CBC-HS512", "kid": kid(), "typ": "JWT"}),
        "decryption_failed",
    )


@pytest.mark.parametrize("index", [2, 3, 4])
def test_tampered_iv_ciphertext_or_tag(index):
    parts = token().split(".")
    seg = parts[index]
    parts[index] = seg[:5] + ("A" if seg[5] != "A" else "B") + seg[6:]
    rejects(jwe_decode, ".".join(parts), "decryption_failed")


@pytest.mark.parametrize("count", [1, 3, 4, 6, 7])
def test_truncated_or_extra_segments(count):
    parts = token().split(".")
    t = ".".join((parts * 2)[:count])
    rejects(jwe_decode, t, "malformed")


@pytest.mark.parametrize("bad", ["!", "=", " ", "+", "/", "\u00e9", "\x00"])
def test_non_base64url_characters(bad):
    parts = token().split(".")
    parts[3] = parts[3][:8] + bad + parts[3][9:]
    rejects(jwe_decode, ".".join(parts), "malformed")


def test_wrong_iv_length():
    parts = token().split(".")
    parts[2] = b64url_encode(b"\x00" * 12)
    rejects(jwe_decode, ".".join(parts), "malformed")


def test_oversized_token_rejected_before_crypto():
    rejects(jwe_decode, token() + "A" * 40000, "token_too_large")


def test_wrong_salt():
    t = mint_authjs_v5({"sub": "a"}, S, cookie_name="__Secure-authjs.session-token", now=NOW)
    rejects(jwe_decode, t, "unknown_kid")


def test_forged_kid_does_not_help():
    rejects(
        jwe_decode,
        reheader(token(), {"alg": "dir", "enc": "A256CBC-HS512", "kid": "A" * 86}),
        "unknown_kid",
    )


def test_non_object_and_invalid_utf8_claims():
    key = v5_key(S, V5)
    for plaintext in (b"[1,2]", b'"str"', b"\xff\xfe", b'{"exp": NaN}'):
        rejects(jwe_decode, key.encrypt(plaintext, {"kid": key.kid}), "malformed")


def test_secure_cookie_no_downgrade():
    good = mint_authjs_v5({"sub": "victim"}, S, now=NOW)
    evil = mint_authjs_v5(
        {"sub": "attacker"},
        "attacker-secret-aaaaaaaaaaaa",
        cookie_name="__Secure-authjs.session-token",
        now=NOW,
    )
    gate = SessionGate(AuthJSToken(S), clock=lambda: NOW)
    with pytest.raises(SessionGateError) as info:
        gate.authenticate_sync(
            {"cookie": f"authjs.session-token={good}; __Secure-authjs.session-token={evil}"}
        )
    assert info.value.code == "unknown_kid"


def test_thousand_chunks_rejected():
    cookies = "; ".join(f"authjs.session-token.{i}=x" for i in range(1000))
    gate = SessionGate(AuthJSToken(S), clock=lambda: NOW)
    with pytest.raises(SessionGateError) as info:
        gate.authenticate_sync({"cookie": cookies})
    assert info.value.code == "token_too_large"


def test_chunk_gap_rejected():
    parts = chunk_cookie(mint_authjs_v5({"sub": "a", "b": "x" * 9000}, S, now=NOW), V5)
    parts.pop(f"{V5}.1")
    gate = SessionGate(AuthJSToken(S), clock=lambda: NOW)
    with pytest.raises(SessionGateError) as info:
        gate.authenticate_sync({"cookie": "; ".join(f"{k}={v}" for k, v in parts.items())})
    assert info.value.code == "malformed"


def test_megabyte_cookie_header_rejected():
    gate = SessionGate(AuthJSToken(S))
    with pytest.raises(SessionGateError) as info:
        gate.authenticate_sync({"cookie": "a=" + "x" * 1_000_000})
    assert info.value.code == "token_too_large"
