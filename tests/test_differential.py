"""Differential tests: sessiongate vs jwcrypto (JWE) and PyJWT (JWS) on generated claims."""

from __future__ import annotations

import json

import jwt as pyjwt
from hypothesis import given, settings
from hypothesis import strategies as st
from jwcrypto import jwe as jwc_jwe
from jwcrypto import jwk as jwc_jwk
from jwcrypto.common import json_encode

from sessiongate import AuthJSToken, BearerJWT
from sessiongate._b64json import b64url_encode
from sessiongate.authjs import v4_key, v5_key
from sessiongate.jwe import A256CBC_HS512, A256GCM
from sessiongate.testing import mint_authjs_v5, mint_hs256, mint_nextauth_v4

SECRET = "differential-secret-0123456789abcdef"
NOW = 1_800_000_000

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
claims_st = st.dictionaries(
    st.text(max_size=10).filter(lambda k: k not in {"exp", "iat", "nbf", "jti", "sub"}),
    values,
    max_size=6,
).map(lambda d: {**d, "sub": "s"})


def jwk_for(raw: bytes) -> jwc_jwk.JWK:
    return jwc_jwk.JWK(kty="oct", k=b64url_encode(raw))


@settings(max_examples=60, deadline=None)
@given(claims=claims_st, enc=st.sampled_from([A256CBC_HS512, A256GCM]))
def test_v5_ours_to_jwcrypto(claims, enc):
    token = mint_authjs_v5(claims, SECRET, enc=enc, now=NOW)
    key = v5_key(SECRET, "authjs.session-token", enc)
    obj = jwc_jwe.JWE()
    obj.deserialize(token, key=jwk_for(key.raw))
    assert json.loads(obj.payload) == AuthJSToken(SECRET).decode(token, now=NOW)


@settings(max_examples=60, deadline=None)
@given(claims=claims_st, enc=st.sampled_from([A256CBC_HS512, A256GCM]))
def test_v5_jwcrypto_to_ours(claims, enc):
    key = v5_key(SECRET, "authjs.session-token", enc)
    body = {**claims, "exp": NOW + 60}
    obj = jwc_jwe.JWE(
        json.dumps(body).encode(),
        protected=json_encode({"alg": "dir", "enc": enc, "kid": key.kid}),
    )
    obj.add_recipient(jwk_for(key.raw))
    token = obj.serialize(compact=True)
    assert (
        AuthJSToken(SECRET, cache_size=0).decode(token, cookie_name="authjs.session-token", now=NOW)
        == body
    )


@settings(max_examples=40, deadline=None)
@given(claims=claims_st)
def test_v4_both_ways(claims):
    token = mint_nextauth_v4(claims, SECRET, now=NOW)
    obj = jwc_jwe.JWE()
    obj.deserialize(token, key=jwk_for(v4_key(SECRET).raw))
    assert json.loads(obj.payload) == AuthJSToken(SECRET).decode(token, now=NOW)


def test_thumbprints_match_jwcrypto():
    from cryptography.hazmat.primitives import hashes

    for enc, h in ((A256CBC_HS512, hashes.SHA512()), (A256GCM, hashes.SHA256())):
        key = v5_key(SECRET, "__Secure-authjs.session-token", enc)
        assert key.kid == jwk_for(key.raw).thumbprint(h)


@settings(max_examples=60, deadline=None)
@given(claims=claims_st, alg=st.sampled_from(["HS256", "HS384", "HS512"]))
def test_jws_against_pyjwt(claims, alg):
    body = {**claims, "exp": NOW + 60}
    theirs = pyjwt.encode(body, SECRET, algorithm=alg)
    assert BearerJWT(SECRET, algorithms=[alg], cache_size=0).decode(theirs, now=NOW) == body
    ours = mint_hs256(claims, SECRET, algorithm=alg, now=NOW)
    decoded = pyjwt.decode(
        ours, SECRET, algorithms=[alg], options={"verify_exp": False, "verify_iat": False}
    )
    assert decoded == BearerJWT(SECRET, algorithms=[alg]).decode(ours, now=NOW)
