from __future__ import annotations

import pytest

from sessiongate import AuthJSToken, SessionGate
from sessiongate.authjs import secrets_from_env, v4_key, v5_key
from sessiongate.errors import (
    ConfigurationError,
    DecryptionFailedError,
    ExpiredTokenError,
    MalformedTokenError,
    UnknownKidError,
)
from sessiongate.jwe import A256GCM
from sessiongate.testing import chunk_cookie, cookie_header, mint_authjs_v5, mint_nextauth_v4

S1, S2 = "current-secret-0123456789abcdef", "old-secret-0123456789abcdef"
NOW = 1_800_000_000
CLAIMS = {"sub": "u1", "email": "a@example.com", "name": "Zoë ✓", "role": "admin"}


def v5(claims=CLAIMS, secret=S1, **kw):
    kw.setdefault("now", NOW)
    return mint_authjs_v5(claims, secret, **kw)


def test_v5_roundtrip_both_standard_salts():
    a = AuthJSToken(S1)
    for name in ("authjs.session-token", "__Secure-authjs.session-token"):
        t = v5(cookie_name=name)
        got = a.decode(t, cookie_name=name, now=NOW)
        assert {k: got[k] for k in CLAIMS} == CLAIMS
        assert got["exp"] == NOW + 30 * 24 * 3600 and got["iat"] == NOW
        assert a.decode(t, now=NOW)["sub"] == "u1"  # unknown cookie name: any configured salt


def test_v5_wrong_salt_is_rejected_with_a_helpful_message():
    t = v5(cookie_name="authjs.session-token")
    with pytest.raises(UnknownKidError, match=r"issued for the cookie name 'authjs\.session"):
        AuthJSToken(S1).decode(t, cookie_name="__Secure-authjs.session-token", now=NOW)


def test_v5_kid_is_sha512_thumbprint_of_derived_key():
    k = v5_key(S1, "authjs.session-token")
    assert len(k.kid or "") == 86
    assert len(v5_key(S1, "authjs.session-token", A256GCM).kid or "") == 43


def test_rotation_picks_the_secret_by_kid():
    old = v5(secret=S2)
    new = v5(secret=[S1, S2])
    a = AuthJSToken([S1, S2])
    assert a.decode(old, cookie_name="authjs.session-token", now=NOW)["sub"] == "u1"
    assert a.decode(new, cookie_name="authjs.session-token", now=NOW)["sub"] == "u1"
    with pytest.raises(UnknownKidError):
        AuthJSToken(S1).decode(old, cookie_name="authjs.session-token", now=NOW)


def test_no_kid_token_is_tried_with_the_first_secret_only():
    # what @auth/core does: an old-secret token without kid does not verify
    old_nokid = v5_key(S2, "authjs.session-token").encrypt(b'{"sub":"u","exp":1900000000}', {})
    with pytest.raises(DecryptionFailedError):
        AuthJSToken([S1, S2]).decode(old_nokid, cookie_name="authjs.session-token", now=NOW)
    new_nokid = v5_key(S1, "authjs.session-token").encrypt(b'{"sub":"u","exp":1900000000}', {})
    assert AuthJSToken([S1, S2]).decode(new_nokid, cookie_name="authjs.session-token", now=NOW)


def test_v5_a256gcm():
    t = v5(enc=A256GCM)
    assert AuthJSToken(S1).decode(t, cookie_name="authjs.session-token", now=NOW)["sub"] == "u1"


def test_v4_roundtrip_and_rotation():
    t = mint_nextauth_v4(CLAIMS, S2, now=NOW)
    assert AuthJSToken(S2).decode(t, cookie_name="next-auth.session-token", now=NOW)["sub"] == "u1"
    assert AuthJSToken([S1, S2]).decode(t, now=NOW)["sub"] == "u1"
    with pytest.raises(DecryptionFailedError):
        AuthJSToken(S1).decode(t, now=NOW)


def test_generation_switches():
    t4 = mint_nextauth_v4(CLAIMS, S1, now=NOW)
    with pytest.raises(DecryptionFailedError):
        AuthJSToken(S1, accept_v4=False).decode(t4, now=NOW)
    with pytest.raises(UnknownKidError):
        AuthJSToken(S1, accept_v5=False).decode(v5(), now=NOW)
    with pytest.raises(ConfigurationError):
        AuthJSToken(S1, accept_v4=False, accept_v5=False)


def test_v4_and_v5_keys_differ():
    assert v4_key(S1).raw != v5_key(S1, "authjs.session-token", A256GCM).raw


def test_expired_and_leeway():
    t = v5(max_age=60)
    a = AuthJSToken(S1)
    a.decode(t, now=NOW + 60 + 14)
    with pytest.raises(ExpiredTokenError):
        a.decode(t, now=NOW + 60 + 15)


def test_cache_hit_rechecks_expiry_and_returns_fresh_dicts():
    clock = [NOW]
    a = AuthJSToken(S1, clock=lambda: clock[0])
    t = v5(max_age=60)
    first = a.decode(t)
    first["sub"] = "mutated"
    assert a.decode(t)["sub"] == "u1"
    clock[0] = NOW + 100
    with pytest.raises(ExpiredTokenError):
        a.decode(t)


