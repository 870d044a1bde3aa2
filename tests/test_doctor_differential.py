"""The doctor's verdict equals the gate's, always (issue #10): a generated corpus.

Every case is judged twice: by a gate assembled here from the library's classes, the way an app
(or ``sessiongate serve``) configures it, and by ``sessiongate doctor`` given the same settings.
For each case:

* the doctor's verdict is the gate's: accepted with the same user and authenticator, or rejected
  with the same error code;
* the explanation agrees with it: an accepted input has an ``ok`` finding and no ``error``;
  a rejected one has an ``error`` finding and no ``ok`` (the old doctor called a ``user_id``-only
  token invalid while the gate accepted it; a drift like that fails here);
* the doctor found a specific cause: it never had to fall back to the generic "sessiongate
  rejects it" explanation, and never disagreed with the gate.

The corpus is deterministic: valid, expired, not-yet-valid and edge-of-leeway tokens; NextAuth
v4, Auth.js v5 with both encs, with and without kid; current, old and wrong secrets; the right
and wrong cookie names and salts; bearer and bare tokens; chunked cookies, a gap, a stale value
next to chunks, a ``__Secure-`` twin; cut-off tokens; every id claim spelling the ClaimMapping
accepts (read from the class) and ids it refuses; HS256/HS512/``none`` JWTs, a JWT signed with
the session secret, a JWT in the session cookie; database sessions (Auth.js, Better Auth signed
cookies and bearer values, rotation, unsigned tokens) and Better Auth cookie caches (compact,
jwt, jwe; expired, forged, another session's, another version).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessiongate import (
    AUTHJS_COOKIE_NAMES,
    AuthJSToken,
    BearerJWT,
    BetterAuthSession,
    DatabaseSession,
    SessionGate,
    SQLiteStore,
)
from sessiongate._b64json import b64url_encode, json_compact
from sessiongate._sync import default_loop
from sessiongate.authjs import v4_key, v5_key
from sessiongate.betterauth import better_auth_jwe_key, sign_cookie_value
from sessiongate.doctor import diagnose
from sessiongate.errors import SessionGateError
from sessiongate.jwe import A256CBC_HS512, A256GCM
from sessiongate.testing import AUTHJS_CHUNK_SIZE, chunk_cookie
from sessiongate.user import ClaimMapping

S = "differential-current-secret-0123456789"
OLD = "differential-old-secret-9876543210abc"
WRONG = "differential-wrong-secret-xyz-0000000"
J = "differential-jwt-secret-abcdef0123456"
BA = "differential-better-auth-secret-012345"
BA_OLD = "differential-better-auth-old-secret-99"
NOW = 1_800_000_000
NOW_DT = datetime.fromtimestamp(NOW, UTC)
PLAIN = "authjs.session-token"
SECURE = "__Secure-authjs.session-token"
V4 = "next-auth.session-token"
CUSTOM = "app.session-token"
BA_COOKIE = "better-auth.session_token"
BA_DATA = "better-auth.session_data"
BA_TOKEN = "Zq3hW0rJc8kT1pX9mB2vN7sL4dF6gH5a"
BA_EXPIRED = "expiredTokenxxxxxxxxxxxxxxxxxxxx"
BA_UNKNOWN = "unknownTokenxxxxxxxxxxxxxxxxxxxx"
DB_TOKEN = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
DB_EXPIRED = "00000000-0000-4000-8000-00000000dead"
DB_UNKNOWN = "00000000-0000-4000-8000-000000000000"
DB_HEX = "a" * 64


# ------------------------------------------------------------------------------ minting


def jwe(
    body: dict[str, Any],
    *,
    secret: str = S,
    salt: str | None = PLAIN,
    enc: str = A256CBC_HS512,
    kid: bool = True,
) -> str:
    """A JWE as next-auth@4 (``salt=None``) or @auth/core makes it, from the library's keys."""
    if salt is None:
        return v4_key(secret).encrypt(json_compact(body), {})
    key = v5_key(secret, salt, enc)
    return key.encrypt(json_compact(body), {"kid": key.kid} if kid else {})


