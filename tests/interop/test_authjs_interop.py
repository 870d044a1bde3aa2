"""sessiongate vs the real next-auth@4, @auth/core, jsonwebtoken and jose, both directions.

Every token here is minted at test time by the JS libraries (through the oracle) or minted by
``sessiongate.testing`` and then decoded by the JS libraries.
"""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.errors import DecryptionFailedError, ExpiredTokenError, UnknownKidError
from sessiongate.jwe import A256GCM
from sessiongate.testing import (
    chunk_cookie,
    cookie_header,
    mint_authjs_v5,
    mint_hs256,
    mint_nextauth_v4,
)

from .oracle import NodeOracle, OracleError

SECRET = "interop-secret-0123456789abcdef0123456789"
OLD = "interop-old-secret-abcdefabcdefabcdef"
V5 = "authjs.session-token"
V5S = "__Secure-authjs.session-token"
CLAIMS = {
    "sub": "user-42",
    "name": "Zoë Ångström 🚀",
    "email": "zoe@example.com",
    "picture": "https://example.com/a.png",
    "role": "admin",
    "permissions": ["posts:write", "posts:read"],
    "nested": {"a": [1, 2.5, None, True], "b": "\u2028"},
}


def now() -> int:
    return int(time.time())


@pytest.mark.parametrize("salt", [V5, V5S, "custom.session"])
def test_v5_real_tokens_decode_identically(oracle: NodeOracle, salt: str) -> None:
    token = oracle.call("v5.encode", token=CLAIMS, secret=SECRET, salt=salt, maxAge=3600)
    theirs = oracle.call("v5.decode", token=token, secret=SECRET, salt=salt)
    ours = AuthJSToken(SECRET, cookie_names=[salt]).decode(token, cookie_name=salt)
    assert ours == theirs
    assert {k: ours[k] for k in CLAIMS} == CLAIMS


def test_v5_wrong_salt_rejected_by_both(oracle: NodeOracle) -> None:
    token = oracle.call("v5.encode", token=CLAIMS, secret=SECRET, salt=V5, maxAge=3600)
    with pytest.raises(OracleError):
        oracle.call("v5.decode", token=token, secret=SECRET, salt=V5S)
    with pytest.raises(UnknownKidError):
        AuthJSToken(SECRET).decode(token, cookie_name=V5S)


def test_v4_real_tokens_decode_identically(oracle: NodeOracle) -> None:
    token = oracle.call("v4.encode", token=CLAIMS, secret=SECRET, maxAge=3600)
    theirs = oracle.call("v4.decode", token=token, secret=SECRET)
    assert AuthJSToken(SECRET).decode(token, cookie_name="next-auth.session-token") == theirs


def test_v5_rotation_matches_auth_core(oracle: NodeOracle) -> None:
    old_token = oracle.call("v5.encode", token=CLAIMS, secret=OLD, salt=V5, maxAge=3600)
    new_token = oracle.call("v5.encode", token=CLAIMS, secret=[SECRET, OLD], salt=V5, maxAge=3600)
    ours = AuthJSToken([SECRET, OLD])
    for token in (old_token, new_token):
        theirs = oracle.call("v5.decode", token=token, secret=[SECRET, OLD], salt=V5)
        assert ours.decode(token, cookie_name=V5) == theirs
    # new secret alone: the old token names a kid we do not have
    with pytest.raises(UnknownKidError):
        AuthJSToken(SECRET).decode(old_token, cookie_name=V5)


@pytest.mark.parametrize(("age", "accepted"), [(14, True), (15, False)])
def test_expiry_boundary_matches_jose(oracle: NodeOracle, age: int, accepted: bool) -> None:
    t0 = now() - 1000
    token = oracle.call("v5.encode", token=CLAIMS, secret=SECRET, salt=V5, maxAge=60, now=t0)
    at = t0 + 60 + age
    try:
        theirs = oracle.call("v5.decode", token=token, secret=SECRET, salt=V5, now=at)
    except OracleError:
        theirs = None
    assert (theirs is not None) is accepted
    verifier = AuthJSToken(SECRET)
    if accepted:
        assert verifier.decode(token, cookie_name=V5, now=at) == theirs
    else:
        with pytest.raises(ExpiredTokenError):
            verifier.decode(token, cookie_name=V5, now=at)


