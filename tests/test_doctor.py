"""``sessiongate doctor``: one test per failure class, on tokens minted in Python.

The same classes made by the real JS libraries are in tests/interop/test_doctor_interop.py.
"""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sessiongate.betterauth import sign_cookie_value
from sessiongate.cli import main
from sessiongate.doctor import diagnose, fingerprint, format_report, parse_input
from sessiongate.errors import ConfigurationError
from sessiongate.testing import chunk_cookie, mint_authjs_v5, mint_hs256, mint_nextauth_v4

S = "doctor-current-secret-0123456789"
OLD = "doctor-old-secret-9876543210"
NOW = 1_800_000_000
SUB = {"sub": "user-1", "email": "ada@example.com"}


def codes(report, level=None):
    return [f.code for f in report.findings if level is None or f.level == level]


def messages(report):
    return "\n".join(f.message + " " + (f.hint or "") for f in report.findings)


# ------------------------------------------------------------------------------ input


@pytest.mark.parametrize(
    ("text", "cookies", "auth", "bare"),
    [
        ("eyJ.a.b.c.d", None, None, "eyJ.a.b.c.d"),
        ("Bearer abc.def.ghi", None, "Bearer abc.def.ghi", None),
        ("authjs.session-token=abc", {"authjs.session-token": "abc"}, None, None),
        ("a=1; b=2", {"a": "1", "b": "2"}, None, None),
        ("Cookie: a=1; b=2", {"a": "1", "b": "2"}, None, None),
        (
            "GET /api HTTP/1.1\nHost: x\nCookie: a=1\nAuthorization: Bearer t",
            {"a": "1"},
            "Bearer t",
            None,
        ),
        (
            "curl 'https://x/api' \\\n  -H 'Cookie: a=1' \\\n  -H 'authorization: Bearer t'",
            {"a": "1"},
            "Bearer t",
            None,
        ),
        ("curl https://x -b 'a=1; b=2'", {"a": "1", "b": "2"}, None, None),
        ("tok.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", None, None, "tok.A" + "A" * 42 + "="),
    ],
)
def test_parse_input_shapes(text, cookies, auth, bare):
    p = parse_input(text)
    assert (p.cookies, p.authorization, p.bare) == (cookies, auth, bare)


def test_parse_input_errors():
    with pytest.raises(ConfigurationError):
        parse_input("   ")
    with pytest.raises(ConfigurationError):
        parse_input("curl -H 'Cookie: a=1")


# ------------------------------------------------------------------------------ classes


def test_valid_v5_cookie_is_ok():
    t = mint_authjs_v5(SUB, S, now=NOW)
    r = diagnose(f"Cookie: authjs.session-token={t}", secrets=[S], now=NOW + 60)
    assert r.ok
    assert codes(r) == ["jwe", "authjs_v5", "valid"]
    assert "a JWS library like PyJWT" in messages(r)


def test_v5_token_under_the_wrong_cookie_name():
    t = mint_authjs_v5(SUB, S, cookie_name="__Secure-authjs.session-token", now=NOW)
    r = diagnose(f"authjs.session-token={t}", secrets=[S], now=NOW)
    assert not r.ok
    assert "wrong_cookie_name" in codes(r, "error")
    assert (
        "this is an Auth.js v5 token for cookie `__Secure-authjs.session-token` but it arrived "
        "as `authjs.session-token`" in messages(r)
    )
    assert "valid" not in codes(r)  # the content check does not pretend it passed
    # and the other way round
    t = mint_authjs_v5(SUB, S, cookie_name="authjs.session-token", now=NOW)
    r = diagnose(f"__Secure-authjs.session-token={t}", secrets=[S], now=NOW)
    assert "arrived as `__Secure-authjs.session-token`" in messages(r)


def test_v5_token_in_the_v4_cookie_is_a_version_mismatch():
    t = mint_authjs_v5(SUB, S, now=NOW)
    r = diagnose(f"next-auth.session-token={t}", secrets=[S], now=NOW)
    assert "wrong_cookie_name" in codes(r, "error")
    assert "NextAuth v4 cookie" in messages(r)


