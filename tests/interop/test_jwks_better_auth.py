"""Interop: a real Better Auth server (``jwt`` plugin) on a loopback port, verified over HTTP.

``jwks/better_auth_jwt_server.mjs`` runs ``better-auth`` with its ``jwt`` plugin behind Node's
``http`` server (``toNodeHandler``, memory adapter). We sign up a user, fetch
``/api/auth/token`` with the session cookie, and sessiongate verifies the token against the
live ``/api/auth/jwks``. Needs Node.js and ``tests/interop/node_modules`` (fails under CI=true
when missing, via the ``node_bin`` fixture).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import select
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sessiongate import SessionGate
from sessiongate.errors import (
    InvalidClaimError,
    InvalidSignatureError,
    ProviderUnavailableError,
    UnknownKidError,
)
from sessiongate.jwks import JWKSBearer, JWKSClient

pytestmark = pytest.mark.node

SERVER = Path(__file__).resolve().parent / "jwks" / "better_auth_jwt_server.mjs"


@dataclass(frozen=True)
class BetterAuthServer:
    base_url: str  # as configured in Better Auth (with a trailing slash, on purpose)
    origin: str
    versions: dict[str, str]


@pytest.fixture(scope="module")
def better_auth(node_bin: str) -> Iterator[BetterAuthServer]:
    env = {
        **os.environ,
        "BETTER_AUTH_SECRET": secrets.token_urlsafe(32),
        "SESSIONGATE_BA_BASE_PATH_SUFFIX": "/",
    }
    proc = subprocess.Popen(
        [node_bin, str(SERVER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=SERVER.parent,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline() if ready else b""
        if not line:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"the Better Auth server did not start: {err.decode()[-2000:]}")
        info = json.loads(line)
        yield BetterAuthServer(info["baseURL"], info["origin"], info["versions"])
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@dataclass(frozen=True)
class Issued:
    token: str
    header_token: str  # the `set-auth-jwt` header of /get-session
    user: dict[str, object]
    jwks: dict[str, object]


@pytest.fixture(scope="module")
def issued(better_auth: BetterAuthServer) -> Issued:
    origin = better_auth.origin
    with httpx.Client(base_url=origin, timeout=10, trust_env=False) as http:
        signup = http.post(
            "/api/auth/sign-up/email",
            json={"email": "ann@example.com", "password": "correct horse 12", "name": "Ann"},
            headers={"origin": origin},
        )
        assert signup.status_code == 200, signup.text
        user = signup.json()["user"]
        token_response = http.get("/api/auth/token")
        assert token_response.status_code == 200, token_response.text
        session = http.get("/api/auth/get-session")
        assert session.status_code == 200
        jwks = http.get("/api/auth/jwks").json()
    return Issued(token_response.json()["token"], session.headers["set-auth-jwt"], user, jwks)


def test_versions(better_auth: BetterAuthServer) -> None:
    assert better_auth.versions["better-auth"] == "1.7.25"


def test_token_verifies_against_live_jwks(better_auth: BetterAuthServer, issued: Issued) -> None:
    bearer = JWKSBearer.for_better_auth(better_auth.base_url, allow_http=True)
    assert bearer.jwks.url == better_auth.origin + "/api/auth/jwks"
    claims = bearer.decode_sync(issued.token)
    assert claims["sub"] == issued.user["id"]
    assert claims["id"] == issued.user["id"]
    assert claims["email"] == "ann@example.com"
    assert claims["name"] == "Ann"
    # SPEC 5.8: iss = aud = the baseURL *origin* (our baseURL has a trailing slash)
    assert claims["iss"] == claims["aud"] == better_auth.origin
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert bearer.jwks.fetch_count == 1


def test_jwks_and_header_shape_match_spec(issued: Issued) -> None:
    from sessiongate.jws import parse_jws_header

    header = parse_jws_header(issued.token.split(".")[0])
    (key,) = issued.jwks["keys"]  # type: ignore[misc]
    assert header == {"alg": "EdDSA", "kid": key["kid"]}  # no typ
    assert key["kty"] == "OKP"
    assert key["crv"] == "Ed25519"
    assert key["alg"] == "EdDSA"
    assert len(key["kid"]) == 32
    assert "use" not in key
    assert "d" not in key


def test_set_auth_jwt_header_token_verifies(better_auth: BetterAuthServer, issued: Issued) -> None:
    bearer = JWKSBearer.for_better_auth(better_auth.base_url, allow_http=True)
    assert bearer.decode_sync(issued.header_token)["sub"] == issued.user["id"]


def test_gate_async_and_sync_share_one_fetch(better_auth: BetterAuthServer, issued: Issued) -> None:
    bearer = JWKSBearer.for_better_auth(better_auth.base_url, allow_http=True, cache_size=0)
    gate = SessionGate(bearer)
    headers = {"authorization": f"Bearer {issued.token}"}
    assert asyncio.run(gate.authenticate(headers)).user.id == issued.user["id"]
    assert gate.authenticate_sync(headers).user.id == issued.user["id"]
    assert bearer.jwks.fetch_count == 1


def test_concurrent_first_requests_fetch_once(
    better_auth: BetterAuthServer, issued: Issued
) -> None:
    bearer = JWKSBearer.for_better_auth(better_auth.base_url, allow_http=True, cache_size=0)

    async def main() -> list[dict[str, object]]:
        return await asyncio.gather(*(bearer.decode(issued.token) for _ in range(25)))

    assert all(c["sub"] == issued.user["id"] for c in asyncio.run(main()))
    assert bearer.jwks.fetch_count == 1


def test_wrong_audience_and_tampering_rejected(
    better_auth: BetterAuthServer, issued: Issued
) -> None:
    other = JWKSBearer.for_better_auth(
        better_auth.base_url, allow_http=True, audience="https://other.example.com"
    )
    with pytest.raises(InvalidClaimError):
        other.decode_sync(issued.token)
    bearer = JWKSBearer.for_better_auth(better_auth.base_url, allow_http=True)
    head, payload, sig = issued.token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    with pytest.raises(InvalidSignatureError):
        bearer.decode_sync(f"{head}.{payload}.{flipped}")


def test_unknown_kid_against_live_jwks(better_auth: BetterAuthServer, issued: Issued) -> None:
    from sessiongate._b64json import b64url_encode

    bearer = JWKSBearer.for_better_auth(better_auth.base_url, allow_http=True)
    bearer.decode_sync(issued.token)
    head = b64url_encode(b'{"alg":"EdDSA","kid":"not-a-better-auth-key-id-000000"}')
    _, payload, sig = issued.token.split(".")
    with pytest.raises(UnknownKidError):
        bearer.decode_sync(f"{head}.{payload}.{sig}")
    assert bearer.jwks.fetch_count == 1  # within min_refetch_interval: no second fetch


def test_unreachable_endpoint_is_503() -> None:
    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = JWKSClient(f"http://127.0.0.1:{port}/api/auth/jwks", allow_http=True, timeout=2)
    with pytest.raises(ProviderUnavailableError):
        client.get_signing_keys_sync(None)
    with pytest.raises(ProviderUnavailableError):
        asyncio.run(client.get_signing_keys(None))
