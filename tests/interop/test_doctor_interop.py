"""``sessiongate doctor`` on tokens and cookies made by the real JS libraries (the oracle).

One case per failure class: wrong cookie name (``__Secure-`` prefix), missing chunk (chunks cut
by @auth/core's own SessionStore), secret mismatch, old secret, v4 vs v5, expired, a JWE given
where a JWS was expected, and jsonwebtoken HS256 tokens.
"""

from __future__ import annotations

import time

from sessiongate.doctor import diagnose

S = "interop-doctor-secret-0123456789"
OLD = "interop-doctor-old-secret-abcdef"
CLAIMS = {"sub": "user-1", "email": "ada@example.com", "name": "Ada"}
SECURE = "__Secure-authjs.session-token"
PLAIN = "authjs.session-token"


def codes(report, level=None):
    return [f.code for f in report.findings if level is None or f.level == level]


def text(report):
    return "\n".join(f.message for f in report.findings)


def v5(oracle, *, secret=S, salt=PLAIN, claims=CLAIMS, **params):
    return oracle.call("v5.encode", token=claims, secret=secret, salt=salt, maxAge=3600, **params)


def test_v5_from_auth_core_verifies(oracle):
    r = diagnose(f"Cookie: {PLAIN}={v5(oracle)}", secrets=[S])
    assert r.ok, text(r)


def test_secure_cookie_arrived_under_the_plain_name(oracle):
    token = v5(oracle, salt=SECURE)
    r = diagnose(f"curl https://api.example.com -H 'Cookie: {PLAIN}={token}'", secrets=[S])
    assert codes(r, "error") == ["wrong_cookie_name"]
    assert f"this is an Auth.js v5 token for cookie `{SECURE}` but it arrived as `{PLAIN}`" in text(
        r
    )


def test_missing_chunk_from_real_session_store(oracle):
    token = v5(oracle, claims={**CLAIMS, "pad": "x" * 9000})
    cookies = oracle.call("v5.chunk", name=PLAIN, value=token)["cookies"]
    assert len(cookies) >= 3
    whole = "; ".join(f"{c['name']}={c['value']}" for c in cookies)
    assert diagnose(whole, secrets=[S]).ok
    cut = "; ".join(f"{c['name']}={c['value']}" for c in cookies if c["name"] != f"{PLAIN}.1")
    r = diagnose(cut, secrets=[S])
    assert codes(r, "error") == ["chunk_missing"]
    assert "chunk .1 is missing" in text(r)


def test_secret_decrypts_none_and_old_secret(oracle):
    token = v5(oracle, secret=OLD)
    r = diagnose(token, secrets=[S])
    assert codes(r, "error") == ["no_secret_matches"]
    assert "this secret decrypts none of them" in text(r)
    r = diagnose(token, secrets=[S, OLD])
    assert "it matches the old secret #2" in text(r) and r.ok


def test_rotation_array_encrypts_with_first(oracle):
    token = v5(oracle, secret=[S, OLD])
    r = diagnose(token, secrets=[OLD, S])
    assert "old_secret" in codes(r, "warning")  # #2 in our list is the JS side's current one


def test_v4_token_recognised_and_v5_cookie_mismatch(oracle):
    token = oracle.call("v4.encode", token=CLAIMS, secret=S, maxAge=3600)
    r = diagnose(f"next-auth.session-token={token}", secrets=[S])
    assert r.ok and "nextauth_v4" in codes(r)
    r = diagnose(f"{PLAIN}={token}", secrets=[S])
    assert "v4_in_v5_cookie" in codes(r)  # a warning, or the error if the gate refuses it
    r = diagnose(token, secrets=["not-the-v4-secret-123"])
    assert "neither as NextAuth v4 nor as Auth.js v5" in text(r)


def test_v5_token_in_v4_cookie(oracle):
    r = diagnose(f"next-auth.session-token={v5(oracle)}", secrets=[S])
    assert "wrong_cookie_name" in codes(r, "error")
    assert "NextAuth v4 cookie" in "\n".join(f.hint or "" for f in r.findings)


def test_expired_with_how_long_ago(oracle):
    issued = int(time.time()) - 3 * 3600
    token = v5(oracle, now=issued)  # maxAge 3600: expired two hours ago
    r = diagnose(token, secrets=[S])
    assert codes(r, "error") == ["expired"]
    assert "expired 2 h" in text(r)


def test_jwe_is_not_a_jws(oracle):
    r = diagnose("Authorization: Bearer " + v5(oracle), secrets=[S])
    assert "a JWS library like PyJWT" in text(r)
    assert r.ok  # sessiongate reads JWE bearer tokens


def test_jsonwebtoken_hs256(oracle):
    token = oracle.call("jws.sign", payload={"sub": "u9"}, secret=S, expiresIn=600)
    r = diagnose("Bearer " + token, jwt_secrets=[S])  # HS256 Bearer tokens use the JWT secret
    assert r.ok and "jws_secret" in codes(r)
    r = diagnose("Bearer " + token, secrets=[OLD])
    assert "bad_signature" in codes(r, "error")
    token = oracle.call("jws.sign", payload={"sub": "u9"}, secret=S)  # no expiresIn: no exp
    assert "no_exp" in codes(diagnose("Bearer " + token, secrets=[S]), "warning")