def test_v4_token_in_the_v5_cookie_warns():
    from sessiongate import AuthJSToken, SessionGate
    from sessiongate.errors import SessionGateError

    t = mint_nextauth_v4(SUB, S, now=NOW)
    r = diagnose(f"authjs.session-token={t}", secrets=[S], now=NOW)
    assert "nextauth_v4" in codes(r)
    try:  # whether the gate takes a v4 token from the v5 cookie is the gate's rule, not ours
        SessionGate(AuthJSToken(S), clock=lambda: NOW).authenticate_sync(
            {"cookie": f"authjs.session-token={t}"}
        )
        accepted = True
    except SessionGateError:
        accepted = False
    # accepted: a warning (the JS side would not read it); refused: the error that says why
    assert "v4_in_v5_cookie" in codes(r, "warning" if accepted else "error")
    assert r.ok is accepted


def test_missing_chunk():
    big = mint_authjs_v5({**SUB, "pad": "x" * 9000}, S, now=NOW)
    cookies = chunk_cookie(big, "authjs.session-token")
    assert len(cookies) >= 3
    complete = "; ".join(f"{k}={v}" for k, v in cookies.items())
    r = diagnose(complete, secrets=[S], now=NOW)
    assert r.ok and "chunked" in codes(r)
    del cookies["authjs.session-token.1"]
    r = diagnose("; ".join(f"{k}={v}" for k, v in cookies.items()), secrets=[S], now=NOW)
    assert codes(r, "error") == ["chunk_missing"]
    assert "chunk .1 is missing" in messages(r)


def test_stale_cookie_next_to_chunks_warns():
    big = mint_authjs_v5({**SUB, "pad": "x" * 5000}, S, now=NOW)
    cookies = chunk_cookie(big, "authjs.session-token")
    header = "authjs.session-token=old; " + "; ".join(f"{k}={v}" for k, v in cookies.items())
    r = diagnose(header, secrets=[S], now=NOW)
    assert "stale_chunks" in codes(r, "warning")


def test_database_uuid_token_needs_a_database():
    r = diagnose("authjs.session-token=1b4e28ba-2fa1-41d2-883f-0016d3cca427", secrets=[S], now=NOW)
    assert codes(r) == ["database_token", "needs_database"]
    assert "configure a database" in messages(r)


