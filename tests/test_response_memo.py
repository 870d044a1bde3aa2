"""The sidecar's response memo (``sessiongate.sidecar.memo``): faster, never different.

A differential test runs the same request sequences through a sidecar with the memo and one
without it and requires byte-identical answers; the other tests pin what must never be
replayed (a database session after sign-out, an expired token, a request with a header the full
path refuses).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.sessions import DatabaseSession
from sessiongate.sidecar import SidecarApp
from sessiongate.sidecar.memo import ResponseMemo
from sessiongate.stores import PRESETS, SQLiteStore
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256
from stores.helpers import NOW_TS, make_prisma_sqlite

S = "memo-secret-0123456789abcdef0123"
JWT_S = "memo-jwt-secret-0123456789abcdef"
T = 1_800_000_000.0
ADMIN = {"sub": "user-1", "role": "admin", "permissions": ["posts:read"], "email": "a@x.io"}
VIEWER = {"sub": "user-2", "role": "viewer"}


class Clock:
    def __init__(self, now: float = T) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_app(clock: Clock, memo: int = 100, **kw) -> SidecarApp:
    gate = SessionGate(AuthJSToken(S), BearerJWT(JWT_S), clock=clock)
    return SidecarApp(gate, response_memo_size=memo, **kw)


async def asgi(app: SidecarApp, scope_headers: Sequence[tuple[bytes, bytes]], **scope) -> tuple:
    """Call the app with a hand-made scope (header names exactly as given)."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    full = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": "/verify",
        "query_string": b"",
        "headers": list(scope_headers),
        **scope,
    }
    await app(full, receive, send)
    start, body = sent
    return start["status"], list(start["headers"]), body["body"]


def call(app: SidecarApp, headers: Sequence[tuple[bytes, bytes]], **scope) -> tuple:
    return asyncio.run(asgi(app, headers, **scope))


def cookie(claims: dict = ADMIN, **kw) -> tuple[bytes, bytes]:
    return (b"cookie", cookie_header(mint_authjs_v5(claims, S, now=T, **kw)).encode())


def test_second_identical_request_is_answered_from_the_memo():
    app = make_app(Clock())
    c = cookie()
    answers = [
        call(app, [(b"host", b"api"), c, (b"x-request-id", str(i).encode())]) for i in range(4)
    ]
    assert all(a == answers[0] for a in answers)
    assert answers[0][0] == 200
    # 1st: the gate decides and memoises its verdict (memo_check confirms it), then replays
    assert (app.memo.hits, app.memo.misses) == (3, 1)


def test_bearer_requests_are_memoised_too():
    app = make_app(Clock())
    auth = (b"authorization", f"Bearer {mint_hs256(ADMIN, JWT_S, now=T)}".encode())
    for _ in range(3):
        assert call(app, [auth])[0] == 200
    assert app.memo.hits == 2


def test_memo_stops_replaying_when_the_token_expires():
    clock = Clock()
    app = make_app(clock)
    c = cookie(max_age=100)  # exp = T + 100
    for _ in range(3):
        assert call(app, [c])[0] == 200
    hits = app.memo.hits
    clock.now = T + 105  # past exp, inside Auth.js's 15 s leeway: the gate decides, 200
    assert call(app, [c])[0] == 200
    assert app.memo.hits == hits
    clock.now = T + 120  # past the leeway: the memoised 200 must not come back
    status, _, body = call(app, [c])
    assert status == 401 and b'"expired"' in body
    assert app.memo.hits == hits


def test_database_session_is_never_replayed_after_sign_out(tmp_path):
    path = tmp_path / "app.db"
    make_prisma_sqlite(path).close()
    schema = PRESETS["authjs-prisma"].with_extra(["role"])
    auth = DatabaseSession(SQLiteStore(path, schema=schema), cache_ttl=0, negative_cache_ttl=0)
    app = SidecarApp(SessionGate(auth, clock=lambda: NOW_TS))
    header = [(b"cookie", b"authjs.session-token=tok-valid")]
    for _ in range(4):
        assert call(app, header)[0] == 200
    assert app.memo.hits == 0  # a database verdict is never the gate's memoised one
    with sqlite3.connect(path) as conn:
        conn.execute('DELETE FROM "Session" WHERE "sessionToken" = ?', ("tok-valid",))
    status, _, body = call(app, header)
    assert status == 401 and b"session_not_found" in body
    asyncio.run(auth.aclose())


