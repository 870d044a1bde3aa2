"""Auth.js with a custom ``jwt.encode``/``jwt.decode`` writing a JWS: sessiongate verifies it.

The real ``@auth/core`` 0.41.3 ``Auth()`` (jwt strategy) serves ``/auth/session`` with
``jwt: { encode, decode }`` replaced by jose ``SignJWT`` / ``jwtVerify``, as a project writes
them: HS256 with a secret, RS256, ES256 and EdDSA with a private key generated in Node (only the
public key leaves it, as PEM and as JWK). Auth.js re-issues the cookie through its own machinery
(name, ``__Secure-`` prefix, chunking); sessiongate must accept exactly what the project's own
``decode`` accepts: :class:`~sessiongate.jwks.StaticKeyJWT` for the key pairs,
:class:`~sessiongate.jws.BearerJWT` with the Auth.js cookie names for HS256.
"""

from __future__ import annotations

import time
from http.cookies import SimpleCookie
from typing import Any

import pytest

from sessiongate.cookies import AUTHJS_COOKIE_NAMES, RequestCredentials
from sessiongate.errors import SessionGateError
from sessiongate.jwks import StaticKeyJWT, StaticKeys
from sessiongate.jws import BearerJWT

from .parity_driver import call

pytestmark = pytest.mark.node

SECRET = "parity-hs256-secret-0123456789abcdef0123"
CLAIMS = {"sub": "user-42", "name": "Ada", "email": "ada@example.com"}


def issue(node_bin: str, alg: str, *, https: bool = False, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"alg": alg, "claims": {**CLAIMS, **extra}, "https": https}
    params["maxAge"] = 3600
    if alg == "HS256":
        params["secret"] = SECRET
    if alg == "EdDSA":
        params["crv"] = "Ed25519"
    result = call(node_bin, "authjs.jws", **params)
    assert result["status"] == 200, result
    assert result["body"]["user"]["email"] == "ada@example.com"  # the project's decode accepted it
    jar = SimpleCookie()
    for header in result["setCookie"]:
        jar.load(header)
    result["cookies"] = {
        name: morsel.value for name, morsel in jar.items() if name.startswith(result["cookieName"])
    }
    assert result["cookies"], result["setCookie"]
    return result


def authenticate(auth: StaticKeyJWT | BearerJWT, credentials: RequestCredentials) -> Any:
    return auth.authenticate_sync(credentials, time.time())


def static_verifier(public_key: dict[str, Any], alg: str, form: str) -> StaticKeyJWT:
    keys = StaticKeys(public_key["pem"]) if form == "pem" else StaticKeys(public_key["jwk"])
    return StaticKeyJWT(keys, algorithms=[alg], issuer=None, audience=None)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
@pytest.mark.parametrize("form", ["pem", "jwk"])
def test_key_pair_jws_cookie_written_by_auth_js_verifies(node_bin, alg, form):
    issued = issue(node_bin, alg)
    auth = static_verifier(issued["publicKey"], alg, form)
    verified = authenticate(auth, RequestCredentials(cookies=issued["cookies"]))
    assert verified.credential == "cookie"
    assert verified.claims["sub"] == "user-42"
    assert verified.claims["role"] == "admin"  # added by the project's jwt callback
    # the same token as a Bearer header (an API client holding the session JWT)
    (token,) = issued["cookies"].values()
    bearer = authenticate(auth, RequestCredentials(authorization=f"Bearer {token}"))
    assert bearer.claims["sub"] == "user-42"


def test_https_and_chunked_cookies_verify(node_bin):
    issued = issue(node_bin, "RS256", https=True, bio="x" * 6000)
    assert issued["cookieName"] == "__Secure-authjs.session-token"
    assert len(issued["cookies"]) >= 2  # Auth.js's SessionStore chunked it
    auth = static_verifier(issued["publicKey"], "RS256", "pem")
    verified = authenticate(auth, RequestCredentials(cookies=issued["cookies"]))
    assert verified.claims["bio"] == "x" * 6000


def test_hs256_jws_cookie_written_by_auth_js_verifies_with_bearer_jwt(node_bin):
    issued = issue(node_bin, "HS256")
    auth = BearerJWT(SECRET, cookie_names=AUTHJS_COOKIE_NAMES)
    verified = authenticate(auth, RequestCredentials(cookies=issued["cookies"]))
    assert verified.credential == "cookie"
    assert verified.claims["sub"] == "user-42"


@pytest.mark.parametrize("alg", ["RS256", "HS256"])
def test_verdicts_agree_with_the_projects_decode_on_tampered_tokens(node_bin, alg):
    issued = issue(node_bin, alg)
    (token,) = issued["cookies"].values()
    header, payload, signature = token.split(".")
    other_payload = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")
    tampered = [
        f"{header}.{other_payload}.{signature}",
        f"{header}.{payload}.{signature[:-4]}AAAA",
        f"{header}.{payload}.",
    ]
    if alg == "RS256":
        auth: Any = static_verifier(issued["publicKey"], alg, "pem")
        node_key = {"pem": issued["publicKey"]["pem"]}
    else:
        auth = BearerJWT(SECRET, cookie_names=AUTHJS_COOKIE_NAMES)
        node_key = {"secret": SECRET}
    for forged in [token, *tampered]:
        js = call(node_bin, "authjs.jwsDecode", alg=alg, token=forged, **node_key)
        try:
            authenticate(auth, RequestCredentials(cookies={issued["cookieName"]: forged}))
            ours = True
        except SessionGateError:
            ours = False
        assert ours is js["ok"], (forged, js)


def test_the_gate_built_from_the_environment_verifies_the_custom_cookie(node_bin, tmp_path):
    """AUTH_SECRET set too (a JWE verifier first in the chain) and the public key by
    SESSIONGATE_JWT_PUBLIC_KEY: the gate answers from the static-key verifier."""
    from sessiongate import SessionGate

    issued = issue(node_bin, "ES256", https=True)
    key_file = tmp_path / "public.pem"
    key_file.write_text(issued["publicKey"]["pem"])
    env = {"AUTH_SECRET": "x" * 40, "SESSIONGATE_JWT_PUBLIC_KEY": str(key_file)}
    gate = SessionGate.from_env(env)
    assert repr(gate) == "SessionGate(authjs, static-key)"
    cookie = "; ".join(f"{name}={value}" for name, value in issued["cookies"].items())
    result = gate.authenticate_sync({"cookie": cookie})
    assert (result.user.id, result.authenticator) == ("user-42", "static-key")