def test_better_auth_plain_token_is_recognised():
    r = diagnose("Bearer " + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6", now=NOW)
    assert "Better Auth session token (32 characters)" in messages(r)
    assert "needs_database" in codes(r, "error")


def test_better_auth_signed_cookie(tmp_path: Path):
    value = sign_cookie_value("a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6", "ba-secret-0123456789")
    header = f"better-auth.session_token={value}"
    r = diagnose(header, now=NOW)
    assert "better_auth_signed" in codes(r)
    assert "this looks like a Better Auth signed cookie" in messages(r)
    assert "no_secret" in codes(r, "error")
    r = diagnose(header, better_auth_secrets=["wrong-ba-secret-0000"], now=NOW)
    assert "bad_signature" in codes(r, "error")
    r = diagnose(header, secrets=["ba-secret-0123456789"], now=NOW)
    assert "better_auth_secret_misplaced" in codes(r, "error")
    r = diagnose(header, better_auth_secrets=["ba-secret-0123456789"], now=NOW)
    assert "better_auth_secret" in codes(r) and "needs_database" in codes(r, "error")


def test_secret_decrypts_none():
    t = mint_authjs_v5(SUB, S, now=NOW)
    r = diagnose(t, secrets=["some-other-secret-abc"], now=NOW)
    assert codes(r, "error") == ["no_secret_matches"]
    assert "this secret decrypts none of them" in messages(r)


def test_secret_decrypts_as_v4_only():
    t = mint_nextauth_v4(SUB, OLD, now=NOW)
    r = diagnose(t, secrets=[S, OLD], now=NOW)
    assert "nextauth_v4" in codes(r)
    assert "secret #2" in messages(r)
    assert r.ok


def test_old_secret_matches():
    t = mint_authjs_v5(SUB, OLD, now=NOW)
    r = diagnose(t, secrets=[S, OLD], now=NOW)
    assert "old_secret" in codes(r, "warning")
    assert "it matches the old secret #2" in messages(r)
    assert r.ok


def test_expired_says_how_long_ago():
    t = mint_authjs_v5(SUB, S, now=NOW - 7200 - 3 * 60, max_age=3600)
    r = diagnose(t, secrets=[S], now=NOW)
    assert codes(r, "error") == ["expired"]
    assert "expired 1 h 3 min ago" in messages(r)


def test_not_yet_valid_and_missing_exp_and_id():
    t = mint_hs256({"sub": "u", "nbf": NOW + 3600}, S, now=NOW)
    r = diagnose("Bearer " + t, secrets=[S], now=NOW)
    assert "not_yet_valid" in codes(r, "error")
    t = mint_hs256({"name": "no id"}, S, now=NOW, expires_in=None)
    r = diagnose("Bearer " + t, secrets=[S], now=NOW)
    assert "no_user_id" in codes(r, "error") and "no_exp" in codes(r, "warning")


def test_hs256_wrong_secret_and_jwt_secret():
    t = mint_hs256(SUB, "jwt-only-secret-0123", now=NOW)
    r = diagnose("Bearer " + t, secrets=[S], now=NOW)
    assert "bad_signature" in codes(r, "error")
    r = diagnose("Bearer " + t, secrets=[S], jwt_secrets=["jwt-only-secret-0123"], now=NOW)
    assert r.ok and "JWT secret #1" in messages(r)


def test_asymmetric_jwt_points_at_jwks():
    import jwt as pyjwt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    token = pyjwt.encode(
        {"sub": "u", "iss": "https://app.example.com"},
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": "k1"},
    )
    r = diagnose("Bearer " + token, secrets=[S], now=NOW)
    assert "jws_asymmetric" in codes(r)
    assert "JWKS" in messages(r)


def test_no_session_cookie_names_what_it_saw():
    r = diagnose("Cookie: theme=dark; _ga=GA1.2", secrets=[S], now=NOW)
    assert codes(r, "error") == ["no_session_cookie"]
    assert "`theme`" in messages(r) and "dark" not in messages(r)


def test_bearer_lowercase_scheme_warns():
    t = mint_hs256(SUB, S, now=NOW)
    r = diagnose("authorization: bearer " + t, secrets=[S], now=NOW)
    assert "bearer_case" in codes(r, "warning")


def test_no_secret_given():
    r = diagnose(mint_authjs_v5(SUB, S, now=NOW), now=NOW)
    assert "no_secret" in codes(r, "error")


def test_database_lookup_found_and_expired(tmp_path: Path):
    db = tmp_path / "s.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            'CREATE TABLE "User" (id TEXT PRIMARY KEY, name TEXT, email TEXT, '
            '"emailVerified" TEXT, image TEXT);'
            'CREATE TABLE "Session" ("sessionToken" TEXT, "userId" TEXT, expires TEXT);'
        )
        conn.execute('INSERT INTO "User" (id, email) VALUES (?, ?)', ("u1", "a@x"))
        exp = datetime.fromtimestamp(NOW, UTC) + timedelta(days=1)
        conn.execute(
            'INSERT INTO "Session" VALUES (?, ?, ?)',
            ("1b4e28ba-2fa1-41d2-883f-0016d3cca427", "u1", exp.replace(tzinfo=None).isoformat()),
        )
    header = "authjs.session-token=1b4e28ba-2fa1-41d2-883f-0016d3cca427"
    r = diagnose(header, now=NOW, database_url=str(db))
    assert r.ok and "database session of user `u1`" in messages(r)
    r = diagnose(header, now=NOW + 2 * 86400, database_url=str(db))
    assert "database_expired" in codes(r, "error")
    r = diagnose(
        "authjs.session-token=00000000-0000-4000-8000-000000000000", now=NOW, database_url=str(db)
    )
    assert "database_session_not_found" in codes(r, "error")
    # decode learns the same lookup
    out = io.StringIO()
    assert (
        main(
            ["decode", "1b4e28ba-2fa1-41d2-883f-0016d3cca427", "--database-url", str(db)],
            stdout=out,
            stdin=io.StringIO(),
        )
        == 0
    )
    decoded = json.loads(out.getvalue())
    assert decoded["format"] == "database" and decoded["claims"]["sub"] == "u1"


# ------------------------------------------------------------------------------ CLI


def run_cli(argv, stdin=""):
    out = io.StringIO()
    code = main(argv, stdout=out, stdin=io.StringIO(stdin))
    return code, out.getvalue()


def test_cli_json_and_exit_codes():
    t = mint_authjs_v5(SUB, S, now=NOW)
    code, text = run_cli(["doctor", "-", "--secret", S, "--now", str(NOW), "--json"], t)
    assert code == 0
    report = json.loads(text)
    assert report["ok"] is True
    assert report["secrets"] == [{"kind": "secret", "index": 1, "fingerprint": fingerprint(S)}]
    assert {f["code"] for f in report["findings"]} == {"jwe", "authjs_v5", "valid"}
    code, text = run_cli(["doctor", t, "--secret", "nope-nope-nope", "--json"])
    assert code == 1 and json.loads(text)["ok"] is False
    code, text = run_cli(["doctor", "  "])
    assert code == 2


