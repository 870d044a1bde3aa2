"""``SESSIONGATE_AUTHJS_COOKIE_NAMES``: an Auth.js app with ``cookies.sessionToken.name`` set,
configured from the environment, against the real ``@auth/core``.

Auth.js salts a v5 session JWE with the cookie's name and reads only the name it is configured
with; ``SessionGate.from_env`` with the variable must read that cookie (and only the names
listed: the variable is the complete list, like ``cookie_names``).
"""

from __future__ import annotations

import pytest

from sessiongate import SessionGate
from sessiongate.cookies import AUTHJS_COOKIE
from sessiongate.errors import MissingCredentialsError

from .oracle import NodeOracle

SECRET = "env-cookie-secret-0123456789abcdefghijkl"
CUSTOM = "app.session"


def mint(oracle: NodeOracle, sub: str, name: str) -> str:
    token: str = oracle.call("v5.encode", token={"sub": sub}, secret=SECRET, salt=name, maxAge=3600)
    return token


def test_custom_session_cookie_name_from_the_environment(oracle: NodeOracle) -> None:
    token = mint(oracle, "alice", CUSTOM)
    header = f"{CUSTOM}={token}"
    theirs = oracle.call(
        "v5.getToken", headers={"cookie": header}, secret=SECRET, cookieName=CUSTOM
    )
    assert theirs["sub"] == "alice"

    gate = SessionGate.from_env({"AUTH_SECRET": SECRET, "SESSIONGATE_AUTHJS_COOKIE_NAMES": CUSTOM})
    assert gate.authenticate_sync({"cookie": header}).user.id == "alice"
    # the complete list: a cookie under the standard name is not read any more
    standard = f"{AUTHJS_COOKIE}={mint(oracle, 'bob', AUTHJS_COOKIE)}"
    with pytest.raises(MissingCredentialsError):
        gate.authenticate_sync({"cookie": standard})
    # without the variable the custom name is not read, as Auth.js would not read it either
    with pytest.raises(MissingCredentialsError):
        SessionGate.from_env({"AUTH_SECRET": SECRET}).authenticate_sync({"cookie": header})


def test_cookie_name_list_allows_several_names_and_refuses_a_bad_one(oracle: NodeOracle) -> None:
    env = {"AUTH_SECRET": SECRET, "SESSIONGATE_AUTHJS_COOKIE_NAMES": f" {CUSTOM} , other.name ,"}
    gate = SessionGate.from_env(env)
    header = f"other.name={mint(oracle, 'carol', 'other.name')}"
    assert gate.authenticate_sync({"cookie": header}).user.id == "carol"
    from sessiongate.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        SessionGate.from_env({"AUTH_SECRET": SECRET, "SESSIONGATE_AUTHJS_COOKIE_NAMES": "a;b"})