def test_client_added_require_mode_after_a_memoised_answer_is_still_refused():
    app = make_app(Clock())
    base = [cookie(), (b"x-require-role", b"admin,viewer")]
    assert call(app, [cookie()])[0] == 200
    for _ in range(3):
        assert call(app, base)[0] == 403
    for extra in ((b"x-require-mode", b"any"), (b"X-Require-Mode", b"any")):
        assert call(app, [*base, extra])[0] == 400


def test_a_memoised_requirement_is_not_reused_for_another_requirement():
    app = make_app(Clock())
    for _ in range(3):
        assert call(app, [cookie(), (b"x-require-role", b"admin")])[0] == 200
    assert call(app, [cookie(), (b"x-require-role", b"admin"), (b"x-require-role", b"b")])[0] == 403
    assert call(app, [cookie()], query_string=b"role=editor")[0] == 403


def test_other_spellings_of_verdict_headers_take_the_full_path():
    memo = ResponseMemo(10, max_header_bytes=1000)
    scope = {"method": "GET", "path": "/verify", "query_string": b"", "headers": []}
    assert memo.key({**scope, "headers": [(b"cookie", b"a=1")]}) is not None
    assert memo.key({**scope, "headers": [(b"Cookie", b"a=1")]}) is None
    assert memo.key({**scope, "headers": [(b"X-Original-Method", b"POST")]}) is None
    assert memo.key({**scope, "headers": [(b"x-require-anything", b"x")]}) is None
    c = (b"cookie", b"a=1")
    assert memo.key({**scope, "headers": [c, (b"user-agent", b"x" * 2000)]}) is None  # 431 path
    assert memo.key({**scope, "headers": [c, (b"user-agent", b"curl")]}) is not None
    # no credential: the gate memoises no verdict, so there is nothing to look up
    assert memo.key({**scope, "headers": [(b"user-agent", b"curl")]}) is None


def test_headers_that_do_not_change_the_verdict_do_not_defeat_the_memo():
    memo = ResponseMemo(10, max_header_bytes=10_000)
    scope = {"method": "GET", "path": "/verify", "query_string": b""}
    a = memo.key({**scope, "headers": [(b"cookie", b"a=1"), (b"x-request-id", b"1")]})
    b = memo.key({**scope, "headers": [(b"x-trace", b"2"), (b"cookie", b"a=1")]})
    assert a == b
    c = memo.key({**scope, "headers": [(b"cookie", b"a=1"), (b"origin", b"https://x")]})
    assert c != a


def test_header_order_matters_only_within_one_name():
    memo = ResponseMemo(10, max_header_bytes=10_000)
    scope = {"method": "GET", "path": "/verify", "query_string": b""}

    def key(*headers):
        return memo.key({**scope, "headers": list(headers)})

    c1, c2, h = (b"cookie", b"a=1"), (b"cookie", b"b=2"), (b"host", b"api")
    assert key(c1, h) == key(h, c1)  # wrk and proxies order headers as they like
    assert key(c1, c2, h) == key(c1, h, c2)
    assert key(c1, c2) != key(c2, c1)  # joined in this order: another Cookie header
    app = make_app(Clock())
    session = cookie()
    for headers in ([session, (b"host", b"api")], [(b"host", b"api"), session]) * 2:
        assert call(app, headers)[0] == 200
    assert app.memo.hits == 3


def test_memo_is_bounded():
    app = make_app(Clock(), memo=5)
    for i in range(20):
        c = cookie({"sub": f"user-{i}"})
        for _ in range(3):
            call(app, [c])
    assert len(app.memo) == 5


def test_memo_size_zero_turns_it_off():
    app = make_app(Clock(), memo=0)
    for _ in range(3):
        assert call(app, [cookie()])[0] == 200
    assert (app.memo.hits, len(app.memo)) == (0, 0)


# ------------------------------------------------------------------------------ differential

