"""Better Auth: signed cookies, bearer plugin, cookie caches (the JS side is in tests/interop)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from sessiongate._b64json import b64url_encode, json_compact
from sessiongate.betterauth import (
    better_auth_jwe_key,
    decode_cookie_cache,
    sign_cookie_value,
    verify_bearer_value,
    verify_signed_cookie,
)
from sessiongate.cookies import RequestCredentials
from sessiongate.errors import (
    ConfigurationError,
    ExpiredTokenError,
    InvalidSignatureError,
    MalformedTokenError,
    SessionNotFoundError,
)
from sessiongate.gate import SessionGate
from sessiongate.sessions import BetterAuthSession
from sessiongate.stores import SQLiteStore

SECRET = "better-auth-secret-0123456789abcdef"
OLD = "the-previous-secret-0123456789abcd"
TOKEN = "Zq3hW0rJc8kT1pX9mB2vN7sL4dF6gH5a"  # generateId(32) shape
NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
NOW_TS = NOW.timestamp()


def creds(cookies=None, authorization=None):
    return RequestCredentials(cookies=dict(cookies or {}), authorization=authorization)


# ------------------------------------------------------------------ signed cookie format


def test_signature_is_44_char_standard_base64():
    signed = sign_cookie_value(TOKEN, SECRET)
    value, sig = signed.rsplit(".", 1)
    assert value == TOKEN
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), TOKEN.encode(), hashlib.sha256).digest()
    ).decode()
    assert sig == expected and len(sig) == 44 and sig.endswith("=")


def test_verify_accepts_percent_encoded_and_decoded():
    signed = sign_cookie_value(TOKEN, SECRET)
    assert verify_signed_cookie(quote(signed, safe=""), SECRET) == TOKEN
    assert verify_signed_cookie(signed, SECRET) == TOKEN


def test_tampered_token_rejected():
    signed = sign_cookie_value(TOKEN, SECRET)
    with pytest.raises(InvalidSignatureError):
        verify_signed_cookie("X" + signed[1:], SECRET)


def test_wrong_secret_rejected():
    with pytest.raises(InvalidSignatureError):
        verify_signed_cookie(sign_cookie_value(TOKEN, "another-secret"), SECRET)


def test_rotation_list_verifies_cookies_with_the_current_secret_only():
    # better-auth 1.7.25 checks signed cookies against ctx.secret (the current one) only
    assert verify_signed_cookie(sign_cookie_value(TOKEN, SECRET), [SECRET, OLD]) == TOKEN
    with pytest.raises(InvalidSignatureError):
        verify_signed_cookie(sign_cookie_value(TOKEN, OLD), [SECRET, OLD])


def test_split_at_last_dot():
    signed = sign_cookie_value("a.b", SECRET)
    assert verify_signed_cookie(signed, SECRET) == "a.b"


@pytest.mark.parametrize(
    "bad",
    [
        "nodot",
        ".startsWithDot" + "A" * 43 + "=",
        TOKEN + "." + "A" * 43,  # 43 chars, no padding
        TOKEN + "." + "A" * 42 + "==",  # wrong padding shape -> 31 bytes
        TOKEN + "." + "A" * 44,
        TOKEN + "." + "-" * 43 + "=",  # base64url alphabet is not the cookie format
        TOKEN + ".%zz",
    ],
)
def test_malformed_signed_cookie(bad):
    with pytest.raises((MalformedTokenError, InvalidSignatureError)):
        verify_signed_cookie(bad, SECRET)


def test_signature_compare_is_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    verify_signed_cookie(sign_cookie_value(TOKEN, SECRET), [SECRET, OLD])
    assert len(calls) == 1  # the current secret only (as Better Auth), in constant time


def test_empty_secret_refused():
    with pytest.raises(ConfigurationError):
        sign_cookie_value(TOKEN, "")
    with pytest.raises(ConfigurationError):
        BetterAuthSession(secret=[], cookie_cache="compact")


# ------------------------------------------------------------------ bearer plugin


def _sig(secret=SECRET, token=TOKEN):
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()


@pytest.mark.parametrize(
    "encode",
    [
        lambda d: base64.b64encode(d).decode(),
        lambda d: base64.b64encode(d).decode().rstrip("="),
        lambda d: base64.urlsafe_b64encode(d).decode(),
        lambda d: base64.urlsafe_b64encode(d).decode().rstrip("="),
    ],
)
def test_bearer_signature_any_base64(encode):
    assert verify_bearer_value(f"{TOKEN}.{encode(_sig())}", SECRET) == TOKEN


def test_bearer_wrong_signature_and_foreign_shapes():
    with pytest.raises(InvalidSignatureError):
        verify_bearer_value(f"{TOKEN}.{b64url_encode(_sig('nope'))}", SECRET)
    assert verify_bearer_value("a.b.c", SECRET) is None  # a JWT: not ours
    assert verify_bearer_value(f"{TOKEN}.short", SECRET) is None
    assert verify_bearer_value(f".{b64url_encode(_sig())}", SECRET) is None


# ------------------------------------------------------------------ authenticator + store

DDL = """
CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE,
  "emailVerified" INTEGER NOT NULL DEFAULT 0, image TEXT, role TEXT);
