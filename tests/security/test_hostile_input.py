"""Hostile input, one named test per attack (issue 6, item 1), beyond test_attacks_core.py.

Each test asserts the exact rejection code, that nothing but a ``SessionGateError`` escapes,
and that the error does not echo the hostile token. Loopback only.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from urllib.parse import quote

import httpx
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import ec

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate._b64json import b64url_encode
from sessiongate.authjs import v5_key
from sessiongate.betterauth import sign_cookie_value, verify_bearer_value, verify_signed_cookie
from sessiongate.cookies import RequestCredentials, parse_cookie_header
from sessiongate.errors import SessionGateError
from sessiongate.jwks import JWKSBearer, JWKSClient
from sessiongate.sessions import BetterAuthSession, DatabaseSession
from sessiongate.stores.sqlite import SQLiteStore
from sessiongate.testing import chunk_cookie, mint_authjs_v5, mint_hs256

from sg_security_helpers import (  # isort: skip
    BA_SECRET,
    EXPIRED_DB_TOKEN,
    JWT_SECRET,
    NOW,
    SECRET,
    V5,
    VALID_DB_TOKEN,
    asgi_request,
    make_asgi_app,
    make_better_auth_db,
    make_prisma_db,
    sign_hs256,
)


def rejected(fn, *args, code: str, echo: str = "", **kwargs) -> SessionGateError:
    """Call ``fn``; it must raise a SessionGateError with ``code`` that does not echo ``echo``."""
    with pytest.raises(SessionGateError) as info:
        fn(*args, **kwargs)
    err = info.value
    assert err.code == code, repr(err)
    if len(echo) >= 20:
        text = str(err) + repr(err) + json.dumps(err.to_dict())
        for i in range(0, len(echo) - 19, 7):
            assert echo[i : i + 20] not in text
    return err


def gate() -> SessionGate:
    return SessionGate(AuthJSToken(SECRET), BearerJWT(JWT_SECRET), clock=lambda: NOW)


def via_cookie(token: str, name: str = V5) -> dict[str, str]:
    return {"cookie": f"{name}={token}"}


def jwe_with_header(header: dict, plaintext: bytes | None = None) -> str:
    """A real v5 JWE encrypted under SECRET whose protected header is ``header`` (+ alg/enc).

    The header is authenticated (it is the AAD), so only the header checks can refuse it.
    """
    key = v5_key(SECRET, V5)
    body = plaintext or json.dumps({"sub": "victim", "exp": NOW + 600}).encode()
    return key.encrypt(body, {"kid": key.kid, **header})


def jwe_claims(claims_json: bytes) -> str:
    key = v5_key(SECRET, V5)
    return key.encrypt(claims_json, {"kid": key.kid})


# ============================================================== JWE header parameters


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("jku", "https://attacker.example/jwks.json"),
        ("x5u", "https://attacker.example/cert.pem"),
        ("jwk", {"kty": "oct", "k": b64url_encode(b"k" * 64)}),
        ("crit", ["exp"]),
        ("crit", []),
        ("x5c", ["MIIB"]),
        ("x5t", "abc"),
        ("epk", {"kty": "EC"}),
        ("p2c", 1_000_000_000),
        ("apu", "AAAA"),
    ],
)
def test_jwe_key_carrying_or_crit_header_refused_through_the_gate(param, value):
    # correctly encrypted, correct kid: only the header allow-list can refuse it
    token = jwe_with_header({param: value})
    rejected(gate().authenticate_sync, via_cookie(token), code="malformed", echo=token)
    rejected(
        gate().authenticate_sync,
        {"authorization": f"Bearer {token}"},
        code="malformed",
        echo=token,
    )


def test_jwe_header_with_duplicate_alg_member_uses_strict_parse():
    # {"alg":"A256KW","alg":"dir"}: JSON parsers keep the last; the AAD covers the raw bytes
    key = v5_key(SECRET, V5)
    good = key.encrypt(b'{"sub":"a","exp":1800000600}', {"kid": key.kid})
    raw = '{"alg":"A256KW","alg":"dir","enc":"A256CBC-HS512","kid":"' + str(key.kid) + '"}'
    parts = good.split(".")
    parts[0] = b64url_encode(raw.encode())
    # the header now parses as dir, but the AAD changed: authentication fails
    rejected(
        AuthJSToken(SECRET).decode,
        ".".join(parts),
        cookie_name=V5,
        now=NOW,
        code="decryption_failed",
    )


@pytest.mark.parametrize(
    "header_bytes",
    [b"\xff\xfe{}", b"[]", b'"dir"', b"null", b"1", b'{"alg":"dir"', b"", b"{" * 5000],
)
def test_jwe_header_not_a_json_object(header_bytes):
    parts = jwe_with_header({}).split(".")
    parts[0] = b64url_encode(header_bytes)
    token = ".".join(parts)
    rejected(AuthJSToken(SECRET).decode, token, cookie_name=V5, now=NOW, code="malformed")


@pytest.mark.parametrize(
    "plaintext",
    [
        b"\xc3\x28",
        b"\xed\xa0\x80",
        b"",
        b"true",
        b"null",
        b"1",
        b'"{}"',
        b"[{}]",
        b'{"a":1}{"b":2}',
        b"[" * 15_000,
    ],
)
def test_jwe_claims_invalid_utf8_or_not_an_object(plaintext):
    rejected(
        AuthJSToken(SECRET).decode, jwe_claims(plaintext), cookie_name=V5, now=NOW, code="malformed"
    )


# ============================================================== exp / nbf of odd types


@pytest.mark.parametrize(
    ("claims_json", "code"),
    [
        (b'{"sub":"a","exp":"1800000600"}', "invalid_claim"),
        (b'{"sub":"a","exp":true}', "invalid_claim"),
        (b'{"sub":"a","exp":false}', "invalid_claim"),
        (b'{"sub":"a","exp":null}', "invalid_claim"),
        (b'{"sub":"a","exp":{"$gt":0}}', "invalid_claim"),
        (b'{"sub":"a","exp":[1800000600]}', "invalid_claim"),
        (b'{"sub":"a","exp":1e400}', "invalid_claim"),
        (b'{"sub":"a","exp":-1e400}', "invalid_claim"),
        (b'{"sub":"a","exp":1799999984.5}', "expired"),
        (b'{"sub":"a","exp":-9223372036854775809}', "expired"),
        (b'{"sub":"a","exp":1800000600,"nbf":"0"}', "invalid_claim"),
        (b'{"sub":"a","exp":1800000600,"nbf":true}', "invalid_claim"),
        (b'{"sub":"a","exp":1800000600,"nbf":1800000016.0}', "not_yet_valid"),
        (b'{"sub":"a","exp":1800000600,"nbf":1e300}', "not_yet_valid"),
        (b'{"sub":"a","exp":1800000600,"iat":"yesterday"}', "invalid_claim"),
        (b'{"sub":"a","exp":1' + b"0" * 5000 + b"}", "malformed"),  # int beyond str-digits cap
    ],
)
def test_jwe_exp_nbf_of_wrong_type_or_range(claims_json, code):
    rejected(
        AuthJSToken(SECRET).decode, jwe_claims(claims_json), cookie_name=V5, now=NOW, code=code
    )
    rejected(gate().authenticate_sync, via_cookie(jwe_claims(claims_json)), code=code)


def test_jwe_float_exp_in_the_future_accepted_like_jose():
    claims = AuthJSToken(SECRET).decode(
        jwe_claims(b'{"sub":"a","exp":1800000000.5}'), cookie_name=V5, now=NOW
    )
    assert claims["exp"] == 1800000000.5


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_jwe_huge_integer_exp_nbf_iat_rejected_as_invalid_claim(claim):
    extra = b"" if claim == "exp" else b',"exp":1800000600'
    claims_json = b'{"sub":"a"' + extra + b',"' + claim.encode() + b'":1' + b"0" * 400 + b"}"
    rejected(
        AuthJSToken(SECRET).decode,
        jwe_claims(claims_json),
        cookie_name=V5,
        now=NOW,
        code="invalid_claim",
    )


def test_huge_integer_exp_never_500_through_the_middleware():
    token = jwe_claims(b'{"sub":"a","exp":1' + b"0" * 400 + b"}")
    app = make_asgi_app(SessionGate(AuthJSToken(SECRET)))
    status, _, body = asgi_request(app, [(b"cookie", f"{V5}={token}".encode())])
    assert status == 401
    assert json.loads(body)["error"] == "invalid_claim"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b'{"sub":"a","exp":1800000600,"nbf":"0"}', "invalid_claim"),
        (b'{"sub":"a","exp":1800000600,"nbf":false}', "invalid_claim"),
        (b'{"sub":"a","exp":1800000600,"nbf":1e400}', "invalid_claim"),
        (b'{"sub":"a","exp":1800000600,"nbf":1800000016}', "not_yet_valid"),
        (b'{"sub":"a","exp":1799999985}', "expired"),
        (b'{"sub":"a","exp":1799999984.999}', "expired"),
        (b'{"sub":"a","exp":1799999985.001}', "ok"),
        (b'{"sub":"a","exp":-1}', "expired"),
        (b'{"sub":"a"}', "invalid_claim"),
    ],
)
def test_jws_exp_nbf_of_wrong_type_or_range(payload, code):
    token = sign_hs256({"alg": "HS256"}, payload)
    if code == "ok":  # the boundary: valid while exp > now - leeway (jose's rule)
        assert BearerJWT(JWT_SECRET).decode(token, now=NOW)["sub"] == "a"
        return
    rejected(BearerJWT(JWT_SECRET).decode, token, now=NOW, code=code)


# ============================================================== JWS shape


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff",
        b"\xed\xa0\x80",
        b"[]",
        b"null",
        b'"str"',
        b"42",
        b"",
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b"[" * 15_000,
    ],
)
def test_jws_payload_invalid_utf8_or_not_an_object(payload):
    token = sign_hs256({"alg": "HS256"}, payload)
    rejected(BearerJWT(JWT_SECRET).decode, token, now=NOW, code="malformed", echo=token)


@pytest.mark.parametrize("header", [b"\xff", b"[]", b"null", b'{"alg":1}', b'{"typ":"JWT"}'])
def test_jws_header_invalid_utf8_or_not_an_object(header):
    token = sign_hs256(b64url_encode(header), {"sub": "a", "exp": NOW + 60})
    rejected(BearerJWT(JWT_SECRET).decode, token, now=NOW, code="malformed")


@pytest.mark.parametrize("count", [1, 2, 4, 5, 6])
def test_jws_truncated_doubled_or_extra_segments(count):
    parts = mint_hs256({"sub": "a"}, JWT_SECRET, now=NOW).split(".")
    token = ".".join((parts * 2)[:count])
    rejected(BearerJWT(JWT_SECRET).decode, token, now=NOW, code="malformed")


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("bad", ["=", "==", " ", "\t", "+", "/", "!", "\u00e9", "\x00", "\n"])
def test_jws_non_base64url_padding_or_whitespace(index, bad):
    parts = mint_hs256({"sub": "a"}, JWT_SECRET, now=NOW).split(".")
    parts[index] = parts[index] + bad if bad in ("=", "==") else bad + parts[index]
    rejected(BearerJWT(JWT_SECRET).decode, ".".join(parts), now=NOW, code="malformed")


@pytest.mark.parametrize("bad", ["=", "==", " ", "\n"])
def test_jwe_padding_or_whitespace_at_segment_end(bad):
    parts = jwe_with_header({}).split(".")
    parts[4] += bad
    rejected(AuthJSToken(SECRET).decode, ".".join(parts), cookie_name=V5, now=NOW, code="malformed")


# ============================================================== duplicate cookies


def test_duplicate_session_cookies_first_one_wins():
    """Rule: the first cookie of a name wins, as in the ``cookie`` package Auth.js vendors."""
    first = mint_authjs_v5({"sub": "first"}, SECRET, now=NOW)
    second = mint_authjs_v5({"sub": "second"}, SECRET, now=NOW)
    user = gate().authenticate_sync({"cookie": f"{V5}={first}; {V5}={second}"}).user
    assert user.id == "first"
    user = gate().authenticate_sync({"cookie": f"{V5}={second}; {V5}={first}"}).user
    assert user.id == "second"


def test_duplicate_session_cookies_bad_first_is_not_rescued_by_a_good_second():
    good = mint_authjs_v5({"sub": "victim"}, SECRET, now=NOW)
    forged = mint_authjs_v5({"sub": "attacker"}, "attacker-secret-0123456789abcdef", now=NOW)
    rejected(
        gate().authenticate_sync,
        {"cookie": f"{V5}={forged}; {V5}={good}"},
        code="unknown_kid",
        echo=forged,
    )
    rejected(gate().authenticate_sync, {"cookie": f"{V5}=garbage; {V5}={good}"}, code="malformed")


def test_duplicate_cookie_headers_first_header_wins():
    # HTTP/2 may split the Cookie header; they are joined in order, so the first still wins
    first = mint_authjs_v5({"sub": "first"}, SECRET, now=NOW)
    second = mint_authjs_v5({"sub": "second"}, SECRET, now=NOW)
    headers = [(b"cookie", f"{V5}={first}".encode()), (b"cookie", f"{V5}={second}".encode())]
    assert gate().authenticate_sync(headers).user.id == "first"


def test_duplicate_chunk_cookies_first_one_wins():
    token = mint_authjs_v5({"sub": "chunky", "pad": "x" * 6000}, SECRET, now=NOW)
    parts = chunk_cookie(token, V5)
    assert len(parts) >= 2
    cookie = "; ".join(f"{k}={v}" for k, v in parts.items())
    assert gate().authenticate_sync({"cookie": cookie}).user.id == "chunky"
    # a planted first ".0" chunk wins over the real one: the joined token no longer verifies
    rejected(gate().authenticate_sync, {"cookie": f"{V5}.0=AAAA; " + cookie}, code="malformed")


def test_duplicate_cookies_through_the_middleware_first_one_wins():
    first = mint_authjs_v5({"sub": "first"}, SECRET, now=time.time())
    second = mint_authjs_v5({"sub": "second"}, SECRET, now=time.time())
    app = make_asgi_app(SessionGate(AuthJSToken(SECRET)))
    status, _, body = asgi_request(app, [(b"cookie", f"{V5}={first}; {V5}={second}".encode())])
    assert (status, json.loads(body)) == (200, {"id": "first"})


def test_cookie_parser_first_wins_after_trimming_and_quotes():
    assert parse_cookie_header(' a = 1 ;a=2; "a"=3; a="4"') == {"a": "1", '"a"': "3"}


# ============================================================== chunks


def test_thousand_chunks_through_the_middleware_is_401_token_too_large():
    cookie = "; ".join(f"{V5}.{i}=x" for i in range(1000)).encode()
    app = make_asgi_app(SessionGate(AuthJSToken(SECRET)))
    status, headers, body = asgi_request(app, [(b"cookie", cookie)])
    assert status == 401
    assert json.loads(body)["error"] == "token_too_large"
    assert headers["cache-control"] == "no-store"


@pytest.mark.parametrize("suffix", ["999999999999999999999", "65", "64"])
def test_single_chunk_with_huge_index_rejected(suffix):
    rejected(gate().authenticate_sync, {"cookie": f"{V5}.{suffix}=x"}, code="token_too_large")


@pytest.mark.parametrize("suffix", ["01", "-1", "+1", "1e3", "\u0661", "0x1", "", "1.0"])
def test_non_canonical_chunk_suffix_ignored(suffix):
    # not name.N with a canonical N: not a chunk, so no session cookie at all
    rejected(gate().authenticate_sync, {"cookie": f"{V5}.{suffix}=x"}, code="missing_credentials")


def test_chunks_not_starting_at_zero_rejected():
    token = mint_authjs_v5({"sub": "a", "pad": "x" * 9000}, SECRET, now=NOW)
    parts = chunk_cookie(token, V5)
    shifted = {f"{V5}.{i + 1}": v for i, v in enumerate(parts.values())}
    rejected(
        gate().authenticate_sync,
        {"cookie": "; ".join(f"{k}={v}" for k, v in shifted.items())},
        code="malformed",
    )


def test_chunks_joined_beyond_token_cap_rejected():
    cookie = "; ".join(f"{V5}.{i}=" + "A" * 3000 for i in range(12))  # 36 000 chars > 32 KiB
    rejected(gate().authenticate_sync, {"cookie": cookie}, code="token_too_large")


# ============================================================== megabyte headers


def test_megabyte_cookie_header_through_the_middleware_is_fast_401():
    app = make_asgi_app(SessionGate(AuthJSToken(SECRET)))
    header = (f"{V5}=" + "A" * (1 << 20)).encode()
    started = time.perf_counter()
    status, _, body = asgi_request(app, [(b"cookie", header)])
    elapsed = time.perf_counter() - started
    assert status == 401
    assert json.loads(body)["error"] == "token_too_large"
    assert elapsed < 2.0  # the cap is checked before any parsing (typically ~1 ms)


def test_many_small_cookie_headers_summing_past_the_cap_rejected():
    headers = [(b"cookie", b"a=" + b"x" * 1000)] * 70
    rejected(gate().authenticate_sync, headers, code="token_too_large")


def test_megabyte_semicolons_rejected_before_parsing():
    rejected(gate().authenticate_sync, {"cookie": ";" * (1 << 20)}, code="token_too_large")


def test_megabyte_authorization_header_rejected():
    app = make_asgi_app(SessionGate(AuthJSToken(SECRET), BearerJWT(JWT_SECRET)))
    status, _, body = asgi_request(app, [(b"authorization", b"Bearer " + b"A" * (1 << 20))])
    assert status == 401
    assert json.loads(body)["error"] == "token_too_large"


def test_cookie_header_just_under_the_cap_with_64k_pairs_is_quick():
    cookie = ";".join(["a=b"] * 16000)  # 63 999 bytes, 16 000 pairs
    started = time.perf_counter()
    rejected(gate().authenticate_sync, {"cookie": cookie}, code="missing_credentials")
    assert time.perf_counter() - started < 2.0


# ============================================================== random-kid floods vs JWKS

JWKS_URL = "https://issuer.example/.well-known/jwks.json"


def _ec_jwks() -> tuple[ec.EllipticCurvePrivateKey, dict]:
    import jwt

    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "good-kid", "alg": "ES256", "use": "sig"})
    return key, {"keys": [jwk]}


def _es256(key, kid: str, claims: dict) -> str:
    import jwt

    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_random_kid_flood_against_jwks_is_rate_limited():
    key, jwks = _ec_jwks()
    clock = _Clock()
    client = JWKSClient(JWKS_URL, monotonic=clock, min_refetch_interval=30)
    verifier = JWKSBearer(
        jwks=client, algorithms=["ES256"], issuer=None, audience=None, clock=lambda: NOW
    )
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.get(JWKS_URL).mock(return_value=httpx.Response(200, json=jwks))
        good = _es256(key, "good-kid", {"sub": "u", "exp": NOW + 60})
        assert verifier.decode_sync(good)["sub"] == "u"
        for _ in range(1000):
            token = _es256(key, uuid.uuid4().hex, {"sub": "u", "exp": NOW + 60})
            rejected(verifier.decode_sync, token, code="unknown_kid", echo=token)
        assert route.call_count == 1  # the flood never reached the endpoint
        clock.t += 31  # one refetch per min_refetch_interval
        for _ in range(200):
            rejected(
                verifier.decode_sync,
                _es256(key, uuid.uuid4().hex, {"exp": NOW + 60}),
                code="unknown_kid",
            )
        assert route.call_count == 2
        assert verifier.decode_sync(good)["sub"] == "u"  # the good key survived the flood
        assert client.fetch_count == 2


def test_random_kid_flood_concurrent_async_single_fetch():
    key, jwks = _ec_jwks()
    # timeout: 300 waiters on one mocked fetch; a loaded CI machine must not make it a 503
    client = JWKSClient(JWKS_URL, monotonic=_Clock(), min_refetch_interval=30, timeout=60)
    verifier = JWKSBearer(jwks=client, algorithms=["ES256"], issuer=None, audience=None)
    tokens = [_es256(key, uuid.uuid4().hex, {"exp": int(time.time()) + 60}) for _ in range(300)]

    async def one(token: str) -> str:
        try:
            await verifier.decode(token)
        except SessionGateError as err:
            return err.code
        return "ok"

    async def flood() -> list[str]:
        return await asyncio.gather(*(one(t) for t in tokens))

    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.get(JWKS_URL).mock(return_value=httpx.Response(200, json=jwks))
        codes = asyncio.run(flood())
    assert set(codes) == {"unknown_kid"}
    assert route.call_count == 1


def test_kid_longer_than_256_chars_refused_before_any_fetch():
    key, _ = _ec_jwks()
    verifier = JWKSBearer(JWKS_URL, algorithms=["ES256"], issuer=None, audience=None)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        route = mock.get(JWKS_URL).mock(return_value=httpx.Response(500))
        rejected(verifier.decode_sync, _es256(key, "k" * 257, {"exp": NOW + 60}), code="malformed")
    assert route.call_count == 0


# ============================================================== Better Auth signatures


def _ba_sig(token: str) -> str:
    return sign_cookie_value(token, BA_SECRET).rsplit(".", 1)[1]


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: s[:-1], id="43-chars"),
        pytest.param(lambda s: s + "=", id="45-chars"),
        pytest.param(lambda s: s[:-2] + "==", id="double-pad"),
        pytest.param(lambda s: s[:-1] + "A", id="no-pad"),
        pytest.param(lambda s: "-" + s[1:], id="base64url-dash"),
        pytest.param(lambda s: "_" + s[1:], id="base64url-underscore"),
        pytest.param(lambda s: " " + s[1:], id="space"),
        pytest.param(lambda s: "\u00e9" + s[1:], id="non-ascii"),
        pytest.param(lambda s: "\x00" + s[1:], id="nul"),
        pytest.param(lambda s: "", id="empty"),
        pytest.param(lambda s: s + s, id="doubled"),
        pytest.param(lambda s: "=" * 44, id="all-padding"),
    ],
)
def test_better_auth_signature_of_wrong_length_or_alphabet(mangle, tmp_path):
    sig = mangle(_ba_sig("session-token-1"))
    value = "session-token-1." + sig
    rejected(verify_signed_cookie, value, BA_SECRET, code="malformed")
    rejected(verify_signed_cookie, quote(value, safe=""), BA_SECRET, code="malformed")
    store = SQLiteStore(
        make_better_auth_db(tmp_path / "ba.db", ["session-token-1"]), schema="better-auth"
    )
    g = SessionGate(BetterAuthSession(secret=BA_SECRET, store=store))
    rejected(
        g.authenticate_sync,
        {"cookie": "better-auth.session_token=" + quote(value, safe="")},
        code="malformed",
    )


def test_better_auth_right_shape_wrong_key_is_invalid_signature():
    forged = sign_cookie_value("session-token-1", "attacker-secret-0123456789abcdef")
    rejected(verify_signed_cookie, forged, BA_SECRET, code="invalid_signature")
    flipped = forged[:-5] + ("A" if forged[-5] != "A" else "B") + forged[-4:]
    rejected(verify_signed_cookie, flipped, BA_SECRET, code="invalid_signature")


@pytest.mark.parametrize(
    "sig",
    ["", "AAAA", "A" * 42, "A" * 44, "A" * 43 + "===", "!" * 43, "A" * 86, "\u00e9" * 43],
)
def test_better_auth_bearer_signature_of_wrong_length_or_alphabet_is_not_ours(sig):
    assert verify_bearer_value("session-token-1." + sig, BA_SECRET) is None


def test_better_auth_bearer_wrong_key_is_invalid_signature():
    forged = sign_cookie_value("session-token-1", "attacker-secret-0123456789abcdef")
    rejected(verify_bearer_value, forged, BA_SECRET, code="invalid_signature")


def test_better_auth_bearer_with_bad_signature_through_the_gate(tmp_path):
    store = SQLiteStore(
        make_better_auth_db(tmp_path / "ba.db", ["session-token-1"]), schema="better-auth"
    )
    g = SessionGate(BetterAuthSession(secret=BA_SECRET, store=store))
    # a signature that is not 32 bytes: not a bearer-plugin value -> no format accepts it
    rejected(
        g.authenticate_sync, {"authorization": "Bearer session-token-1.AAAA"}, code="malformed"
    )
    forged = sign_cookie_value("session-token-1", "attacker-secret-0123456789abcdef")
    rejected(g.authenticate_sync, {"authorization": "Bearer " + forged}, code="invalid_signature")


# ============================================================== SQL metacharacters, NUL

# shaped like a session token (printable ASCII without space, quote, comma, semicolon):
# they reach the database as a bound parameter and must simply not be found
SQL_PRINTABLE = [
    "'",
    "x'--",
    "x'OR'1'='1",
    "')/**/OR/**/1=1--",
    "'||(SELECT/**/sqlite_version())||'",
    "%",
    "_",
    "%%",
    "tok-%",
    "tok-valid-012345678_",  # a LIKE would match the real token
    "tok-valid-0123456789'--",
    "tok-valid-0123456789'/*",
    "\\",
    "*/",
    "$1",
    "?",
    ":token",
    "@p0",
    "0x00",
]
# not shaped like a session token: refused before any query
SQL_UNSHAPED = [
    'x\'; DROP TABLE "Session"; --',
    "' OR '1'='1",
    '" OR ""="',
    "tok-valid-0123456789\x00",
    "\x00",
    "tok\x00valid",
    "1);DELETE/**/FROM/**/Session",
    "a\nb",
    "a\rb",
    "a\tb",
    "a,b",
    "\u2019OR\u20191",
    "x" * 513,
]


def _db_gate(store) -> SessionGate:
    return SessionGate(DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0))


def _check_db_injections(g: SessionGate) -> None:
    for token in SQL_PRINTABLE:
        cookie = f"{V5}={token}"
        expected = "session_not_found"
        rejected(g.authenticate_sync, {"cookie": cookie}, code=expected)
        rejected(
            g.authenticate_sync, {"authorization": f"Bearer {quote(token, safe='')}"}, code=expected
        )
    for token in SQL_UNSHAPED:
        rejected(
            g.authenticate_sync,
            {"authorization": f"Bearer {quote(token, safe='')}"},
            code="malformed",
        )
        rejected(g.authenticate_sync, {"cookie": f"{V5}={quote(token, safe='')}"}, code="malformed")
    # the table is intact and the real session still verifies
    assert g.authenticate_sync({"cookie": f"{V5}={VALID_DB_TOKEN}"}).user.id == "u1"
    rejected(g.authenticate_sync, {"cookie": f"{V5}={EXPIRED_DB_TOKEN}"}, code="expired")


def test_sql_metacharacters_and_nul_in_session_tokens_sqlite(tmp_path):
    store = SQLiteStore(make_prisma_db(tmp_path / "authjs.db"), schema="authjs-prisma")
    _check_db_injections(_db_gate(store))


async def _check_db_injections_async(g: SessionGate) -> list[str]:
    codes = []
    for token in SQL_PRINTABLE + SQL_UNSHAPED:
        try:
            await g.authenticate({"cookie": f"{V5}={quote(token, safe='')}"})
        except SessionGateError as err:
            codes.append(err.code)
    user = (await g.authenticate({"cookie": f"{V5}={VALID_DB_TOKEN}"})).user
    codes.append(user.id)
    return codes


def test_sql_metacharacters_through_the_middleware_never_500(tmp_path):
    store = SQLiteStore(make_prisma_db(tmp_path / "authjs.db"), schema="authjs-prisma")
    app = make_asgi_app(_db_gate(store))
    for token in SQL_PRINTABLE + SQL_UNSHAPED:
        status, _, body = asgi_request(app, [(b"cookie", f"{V5}={quote(token, safe='')}".encode())])
        assert status == 401, token
        assert json.loads(body)["error"] in {"session_not_found", "malformed"}


def test_better_auth_signed_sql_metacharacters_sqlite(tmp_path):
    store = SQLiteStore(
        make_better_auth_db(tmp_path / "ba.db", ["session-token-1"]), schema="better-auth"
    )
    g = SessionGate(
        BetterAuthSession(secret=BA_SECRET, store=store, cache_ttl=0, negative_cache_ttl=0)
    )
    # (tokens with '%' are left out: the signed value is percent-decoded once by the cookie
    # parser and once more by verify_signed_cookie; Better Auth ids never contain '%')
    for token in [t for t in SQL_PRINTABLE if "%" not in t]:
        signed = quote(sign_cookie_value(token, BA_SECRET), safe="")
        rejected(
            g.authenticate_sync,
            {"cookie": f"better-auth.session_token={signed}"},
            code="session_not_found",
        )
    for token in SQL_UNSHAPED:
        signed = quote(sign_cookie_value(token, BA_SECRET), safe="")
        rejected(
            g.authenticate_sync, {"cookie": f"better-auth.session_token={signed}"}, code="malformed"
        )
    good = quote(sign_cookie_value("session-token-1", BA_SECRET), safe="")
    assert g.authenticate_sync({"cookie": f"better-auth.session_token={good}"}).user.id == "u1"


PG_DDL = """
CREATE TABLE "{schema}"."User" (
  id TEXT PRIMARY KEY, name TEXT, email TEXT UNIQUE, "emailVerified" TIMESTAMP(3), image TEXT
);
CREATE TABLE "{schema}"."Session" (
  id TEXT PRIMARY KEY, "sessionToken" TEXT UNIQUE NOT NULL,
  "userId" TEXT NOT NULL REFERENCES "{schema}"."User"(id), expires TIMESTAMP(3) NOT NULL
);
INSERT INTO "{schema}"."User" VALUES ('u1', 'Ada', 'ada@example.com', NULL, NULL);
INSERT INTO "{schema}"."Session" VALUES
  ('s1', '{valid}', 'u1', now() AT TIME ZONE 'UTC' + interval '30 days'),
  ('s2', '{expired}', 'u1', now() AT TIME ZONE 'UTC' - interval '1 day');