def test_custom_cookie_name_is_its_own_salt():
    t = v5(cookie_name="myapp.sid")
    a = AuthJSToken(S1, cookie_names=["myapp.sid"])
    gate = SessionGate(a, clock=lambda: NOW)
    assert gate.authenticate_sync({"cookie": f"myapp.sid={t}"}).user.id == "u1"
    assert a.decode(t, cookie_name="myapp.sid", now=NOW)["sub"] == "u1"


def test_v5_token_in_a_v4_named_cookie():
    # Auth.js v5 apps that kept `cookies.sessionToken.name = "next-auth.session-token"`
    t = v5(cookie_name="next-auth.session-token")
    gate = SessionGate(AuthJSToken(S1), clock=lambda: NOW)
    assert gate.authenticate_sync({"cookie": f"next-auth.session-token={t}"}).user.id == "u1"


def gate():
    return SessionGate(AuthJSToken(S1), clock=lambda: NOW)


def test_gate_reads_each_standard_cookie():
    for name, tok in (
        ("authjs.session-token", v5(cookie_name="authjs.session-token")),
        ("__Secure-authjs.session-token", v5(cookie_name="__Secure-authjs.session-token")),
        ("next-auth.session-token", mint_nextauth_v4(CLAIMS, S1, now=NOW)),
        ("__Secure-next-auth.session-token", mint_nextauth_v4(CLAIMS, S1, now=NOW)),
    ):
        user = gate().authenticate_sync({"cookie": f"other=1; {name}={tok}"}).user
        assert user.id == "u1"
        assert user.source == ("nextauth-v4" if "next-auth" in name else "authjs-v5")


def test_secure_cookie_no_downgrade():
    good_plain = v5(cookie_name="authjs.session-token")
    bad_secure = v5(
        secret="attacker-secret-xxxxxxxxxxxx", cookie_name="__Secure-authjs.session-token"
    )
    header = f"__Secure-authjs.session-token={bad_secure}; authjs.session-token={good_plain}"
    with pytest.raises(UnknownKidError):
        gate().authenticate_sync({"cookie": header})


def test_chunked_cookie_in_reverse_order():
    t = v5(claims={**CLAIMS, "blob": "é" * 6000})
    parts = chunk_cookie(t, "authjs.session-token")
    assert len(parts) >= 3
    header = "; ".join(f"{k}={v}" for k, v in reversed(parts.items()))
    assert gate().authenticate_sync({"cookie": header}).user.claims["blob"] == "é" * 6000


def test_stale_unchunked_cookie_does_not_shadow_valid_chunks_and_vice_versa():
    fresh = v5(claims={**CLAIMS, "blob": "x" * 5000})
    stale = v5(max_age=1, now=NOW - 100, claims={"sub": "old"})  # expired at NOW
    chunks = "; ".join(f"{k}={v}" for k, v in chunk_cookie(fresh, "authjs.session-token").items())
    assert (
        gate().authenticate_sync({"cookie": f"authjs.session-token={stale}; {chunks}"}).user.id
        == "u1"
    )
    small = v5()
    stale_chunks = "; ".join(
        f"{k}={v}"
        for k, v in chunk_cookie(
            v5(max_age=1, now=NOW - 100, claims={"sub": "old", "b": "x" * 5000}),
            "authjs.session-token",
        ).items()
    )
    assert (
        gate()
        .authenticate_sync({"cookie": f"{stale_chunks}; authjs.session-token={small}"})
        .user.id
        == "u1"
    )


def test_missing_chunk_is_reported():
    t = v5(claims={**CLAIMS, "blob": "x" * 9000})
    parts = chunk_cookie(t, "authjs.session-token")
    del parts["authjs.session-token.1"]
    with pytest.raises(MalformedTokenError, match=r"chunk \.1"):
        gate().authenticate_sync({"cookie": "; ".join(f"{k}={v}" for k, v in parts.items())})


def test_database_token_in_session_cookie_says_so():
    with pytest.raises(MalformedTokenError, match="database"):
        gate().authenticate_sync(
            {"cookie": "authjs.session-token=1b4e28ba-2fa1-11d2-883f-0016d3cca427"}
        )


def test_bearer_jwe():
    t = v5()
    user = gate().authenticate_sync({"authorization": f"Bearer {t}"}).user
    assert user.id == "u1"


def test_cookie_header_helper_chunks():
    t = v5(claims={**CLAIMS, "blob": "x" * 9000})
    assert cookie_header(t).count("authjs.session-token.") == len(
        chunk_cookie(t, "authjs.session-token")
    )


def test_secrets_from_env_order():
    env = {
        "AUTH_SECRET": "a",
        "AUTH_SECRET_1": "one",
        "AUTH_SECRET_2": "two",
        "NEXTAUTH_SECRET": "n",
    }
    assert secrets_from_env(env) == ["two", "one", "a", "n"]


def test_repr_redacts_secrets():
    assert S1 not in repr(AuthJSToken(S1))
    assert "redacted" in repr(v4_key(S1))


@pytest.mark.parametrize("bad", ["", b"", [], ["ok", ""]])
def test_empty_secret_rejected(bad):
    with pytest.raises(ConfigurationError):
        AuthJSToken(bad)


def test_invalid_custom_cookie_name():
    with pytest.raises(ConfigurationError):
        AuthJSToken(S1, cookie_names=["a;b"])
