"""Token builders and a fake provider for the web adapter tests (named after what they build)."""

from __future__ import annotations

import time
from typing import Any

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.cookies import RequestCredentials
from sessiongate.errors import ProviderUnavailableError
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256
from sessiongate.types import Verified

SECRET = "web-test-secret-0123456789abcdef0123456789"
OTHER_SECRET = "an-entirely-different-secret-9876543210"
ORIGIN = "http://testserver"
EVIL = "https://evil.example"


def make_gate(**options: Any) -> SessionGate:
    return SessionGate(AuthJSToken(secret=SECRET), BearerJWT(secret=SECRET), **options)


def claims(sub: str = "u1", **extra: Any) -> dict[str, Any]:
    return {"sub": sub, "name": "Ada", "email": "ada@example.com", **extra}


def build_valid_token(**extra: Any) -> str:
    return mint_authjs_v5(claims(**extra), SECRET)


def build_valid_cookie(**extra: Any) -> dict[str, str]:
    return {"cookie": cookie_header(build_valid_token(**extra))}


def build_expired_cookie() -> dict[str, str]:
    token = mint_authjs_v5(claims(), SECRET, max_age=60, now=time.time() - 3600)
    return {"cookie": cookie_header(token)}


def build_tampered_cookie() -> dict[str, str]:
    token = build_valid_token()
    head, key, iv, ct, tag = token.split(".")
    flipped = ("A" if ct[0] != "A" else "B") + ct[1:]
    return {"cookie": cookie_header(".".join((head, key, iv, flipped, tag)))}


def build_wrong_secret_cookie() -> dict[str, str]:
    return {"cookie": cookie_header(mint_authjs_v5(claims(), OTHER_SECRET))}


def build_bearer(**extra: Any) -> dict[str, str]:
    return {"authorization": "Bearer " + mint_hs256(claims(**extra), SECRET)}


def build_expired_bearer() -> dict[str, str]:
    token = mint_hs256(claims(), SECRET, expires_in=60, now=time.time() - 3600)
    return {"authorization": "Bearer " + token}


class OutageAuthenticator:
    """Answers every credentialed request with 'provider unavailable' (a database that is down)."""

    name = "outage"

    def __init__(self) -> None:
        self.calls = 0

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        self.calls += 1
        if credentials.cookies or credentials.authorization:
            raise ProviderUnavailableError()
        return None


class CountingAuthenticator:
    """Wraps an authenticator and counts verifications (to prove no double verification)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls = 0

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        self.calls += 1
        result: Verified | None = self.inner.authenticate_sync(credentials, now)
        return result