def test_cli_never_prints_secret_or_token_and_no_colour_when_not_a_tty():
    t = mint_authjs_v5(SUB, S, cookie_name="__Secure-authjs.session-token", now=NOW)
    code, text = run_cli(["doctor", f"Cookie: authjs.session-token={t}", "--secret", S])
    assert code == 1
    assert S not in text and t not in text and t[:40] not in text
    assert fingerprint(S) in text
    assert "\033[" not in text
    assert "verdict: not verified" in text


def test_format_report_colours_on_request():
    r = diagnose(mint_authjs_v5(SUB, S, now=NOW), secrets=[S], now=NOW)
    assert "\033[32m" in format_report(r, color=True)


def test_doctor_subprocess_reads_env_secret():
    import os

    t = mint_authjs_v5(SUB, S)
    env = {**os.environ, "AUTH_SECRET": S}
    p = subprocess.run(
        [sys.executable, "-m", "sessiongate", "doctor", "-", "--json"],
        input=t,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout)["ok"] is True
    assert S not in p.stdout + p.stderr


# ------------------------------------------------------------------------------ the gate decides


def test_verdict_is_the_gates_answer():
    t = mint_authjs_v5(SUB, S, now=NOW)
    r = diagnose(f"Cookie: authjs.session-token={t}", secrets=[S], now=NOW)
    v = r.verdict
    assert (v.accepted, v.user_id, v.source, v.credential, v.authenticator) == (
        True,
        "user-1",
        "authjs-v5",
        "cookie",
        "authjs",
    )
    assert "sessiongate accepts it: user `user-1`" in format_report(r)
    r = diagnose(t, secrets=["some-other-secret-abc"], now=NOW)
    assert (r.verdict.accepted, r.verdict.code) == (False, "unknown_kid")
    assert r.to_dict()["verdict"]["code"] == "unknown_kid"


def test_user_id_claim_is_accepted_like_the_gate_does():
    for claim in ("user_id", "uid", "userId", "id"):
        t = mint_hs256({claim: "u-9"}, "jwt-only-secret-0123", now=NOW)
        r = diagnose("Bearer " + t, jwt_secrets=["jwt-only-secret-0123"], now=NOW)
        assert r.ok, claim
        assert "valid: user `u-9`" in messages(r)


def test_no_user_id_names_every_claim_the_mapping_accepts():
    t = mint_hs256({"name": "x"}, "jwt-only-secret-0123", now=NOW)
    r = diagnose("Bearer " + t, jwt_secrets=["jwt-only-secret-0123"], now=NOW)
    assert "no_user_id" in codes(r, "error")
    assert "`sub`, `id`, `userId`, `user_id`, `uid`" in messages(r)


def test_missing_exp_is_refused_with_its_reason():
    t = mint_hs256({"sub": "u"}, "jwt-only-secret-0123", now=NOW, expires_in=None)
    r = diagnose("Bearer " + t, jwt_secrets=["jwt-only-secret-0123"], now=NOW)
    assert not r.ok
    assert codes(r, "warning") == ["no_exp"] and codes(r, "error") == ["exp_required"]


def test_wrong_secret_says_no_configured_secret_decrypts_it():
    t = mint_authjs_v5(SUB, S, now=NOW)
    r = diagnose(t, secrets=["some-other-secret-abc", "another-one-0123456"], now=NOW)
    assert (
        "no configured secret decrypts it (wrong secret, or a token for another cookie name)"
        in messages(r)
    )
    assert "key id matches none" not in format_report(r)


def test_rotation_names_the_old_secret_among_all():
    t = mint_authjs_v5(SUB, OLD, now=NOW)
    r = diagnose(t, secrets=[S, "third-secret-0123456789", OLD], now=NOW)
    assert "old secret #3 of 3" in messages(r) and "rotation" in messages(r)
    assert r.ok


def test_token_without_kid_under_an_old_secret_is_refused_like_auth_core_does():
    from sessiongate.authjs import v5_key

    key = v5_key(OLD, "authjs.session-token")
    body = json.dumps({**SUB, "exp": NOW + 60}).encode()
    t = key.encrypt(body, {})
    r = diagnose(f"authjs.session-token={t}", secrets=[S, OLD], now=NOW)
    assert not r.ok and "old_secret" in codes(r, "error")
    assert "tries only the first secret for tokens without a kid" in messages(r)