"""


@pytest.mark.postgres
def test_sql_metacharacters_and_nul_in_session_tokens_postgres(postgres_dsn):
    import asyncpg

    from sessiongate.stores.postgres import PostgresStore

    schema = "sg_hostile_" + uuid.uuid4().hex[:8]

    async def setup() -> None:
        conn = await asyncpg.connect(postgres_dsn)
        try:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
            await conn.execute(
                PG_DDL.format(schema=schema, valid=VALID_DB_TOKEN, expired=EXPIRED_DB_TOKEN)
            )
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(postgres_dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(setup())
    try:
        store = PostgresStore(
            postgres_dsn, schema="authjs-prisma", server_settings={"search_path": schema}
        )
        g = _db_gate(store)

        async def run() -> list[str]:
            try:
                return await _check_db_injections_async(g)
            finally:
                await g.aclose()

        codes = asyncio.run(run())
        assert codes[-1] == "u1"
        assert set(codes[:-1]) == {"session_not_found", "malformed"}
        assert codes[: len(SQL_PRINTABLE)] == ["session_not_found"] * len(SQL_PRINTABLE)
        assert codes[len(SQL_PRINTABLE) : -1] == ["malformed"] * len(SQL_UNSHAPED)
    finally:
        asyncio.run(drop())


def test_percent_encoded_nul_in_bearer_and_cookie(tmp_path):
    store = SQLiteStore(make_prisma_db(tmp_path / "authjs.db"), schema="authjs-prisma")
    g = _db_gate(store)
    rejected(g.authenticate_sync, {"authorization": "Bearer tok%00"}, code="malformed")
    rejected(g.authenticate_sync, {"cookie": f"{V5}=tok%00"}, code="malformed")
    rejected(g.authenticate_sync, {"authorization": "Bearer tok%zz"}, code="malformed")
    rejected(g.authenticate_sync, {"authorization": "Bearer tok%C3%28"}, code="malformed")


def test_request_credentials_non_latin1_and_control_bytes_never_crash():
    creds = RequestCredentials.from_headers(
        [(b"cookie", bytes(range(256))), (b"authorization", b"Bearer \xff\xfe\x00")]
    )
    assert isinstance(creds.cookies, dict)
    rejected(gate().authenticate_sync, [(b"cookie", bytes(range(256)))], code="missing_credentials")
    rejected(
        gate().authenticate_sync, [(b"authorization", b"Bearer \xff\xfe\x00")], code="malformed"
    )


# ============================================================== sidecar header injection

INJECTIONS = {
    "name": "Ada\r\nSet-Cookie: evil=1",
    "email": "ada@example.com\r\n\r\n<html>",
    "sub": "u1\nX-User-Role: admin",
    "role": "user\r\nX-User-Roles: admin",
    "roles": ["a\r\nb", "c,d", "e%0D%0Af", "\x00nul", "caf\u00e9"],
    "permissions": ["p\rq", "x\u2028y", " padded "],
}


def _sidecar_app():
    from sessiongate.sidecar import SidecarApp

    return SidecarApp(SessionGate(AuthJSToken(SECRET), BearerJWT(JWT_SECRET)))


def _assert_clean_headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    names = [k for k, _ in headers]
    assert len(names) == len(set(names))  # nothing injected a second header of a name
    for name, value in headers:
        assert all(0x20 <= b < 0x7F for b in name + value), (name, value)
    return {k.decode(): v.decode() for k, v in headers}


async def _raw_sidecar(app, headers) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/verify",
        "query_string": b"",
        "headers": headers,
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    return start["status"], start["headers"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize("credential", ["cookie", "bearer"])
def test_sidecar_header_injection_via_claim_values(credential):
    from urllib.parse import unquote

    claims = {**INJECTIONS}
    if credential == "cookie":
        token = mint_authjs_v5(claims, SECRET)
        headers = [(b"cookie", f"{V5}={token}".encode())]
    else:
        token = mint_hs256(claims, JWT_SECRET)
        headers = [(b"authorization", f"Bearer {token}".encode())]
    status, raw, body = asyncio.run(_raw_sidecar(_sidecar_app(), headers))
    assert status == 200
    out = _assert_clean_headers(raw)
    assert "set-cookie" not in out
    assert unquote(out["x-user-name"]) == INJECTIONS["name"]
    assert unquote(out["x-user-email"]) == INJECTIONS["email"]
    assert unquote(out["x-user-id"]) == INJECTIONS["sub"]
    assert unquote(out["x-user-role"]) == INJECTIONS["role"]
    roles = [unquote(v) for v in out["x-user-roles"].split(",")]
    assert roles == sorted([*INJECTIONS["roles"], INJECTIONS["role"]])
    perms = [unquote(v) for v in out["x-user-permissions"].split(",")]
    assert perms == sorted(INJECTIONS["permissions"])
    assert json.loads(body)["user"]["name"] == INJECTIONS["name"]


def test_sidecar_header_injection_in_requirement_headers_not_echoed():
    token = mint_authjs_v5({"sub": "u1", "role": "user"}, SECRET)
    headers = [
        (b"cookie", f"{V5}={token}".encode()),
        (b"x-require-role", b"admin\r\nSet-Cookie: evil=1"),
    ]
    status, raw, body = asyncio.run(_raw_sidecar(_sidecar_app(), headers))
    assert status == 403
    out = _assert_clean_headers(raw)
    assert "set-cookie" not in out
    assert "\r" not in out["www-authenticate"] and "\n" not in out["www-authenticate"]
    # the body names the missing role (request input, not a credential), JSON-escaped
    assert json.loads(body)["error"] == "insufficient_scope"
    assert b"\r\n" not in body


def test_sidecar_lone_surrogate_in_claim_never_500():
    # a JS string cut mid-emoji: JSON.stringify emits the lone surrogate as an escape
    key = v5_key(SECRET, V5)
    exp = int(time.time()) + 600
    token = key.encrypt(
        b'{"sub":"u1","name":"Ada \\ud83d","exp":' + str(exp).encode() + b"}", {"kid": key.kid}
    )
    status, raw, body = asyncio.run(
        _raw_sidecar(_sidecar_app(), [(b"cookie", f"{V5}={token}".encode())])
    )
    assert status == 200
    assert dict(_assert_clean_headers(raw))["x-user-name"] == "Ada %ED%A0%BD"
    assert json.loads(body)["user"]["name"] == "Ada \ud83d"