def hs(body: dict[str, Any], secret: str = J, alg: str = "HS256") -> str:
    head = b64url_encode(json_compact({"alg": alg, "typ": "JWT"}))
    payload = b64url_encode(json_compact(body))
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    sig = hmac.new(secret.encode(), f"{head}.{payload}".encode(), digest).digest()
    return f"{head}.{payload}.{b64url_encode(sig)}"


def timed(claims: dict[str, Any], *, exp: float | None = 3600, **extra: Any) -> dict[str, Any]:
    body = {**claims, "iat": NOW - 60, **extra}
    if exp is not None:
        body["exp"] = NOW + exp
    return body


GOOD = {"sub": "user-1", "email": "ada@example.com"}


# ------------------------------------------------------------------------------ cases


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    headers: dict[str, str]


def cookie_case(id_: str, pairs: dict[str, str] | str, value: str | None = None) -> Case:
    if isinstance(pairs, str):
        assert value is not None
        pairs = {pairs: value}
    header = "; ".join(f"{k}={v}" for k, v in pairs.items())
    return Case(id_, f"Cookie: {header}", {"cookie": header})


def bearer_case(id_: str, token: str) -> Case:
    return Case(id_, f"Authorization: Bearer {token}", {"authorization": f"Bearer {token}"})


def bare_case(id_: str, token: str) -> Case:
    return Case(id_, token, {"authorization": f"Bearer {token}"})


def placements(id_: str, token: str, name: str = PLAIN) -> Iterator[Case]:
    yield cookie_case(f"{id_}-cookie", name, token)
    yield bearer_case(f"{id_}-bearer", token)
    yield bare_case(f"{id_}-bare", token)


def authjs_cases() -> Iterator[Case]:
    body = timed(GOOD)
    for secret_name, secret in (("current", S), ("old", OLD), ("wrong", WRONG)):
        for enc in (A256CBC_HS512, A256GCM):
            for salt in (PLAIN, SECURE, CUSTOM):
                token = jwe(body, secret=secret, salt=salt, enc=enc)
                tag = f"v5-{enc}-{secret_name}-for-{salt}"
                yield cookie_case(f"{tag}-as-plain", PLAIN, token)
                yield cookie_case(f"{tag}-as-secure", SECURE, token)
                yield cookie_case(f"{tag}-as-v4-name", V4, token)
                yield bearer_case(f"{tag}-bearer", token)
            nokid = jwe(body, secret=secret, enc=enc, kid=False)
            yield from placements(f"v5-nokid-{enc}-{secret_name}", nokid)
        v4 = jwe(body, secret=secret, salt=None)
        yield from placements(f"v4-{secret_name}", v4, V4)
        yield cookie_case(f"v4-{secret_name}-in-v5-cookie", PLAIN, v4)
    yield from _time_cases()
    yield from _id_cases()
    yield from _cookie_jar_cases()
    yield from _cut_cases()


def _time_cases() -> Iterator[Case]:
    variants: dict[str, dict[str, Any]] = {
        "expired-1h": timed(GOOD, exp=-3600),
        "exp-14s-ago": timed(GOOD, exp=-14),
        "exp-15s-ago": timed(GOOD, exp=-15),
        "nbf-in-1h": timed(GOOD, nbf=NOW + 3600),
        "nbf-in-15s": timed(GOOD, nbf=NOW + 15),
        "nbf-in-16s": timed(GOOD, nbf=NOW + 16),
        "no-exp": timed(GOOD, exp=None),
        "exp-string": {**GOOD, "exp": "tomorrow"},
        "exp-bool": {**GOOD, "exp": True},
        "iat-string": timed(GOOD, iat="now"),
    }
    for name, body in variants.items():
        yield from placements(f"v5-{name}", jwe(body))
        yield bearer_case(f"v4-{name}", jwe(body, salt=None))
        yield bearer_case(f"hs256-{name}", hs(body))