def test_cookie_the_gate_does_not_read():
    t = mint_authjs_v5(SUB, S, cookie_name="app.session", now=NOW)
    r = diagnose(f"app.session={t}", secrets=[S], now=NOW)
    assert not r.ok and codes(r, "error") == ["cookie_not_read"]
    assert "--cookie-name app.session" in messages(r)
    r = diagnose(f"app.session={t}", secrets=[S], cookie_name="app.session", now=NOW)
    assert r.ok and codes(r) == ["jwe", "authjs_v5", "valid"]


def test_jwt_signed_with_the_session_secret_is_explained():
    t = mint_hs256(SUB, S, now=NOW)
    r = diagnose("Bearer " + t, secrets=[S], jwt_secrets=["jwt-only-secret-0123"], now=NOW)
    assert not r.ok and "jwt_secret_not_used" in codes(r, "error")
    assert "signed with secret #1" in messages(r)


def test_a_refused_credential_the_gate_did_not_need_is_a_warning():
    good = mint_authjs_v5(SUB, S, now=NOW)
    bad = mint_authjs_v5(SUB, "some-other-secret-abc", now=NOW)
    r = diagnose(
        f"Cookie: authjs.session-token={good}\nAuthorization: Bearer {bad}", secrets=[S], now=NOW
    )
    assert r.ok and not codes(r, "error")
    assert "no_secret_matches" in codes(r, "warning") and "not_needed" in codes(r)


def test_configuration_error_is_the_verdict_but_tokens_are_still_explained():
    value = sign_cookie_value("a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6", "ba-secret-0123456789")
    t = mint_authjs_v5(SUB, S, now=NOW)
    r = diagnose(
        f"authjs.session-token={t}; better-auth.session_token={value}",
        secrets=[S],
        better_auth_secrets=["ba-secret-0123456789"],
        now=NOW,
    )
    assert not r.ok and r.verdict.code == "configuration_error"
    assert codes(r, "error")[0] == "configuration_error"
    assert "content_valid" in codes(r) and "valid" not in codes(r)  # nothing is called accepted
    assert "sessiongate cannot be set up" in format_report(r)


def test_better_auth_cookie_cache_without_a_database():
    import hashlib
    import hmac as _hmac

    from sessiongate._b64json import b64url_encode, json_compact

    token = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"
    data = {
        "session": {"expiresAt": "2027-02-01T00:00:00.000Z", "token": token},
        "user": {"id": "b1", "email": "bea@example.com"},
        "updatedAt": NOW * 1000,
        "version": "1",
    }
    expires = (NOW + 300) * 1000
    signed = json_compact({**data, "expiresAt": expires})
    sig = _hmac.new(b"ba-secret-0123456789", signed, hashlib.sha256).digest()
    cache = b64url_encode(
        json_compact({"session": data, "expiresAt": expires, "signature": b64url_encode(sig)})
    )
    header = (
        f"better-auth.session_token={sign_cookie_value(token, 'ba-secret-0123456789')}; "
        f"better-auth.session_data={cache}"
    )
    code, text = run_cli(
        [
            "doctor",
            header,
            "--better-auth-secret",
            "ba-secret-0123456789",
            "--better-auth-cookie-cache",
            "compact",
            "--now",
            str(NOW),
            "--json",
        ]
    )
    report = json.loads(text)
    assert code == 0 and report["verdict"]["user_id"] == "b1"
    assert {f["code"] for f in report["findings"]} >= {"cookie_cache", "valid"}
    r = diagnose(header, better_auth_secrets=["ba-secret-0123456789"], now=NOW)
    assert "cookie_cache_ignored" in codes(r) and "needs_database" in codes(r, "error")


# ------------------------------------------------------------------------------ cut-off values


@pytest.mark.parametrize(
    ("cut", "words"),
    [
        (lambda t: t[:-5], "its authentication tag is 38 of 43 characters"),
        (lambda t: t[: t.index("..") + 12], "it has 3 of the 5 segments of a JWE"),
        (lambda t: t[:40], "its JOSE header stops in the middle of its JSON"),
    ],
)
def test_truncated_jwe_is_called_truncated(cut, words):
    t = cut(mint_authjs_v5(SUB, S, now=NOW))
    r = diagnose(t, secrets=[S], now=NOW)
    assert "truncated" in codes(r, "error")
    assert f"this looks truncated: {words}" in messages(r)
    code, text = run_cli(["decode", t, "--secret", S, "--now", str(NOW)])
    out = json.loads(text)
    assert code == 1 and out["error"]["hint"] == f"this looks truncated: {words}"


