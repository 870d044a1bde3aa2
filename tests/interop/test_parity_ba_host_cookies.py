"""``__Host-`` session cookies and secure-only mode against the real Auth.js (issue #13 item 3).

An Auth.js app may name its session cookie ``__Host-authjs.session-token``
(``cookies.sessionToken.name``); the JWE is then salted with that name. The real
``@auth/core`` 0.41.3 mints and reads it; sessiongate must read it as a secure name: in
secure-only mode, and ahead of any plain-name cookie a sibling subdomain could plant.
"""

from __future__ import annotations

import pytest

from sessiongate import SessionGate
from sessiongate.authjs import AuthJSToken
from sessiongate.cookies import AUTHJS_COOKIE
from sessiongate.errors import MissingCredentialsError

from .oracle import NodeOracle

SECRET = "host-cookie-secret-0123456789abcdefghijkl"
HOST_NAME = "__Host-" + AUTHJS_COOKIE


def mint(oracle: NodeOracle, sub: str, name: str) -> str:
    token: str = oracle.call("v5.encode", token={"sub": sub}, secret=SECRET, salt=name, maxAge=3600)
    return token


def test_auth_js_host_cookie_is_read_in_secure_only_mode(oracle: NodeOracle) -> None:
    token = mint(oracle, "victim", HOST_NAME)
    header = f"{HOST_NAME}={token}"
    theirs = oracle.call(
        "v5.getToken", headers={"cookie": header}, secret=SECRET, cookieName=HOST_NAME
    )
    assert theirs["sub"] == "victim"
    gate = SessionGate(
        AuthJSToken(SECRET, cookie_names=[AUTHJS_COOKIE, HOST_NAME]), secure_only=True
    )
    assert gate.authenticate_sync({"cookie": header}).user.id == "victim"


@pytest.mark.parametrize("secure_only", [False, True])
def test_plain_cookie_never_shadows_a_host_cookie(oracle: NodeOracle, secure_only: bool) -> None:
    victim = mint(oracle, "victim", HOST_NAME)
    planted = mint(oracle, "attacker", AUTHJS_COOKIE)  # a valid cookie of the attacker's account
    gate = SessionGate(
        AuthJSToken(SECRET, cookie_names=[AUTHJS_COOKIE, HOST_NAME]), secure_only=secure_only
    )
    header = f"{AUTHJS_COOKIE}={planted}; {HOST_NAME}={victim}"
    assert gate.authenticate_sync({"cookie": header}).user.id == "victim"
    plain_only = {"cookie": f"{AUTHJS_COOKIE}={planted}"}
    if secure_only:
        with pytest.raises(MissingCredentialsError):  # the plain cookie is not seen at all
            gate.authenticate_sync(plain_only)
    else:
        assert gate.authenticate_sync(plain_only).user.id == "attacker"