def _id_cases() -> Iterator[Case]:
    spellings = {f"id-{claim}": {claim: "user-7"} for claim in ClaimMapping().id}
    spellings.update(
        {
            "id-numeric-sub": {"sub": 42},
            "id-numeric-user_id": {"user_id": 7},
            "id-empty-sub": {"sub": ""},
            "id-bool": {"id": True},
            "id-list": {"sub": ["a"]},
            "id-nested-only": {"user": {"id": "u"}},
            "id-none": {"name": "no id"},
            "id-null-sub-then-uid": {"sub": None, "uid": "u9"},
        }
    )
    for name, claims in spellings.items():
        body = timed(claims)
        yield cookie_case(f"v5-{name}", PLAIN, jwe(body))
        yield bearer_case(f"v4-{name}", jwe(body, salt=None))
        yield bearer_case(f"hs256-{name}", hs(body))


def _cookie_jar_cases() -> Iterator[Case]:
    big = jwe(timed({**GOOD, "pad": "x" * 9000}))
    chunks = chunk_cookie(big, PLAIN)
    assert len(chunks) >= 3
    yield cookie_case("chunked", chunks)
    yield cookie_case("chunked-reversed", dict(reversed(list(chunks.items()))))
    gap = {k: v for k, v in chunks.items() if not k.endswith(".1")}
    yield cookie_case("chunk-gap", gap)
    yield cookie_case("chunk-0-only", {f"{PLAIN}.0": chunks[f"{PLAIN}.0"]})
    yield cookie_case("stale-before-chunks", {PLAIN: "old", **chunks})
    yield cookie_case("fresh-unchunked-stale-chunks", {PLAIN: jwe(timed(GOOD)), f"{PLAIN}.0": "x"})
    yield cookie_case("stale-expired-next-to-chunks", {PLAIN: jwe(timed(GOOD, exp=-99)), **chunks})
    secure_chunks = chunk_cookie(jwe(timed({**GOOD, "pad": "y" * 5000}), salt=SECURE), SECURE)
    yield cookie_case("secure-chunked", secure_chunks)
    good = jwe(timed(GOOD))
    yield cookie_case("secure-garbage-shadows-plain", {SECURE: "garbage", PLAIN: good})
    yield cookie_case(
        "secure-good-and-plain-garbage", {SECURE: jwe(timed(GOOD), salt=SECURE), PLAIN: "garbage"}
    )
    yield cookie_case("empty-session-cookie", {PLAIN: ""})
    yield cookie_case("no-session-cookie", {"theme": "dark", "_ga": "GA1.2"})
    yield cookie_case("v4-and-v5-families", {V4: jwe(timed(GOOD), salt=None), PLAIN: "bad"})
    yield cookie_case("database-token-in-jwt-app", PLAIN, DB_TOKEN)
    yield cookie_case("jws-in-session-cookie", PLAIN, hs(timed(GOOD)))
    yield cookie_case("custom-name-not-configured", CUSTOM, jwe(timed(GOOD), salt=CUSTOM))
    yield Case(
        "not-bearer", "Authorization: Basic dXNlcjpwdw==", {"authorization": "Basic dXNlcjpwdw=="}
    )
    yield Case(
        "lowercase-bearer", f"authorization: bearer {good}", {"authorization": f"bearer {good}"}
    )
    yield Case("empty-bearer", "Authorization: Bearer ", {"authorization": "Bearer "})
    yield Case(
        "curl",
        f"curl https://api.example.com -H 'Cookie: {PLAIN}={good}'",
        {"cookie": f"{PLAIN}={good}"},
    )
    for alg_name, token in (
        ("hs256-jwt-secret", hs(timed(GOOD))),
        ("hs256-session-secret", hs(timed(GOOD), secret=S)),
        ("hs256-wrong-secret", hs(timed(GOOD), secret=WRONG)),
        ("hs512-jwt-secret", hs(timed(GOOD), alg="HS512")),
        ("alg-none", b64url_encode(b'{"alg":"none"}') + "." + b64url_encode(b'{"sub":"u"}') + "."),
    ):
        yield bearer_case(alg_name, token)