def test_truncated_jwt_and_lost_chunk_are_called_truncated():
    t = mint_hs256(SUB, "jwt-only-secret-0123", now=NOW)[:-10]
    r = diagnose("Bearer " + t, jwt_secrets=["jwt-only-secret-0123"], now=NOW)
    assert "its signature is 33 of 43 characters" in messages(r)
    big = mint_authjs_v5({**SUB, "pad": "x" * 9000}, S, now=NOW)
    first = chunk_cookie(big, "authjs.session-token")["authjs.session-token.0"]
    r = diagnose(f"authjs.session-token.0={first}", secrets=[S], now=NOW)
    assert "the size of one Auth.js cookie chunk: the next chunk is missing" in messages(r)


def test_decode_hint_for_a_wrong_secret_and_none_for_expiry():
    t = mint_authjs_v5(SUB, S, now=NOW)
    code, text = run_cli(["decode", t, "--secret", "wrong-secret-0123456", "--now", str(NOW)])
    assert code == 1
    assert json.loads(text)["error"]["hint"] == (
        "no configured secret decrypts it (wrong secret, or a token for another cookie name)"
    )
    _, text = run_cli(["decode", t, "--secret", S, "--now", str(NOW + 10**8)])
    assert "hint" not in json.loads(text)["error"]


def test_setup_reads_the_environment_serve_reads():
    from sessiongate.doctor import Setup

    t = mint_hs256(SUB, "env-jwt-secret-0123456", now=NOW)
    setup = Setup.from_sources(
        environ={"AUTH_SECRET": S, "SESSIONGATE_JWT_SECRET": "env-jwt-secret-0123456"}
    )
    assert diagnose("Bearer " + t, setup=setup, now=NOW).ok
    assert not diagnose("Bearer " + t, secrets=[S], now=NOW).ok  # no environment by default
    with pytest.raises(ConfigurationError):
        Setup.from_sources(better_auth_cookie_cache="zip")  # type: ignore[arg-type]


def test_decode_looks_better_auth_cookies_up_with_the_authenticator(tmp_path: Path):
    db = tmp_path / "ba.db"
    token = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            'CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT, email TEXT, '
            '"emailVerified" INTEGER, image TEXT);'
            'CREATE TABLE "session" (id TEXT, "expiresAt" TEXT, token TEXT, "userId" TEXT);'
        )
        conn.execute("INSERT INTO \"user\" VALUES ('b1', 'Bea', 'b@x', 1, NULL)")
        until = datetime.fromtimestamp(NOW, UTC) + timedelta(days=1)
        conn.execute(
            'INSERT INTO "session" VALUES (?, ?, ?, ?)', ("s1", until.isoformat(), token, "b1")
        )
    value = sign_cookie_value(token, "ba-secret-0123456789")
    argv = ["decode", value, "--database-url", str(db), "--better-auth-secret"]
    code, text = run_cli([*argv, "ba-secret-0123456789", "--now", str(NOW)])
    out = json.loads(text)
    assert code == 0 and (out["format"], out["claims"]["sub"]) == ("better-auth", "b1")
    code, text = run_cli([*argv, "ba-secret-0123456789", "--now", str(NOW + 2 * 86400)])
    assert (code, json.loads(text)["error"]["code"]) == (1, "expired")
    code, text = run_cli([*argv, "another-secret-0123456"])
    assert (code, json.loads(text)["error"]["code"]) == (1, "invalid_signature")


def test_the_doctor_explains_every_error_code_the_library_raises() -> None:
    """A new error class without words in the doctor is caught here (not by a user's report)."""
    import sessiongate.apikeys
    import sessiongate.origins
    from sessiongate.doctor.explain import explain_code
    from sessiongate.errors import SessionGateError

    assert sessiongate.apikeys and sessiongate.origins  # their error classes are now defined
    classes: list[type[SessionGateError]] = []
    stack: list[type[SessionGateError]] = [SessionGateError]
    while stack:
        cls = stack.pop()
        classes.append(cls)
        stack.extend(cls.__subclasses__())
    codes = {cls.code for cls in classes if cls is not SessionGateError}
    assert {"banned", "session_not_fresh", "usage_exceeded", "csrf_failed"} <= codes
    unexplained = sorted(code for code in codes if explain_code(code).endswith(f"({code})"))
    assert unexplained == []