CREATE TABLE "session" (id TEXT PRIMARY KEY, "expiresAt" TEXT NOT NULL, token TEXT UNIQUE,
  "userId" TEXT NOT NULL REFERENCES "user"(id));
"""


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "ba.db"
    conn = sqlite3.connect(path)
    conn.executescript(DDL)
    conn.execute("INSERT INTO \"user\" VALUES ('u1', 'Ada', 'ada@example.com', 1, NULL, 'admin')")
    conn.execute(
        'INSERT INTO "session" VALUES (?, ?, ?, ?)',
        ("s1", (NOW + timedelta(days=7)).isoformat(), TOKEN, "u1"),
    )
    conn.execute(
        'INSERT INTO "session" VALUES (?, ?, ?, ?)',
        ("s2", (NOW - timedelta(seconds=5)).isoformat(), "expiredTokenxxxxxxxxxxxxxxxxxxxx", "u1"),
    )
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def make(db):
    made = []

    def factory(**options):
        options.setdefault("secret", SECRET)
        auth = BetterAuthSession(
            store=SQLiteStore(db, schema="better-auth"), cache_ttl=0, **options
        )
        made.append(auth)
        return auth

    yield factory
    for auth in made:
        asyncio.run(auth.aclose())


def run(auth, credentials, now=NOW_TS):
    return asyncio.run(auth.authenticate(credentials, now))


def cookie(value, name="better-auth.session_token"):
    return {name: value}


def test_signed_cookie_to_user(make):
    auth = make()
    verified = run(auth, creds(cookie(sign_cookie_value(TOKEN, SECRET))))
    assert verified.source == "better-auth"
    assert verified.claims["sub"] == "u1"
    assert verified.claims["email"] == "ada@example.com"
    gate = SessionGate(auth, clock=lambda: NOW_TS)
    header = "better-auth.session_token=" + quote(sign_cookie_value(TOKEN, SECRET), safe="")
    user = asyncio.run(gate.authenticate({"cookie": header})).user
    assert user.id == "u1" and user.source == "better-auth"


def test_forged_cookie_never_reaches_the_store(make):
    auth = make()
    with pytest.raises(InvalidSignatureError):
        run(auth, creds(cookie(TOKEN + "." + base64.b64encode(b"\0" * 32).decode())))
    assert auth.store.queries == 0


def test_unsigned_cookie_is_malformed(make):
    with pytest.raises(MalformedTokenError):
        run(make(), creds(cookie(TOKEN)))


def test_expired_and_unknown(make):
    auth = make()
    with pytest.raises(ExpiredTokenError):
        run(auth, creds(cookie(sign_cookie_value("expiredTokenxxxxxxxxxxxxxxxxxxxx", SECRET))))
    with pytest.raises(SessionNotFoundError):
        run(auth, creds(cookie(sign_cookie_value("unknownTokenxxxxxxxxxxxxxxxxxxxx", SECRET))))


def test_rotation_logs_out_cookies_of_the_old_secret_as_better_auth_does(make):
    auth = make(secret=[SECRET, OLD])
    assert run(auth, creds(cookie(sign_cookie_value(TOKEN, SECRET)))).claims["sub"] == "u1"
    with pytest.raises(InvalidSignatureError):
        run(auth, creds(cookie(sign_cookie_value(TOKEN, OLD))))


def test_secure_prefix_preferred_without_downgrade(make):
    auth = make()
    good = sign_cookie_value(TOKEN, SECRET)
    forged = TOKEN + "." + base64.b64encode(b"\1" * 32).decode()
    with pytest.raises(InvalidSignatureError):
        run(
            auth,
            creds(
                {"__Secure-better-auth.session_token": forged, "better-auth.session_token": good}
            ),
        )
    assert run(auth, creds({"__Secure-better-auth.session_token": good})) is not None


def test_custom_prefix_and_name(make):
    auth = make(cookie_prefix="myapp")
    assert run(auth, creds(cookie(sign_cookie_value(TOKEN, SECRET), "myapp.session_token")))
    assert run(auth, creds(cookie(sign_cookie_value(TOKEN, SECRET)))) is None
    auth2 = make(cookie_names=["sid", "__Secure-sid"])
    assert auth2.cookie_names == ("__Secure-sid", "sid")
    assert run(auth2, creds(cookie(sign_cookie_value(TOKEN, SECRET), "__Secure-sid")))
    assert run(auth2, creds(cookie(sign_cookie_value(TOKEN, SECRET), "sid")))
    assert run(auth2, creds(cookie(sign_cookie_value(TOKEN, SECRET)))) is None


def test_bearer_plugin_header(make):
    auth = make()
    verified = run(auth, creds(authorization="Bearer " + sign_cookie_value(TOKEN, SECRET)))
    assert verified.credential == "bearer"
    encoded = "bearer " + quote(sign_cookie_value(TOKEN, SECRET), safe="")
    assert run(auth, creds(authorization=encoded)).claims["sub"] == "u1"


def test_bare_bearer_only_when_enabled(make):
    assert run(make(), creds(authorization="Bearer " + TOKEN)) is None
    verified = run(make(allow_unsigned_bearer=True), creds(authorization="Bearer " + TOKEN))
    assert verified.claims["sub"] == "u1"
    assert run(make(accept_bearer=False), creds(authorization="Bearer " + TOKEN)) is None


def test_blocking_path(make):
    gate = SessionGate(make(), clock=lambda: NOW_TS)
    user = gate.authenticate_sync(
        {"authorization": "Bearer " + sign_cookie_value(TOKEN, SECRET)}
    ).user
    assert user.id == "u1"


def test_configuration_errors(db):
    with pytest.raises(ConfigurationError):
        BetterAuthSession(secret=SECRET)  # no store, no cache
    with pytest.raises(ConfigurationError):
        BetterAuthSession(secret=SECRET, cookie_cache="zip")  # type: ignore[arg-type]
    auth = BetterAuthSession(secret=SECRET, cookie_cache="jwe")
    assert SECRET not in repr(auth)


# ------------------------------------------------------------------ cookie cache


def session_data(token=TOKEN, *, expires=NOW + timedelta(days=7), version="1"):
    iso = expires.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "session": {
            "expiresAt": iso,
            "token": token,
            "createdAt": "2026-04-30T12:00:00.000Z",
            "updatedAt": "2026-04-30T12:00:00.000Z",
            "ipAddress": "",
            "userAgent": "",
            "userId": "u1",
            "id": "s1",
        },
        "user": {
            "name": "Ädä",
            "email": "ada@example.com",
            "emailVerified": False,
            "image": None,
            "createdAt": "2026-04-30T12:00:00.000Z",
            "updatedAt": "2026-04-30T12:00:00.000Z",
            "role": "admin",
            "id": "u1",
        },
        "updatedAt": int(NOW_TS * 1000),
        "version": version,
    }


def compact(data, secret=SECRET, expires_ms=None):
    expires_ms = int(NOW_TS * 1000) + 300_000 if expires_ms is None else expires_ms
    signed = json_compact({**data, "expiresAt": expires_ms})
    sig = b64url_encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    outer = {"session": data, "expiresAt": expires_ms, "signature": sig}
    return b64url_encode(json.dumps(outer, separators=(",", ":"), ensure_ascii=False).encode())


def hs256(payload, secret=SECRET):
    head = b64url_encode(b'{"alg":"HS256"}')
    body = b64url_encode(json_compact(payload))
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url_encode(sig)}"


def jwe(payload, secret=SECRET):
    key = better_auth_jwe_key(secret)
    return key.encrypt(json_compact(payload), {"kid": key.kid})


def cache_cookies(value, token=TOKEN):
    return {
        "better-auth.session_token": sign_cookie_value(token, SECRET),
        "better-auth.session_data": value,
    }


def test_compact_cache_skips_the_database(make):
    auth = make(cookie_cache="compact")
    verified = run(auth, creds(cache_cookies(compact(session_data()))))
    assert verified.claims["sub"] == "u1"
    assert verified.claims["role"] == "admin"
    assert verified.claims["name"] == "Ädä"  # non-ASCII re-serialised like JSON.stringify
    assert auth.store.queries == 0


def test_jwt_cache(make):
    payload = {**session_data(), "iat": int(NOW_TS), "exp": int(NOW_TS) + 300}
    auth = make(cookie_cache="jwt")
    assert run(auth, creds(cache_cookies(hs256(payload)))).claims["sub"] == "u1"
    assert auth.store.queries == 0


def test_jwe_cache_kid_is_sha256_thumbprint_and_rotation(make):
    payload = {**session_data(), "iat": int(NOW_TS), "exp": int(NOW_TS) + 300, "jti": "x"}
    key = better_auth_jwe_key(SECRET)
    assert len(key.kid or "") == 43
    auth = make(cookie_cache="jwe", secret=[SECRET, OLD])
    assert run(auth, creds(cache_cookies(jwe(payload, OLD)))).claims["sub"] == "u1"
    assert auth.store.queries == 0


@pytest.mark.parametrize(
    "bad_cache",
    [
        pytest.param(lambda: compact(session_data(), secret="forger"), id="forged-compact"),
        pytest.param(
            lambda: compact(session_data(), expires_ms=int(NOW_TS * 1000) - 1), id="cache-expired"
        ),
        pytest.param(lambda: compact(session_data(token="other")), id="other-token"),
        pytest.param(lambda: compact(session_data(version="2")), id="version-mismatch"),
        pytest.param(
            lambda: compact(session_data(expires=NOW - timedelta(seconds=1))), id="session-over"
        ),
        pytest.param(lambda: "garbage!", id="garbage"),
    ],
)
def test_untrusted_cache_falls_back_to_the_database(make, bad_cache):
    auth = make(cookie_cache="compact")
    verified = run(auth, creds(cache_cookies(bad_cache())))
    assert verified.claims["sub"] == "u1"
    assert auth.store.queries == 1


def test_cache_alone_without_store():
    auth = BetterAuthSession(secret=SECRET, cookie_cache="compact")
    assert run(auth, creds(cache_cookies(compact(session_data())))).claims["sub"] == "u1"
    with pytest.raises(SessionNotFoundError):
        run(auth, creds(cache_cookies(compact(session_data(), secret="forger"))))


def test_jwt_cache_has_no_leeway_and_jwe_has_15s():
    expired = {**session_data(), "exp": int(NOW_TS) - 1}
    with pytest.raises(ExpiredTokenError):
        decode_cookie_cache(hs256(expired), "jwt", SECRET, now=NOW_TS)
    payload, _ = decode_cookie_cache(jwe(expired), "jwe", SECRET, now=NOW_TS)
    assert payload["user"]["id"] == "u1"
    with pytest.raises(ExpiredTokenError):
        decode_cookie_cache(
            jwe({**session_data(), "exp": int(NOW_TS) - 15}), "jwe", SECRET, now=NOW_TS
        )


def test_chunked_cache_cookie(make):
    value = compact(session_data())
    half = len(value) // 2
    cookies = {
        "better-auth.session_token": sign_cookie_value(TOKEN, SECRET),
        "better-auth.session_data.0": value[:half],
        "better-auth.session_data.1": value[half:],
    }
    auth = make(cookie_cache="compact")
    assert run(auth, creds(cookies)).claims["sub"] == "u1"
    assert auth.store.queries == 0


def test_cache_time_beyond_float_range_is_malformed_not_a_crash():
    huge = 10**400
    with pytest.raises(MalformedTokenError):
        decode_cookie_cache(compact(session_data(), expires_ms=huge), "compact", SECRET, now=NOW_TS)
    with pytest.raises(MalformedTokenError):
        decode_cookie_cache(hs256({**session_data(), "exp": huge}), "jwt", SECRET, now=NOW_TS)
