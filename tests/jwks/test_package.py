"""The JWKS package's public surface, and ``import sessiongate`` staying light."""

from __future__ import annotations

import json
import subprocess
import sys

import sessiongate
import sessiongate.jwks


def test_public_names():
    from sessiongate import JWKSBearer, JWKSClient
    from sessiongate.jwks import ASYMMETRIC_ALGORITHMS, JWKSKey, KeySet, parse_jwk_set

    assert JWKSBearer is sessiongate.jwks.JWKSBearer
    assert JWKSClient is sessiongate.jwks.JWKSClient
    assert {"JWKSBearer", "JWKSClient"} <= set(sessiongate.__all__)
    assert set(sessiongate.jwks.__all__) == {
        "ASYMMETRIC_ALGORITHMS",
        "JWKSBearer",
        "JWKSClient",
        "JWKSKey",
        "KeySet",
        "KeySource",
        "SessionCacheJWT",
        "StaticKeyJWT",
        "StaticKeys",
        "parse_jwk_set",
    }
    assert ASYMMETRIC_ALGORITHMS and JWKSKey and KeySet and parse_jwk_set


def test_import_sessiongate_loads_neither_httpx_nor_pyjwt():
    code = (
        "import json, sys, sessiongate, sessiongate.jws;"
        "print(json.dumps([m for m in ('httpx', 'jwt', 'sessiongate.jwks') if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []
    code = "import sys; from sessiongate import JWKSBearer; print('httpx' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "True"  # loaded on first use of a JWKS name