@pytest.mark.parametrize(
    ("gen", "name"), [("v5", V5), ("v5", V5S), ("v4", "next-auth.session-token")]
)
def test_real_chunked_cookies(oracle: NodeOracle, gen: str, name: str) -> None:
    big = {**CLAIMS, "blob": "é✓" * 4000}
    if gen == "v5":
        token = oracle.call("v5.encode", token=big, secret=SECRET, salt=name, maxAge=3600)
    else:
        token = oracle.call("v4.encode", token=big, secret=SECRET, maxAge=3600)
    chunks = oracle.call(f"{gen}.chunk", name=name, value=token)["cookies"]
    assert len(chunks) >= 4
    random.Random(7).shuffle(chunks)
    header = "; ".join(f"{c['name']}={c['value']}" for c in chunks)
    user = SessionGate(AuthJSToken(SECRET)).authenticate_sync({"cookie": header}).user
    assert user.claims["blob"] == big["blob"]
    if gen == "v5":
        theirs = oracle.call(
            "v5.getToken", headers={"cookie": header}, secret=SECRET, cookieName=name
        )
        assert dict(user.claims) == theirs


@pytest.mark.parametrize("gen", ["v4", "v5"])
def test_tokens_reissued_by_the_real_session_endpoint(oracle: NodeOracle, gen: str) -> None:
    result = oracle.call(f"{gen}.session", secret=SECRET, token=CLAIMS, https=True)
    assert result["status"] == 200
    header = "; ".join(f"{c['name']}={c['value']}" for c in result["cookies"])
    user = SessionGate(AuthJSToken(SECRET)).authenticate_sync({"cookie": header}).user
    assert user.id == "user-42"
    assert user.source == ("authjs-v5" if gen == "v5" else "nextauth-v4")


def test_jose_a256gcm_v5_token(oracle: NodeOracle) -> None:
    from sessiongate._b64json import b64url_encode
    from sessiongate.authjs import v5_key

    key = v5_key(SECRET, V5, A256GCM)
    token = oracle.call(
        "jose.encryptDir",
        payload={"sub": "g", "exp": now() + 60},
        key_b64url=b64url_encode(key.raw),
        enc="A256GCM",
        kid=key.kid,
    )
    assert oracle.call("v5.decode", token=token, secret=SECRET, salt=V5)["sub"] == "g"
    assert AuthJSToken(SECRET).decode(token, cookie_name=V5)["sub"] == "g"


# ------------------------------------------------------------------ reverse direction


@pytest.mark.parametrize("salt", [V5, V5S])
def test_our_v5_tokens_accepted_by_auth_core(oracle: NodeOracle, salt: str) -> None:
    token = mint_authjs_v5(CLAIMS, SECRET, cookie_name=salt, max_age=600)
    theirs = oracle.call("v5.decode", token=token, secret=SECRET, salt=salt)
    assert theirs == AuthJSToken(SECRET).decode(token, cookie_name=salt)
    # and through getToken with a (chunked when large) Cookie header
    big = mint_authjs_v5({**CLAIMS, "blob": "x" * 9000}, SECRET, cookie_name=salt)
    got = oracle.call(
        "v5.getToken", headers={"cookie": cookie_header(big, salt)}, secret=SECRET, cookieName=salt
    )
    assert got["blob"] == "x" * 9000


def test_our_v5_gcm_and_rotated_tokens_accepted(oracle: NodeOracle) -> None:
    token = mint_authjs_v5(CLAIMS, [OLD, SECRET], enc=A256GCM)
    assert oracle.call("v5.decode", token=token, secret=[SECRET, OLD], salt=V5)["sub"] == "user-42"


