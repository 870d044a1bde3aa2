"""Self-checks of the JavaScript oracle, independent of the sessiongate library.

These prove that the harness really drives the shipped JavaScript code and that
its outputs are genuine tokens: they are checked structurally against SPEC.md,
decrypted by an independent Python JOSE implementation (jwcrypto) with keys
derived here from the spec, and Python-minted tokens are fed back to the real
JavaScript decoders.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import threading

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwcrypto import jwe, jwk

from .oracle import NodeOracle, OracleError, secret_bytes

pytestmark = pytest.mark.node

SECRET = "test-secret-with-enough-entropy-3f9a1c"
OLD_SECRET = "the-previous-secret-0b7e22d5a1"
V5_COOKIE = "authjs.session-token"
V5_SECURE_COOKIE = "__Secure-authjs.session-token"
V4_COOKIE = "next-auth.session-token"
NOW = 1_750_000_000  # a fixed instant used with the oracle's `now` param

CLAIMS = {"sub": "user-1", "name": "Ada Lovelace", "email": "ada@example.com", "role": "admin"}


# -- independent helpers (spec sections 1.2-1.4, 2.1, 3.1) --------------------
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hkdf_sha256(secret: str, salt: str, info: str, length: int) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=length,
        salt=salt.encode() if salt else None,
        info=info.encode(),
    ).derive(secret.encode())


def v4_key(secret: str) -> bytes:
    return hkdf_sha256(secret, "", "NextAuth.js Generated Encryption Key", 32)


def v5_key(secret: str, salt: str, length: int = 64) -> bytes:
    return hkdf_sha256(secret, salt, f"Auth.js Generated Encryption Key ({salt})", length)


def oct_thumbprint(key: bytes, hash_name: str) -> str:
    jwk_json = json.dumps({"k": b64url(key), "kty": "oct"}, separators=(",", ":"))
    return b64url(hashlib.new(hash_name, jwk_json.encode()).digest())


def jwcrypto_decrypt(token: str, key: bytes) -> dict:
    envelope = jwe.JWE()
    envelope.deserialize(token, key=jwk.JWK(kty="oct", k=b64url(key)))
    return json.loads(envelope.payload)


def jwcrypto_encrypt(claims: dict, key: bytes, header: dict) -> str:
    envelope = jwe.JWE(
        json.dumps(claims).encode(), protected=json.dumps(header, separators=(",", ":"))
    )
    envelope.add_recipient(jwk.JWK(kty="oct", k=b64url(key)))
    return envelope.serialize(compact=True)


def header_bytes(token: str) -> bytes:
    return b64url_decode(token.split(".")[0])


# -- the harness itself ---------------------------------------------------------
def test_loaded_versions_are_the_pinned_ones(oracle: NodeOracle) -> None:
    assert oracle.versions["next-auth"] == "4.24.15"
    assert oracle.versions["@auth/core"] == "0.41.3"
    assert oracle.versions["jose"] == "6.2.17"
    assert oracle.versions["jsonwebtoken"] == "9.0.3"
    assert oracle.versions["next-auth/jose (nested)"].startswith("4.")


def test_bad_requests_are_reported_and_the_loop_survives(oracle: NodeOracle) -> None:
    with pytest.raises(OracleError) as unknown:
        oracle.call("no.such.op")
    assert unknown.value.name == "BadRequest"
    with pytest.raises(OracleError, match="missing param 'secret'"):
        oracle.call("v4.encode", token={})
    with pytest.raises(OracleError, match="unknown param 'scret'"):
        oracle.call("v4.encode", token={}, secret="x", scret="typo")
    with pytest.raises(OracleError, match="must be"):
        oracle.call("v5.encode", token=[], secret=SECRET, salt=V5_COOKIE)
    assert isinstance(oracle.call("time.now"), int)


def test_time_control(oracle: NodeOracle) -> None:
    assert oracle.call("time.now", now=NOW) == NOW * 1000
    token = oracle.call("v4.encode", token=CLAIMS, secret=SECRET, maxAge=60, now=NOW)
    claims = oracle.call("v4.decode", token=token, secret=SECRET, now=NOW)
    assert (claims["iat"], claims["exp"]) == (NOW, NOW + 60)
    # SPEC 1.5: valid while exp > now - 15 (tolerance 15 s).
    oracle.call("v4.decode", token=token, secret=SECRET, now=NOW + 60 + 14)
    with pytest.raises(OracleError) as expired:
        oracle.call("v4.decode", token=token, secret=SECRET, now=NOW + 60 + 15)
    assert expired.value.code == "ERR_JWT_EXPIRED"


def test_concurrent_calls_are_serialised(oracle: NodeOracle) -> None:
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            token = oracle.call("v4.encode", token={"sub": str(n)}, secret=SECRET)
            results[n] = oracle.call("v4.decode", token=token, secret=SECRET)["sub"]
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == {n: str(n) for n in range(8)}


# -- NextAuth.js v4 -------------------------------------------------------------
def test_v4_token_shape(oracle: NodeOracle) -> None:
    token = oracle.call("v4.encode", token=CLAIMS, secret=SECRET)
    segments = token.split(".")
    assert len(segments) == 5
    assert segments[1] == ""
    assert header_bytes(token) == b'{"alg":"dir","enc":"A256GCM"}'
    assert len(segments[2]) == 16  # 12-byte IV
    assert len(segments[4]) == 22  # 16-byte tag


def test_v4_roundtrip_and_jwcrypto(oracle: NodeOracle) -> None:
    token = oracle.call("v4.encode", token=CLAIMS, secret=SECRET)
    via_js = oracle.call("v4.decode", token=token, secret=SECRET)
    via_python = jwcrypto_decrypt(token, v4_key(SECRET))
    assert via_js == via_python
    assert via_js.items() >= CLAIMS.items()
    assert via_js["exp"] - via_js["iat"] == 30 * 24 * 3600
    assert len(via_js["jti"]) == 36
    with pytest.raises(OracleError):
        oracle.call("v4.decode", token=token, secret="wrong-secret")


def test_python_minted_v4_token_is_accepted_by_real_decode(oracle: NodeOracle) -> None:
    token = jwcrypto_encrypt(
        {**CLAIMS, "exp": NOW + 60}, v4_key(SECRET), {"alg": "dir", "enc": "A256GCM"}
    )
    assert oracle.call("v4.decode", token=token, secret=SECRET, now=NOW)["sub"] == "user-1"


def test_v4_chunking_and_get_token(oracle: NodeOracle) -> None:
    token = oracle.call("v4.encode", token={**CLAIMS, "blob": "x" * 12_000}, secret=SECRET)
    chunked = oracle.call("v4.chunk", name=V4_COOKIE, value=token)
    cookies = chunked["cookies"]
    assert len(cookies) == chunked["count"] == math.ceil(len(token) / 3933)
    assert [c["name"] for c in cookies] == [f"{V4_COOKIE}.{i}" for i in range(len(cookies))]
    assert all(len(c["value"]) == 3933 for c in cookies[:-1])
    assert "".join(c["value"] for c in cookies) == token
    # Reassembled by the real getToken, even when the chunks arrive in reverse order.
    jar = {c["name"]: c["value"] for c in reversed(cookies)}
    assert oracle.call("v4.getToken", cookies=jar, headers={}, raw=True) == token
    claims = oracle.call("v4.getToken", cookies=jar, headers={}, secret=SECRET)
    assert claims["blob"] == "x" * 12_000
    # Re-chunking a short value expires the stale chunks (maxAge 0).
    small = oracle.call("v4.chunk", name=V4_COOKIE, value="abc", existing=jar)
    stale = [c for c in small["cookies"] if c["options"].get("maxAge") == 0]
    assert len(stale) == len(cookies)
    assert small["count"] == 1


def test_v4_get_token_bearer_and_secure_cookie(oracle: NodeOracle) -> None:
    token = oracle.call("v4.encode", token=CLAIMS, secret=SECRET)
    bearer = oracle.call(
        "v4.getToken", cookies={}, headers={"Authorization": f"Bearer {token}"}, secret=SECRET
    )
    assert bearer["sub"] == "user-1"
    https = {"NEXTAUTH_URL": "https://app.example.com"}
    secure_jar = {f"__Secure-{V4_COOKIE}": token}
    assert oracle.call("v4.getToken", cookies=secure_jar, secret=SECRET, env=https) is not None
    assert oracle.call("v4.getToken", cookies={V4_COOKIE: token}, secret=SECRET, env=https) is None
    # Secret from the environment (NEXTAUTH_SECRET) when no param is given.
    env = {"NEXTAUTH_SECRET": SECRET}
    assert oracle.call("v4.getToken", cookies={V4_COOKIE: token}, env=env)["sub"] == "user-1"


def test_v4_session_handler_reissues_a_decodable_token(oracle: NodeOracle) -> None:
    result = oracle.call("v4.session", secret=SECRET, token=CLAIMS, https=True, now=NOW)
    assert result["status"] == 200
    assert result["body"]["user"] == {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
    }
    assert result["cookieName"] == f"__Secure-{V4_COOKIE}"
    reissued = result["sessionToken"]
    assert reissued
    assert reissued != result["sentToken"]
    claims = jwcrypto_decrypt(reissued, v4_key(SECRET))
    assert claims["iat"] == NOW
    assert claims["sub"] == "user-1"


# -- Auth.js v5 -----------------------------------------------------------------
def test_v5_token_shape_and_kid(oracle: NodeOracle) -> None:
    token = oracle.call("v5.encode", token=CLAIMS, secret=SECRET, salt=V5_COOKIE)
    segments = token.split(".")
    assert len(segments) == 5
    assert segments[1] == ""
    header = json.loads(header_bytes(token))
    assert set(header) == {"alg", "enc", "kid"}
    assert (header["alg"], header["enc"]) == ("dir", "A256CBC-HS512")
    assert len(header["kid"]) == 86
    assert header["kid"] == oct_thumbprint(v5_key(SECRET, V5_COOKIE), "sha512")
    assert len(segments[2]) == 22  # 16-byte IV
    assert len(segments[4]) == 43  # 32-byte tag


def test_v5_roundtrip_and_jwcrypto(oracle: NodeOracle) -> None:
    token = oracle.call(
        "v5.encode", token=CLAIMS, secret=SECRET, salt=V5_SECURE_COOKIE, maxAge=3600, now=NOW
    )
    via_js = oracle.call("v5.decode", token=token, secret=SECRET, salt=V5_SECURE_COOKIE, now=NOW)
    via_python = jwcrypto_decrypt(token, v5_key(SECRET, V5_SECURE_COOKIE))
    assert via_js == via_python
    assert (via_js["iat"], via_js["exp"]) == (NOW, NOW + 3600)
    with pytest.raises(OracleError):  # the salt binds the token to its cookie name
        oracle.call("v5.decode", token=token, secret=SECRET, salt=V5_COOKIE, now=NOW)


def test_v5_rotation_by_kid(oracle: NodeOracle) -> None:
    old = oracle.call("v5.encode", token=CLAIMS, secret=OLD_SECRET, salt=V5_COOKIE)
    claims = oracle.call("v5.decode", token=old, secret=[SECRET, OLD_SECRET], salt=V5_COOKIE)
    assert claims["sub"] == "user-1"
    with pytest.raises(OracleError, match="no matching decryption secret"):
        oracle.call("v5.decode", token=old, secret=[SECRET], salt=V5_COOKIE)


def test_python_minted_v5_tokens_are_accepted_by_real_decode(oracle: NodeOracle) -> None:
    key = v5_key(SECRET, V5_COOKIE)
    header = {"alg": "dir", "enc": "A256CBC-HS512", "kid": oct_thumbprint(key, "sha512")}
    token = jwcrypto_encrypt({**CLAIMS, "exp": NOW + 60}, key, header)
    claims = oracle.call("v5.decode", token=token, secret=SECRET, salt=V5_COOKIE, now=NOW)
    assert claims["email"] == "ada@example.com"


def test_v5_a256gcm_via_jose_encrypt_dir(oracle: NodeOracle) -> None:
    key = v5_key(SECRET, V5_COOKIE, 32)
    kid = oct_thumbprint(key, "sha256")
    token = oracle.call(
        "jose.encryptDir", payload=CLAIMS, key_b64url=b64url(key), enc="A256GCM", kid=kid
    )
    assert json.loads(header_bytes(token)) == {"alg": "dir", "enc": "A256GCM", "kid": kid}
    assert oracle.call("v5.decode", token=token, secret=SECRET, salt=V5_COOKIE) == CLAIMS
    assert jwcrypto_decrypt(token, key) == CLAIMS


def test_v5_chunking_and_get_token(oracle: NodeOracle) -> None:
    token = oracle.call(
        "v5.encode", token={**CLAIMS, "blob": "y" * 10_000}, secret=SECRET, salt=V5_COOKIE
    )
    chunked = oracle.call("v5.chunk", name=V5_COOKIE, value=token)
    cookies = chunked["cookies"]
    assert len(cookies) == math.ceil(len(token) / 3936)
    assert all(len(c["value"]) == 3936 for c in cookies[:-1])
    header = "; ".join(f"{c['name']}={c['value']}" for c in reversed(cookies))
    claims = oracle.call("v5.getToken", headers={"cookie": header}, secret=SECRET)
    assert claims["blob"] == "y" * 10_000


def test_v5_get_token_defaults(oracle: NodeOracle) -> None:
    secure = oracle.call("v5.encode", token=CLAIMS, secret=SECRET, salt=V5_SECURE_COOKIE)
    headers = {"Cookie": f"{V5_SECURE_COOKIE}={secure}"}
    # SPEC 3.3: secureCookie defaults to false, so the __Secure- cookie is not read...
    assert oracle.call("v5.getToken", headers=headers, secret=SECRET) is None
    # ...unless asked for; the salt follows the cookie name.
    assert oracle.call("v5.getToken", headers=headers, secret=SECRET, secureCookie=True)
    plain = oracle.call("v5.encode", token=CLAIMS, secret=SECRET, salt=V5_COOKIE)
    bearer = {"Authorization": f"Bearer {plain}"}
    assert oracle.call("v5.getToken", headers=bearer, secret=SECRET)["sub"] == "user-1"
    lower = {"Authorization": f"bearer {plain}"}
    assert oracle.call("v5.getToken", headers=lower, secret=SECRET) is None


def test_v5_session_handler_reissues_a_decodable_token(oracle: NodeOracle) -> None:
    result = oracle.call("v5.session", secret=SECRET, token=CLAIMS, https=True, now=NOW)
    assert result["status"] == 200
    assert result["body"]["user"]["email"] == "ada@example.com"
    assert result["cookieName"] == V5_SECURE_COOKIE
    reissued = result["sessionToken"]
    assert reissued
    assert reissued != result["sentToken"]
    claims = oracle.call("v5.decode", token=reissued, secret=SECRET, salt=V5_SECURE_COOKIE, now=NOW)
    assert claims["iat"] == NOW
    assert jwcrypto_decrypt(reissued, v5_key(SECRET, V5_SECURE_COOKIE)) == claims


def test_raw_byte_secrets(oracle: NodeOracle) -> None:
    raw = bytes(range(32))
    token = oracle.call("v5.encode", token=CLAIMS, secret=secret_bytes(raw), salt=V5_COOKIE)
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=64,
        salt=V5_COOKIE.encode(),
        info=f"Auth.js Generated Encryption Key ({V5_COOKIE})".encode(),
    ).derive(raw)
    assert jwcrypto_decrypt(token, key)["sub"] == "user-1"


# -- hand-rolled JWS ------------------------------------------------------------
def test_jws_sign_verify(oracle: NodeOracle) -> None:
    token = oracle.call("jws.sign", payload={"sub": "7"}, secret=SECRET, expiresIn="15m", now=NOW)
    assert header_bytes(token) == b'{"alg":"HS256","typ":"JWT"}'
    payload = oracle.call("jws.verify", token=token, secret=SECRET, algorithms=["HS256"], now=NOW)
    assert payload == {"sub": "7", "iat": NOW, "exp": NOW + 900}
    with pytest.raises(OracleError) as expired:
        oracle.call("jws.verify", token=token, secret=SECRET, algorithms=["HS256"], now=NOW + 900)
    assert expired.value.name == "TokenExpiredError"
    with pytest.raises(OracleError, match="invalid algorithm"):
        oracle.call("jws.verify", token=token, secret=SECRET, algorithms=["HS512"], now=NOW)
    bare = oracle.call("jws.sign", payload={"id": 1}, secret=SECRET, noTimestamp=True)
    assert json.loads(b64url_decode(bare.split(".")[1])) == {"id": 1}


def test_jose_sign_hs(oracle: NodeOracle) -> None:
    token = oracle.call("jose.signHS", payload={"sub": "9"}, secret=SECRET, alg="HS256")
    assert header_bytes(token) == b'{"alg":"HS256"}'
    assert oracle.call("jws.verify", token=token, secret=SECRET, algorithms=["HS256"]) == {
        "sub": "9"
    }
