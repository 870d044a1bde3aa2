from __future__ import annotations

import asyncio

import pytest

from sessiongate import AnonymousUser, AuthJSToken, BearerJWT, ClaimMapping, SessionGate, User
from sessiongate.errors import (
    ConfigurationError,
    InvalidClaimError,
    MalformedTokenError,
    MissingCredentialsError,
    ProviderUnavailableError,
    SessionGateError,
    UnknownKidError,
)
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256
from sessiongate.types import Verified

S = "gate-secret-0123456789abcdef0123"
NOW = 1_800_000_000


class Fixed:
    """A test authenticator returning a fixed result or raising."""

    def __init__(self, name, result=None, error=None):
        self.name = name
        self.result = result
        self.error = error
        self.calls = 0

    def authenticate_sync(self, credentials, now):
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.result


def test_first_success_wins_and_later_ones_are_not_called():
    a = Fixed("a", Verified({"sub": "1"}, "x", "cookie"))
    b = Fixed("b", Verified({"sub": "2"}, "x", "cookie"))
    r = SessionGate(a, b).authenticate_sync({})
    assert (r.user.id, r.authenticator, b.calls) == ("1", "a", 0)


def test_outage_beats_401():
    gate = SessionGate(
        Fixed("bad", error=UnknownKidError()), Fixed("db", error=ProviderUnavailableError())
    )
    with pytest.raises(ProviderUnavailableError):
        gate.authenticate_sync({})


def test_first_authentication_error_is_reported():
    gate = SessionGate(Fixed("a", error=UnknownKidError()), Fixed("b", error=MalformedTokenError()))
    with pytest.raises(UnknownKidError):
        gate.authenticate_sync({})


def test_missing_and_unrecognised_bearer():
    gate = SessionGate(AuthJSToken(S), BearerJWT(S))
    with pytest.raises(MissingCredentialsError):
        gate.authenticate_sync({"cookie": "theme=dark"})
    with pytest.raises(MalformedTokenError):
        gate.authenticate_sync({"authorization": "Bearer not-a-token"})
    with pytest.raises(MissingCredentialsError):
        gate.authenticate_sync({"authorization": "Basic dXNlcjpwYXNz"})


def test_async_and_sync_agree():
    t = mint_authjs_v5({"sub": "u", "role": "r"}, S, now=NOW)
    gate = SessionGate(AuthJSToken(S), clock=lambda: NOW)
    h = [(b"cookie", cookie_header(t).encode())]
    assert asyncio.run(gate.authenticate(h)).user == gate.authenticate_sync(h).user


def test_user_is_memoised_on_cache_hits():
    t = mint_authjs_v5({"sub": "u"}, S, now=NOW)
    gate = SessionGate(AuthJSToken(S), clock=lambda: NOW)
    h = {"cookie": cookie_header(t)}
    assert gate.authenticate_sync(h).user is gate.authenticate_sync(h).user


def test_user_factory():
    t = mint_hs256({"sub": "u", "tenant": "t1"}, S, now=NOW)

    def factory(claims, source, expires_at):
        return ("custom", claims["tenant"], source)

    gate = SessionGate(BearerJWT(S), user_factory=factory, clock=lambda: NOW)
    assert gate.authenticate_sync({"authorization": f"Bearer {t}"}).user == ("custom", "t1", "jws")


def test_from_env():
    env = {"AUTH_SECRET": S}
    gate = SessionGate.from_env(env, clock=lambda: NOW)
    t5 = mint_authjs_v5({"sub": "a"}, S, now=NOW)
    assert gate.authenticate_sync({"cookie": cookie_header(t5)}).user.id == "a"
    t = mint_hs256({"sub": "b"}, S, now=NOW)
    with pytest.raises(SessionGateError):  # HS256 Bearer needs its own secret (issue #9 item 6)
        gate.authenticate_sync({"authorization": f"Bearer {t}"})
    with pytest.raises(ConfigurationError):
        SessionGate.from_env({})


def test_gate_configuration_errors():
    with pytest.raises(ConfigurationError):
        SessionGate()
    with pytest.raises(ConfigurationError):
        SessionGate(object())  # type: ignore[arg-type]


def test_claim_mapping_defaults():
    u = ClaimMapping().build_user(
        {
            "sub": 42,
            "email": "e@x",
            "name": "N",
            "picture": "https://img",
            "role": "admin",
            "roles": ["a", "b", 3],
            "realm_access": {"roles": ["kc"]},
            "scope": "read write",
            "permissions": ["p1"],
        },
        "jws",
        10.0,
    )
    assert u.id == "42" and u.email == "e@x" and u.image == "https://img"
    assert u.roles == {"admin", "a", "b", "kc"}
    assert u.permissions == {"read", "write", "p1"}
    assert u.role == "admin" and u.scopes == u.roles | u.permissions
    assert u.is_authenticated and u.display_name == "N" and u.identity == "42"


def test_claim_mapping_custom_paths_and_id_fallbacks():
    m = ClaimMapping(id=("user.uid",), roles=("app.roles",), permissions="perms")
    u = m.build_user({"user": {"uid": "x"}, "app": {"roles": ["r"]}, "perms": "a b"}, "jws")
    assert (u.id, u.roles, u.permissions) == ("x", {"r"}, {"a", "b"})
    assert ClaimMapping().build_user({"userId": "y"}, "jws").id == "y"


