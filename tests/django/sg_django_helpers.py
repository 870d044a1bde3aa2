"""Builders for every credential the Django adapters accept, named after what they build,
and a gate that accepts them all (tokens, database sessions, Better Auth, JWKS)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sg_django_settings import FRONT, JWT_SECRET, SECRET

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.betterauth import sign_cookie_value
from sessiongate.cookies import RequestCredentials
from sessiongate.errors import ProviderUnavailableError
from sessiongate.jwks import JWKSBearer
from sessiongate.sessions import BetterAuthSession, DatabaseSession
from sessiongate.stores import SQLiteStore
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256, mint_nextauth_v4
from sessiongate.types import Verified

BA_SECRET = "better-auth-test-secret-0123456789abcdefgh"
EVIL = "https://evil.example"
ISSUER = "https://idp.example.com"
AUDIENCE = "api://django-tests"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

__all__ = ["BA_SECRET", "EVIL", "FRONT", "JWT_SECRET", "SECRET"]


def claims(sub: str = "u1", **extra: Any) -> dict[str, Any]:
    return {"sub": sub, "name": "Ada", "email": "ada@example.com", **extra}


# ------------------------------------------------------------------------------ tokens


def build_v5_cookie(**extra: Any) -> str:
    return cookie_header(mint_authjs_v5(claims(**extra), SECRET))


def build_v4_cookie(**extra: Any) -> str:
    return cookie_header(mint_nextauth_v4(claims(**extra), SECRET), "next-auth.session-token")


def build_chunked_v5_cookie(**extra: Any) -> str:
    big = claims(**extra, blob="x" * 6000)
    header = cookie_header(mint_authjs_v5(big, SECRET))
    assert "authjs.session-token.1=" in header
    return header


def build_expired_v5_cookie() -> str:
    return cookie_header(mint_authjs_v5(claims(), SECRET, max_age=60, now=time.time() - 3600))


def build_tampered_v5_cookie() -> str:
    head, key, iv, ct, tag = mint_authjs_v5(claims(), SECRET).split(".")
    flipped = ("A" if ct[0] != "A" else "B") + ct[1:]
    return cookie_header(".".join((head, key, iv, flipped, tag)))


def build_hs256_bearer(**extra: Any) -> str:
    return "Bearer " + mint_hs256(claims(**extra), JWT_SECRET)


def build_expired_hs256_bearer() -> str:
    return "Bearer " + mint_hs256(claims(), JWT_SECRET, expires_in=60, now=time.time() - 3600)


def build_jwks_bearer(**extra: Any) -> str:
    now = int(time.time())
    payload = {**claims(**extra), "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    return "Bearer " + pyjwt.encode(payload, RSA_KEY, algorithm="RS256", headers={"kid": "k1"})


# ------------------------------------------------------------------------------ databases

AUTHJS_DDL = """
CREATE TABLE "User" (id TEXT PRIMARY KEY, name TEXT, email TEXT UNIQUE, "emailVerified" TEXT,
  image TEXT, role TEXT);
CREATE TABLE "Session" ("sessionToken" TEXT UNIQUE NOT NULL,
  "userId" TEXT NOT NULL REFERENCES "User"(id), expires TEXT NOT NULL);
"""

BETTER_AUTH_DDL = """
CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE,
  "emailVerified" INTEGER NOT NULL DEFAULT 0, image TEXT, role TEXT);
CREATE TABLE "session" (id TEXT PRIMARY KEY, "expiresAt" TEXT NOT NULL, token TEXT UNIQUE,
  "userId" TEXT NOT NULL REFERENCES "user"(id));
"""


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds")


class SessionDatabases:
    """An Auth.js (Prisma) and a Better Auth SQLite database, each with one valid session."""

    def __init__(self, folder: Path) -> None:
        self.authjs_path = folder / "authjs.db"
        self.better_auth_path = folder / "better-auth.db"
        self.authjs_token = str(uuid.uuid4())
        self.better_auth_token = "BaTok" + uuid.uuid4().hex[:27]
        later = datetime.now(UTC) + timedelta(days=7)
        with sqlite3.connect(self.authjs_path) as conn:
            conn.executescript(AUTHJS_DDL)
            conn.execute(
                'INSERT INTO "User" VALUES (?, ?, ?, ?, ?, ?)',
                ("db-user", "Grace", "grace@example.com", None, None, "editor"),
            )
            row = (self.authjs_token, "db-user", _iso(later))
            conn.execute('INSERT INTO "Session" VALUES (?, ?, ?)', row)
        with sqlite3.connect(self.better_auth_path) as conn:
            conn.executescript(BETTER_AUTH_DDL)
            conn.execute(
                "INSERT INTO \"user\" VALUES ('ba-user', 'Linus', 'linus@example.com', 1, NULL, "
                "'admin')"
            )
            conn.execute(
                'INSERT INTO "session" VALUES (?, ?, ?, ?)',
                ("s1", later.isoformat().replace("+00:00", "Z"), self.better_auth_token, "ba-user"),
            )

    def authjs_cookie(self) -> str:
        return f"authjs.session-token={self.authjs_token}"

    def better_auth_cookie(self) -> str:
        signed = sign_cookie_value(self.better_auth_token, BA_SECRET)
        return f"better-auth.session_token={quote(signed, safe='')}"


# ------------------------------------------------------------------------------ JWKS


class JWKSServer:
    """A JWKS document served on 127.0.0.1 from a thread (the gate fetches it for real)."""

    def __init__(self) -> None:
        jwk = RSAAlgorithm.to_jwk(RSA_KEY.public_key(), as_dict=True)
        body = json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def build_full_gate(databases: SessionDatabases, jwks_url: str) -> SessionGate:
    """A gate accepting every credential type the tests send."""
    return SessionGate(
        AuthJSToken(SECRET),
        BearerJWT(JWT_SECRET),
        DatabaseSession(SQLiteStore(databases.authjs_path), cache_ttl=0, negative_cache_ttl=0),
        BetterAuthSession(
            secret=BA_SECRET,
            store=SQLiteStore(databases.better_auth_path, schema="better-auth"),
            cache_ttl=0,
            negative_cache_ttl=0,
        ),
        JWKSBearer(
            jwks_url, algorithms=["RS256"], issuer=ISSUER, audience=AUDIENCE, allow_http=True
        ),
    )


class OutageAuthenticator:
    """Every credentialed request meets a session database that is down."""

    name = "outage"

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        if credentials.cookies or credentials.authorization:
            raise ProviderUnavailableError()
        return None


def build_outage_gate() -> SessionGate:
    return SessionGate(OutageAuthenticator())