GOOD = cookie_header(mint_authjs_v5(ADMIN, S, now=T))
OTHER = cookie_header(mint_authjs_v5(VIEWER, S, now=T))
EXPIRED = cookie_header(mint_authjs_v5(ADMIN, S, now=T - 7200, max_age=60))
BEARER = "Bearer " + mint_hs256(ADMIN, JWT_S, now=T)

header_pool = st.sampled_from(
    [
        (b"cookie", GOOD.encode()),
        (b"cookie", OTHER.encode()),
        (b"cookie", EXPIRED.encode()),
        (b"cookie", b"authjs.session-token=garbage"),
        (b"authorization", BEARER.encode()),
        (b"authorization", b"Bearer nope"),
        (b"x-require-role", b"admin"),
        (b"x-require-role", b"viewer|admin"),
        (b"x-require-permission", b"posts:read"),
        (b"x-require-mode", b"any"),
        (b"X-Require-Role", b"editor"),
        (b"x-original-method", b"POST"),
        (b"x-forwarded-method", b"GET"),
        (b"origin", b"https://evil.example"),
        (b"origin", b"http://api.example"),
        (b"referer", b"http://api.example/page"),
        (b"host", b"api.example"),
        (b"x-forwarded-host", b"api.example"),
        (b"x-forwarded-proto", b"https"),
        (b"x-original-url", b"https://api.example/x"),
        (b"x-original-url", b"https://evil.example/x"),
        (b"referer", b"https://evil.example/page"),
        (b"x-forwarded-host", b"evil.example"),
        (b"x-forwarded-proto", b"http"),
        (b"Cookie", GOOD.encode()),
        (b"x-request-id", b"abc"),
        (b"user-agent", b"test"),
    ]
)
scope_pool = st.tuples(
    st.sampled_from(["GET", "HEAD", "POST"]),
    st.sampled_from(["/verify", "/verify/api/x"]),
    st.sampled_from([b"", b"role=admin", b"permission=posts:write", b"mode=any"]),
)
credential_pool = st.sampled_from(
    [
        [(b"cookie", GOOD.encode())],
        [(b"authorization", BEARER.encode())],
        [(b"cookie", OTHER.encode())],
        [(b"cookie", GOOD.encode()), (b"host", b"api.example"), (b"x-original-method", b"POST")],
        [
            (b"cookie", GOOD.encode()),
            (b"host", b"api.example"),
            (b"x-original-method", b"POST"),
            (b"origin", b"http://api.example"),
        ],
        [
            (b"cookie", GOOD.encode()),
            (b"x-forwarded-host", b"api.example"),
            (b"x-forwarded-proto", b"https"),
            (b"x-forwarded-method", b"PUT"),
            (b"referer", b"https://api.example/page"),
        ],
        [
            (b"cookie", GOOD.encode()),
            (b"x-original-url", b"https://api.example/x"),
            (b"x-original-method", b"DELETE"),
            (b"origin", b"https://api.example"),
        ],
    ]
)
edit = st.tuples(st.sampled_from(["add", "drop", "swap", "move"]), header_pool, st.integers(0, 6))


def apply(headers: list, op: str, header: tuple, at: int) -> list:
    out = list(headers)
    if op == "add":
        out.insert(at % (len(out) + 1), header)
    elif out and op == "drop":
        del out[at % len(out)]
    elif out and op == "move":  # the same headers in another order
        out.insert(at % len(out), out.pop(0))
    elif out:
        out[at % len(out)] = header
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    credential_pool,
    st.lists(header_pool, max_size=3),
    st.lists(st.tuples(edit, scope_pool), min_size=1, max_size=6),
    scope_pool,
    st.sampled_from(["auto", "strict"]),
)
def test_memo_never_changes_an_answer(credentials, extra, edits, first_scope, csrf):
    """A request and near copies of it (one header added, dropped, changed or moved, another
    method, path or query), each three times, through a sidecar with the memo and one without."""
    on = make_app(Clock(), memo=1000, csrf_mode=csrf)
    off = make_app(Clock(), memo=0, csrf_mode=csrf)
    base = [*credentials, *extra]
    requests = [(base, first_scope)] + [(apply(base, *e), sc) for e, sc in edits]
    for headers, (method, path, query) in requests:
        scope = {"method": method, "path": path, "query_string": query}
        for _ in range(3):
            assert call(on, headers, **scope) == call(off, headers, **scope)