def test_our_v4_tokens_accepted_by_next_auth(oracle: NodeOracle) -> None:
    token = mint_nextauth_v4(CLAIMS, SECRET, max_age=600)
    assert oracle.call("v4.decode", token=token, secret=SECRET) == AuthJSToken(SECRET).decode(token)
    chunks = chunk_cookie(
        mint_nextauth_v4({**CLAIMS, "b": "y" * 9000}, SECRET), "next-auth.session-token", 3933
    )
    got = oracle.call(
        "v4.getToken", cookies=chunks, secret=SECRET, cookieName="next-auth.session-token"
    )
    assert got["b"] == "y" * 9000


# ------------------------------------------------------------------ HS256 bearer JWTs


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_jsonwebtoken_tokens(oracle: NodeOracle, alg: str) -> None:
    token = oracle.call("jws.sign", payload=CLAIMS, secret=SECRET, algorithm=alg, expiresIn="1h")
    theirs = oracle.call("jws.verify", token=token, secret=SECRET, algorithms=[alg])
    assert BearerJWT(SECRET, algorithms=[alg]).decode(token) == theirs


def test_jose_hs256_without_typ(oracle: NodeOracle) -> None:
    token = oracle.call(
        "jose.signHS", payload={"sub": "j"}, secret=SECRET, alg="HS256", expirationTime="5m"
    )
    assert BearerJWT(SECRET).decode(token)["sub"] == "j"


def test_our_hs256_accepted_by_jsonwebtoken(oracle: NodeOracle) -> None:
    token = mint_hs256(CLAIMS, SECRET)
    assert oracle.call("jws.verify", token=token, secret=SECRET, algorithms=["HS256"]) == BearerJWT(
        SECRET
    ).decode(token)


def test_jsonwebtoken_no_exp_needs_opt_in(oracle: NodeOracle) -> None:
    # the "replaced jwt.encode hooks" pattern: jsonwebtoken.sign without expiresIn
    token = oracle.call("jws.sign", payload={"sub": "n"}, secret=SECRET)
    with pytest.raises(Exception, match="exp"):
        BearerJWT(SECRET).decode(token)
    assert BearerJWT(SECRET, require_exp=False).decode(token)["sub"] == "n"


# ------------------------------------------------------------------ differential, generated claims

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
claims_strategy = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda k: k not in {"exp", "iat", "nbf", "jti"}),
    json_values,
    max_size=8,
).map(lambda d: {**d, "sub": "gen"})


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(claims=claims_strategy)
def test_generated_claims_roundtrip_through_auth_core(oracle: NodeOracle, claims: dict) -> None:
    token = oracle.call("v5.encode", token=claims, secret=SECRET, salt=V5, maxAge=600)
    theirs = oracle.call("v5.decode", token=token, secret=SECRET, salt=V5)
    assert AuthJSToken(SECRET, cache_size=0).decode(token, cookie_name=V5) == theirs
    mine = mint_authjs_v5(claims, SECRET, max_age=600)
    assert oracle.call("v5.decode", token=mine, secret=SECRET, salt=V5) == AuthJSToken(
        SECRET
    ).decode(mine)


def test_tampered_real_token_fails_in_both(oracle: NodeOracle) -> None:
    token = oracle.call("v5.encode", token=CLAIMS, secret=SECRET, salt=V5, maxAge=600)
    head, ek, iv, ct, tag = token.split(".")
    flipped = ct[:10] + ("A" if ct[10] != "A" else "B") + ct[11:]
    bad = ".".join((head, ek, iv, flipped, tag))
    with pytest.raises(OracleError):
        oracle.call("v5.decode", token=bad, secret=SECRET, salt=V5)
    with pytest.raises(DecryptionFailedError):
        AuthJSToken(SECRET).decode(bad, cookie_name=V5)
