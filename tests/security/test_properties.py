"""Property tests: random input never raises anything but a ``SessionGateError`` subclass, and
the web entry points (ASGI middleware, sidecar) never answer 500 — also for a gate that includes
the database-backed authenticators (``DatabaseSession``, ``BetterAuthSession``), fed any Cookie
header built from session cookie names with chunk-looking suffixes.

Random bytes alone never get past a MAC, so the token properties also feed random *plaintext*
through the real keys (random claims JSON encrypted under the configured secret, random
payloads signed with it): that exercises the claim parsing and checking behind the crypto.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
from urllib.parse import quote

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate._b64json import b64url_encode
from sessiongate.authjs import v4_key, v5_key
from sessiongate.betterauth import (
    decode_cookie_cache,
    sign_cookie_value,
    verify_bearer_value,
    verify_signed_cookie,
)
from sessiongate.cookies import (
    RequestCredentials,
    parse_cookie_header,
    percent_decode,
    session_cookie_candidates,
)
from sessiongate.errors import SessionGateError
from sessiongate.jwe import parse_compact
from sessiongate.testing import mint_authjs_v5, mint_hs256, mint_nextauth_v4

from test_sec_core_cookie_names import VALID, MemoryStore, full_gate  # isort: skip
from sg_security_helpers import (  # isort: skip
    BA_SECRET,
    JWT_SECRET,
    NOW,
    SECRET,
    V5,
    asgi_request_async,
    make_asgi_app,
    sign_hs256,
)

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

AUTHJS = AuthJSToken(SECRET, cache_size=0)
JWS = BearerJWT(JWT_SECRET, algorithms=["HS256", "HS384", "HS512"], cache_size=0)
GATE = SessionGate(AuthJSToken(SECRET), BearerJWT(JWT_SECRET), clock=lambda: NOW)
V5_KEY = v5_key(SECRET, V5)
V4_KEY = v4_key(SECRET)

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
cookie_text = st.lists(
    st.sampled_from([*B64URL, *'=;,. \t"%\\\x00\xff', V5, V5 + ".", "__Secure-"]),
    max_size=120,
).map("".join)
any_text = st.text(max_size=400)
b64_segments = st.lists(st.text(alphabet=B64URL + "=+/ .", max_size=60), min_size=1, max_size=7)

# JSON values (integers beyond float range get their own property below)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
claim_names = st.sampled_from(
    [
        "sub",
        "exp",
        "nbf",
        "iat",
        "iss",
        "aud",
        "id",
        "userId",
        "role",
        "roles",
        "email",
        "name",
        "permissions",
        "scope",
        "user",
        "realm_access",
    ]
)
claims_objects = st.dictionaries(claim_names | st.text(max_size=6), json_values, max_size=8)


def only_our_errors(fn, *args, **kwargs):
    """Run ``fn``: its result, or the SessionGateError it raised (anything else propagates)."""
    try:
        return fn(*args, **kwargs)
    except SessionGateError as err:
        error = err
    assert error.code and isinstance(error.message, str)
    return error


# ================================================================ cookie parser


@FAST
@given(cookie_text)
def test_parse_cookie_header_total_and_string_valued(header):
    cookies = parse_cookie_header(header)
    assert all(isinstance(k, str) and k and isinstance(v, str) for k, v in cookies.items())
    assert all(k == k.strip(" \t") and "=" not in k and ";" not in k for k in cookies)


@FAST
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.text(alphabet=B64URL, max_size=8)),
        min_size=1,
        max_size=10,
    )
)
def test_parse_cookie_header_first_occurrence_wins(pairs):
    cookies = parse_cookie_header("; ".join(f"{k}={v}" for k, v in pairs))
    expected: dict[str, str] = {}
    for k, v in pairs:
        expected.setdefault(k, v)
    assert cookies == expected


@FAST
@given(any_text)
def test_percent_decode_total(value):
    decoded = percent_decode(value)
    assert decoded is None or isinstance(decoded, str)
    if "%" not in value:
        assert decoded == value


@FAST
@given(
    st.dictionaries(
        st.sampled_from([V5, V5 + ".0", V5 + ".1", V5 + ".2", V5 + ".01", V5 + ".63", V5 + ".64"])
        | st.text(max_size=30).map(lambda s: V5 + "." + s),
        st.text(alphabet=B64URL + ".", max_size=50),
        max_size=12,
    )
)
def test_session_cookie_candidates_only_our_errors(cookies):
    result = only_our_errors(session_cookie_candidates, cookies, V5)
    if isinstance(result, list):
        assert all(isinstance(v, str) and v for v in result)
        assert len(result) <= 2


header_names = st.sampled_from(
    [b"cookie", b"Cookie", b"COOKIE", b"authorization", b"Authorization", b"host", b"x-a"]
) | st.binary(max_size=12)


@FAST
@given(st.lists(st.tuples(header_names, st.binary(max_size=400)), max_size=8))
def test_request_credentials_from_random_bytes_headers(headers):
    creds = only_our_errors(RequestCredentials.from_headers, headers)
    if isinstance(creds, RequestCredentials):
        bearer = only_our_errors(creds.bearer_token)
        assert bearer is None or isinstance(bearer, (str, SessionGateError))
    only_our_errors(GATE.authenticate_sync, headers)


@FAST
@given(st.dictionaries(st.sampled_from(["cookie", "Authorization", "x"]), any_text, max_size=3))
def test_gate_with_random_text_headers_only_our_errors(headers):
    only_our_errors(GATE.authenticate_sync, headers)


# ================================================================ JWE


@FAST
@given(st.text(max_size=600) | b64_segments.map(".".join))
def test_parse_compact_only_our_errors(token):
    only_our_errors(parse_compact, token, max_bytes=32 * 1024)


@FAST
@given(st.text(max_size=600) | b64_segments.map(".".join))
def test_authjs_decode_random_text_only_our_errors(token):
    only_our_errors(AUTHJS.decode, token, cookie_name=V5, now=NOW)
    only_our_errors(AUTHJS.decode, token, now=NOW)


@FAST
@given(st.data())
def test_authjs_decode_mutated_valid_token_only_our_errors(data):
    token = mint_authjs_v5({"sub": "u1", "role": "admin"}, SECRET, now=NOW)
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.text(max_size=3))
    mutated = token[:index] + replacement + token[index + 1 :]
    result = only_our_errors(AUTHJS.decode, mutated, cookie_name=V5, now=NOW)
    if not isinstance(result, SessionGateError):
        assert result["sub"] == "u1"  # only a no-op mutation can still verify


@FAST
@given(
    st.dictionaries(
        st.sampled_from(["alg", "enc", "kid", "typ", "cty", "zip", "crit", "jku", "x"]),
        json_values | st.sampled_from(["dir", "A256GCM", "A256CBC-HS512", V5_KEY.kid]),
        max_size=5,
    )
)
def test_authjs_decode_random_header_only_our_errors(header):
    parts = mint_authjs_v5({"sub": "u1"}, SECRET, now=NOW).split(".")
    parts[0] = b64url_encode(json.dumps(header).encode())
    only_our_errors(AUTHJS.decode, ".".join(parts), cookie_name=V5, now=NOW)


@FAST
@given(st.binary(max_size=300))
def test_authjs_random_plaintext_under_the_real_key_only_our_errors(plaintext):
    only_our_errors(
        AUTHJS.decode, V5_KEY.encrypt(plaintext, {"kid": V5_KEY.kid}), cookie_name=V5, now=NOW
    )
    only_our_errors(AUTHJS.decode, V4_KEY.encrypt(plaintext, {}), now=NOW)


@FAST
@given(claims_objects)
def test_authjs_random_claims_under_the_real_key_only_our_errors(claims):
    token = V5_KEY.encrypt(json.dumps(claims).encode(), {"kid": V5_KEY.kid})
    result = only_our_errors(GATE.authenticate_sync, {"cookie": f"{V5}={token}"})
    if not isinstance(result, SessionGateError):
        assert isinstance(result.user.id, str) and result.user.id


HUGE = 10**400


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["exp", "nbf", "iat"]), st.integers(min_value=HUGE, max_value=HUGE * 10))
@example("exp", HUGE)
def test_authjs_huge_integer_claims_only_our_errors(name, value):
    claims = {"sub": "u1", "exp": NOW + 60, name: value}
    token = V5_KEY.encrypt(json.dumps(claims).encode(), {"kid": V5_KEY.kid})
    only_our_errors(AUTHJS.decode, token, cookie_name=V5, now=NOW)


# ================================================================ JWS


@FAST
@given(st.text(max_size=600) | b64_segments.map(".".join))
def test_bearer_jwt_decode_random_text_only_our_errors(token):
    only_our_errors(JWS.decode, token, now=NOW)


@FAST
@given(st.binary(max_size=300), st.sampled_from(["HS256", "HS384", "HS512", "none", "RS256"]))
def test_bearer_jwt_random_payload_signed_with_the_real_key_only_our_errors(payload, alg):
    only_our_errors(JWS.decode, sign_hs256({"alg": alg}, payload), now=NOW)


@FAST
@given(claims_objects)
def test_bearer_jwt_random_claims_through_the_gate_only_our_errors(claims):
    token = sign_hs256({"alg": "HS256", "typ": "JWT"}, claims)
    result = only_our_errors(GATE.authenticate_sync, {"authorization": f"Bearer {token}"})
    if not isinstance(result, SessionGateError):
        assert isinstance(result.user.id, str) and result.user.id


@FAST
@given(st.data())
def test_bearer_jwt_mutated_valid_token_only_our_errors(data):
    token = mint_hs256({"sub": "u1"}, JWT_SECRET, now=NOW)
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    mutated = token[:index] + data.draw(st.text(max_size=3)) + token[index + 1 :]
    only_our_errors(JWS.decode, mutated, now=NOW)


# ================================================================ Better Auth


@FAST
@given(st.text(max_size=200) | st.text(alphabet=B64URL + "+/=.%", max_size=90))
def test_better_auth_signed_cookie_and_bearer_only_our_errors(value):
    only_our_errors(verify_signed_cookie, value, BA_SECRET)
    result = only_our_errors(verify_bearer_value, value, BA_SECRET)
    assert result is None or isinstance(result, (str, SessionGateError))


@FAST
@given(st.text(alphabet=B64URL + "-", min_size=1, max_size=40))
def test_better_auth_signed_cookie_roundtrip(token):
    signed = sign_cookie_value(token, BA_SECRET)
    assert verify_signed_cookie(quote(signed, safe=""), BA_SECRET) == token
    assert verify_bearer_value(signed, BA_SECRET) == token


@FAST
@given(
    st.text(max_size=300) | st.text(alphabet=B64URL + ".", max_size=300),
    st.sampled_from(["compact", "jwt", "jwe"]),
)
def test_better_auth_cookie_cache_random_text_only_our_errors(value, strategy):
    only_our_errors(decode_cookie_cache, value, strategy, BA_SECRET, now=NOW)


def _compact_cache(session: dict, expires_at) -> str:
    from sessiongate._b64json import json_compact

    signed = json_compact({**session, "expiresAt": expires_at}).decode()
    sig = b64url_encode(hmac.digest(BA_SECRET.encode(), signed.encode(), "sha256"))
    outer = {"session": session, "expiresAt": expires_at, "signature": sig}
    return b64url_encode(json.dumps(outer).encode())


@FAST
@given(
    st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False),
)
def test_better_auth_signed_compact_cache_random_session_only_our_errors(session, expires_at):
    result = only_our_errors(
        decode_cookie_cache, _compact_cache(session, expires_at), "compact", BA_SECRET, now=NOW
    )
    if not isinstance(result, SessionGateError):
        data, until = result
        assert data == session and math.isfinite(until)


def test_better_auth_compact_cache_huge_expires_at_only_our_errors():
    only_our_errors(
        decode_cookie_cache, _compact_cache({"a": 1}, HUGE), "compact", BA_SECRET, now=NOW
    )


def test_better_auth_jwt_cache_huge_exp_only_our_errors():
    token = sign_hs256({"alg": "HS256"}, {"session": {}, "user": {}, "exp": HUGE}, key=BA_SECRET)
    only_our_errors(decode_cookie_cache, token, "jwt", BA_SECRET, now=NOW)


# ================================================================ ASGI middleware and sidecar

APP = make_asgi_app(SessionGate(AuthJSToken(SECRET), BearerJWT(JWT_SECRET)))
request_headers = st.lists(
    st.tuples(
        st.sampled_from(
            [
                b"cookie",
                b"authorization",
                b"origin",
                b"referer",
                b"host",
                b"x-forwarded-host",
                b"x-require-role",
                b"x-require-mode",
            ]
        )
        | st.binary(min_size=1, max_size=10),
        st.binary(max_size=300) | cookie_text.map(lambda s: s.encode("utf-8", "surrogatepass")),
    ),
    max_size=6,
)


@SLOW
@given(
    request_headers,
    st.sampled_from(["GET", "POST", "DELETE", "OPTIONS"]),
    st.sampled_from(["/me", "/public"]),
)
def test_asgi_middleware_never_500(headers, method, path):
    status, _, body = asyncio.run(asgi_request_async(APP, headers, method=method, path=path))
    assert status in {200, 401, 403, 405}, (status, body)
    if status in (401, 403):
        assert set(json.loads(body)) == {"error", "message"}


@SLOW
@given(claims_objects)
def test_asgi_middleware_random_claims_never_500(claims):
    token = V5_KEY.encrypt(json.dumps(claims).encode(), {"kid": V5_KEY.kid})
    status, _, body = asyncio.run(asgi_request_async(APP, [(b"cookie", f"{V5}={token}".encode())]))
    assert status in {200, 401}, (status, body)


def _sidecar():
    from sessiongate.sidecar import SidecarApp

    return SidecarApp(SessionGate(AuthJSToken(SECRET), BearerJWT(JWT_SECRET)))


async def _sidecar_call(app, headers, query: bytes, path: str = "/verify"):
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query,
        "headers": headers,
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], sent[0]["headers"], b"".join(m.get("body", b"") for m in sent[1:])


@SLOW
@given(request_headers, st.binary(max_size=200), st.sampled_from(["/verify", "/verify/x", "/x"]))
def test_sidecar_random_requests_never_500(headers, query, path):
    app = _sidecar()
    status, raw, body = asyncio.run(_sidecar_call(app, headers, query, path))
    assert status in {200, 400, 401, 403, 404, 431}, (status, body)
    for name, value in raw:
        assert all(0x20 <= b < 0x7F for b in name + value)
    json.loads(body)


@SLOW
@given(claims_objects)
def test_sidecar_random_claims_never_500_and_headers_stay_clean(claims):
    app = _sidecar()
    token = V5_KEY.encrypt(json.dumps(claims).encode(), {"kid": V5_KEY.kid})
    status, raw, body = asyncio.run(
        _sidecar_call(app, [(b"cookie", f"{V5}={token}".encode())], b"")
    )
    assert status in {200, 401}, (status, body)
    names = [k for k, _ in raw]
    assert len(names) == len(set(names))
    for name, value in raw:
        assert all(0x20 <= b < 0x7F for b in name + value)


# ================================================================ any Cookie header, database gates

FULL_SECRET = "cookie-names-secret-0123456789abcdef0123"  # test_sec_core_cookie_names.S
SESSION_NAMES = [
    "authjs.session-token",
    "__Secure-authjs.session-token",
    "next-auth.session-token",
    "__Secure-next-auth.session-token",
    "better-auth.session_token",
    "__Secure-better-auth.session_token",
    "better-auth.session_data",
]
SUFFIXES = ["", ".0", ".1", ".2", ".01", ".00", ".x", ".", "..0", ".-1", ".63", ".64", "._"]
cookie_names = st.builds(
    lambda n, s: n + s, st.sampled_from(SESSION_NAMES), st.sampled_from(SUFFIXES)
) | st.text(alphabet=B64URL + ".-_", min_size=1, max_size=12)
cookie_values = st.sampled_from(
    [
        "",
        VALID,
        "B" * 32,
        quote(sign_cookie_value("B" * 32, FULL_SECRET), safe=""),
        sign_cookie_value("B" * 32, "wrong-secret-0123456789abcdefghijk"),
        mint_authjs_v5({"sub": "u"}, FULL_SECRET, now=NOW + 10**6),
        mint_nextauth_v4({"sub": "u"}, FULL_SECRET, now=NOW + 10**6),
        mint_authjs_v5({"name": "no id"}, FULL_SECRET, now=NOW + 10**6),
        "a.b",
        "%ZZ",
        '"quoted"',
    ]
) | st.text(alphabet=B64URL + '.%=" ', max_size=40)
cookie_headers = st.lists(st.tuples(cookie_names, cookie_values), min_size=1, max_size=6).map(
    lambda pairs: "; ".join(f"{k}={v}" for k, v in pairs)
)

FULL_GATE = full_gate()
FULL_APP = make_asgi_app(full_gate())


@FAST
@given(cookie_headers)
@example("authjs.session-token.x=1")
@example("authjs.session-token.0=")
@example("authjs.session-token.01=abc")
def test_full_gate_any_cookie_header_only_our_errors(header):
    result = only_our_errors(asyncio.run, FULL_GATE.authenticate({"cookie": header}))
    if isinstance(result, SessionGateError):
        assert result.status_code in {401, 403, 503}
    else:
        assert isinstance(result.user.id, str) and result.user.id
    result = only_our_errors(FULL_GATE.authenticate_sync, {"cookie": header})
    assert not isinstance(result, SessionGateError) or result.status_code in {401, 403, 503}


@SLOW
@given(cookie_headers, st.sampled_from(["GET", "POST"]))
@example("authjs.session-token.x=1", "GET")
def test_asgi_middleware_with_database_authenticators_never_500(header, method):
    status, _, body = asyncio.run(
        asgi_request_async(FULL_APP, [(b"cookie", header.encode())], method=method)
    )
    assert status in {200, 401, 403, 503}, (status, body)


@SLOW
@given(cookie_headers)
@example("authjs.session-token.01=abc")
def test_sidecar_with_database_authenticators_never_500(header):
    from sessiongate.sidecar import SidecarApp

    app = SidecarApp(full_gate())
    status, _, body = asyncio.run(_sidecar_call(app, [(b"cookie", header.encode())], b""))
    assert status in {200, 401, 403, 503}, (status, body)
    json.loads(body)


def test_memory_store_is_a_session_store():
    from sessiongate.stores.base import SessionStore

    assert isinstance(MemoryStore(), SessionStore)