def _cut_cases() -> Iterator[Case]:
    token = jwe(timed(GOOD))
    for n in (12, 60, len(token) // 2, len(token) - 20, len(token) - 1):
        yield bearer_case(f"jwe-cut-at-{n}", token[:n])
        yield cookie_case(f"jwe-cut-at-{n}-cookie", PLAIN, token[:n])
    jws = hs(timed(GOOD))
    for n in (20, len(jws) // 2, len(jws) - 5):
        yield bearer_case(f"jws-cut-at-{n}", jws[:n])
    big = jwe(timed({**GOOD, "pad": "z" * 6000}))
    yield cookie_case("first-chunk-size-only", PLAIN, big[:AUTHJS_CHUNK_SIZE])


# ------------------------------------------------------------------------------ apps


@dataclass
class App:
    """The doctor's settings and the same app's gate, assembled independently."""

    options: dict[str, Any]
    build: Callable[[], SessionGate]
    cases: list[Case] = field(default_factory=list)


def verdict(gate: SessionGate, headers: dict[str, str]) -> tuple[bool, Any, Any]:
    try:
        result = gate.authenticate_sync(headers)
    except SessionGateError as err:
        return False, err.code, None
    return True, result.user.id, result.authenticator


def close(gate: SessionGate) -> None:
    default_loop().run(gate.aclose(), timeout=10)


def assert_agrees(app: App, case: Case) -> None:
    gate = app.build()
    try:
        accepted, what, authenticator = verdict(gate, case.headers)
    finally:
        close(gate)
    report = diagnose(case.text, now=NOW, **app.options)
    found = [(f.level, f.code) for f in report.findings]
    context = f"gate={(accepted, what)} doctor={report.verdict} findings={found}"
    assert report.ok is accepted, context
    levels = {level for level, _ in found}
    codes = {code for _, code in found}
    if accepted:
        assert (report.verdict.user_id, report.verdict.authenticator) == (what, authenticator)
        assert "error" not in levels, context
        assert any(f.level == "ok" and f"user `{what}`" in f.message for f in report.findings), (
            context
        )
    else:
        assert report.verdict.code == what, context
        assert "error" in levels, context
        assert "ok" not in levels, context
    assert not codes & {"rejected", "doctor_disagrees", "accepted"}, context


def authjs_app() -> App:
    return App(
        {"secrets": [S, OLD], "jwt_secrets": [J]},
        lambda: SessionGate(AuthJSToken([S, OLD]), BearerJWT([J]), clock=lambda: NOW),
    )


AUTHJS_CASES = list(authjs_cases())


@pytest.mark.parametrize("case", AUTHJS_CASES, ids=[c.id for c in AUTHJS_CASES])
def test_authjs_and_jwt_corpus(case: Case) -> None:
    assert_agrees(authjs_app(), case)


def custom_cookie_app() -> App:
    return App(
        {"secrets": [S], "jwt_secrets": [J], "cookie_name": CUSTOM},
        lambda: SessionGate(
            AuthJSToken([S], cookie_names=[*AUTHJS_COOKIE_NAMES, CUSTOM]),
            BearerJWT([J]),
            clock=lambda: NOW,
        ),
    )


CUSTOM_CASES = [
    cookie_case("custom-name", CUSTOM, jwe(timed(GOOD), salt=CUSTOM)),
    cookie_case("custom-secure-name", "__Secure-" + CUSTOM, jwe(timed(GOOD), salt=CUSTOM)),
    cookie_case("standard-name-still-read", PLAIN, jwe(timed(GOOD))),
    bearer_case("custom-salt-bearer", jwe(timed(GOOD), salt=CUSTOM)),
    Case(
        "bare-token-from-custom-cookie",
        jwe(timed(GOOD), salt=CUSTOM),
        {"cookie": f"{CUSTOM}={jwe(timed(GOOD), salt=CUSTOM)}"},
    ),
]


@pytest.mark.parametrize("case", CUSTOM_CASES, ids=[c.id for c in CUSTOM_CASES])
def test_custom_cookie_name_corpus(case: Case) -> None:
    app = custom_cookie_app()
    if case.id == "bare-token-from-custom-cookie":
        # the bare token is read as the value of --cookie-name; mint it once for both sides
        token = case.text
        case = Case(case.id, token, {"cookie": f"{CUSTOM}={token}"})
    assert_agrees(app, case)


# ------------------------------------------------------------------------------ databases


def make_database(path: str) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT, email TEXT, "emailVerified" TEXT,
          image TEXT);
        CREATE TABLE sessions (id INTEGER PRIMARY KEY, "userId" TEXT, expires TEXT,
          "sessionToken" TEXT UNIQUE);
        CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
          "emailVerified" INTEGER NOT NULL DEFAULT 0, image TEXT);
        CREATE TABLE "session" (id TEXT PRIMARY KEY, "expiresAt" TEXT NOT NULL,
          token TEXT UNIQUE, "userId" TEXT NOT NULL);
        """
    )
    later, earlier = NOW_DT + timedelta(days=7), NOW_DT - timedelta(seconds=5)
    conn.execute("INSERT INTO users VALUES ('u1', 'Ada', 'ada@example.com', NULL, NULL)")
    for token, expires in ((DB_TOKEN, later), (DB_EXPIRED, earlier), (DB_HEX, later)):
        conn.execute(
            'INSERT INTO sessions ("userId", expires, "sessionToken") VALUES (?, ?, ?)',
            ("u1", expires.isoformat(), token),
        )
    conn.execute("INSERT INTO \"user\" VALUES ('b1', 'Bea', 'bea@example.com', 1, NULL)")
    for i, (token, expires) in enumerate(((BA_TOKEN, later), (BA_EXPIRED, earlier))):
        conn.execute(
            'INSERT INTO "session" VALUES (?, ?, ?, ?)', (f"s{i}", expires.isoformat(), token, "b1")
        )
    conn.commit()
    conn.close()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("differential") / "app.db")
    make_database(path)
    return path


def database_app(db: str) -> App:
    return App(
        {
            "secrets": [S],
            "jwt_secrets": [J],
            "better_auth_secrets": [BA, BA_OLD],
            "database_url": db,
            "schema": "authjs-pg",
        },
        lambda: SessionGate(
            AuthJSToken([S]),
            BearerJWT([J]),
            DatabaseSession(SQLiteStore(db, schema="authjs-pg")),
            BetterAuthSession(secret=[BA, BA_OLD], store=SQLiteStore(db, schema="better-auth")),
            clock=lambda: NOW,
        ),
    )


def signed(token: str, secret: str = BA) -> str:
    return sign_cookie_value(token, secret)


def database_cases() -> Iterator[Case]:
    for name, token in (
        ("valid", DB_TOKEN),
        ("expired", DB_EXPIRED),
        ("unknown", DB_UNKNOWN),
        ("hex64", DB_HEX),
    ):
        yield cookie_case(f"authjs-db-{name}", PLAIN, token)
        yield cookie_case(f"authjs-db-{name}-secure", SECURE, token)
        yield bearer_case(f"authjs-db-{name}-bearer", token)
    for name, value in (
        ("valid", signed(BA_TOKEN)),
        ("old-secret", signed(BA_TOKEN, BA_OLD)),
        ("wrong-secret", signed(BA_TOKEN, WRONG)),
        ("auth-secret", signed(BA_TOKEN, S)),
        ("expired", signed(BA_EXPIRED)),
        ("unknown", signed(BA_UNKNOWN)),
        ("unsigned", BA_TOKEN),
        ("cut-signature", signed(BA_TOKEN)[:-12]),
    ):
        yield cookie_case(f"better-auth-{name}", BA_COOKIE, value)
        yield cookie_case(f"better-auth-{name}-encoded", BA_COOKIE, quote(value, safe=""))
        yield bearer_case(f"better-auth-{name}-bearer", value)
    urlsafe = signed(BA_TOKEN).rstrip("=").replace("+", "-").replace("/", "_")
    yield bearer_case("better-auth-bearer-base64url", urlsafe)
    yield cookie_case("better-auth-secure", "__Secure-" + BA_COOKIE, signed(BA_TOKEN))
    yield cookie_case(
        "better-auth-forged-secure-shadows-good",
        {"__Secure-" + BA_COOKIE: signed(BA_TOKEN, WRONG), BA_COOKIE: signed(BA_TOKEN)},
    )
    yield cookie_case(
        "better-auth-with-ignored-cache", {BA_COOKIE: signed(BA_TOKEN), BA_DATA: "anything"}
    )
    yield cookie_case("both-apps", {PLAIN: DB_TOKEN, BA_COOKIE: signed(BA_UNKNOWN)})


DATABASE_CASES = list(database_cases())


@pytest.mark.parametrize("case", DATABASE_CASES, ids=[c.id for c in DATABASE_CASES])
def test_database_corpus(database: str, case: Case) -> None:
    assert_agrees(database_app(database), case)


# ------------------------------------------------------------------------------ cookie caches


def session_data(token: str = BA_TOKEN, *, until: datetime | None = None, version: str = "1"):
    iso = (until or NOW_DT + timedelta(days=7)).isoformat(timespec="milliseconds")
    return {
        "session": {"expiresAt": iso.replace("+00:00", "Z"), "token": token, "userId": "b1"},
        "user": {"id": "b1", "name": "Bea", "email": "bea@example.com"},
        "updatedAt": NOW * 1000,
        "version": version,
    }


def cache_value(strategy: str, data: dict[str, Any], *, secret: str = BA, ttl: int = 300) -> str:
    if strategy == "compact":
        expires_ms = (NOW + ttl) * 1000
        sig = hmac.new(
            secret.encode(), json_compact({**data, "expiresAt": expires_ms}), hashlib.sha256
        ).digest()
        outer = {"session": data, "expiresAt": expires_ms, "signature": b64url_encode(sig)}
        return b64url_encode(json.dumps(outer, separators=(",", ":")).encode())
    payload = {**data, "iat": NOW, "exp": NOW + ttl}
    if strategy == "jwt":
        head = b64url_encode(b'{"alg":"HS256"}')
        body = b64url_encode(json_compact(payload))
        mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64url_encode(mac)}"
    key = better_auth_jwe_key(secret)
    return key.encrypt(json_compact({**payload, "jti": "j"}), {"kid": key.kid})


def cache_cases(strategy: str) -> Iterator[Case]:
    good = signed(BA_TOKEN)
    variants = {
        "valid": cache_value(strategy, session_data()),
        "expired": cache_value(strategy, session_data(), ttl=-60),
        "forged": cache_value(strategy, session_data(), secret=WRONG),
        "other-session": cache_value(strategy, session_data("x" * 32)),
        "other-version": cache_value(strategy, session_data(version="2")),
        "session-over": cache_value(strategy, session_data(until=NOW_DT - timedelta(seconds=1))),
        "garbage": "garbage",
    }
    for name, value in variants.items():
        yield cookie_case(f"{strategy}-{name}", {BA_COOKIE: good, BA_DATA: value})
    value = variants["valid"]
    half = len(value) // 2
    yield cookie_case(
        f"{strategy}-chunked",
        {BA_COOKIE: good, f"{BA_DATA}.0": value[:half], f"{BA_DATA}.1": value[half:]},
    )
    yield cookie_case(f"{strategy}-no-cache-cookie", BA_COOKIE, good)
    yield cookie_case(
        f"{strategy}-cache-of-forged-cookie", {BA_COOKIE: signed(BA_TOKEN, WRONG), BA_DATA: value}
    )


CACHE_CASES = [(s, c) for s in ("compact", "jwt", "jwe") for c in cache_cases(s)]


@pytest.mark.parametrize(("strategy", "case"), CACHE_CASES, ids=[c.id for _, c in CACHE_CASES])
def test_cookie_cache_corpus(strategy: str, case: Case) -> None:
    app = App(
        {"better_auth_secrets": [BA], "better_auth_cookie_cache": strategy},
        lambda: SessionGate(
            BetterAuthSession(secret=[BA], cookie_cache=strategy), clock=lambda: NOW
        ),
    )
    assert_agrees(app, case)


@pytest.mark.parametrize("strategy", ["compact", "jwe"])
def test_cookie_cache_in_front_of_a_database(database: str, strategy: str) -> None:
    app = App(
        {
            "better_auth_secrets": [BA],
            "better_auth_cookie_cache": strategy,
            "database_url": database,
            "schema": "better-auth",
        },
        lambda: SessionGate(
            BetterAuthSession(
                secret=[BA],
                store=SQLiteStore(database, schema="better-auth"),
                cookie_cache=strategy,
            ),
            clock=lambda: NOW,
        ),
    )
    for case in cache_cases(strategy):
        assert_agrees(app, case)


_offsets = st.one_of(
    st.none(), st.integers(-200_000, 200_000), st.sampled_from([-16, -15, -14, 14, 15, 16])
)


@settings(max_examples=120, deadline=None)
@given(
    claim=st.sampled_from((*ClaimMapping().id, "name")),
    value=st.one_of(st.text(max_size=6), st.integers(-3, 3), st.booleans(), st.none()),
    exp=_offsets,
    nbf=_offsets,
    kind=st.sampled_from(["v4", "v5-cbc", "v5-gcm", "v5-nokid", "hs256"]),
    secret=st.sampled_from([S, OLD, WRONG, J]),
    placement=st.sampled_from(["cookie", "secure-cookie", "v4-cookie", "bearer", "bare"]),
    cut=st.one_of(st.none(), st.integers(1, 300)),
)
def test_random_tokens_get_the_gates_verdict(
    claim: str,
    value: Any,
    exp: int | None,
    nbf: int | None,
    kind: str,
    secret: str,
    placement: str,
    cut: int | None,
) -> None:
    """Generated claims, times, secrets, placements and cuts: the doctor agrees every time."""
    body: dict[str, Any] = {claim: value, "iat": NOW - 60}
    if exp is not None:
        body["exp"] = NOW + exp
    if nbf is not None:
        body["nbf"] = NOW + nbf
    if kind == "hs256":
        token = hs(body, secret)
    elif kind == "v4":
        token = jwe(body, secret=secret, salt=None)
    else:
        enc = A256GCM if kind == "v5-gcm" else A256CBC_HS512
        token = jwe(body, secret=secret, enc=enc, kid=kind != "v5-nokid")
    if cut is not None and cut < len(token):
        token = token[:-cut]
    name = {"cookie": PLAIN, "secure-cookie": SECURE, "v4-cookie": V4}.get(placement)
    if name is not None:
        case = cookie_case(placement, name, token)
    elif placement == "bearer":
        case = bearer_case(placement, token)
    else:
        case = bare_case(placement, token)
    assert_agrees(authjs_app(), case)


def test_corpus_covers_every_id_spelling_and_both_verdicts() -> None:
    """The generator really produces what the module docstring promises."""
    ids = {c.id for c in AUTHJS_CASES}
    for claim in ClaimMapping().id:
        assert f"v5-id-{claim}" in ids
    assert len(AUTHJS_CASES) > 200
    assert {"chunk-gap", "stale-before-chunks", "jwe-cut-at-60"} <= ids


def test_user_id_only_token_is_valid_for_doctor_and_gate() -> None:
    """The drift issue #10 names: only ``user_id`` as id claim. The gate accepts the token; the
    old doctor (its own id list: sub/id/userId) said sessiongate rejects it."""
    token = jwe(timed({"user_id": "u-42"}))
    report = diagnose(f"Cookie: {PLAIN}={token}", secrets=[S], now=NOW)
    assert report.ok
    assert "no_user_id" not in [f.code for f in report.findings]
    assert any(f.code == "valid" and "user `u-42`" in f.message for f in report.findings)
    assert_agrees(authjs_app(), cookie_case("user_id-only", PLAIN, token))