@pytest.mark.parametrize(
    "claims", [{}, {"sub": ""}, {"sub": True}, {"sub": {"a": 1}}, {"sub": None}]
)
def test_user_without_id_is_invalid(claims):
    with pytest.raises(InvalidClaimError):
        ClaimMapping().build_user(claims, "jws")


def test_claims_are_read_only():
    u = ClaimMapping().build_user({"sub": "x"}, "jws")
    with pytest.raises(TypeError):
        u.claims["sub"] = "y"  # type: ignore[index]


def test_anonymous_user():
    a = AnonymousUser(MissingCredentialsError())
    assert (
        not a.is_authenticated and a.scopes == frozenset() and a.error.code == "missing_credentials"
    )
    assert isinstance(ClaimMapping().build_user({"sub": "x"}, "jws"), User)


def test_errors_have_codes_statuses_and_safe_dicts():
    for cls in SessionGateError.__subclasses__():
        assert cls.code and cls.status_code in (401, 403, 500, 503)
    assert MissingCredentialsError().to_dict() == {
        "error": "missing_credentials",
        "message": "no session cookie or bearer token was sent",
    }


class Counting:
    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.calls = 0

    def authenticate_sync(self, credentials, now):
        self.calls += 1
        return self.inner.authenticate_sync(credentials, now)


def test_memo_answers_identical_credentials_without_verifying_again():
    counter = Counting(AuthJSToken(S, cache_size=0))
    clock = [NOW]
    gate = SessionGate(counter, clock=lambda: clock[0])
    h = {"cookie": cookie_header(mint_authjs_v5({"sub": "u"}, S, now=NOW, max_age=60))}
    first = gate.authenticate_sync(h)
    assert gate.authenticate_sync(h) is first
    assert counter.calls == 1
    # a different cookie header is a different key
    gate.authenticate_sync({"cookie": h["cookie"] + "; theme=dark"})
    assert counter.calls == 2


def test_memo_rechecks_expiry_on_every_hit():
    counter = Counting(AuthJSToken(S, cache_size=0))
    clock = [NOW]
    gate = SessionGate(counter, clock=lambda: clock[0])
    h = {"cookie": cookie_header(mint_authjs_v5({"sub": "u"}, S, now=NOW, max_age=60))}
    gate.authenticate_sync(h)
    clock[0] = NOW + 60 + 15
    with pytest.raises(SessionGateError) as info:
        gate.authenticate_sync(h)
    assert info.value.code == "expired"
    assert counter.calls == 2  # the stale memo entry was dropped and the full path answered


def test_memo_never_keeps_failures_or_database_verdicts():
    counter = Counting(AuthJSToken(S, cache_size=0))
    gate = SessionGate(counter, clock=lambda: NOW)
    bad = {"cookie": "authjs.session-token=" + "a." * 4 + "a"}
    for _ in range(2):
        with pytest.raises(SessionGateError):
            gate.authenticate_sync(bad)
    assert counter.calls == 2

    class Stateful:
        name = "db"

        def __init__(self):
            self.calls = 0

        async def authenticate(self, credentials, now):
            self.calls += 1
            return Verified({"sub": "d"}, "database", "cookie")

        def authenticate_sync(self, credentials, now):
            return Verified({"sub": "d"}, "database", "cookie")

    db = Stateful()
    gate = SessionGate(db)
    for _ in range(3):
        asyncio.run(gate.authenticate({"cookie": "authjs.session-token=abc"}))
    assert db.calls == 3


def test_memo_size_zero_disables_and_negative_is_refused():
    counter = Counting(AuthJSToken(S, cache_size=0))
    gate = SessionGate(counter, clock=lambda: NOW, memo_size=0)
    h = {"cookie": cookie_header(mint_authjs_v5({"sub": "u"}, S, now=NOW))}
    gate.authenticate_sync(h)
    gate.authenticate_sync(h)
    assert counter.calls == 2
    with pytest.raises(ConfigurationError):
        SessionGate(counter, memo_size=-1)


def test_from_env_reads_the_same_variables_as_the_sidecar(tmp_path):
    (tmp_path / "app.db").touch()  # the database file must exist at start-up
    env = {
        "AUTH_SECRET": S,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "SESSIONGATE_SCHEMA": "authjs-prisma",
        "SESSIONGATE_JWT_SECRET": "separate-jwt-secret-0123456789",
    }
    gate = SessionGate.from_env(env, clock=lambda: NOW, memo_size=0)
    assert [a.name for a in gate.authenticators] == ["authjs", "jws", "database"]
    t = mint_hs256({"sub": "j"}, "separate-jwt-secret-0123456789", now=NOW)
    assert gate.authenticate_sync({"authorization": f"Bearer {t}"}).user.id == "j"
    with pytest.raises(SessionGateError):  # the session secret no longer signs bearer JWTs
        gate.authenticate_sync({"authorization": f"Bearer {mint_hs256({'sub': 'x'}, S, now=NOW)}"})