API = [(b"host", b"api.example")]
WRITE = [(b"x-original-method", b"POST")]
FWD = [(b"x-forwarded-host", b"api.example"), (b"x-forwarded-proto", b"https")]
OWN = [(b"origin", b"http://api.example")]
OWN_TLS = [(b"origin", b"https://api.example")]
G = [(b"cookie", GOOD.encode())]


def swap(headers: list, name: bytes, value: bytes) -> list:
    return [(n, value if n == name else v) for n, v in headers]


# (what differs, memoised request, scope, near copy, scope of the copy): the copy's answer differs
NEAR_COPIES = [
    ("cookie", [*G, (b"x-require-role", b"admin")], {}, None, {}),
    ("authorization", [(b"authorization", BEARER.encode())], {}, None, {}),
    ("x-require-role", G, {}, [*G, (b"x-require-role", b"editor")], {}),
    ("x-require-permission", G, {}, [*G, (b"x-require-permission", b"posts:delete")], {}),
    ("x-original-method", G, {}, [*G, *WRITE], {}),
    ("x-forwarded-method", G, {}, [*G, (b"x-forwarded-method", b"PATCH")], {}),
    ("origin", [*G, *API, *WRITE, *OWN], {}, None, {}),
    ("referer", [*G, *API, *WRITE, (b"referer", b"http://api.example/p")], {}, None, {}),
    ("host", [*G, *API, *WRITE, *OWN], {}, None, {}),
    ("x-forwarded-host", [*G, *FWD, *WRITE, *OWN_TLS], {}, None, {}),
    ("x-forwarded-proto", [*G, *FWD, *WRITE, *OWN_TLS], {}, None, {}),
    (
        "x-original-url",
        [*G, (b"x-original-url", b"https://api.example/x"), *WRITE, *OWN_TLS],
        {},
        None,
        {},
    ),
    ("method", G, {}, G, {"method": "POST"}),
    ("scheme", [*G, *API, *WRITE, *OWN], {}, [*G, *API, *WRITE, *OWN], {"scheme": "https"}),
    (
        "path",
        G,
        {"path": "/verify/x", "query_string": b"role=editor"},
        G,
        {"path": "/verify"},
    ),
    ("query", G, {"query_string": b"role=admin"}, G, {"query_string": b"role=editor"}),
]
VARIANT_VALUES = {
    b"cookie": OTHER.encode(),
    b"authorization": b"Bearer nope",
    b"origin": b"https://evil.example",
    b"referer": b"https://evil.example/p",
    b"host": b"evil.example",
    b"x-forwarded-host": b"evil.example",
    b"x-forwarded-proto": b"http",
    b"x-original-url": b"https://evil.example/x",
}


@pytest.mark.parametrize(
    ("what", "base", "scope", "copy", "copy_scope"), NEAR_COPIES, ids=[c[0] for c in NEAR_COPIES]
)
def test_every_verdict_input_is_part_of_the_key(what, base, scope, copy, copy_scope):
    """A memoised 200 is never replayed for a near copy that the full path answers otherwise."""
    if copy is None:
        name = what.encode()
        copy = swap(base, name, VARIANT_VALUES[name])
    on = make_app(Clock())
    off = make_app(Clock(), memo=0)
    for _ in range(3):
        assert call(on, base, **scope)[0] == 200
    assert on.memo.hits == 2
    expected = call(off, copy, **{**scope, **copy_scope})
    assert expected[0] != 200
    assert call(on, copy, **{**scope, **copy_scope}) == expected


def test_memo_differential_through_httpx_keeps_the_contract():
    """The same contract over httpx (lower-cased headers), memo hits included."""

    async def go() -> list[httpx.Response]:
        app = make_app(Clock())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as client:
            return [await client.get("/verify", headers={"cookie": GOOD}) for _ in range(3)]

    first, _, third = asyncio.run(go())
    assert third.status_code == first.status_code == 200
    assert third.headers == first.headers and third.content == first.content


@pytest.mark.parametrize("size", [-1])
def test_negative_memo_size_is_refused(size):
    from sessiongate.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        ResponseMemo(size, max_header_bytes=10)
