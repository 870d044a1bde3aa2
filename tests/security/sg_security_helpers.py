"""Builders shared by the hardening suites (hostile input, leaks, faults, properties).

Named after what they build; loopback only, no network.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sessiongate import SessionGate
from sessiongate._b64json import b64url_encode
from sessiongate.asgi import SessionGateMiddleware, requires

SECRET = "hardening-secret-0123456789abcdef0123456789"
JWT_SECRET = "hardening-jwt-secret-abcdefghijklmnopqrstuv"
BA_SECRET = "hardening-better-auth-secret-0123456789abc"
NOW = 1_800_000_000
V5 = "authjs.session-token"

# --------------------------------------------------------------------------------- tokens


def b64json(obj: Any) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def sign_hs256(header: Any, payload: bytes | Any, key: str = JWT_SECRET) -> str:
    """An HS256 JWS over raw payload bytes (or a JSON-serialisable object)."""
    head = header if isinstance(header, str) else b64json(header)
    body = b64url_encode(payload) if isinstance(payload, bytes) else b64json(payload)
    si = head + "." + body
    return si + "." + b64url_encode(hmac.digest(key.encode(), si.encode(), "sha256"))


# --------------------------------------------------------------------------------- SQLite

PRISMA_DDL = """
CREATE TABLE "User" (
  id TEXT PRIMARY KEY, name TEXT, email TEXT UNIQUE, "emailVerified" TEXT, image TEXT,
  role TEXT, permissions TEXT
);
CREATE TABLE "Session" (
  "sessionToken" TEXT UNIQUE NOT NULL, "userId" TEXT NOT NULL REFERENCES "User"(id),
  expires TEXT NOT NULL
);
"""

BETTER_AUTH_DDL = """
CREATE TABLE "user" (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE,
  "emailVerified" INTEGER NOT NULL DEFAULT 0, image TEXT,
  "createdAt" TEXT NOT NULL, "updatedAt" TEXT NOT NULL
);
CREATE TABLE "session" (
  id TEXT PRIMARY KEY, "expiresAt" TEXT NOT NULL, token TEXT NOT NULL UNIQUE,
  "createdAt" TEXT NOT NULL, "updatedAt" TEXT NOT NULL, "ipAddress" TEXT, "userAgent" TEXT,
  "userId" TEXT NOT NULL REFERENCES "user"(id)
);
"""

VALID_DB_TOKEN = "tok-valid-0123456789"
EXPIRED_DB_TOKEN = "tok-expired-0123456789"


def _naive(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds")


def make_prisma_db(path: Path, *, now: datetime | None = None) -> Path:
    """An Auth.js (Prisma preset) SQLite database with one valid and one expired session."""
    now = now or datetime.now(UTC)
    conn = sqlite3.connect(path)
    try:
        conn.executescript(PRISMA_DDL)
        conn.execute(
            'INSERT INTO "User" VALUES (?, ?, ?, ?, ?, ?, ?)',
            ("u1", "Ada", "ada@example.com", None, None, "admin", '["read"]'),
        )
        conn.execute(
            'INSERT INTO "Session" VALUES (?, ?, ?)',
            (VALID_DB_TOKEN, "u1", _naive(now + timedelta(days=30))),
        )
        conn.execute(
            'INSERT INTO "Session" VALUES (?, ?, ?)',
            (EXPIRED_DB_TOKEN, "u1", _naive(now - timedelta(days=1))),
        )
        conn.commit()
    finally:
        conn.close()
    return path


def make_better_auth_db(path: Path, tokens: Iterable[str] = ()) -> Path:
    """A Better Auth (Kysely preset) SQLite database with one session per token, valid 7 days."""
    now = datetime.now(UTC)
    iso = now.isoformat().replace("+00:00", "Z")
    conn = sqlite3.connect(path)
    try:
        conn.executescript(BETTER_AUTH_DDL)
        conn.execute(
            'INSERT INTO "user" VALUES (?, ?, ?, ?, ?, ?, ?)',
            ("u1", "Ada", "ada@example.com", 1, None, iso, iso),
        )
        for i, token in enumerate(tokens):
            conn.execute(
                'INSERT INTO "session" VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                (
                    f"s{i}",
                    (now + timedelta(days=7)).isoformat().replace("+00:00", "Z"),
                    token,
                    iso,
                    iso,
                    None,
                    None,
                    "u1",
                ),
            )
        conn.commit()
    finally:
        conn.close()
    return path


# --------------------------------------------------------------------------------- ASGI


async def _whoami(request: Request) -> JSONResponse:
    error = request.auth.error
    return JSONResponse(
        {
            "authenticated": request.user.is_authenticated,
            "id": request.user.id if request.user.is_authenticated else None,
            "reason": error.code if error else None,
        }
    )


@requires()
async def _me(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.user.id})


def make_asgi_app(gate: SessionGate, **middleware_options: Any) -> Starlette:
    """``/public`` (anonymous allowed, echoes the reason) and ``/me`` (requires a session)."""
    return Starlette(
        routes=[Route("/public", _whoami), Route("/me", _me, methods=["GET", "POST"])],
        middleware=[Middleware(SessionGateMiddleware, gate=gate, **middleware_options)],
    )


def asgi_request(
    app: Any,
    headers: Iterable[tuple[bytes, bytes]] = (),
    *,
    path: str = "/me",
    method: str = "GET",
) -> tuple[int, dict[str, str], bytes]:
    """Drive one HTTP request through a raw ASGI app; returns (status, headers, body)."""
    return asyncio.run(asgi_request_async(app, headers, path=path, method=method))


async def asgi_request_async(
    app: Any,
    headers: Iterable[tuple[bytes, bytes]] = (),
    *,
    path: str = "/me",
    method: str = "GET",
) -> tuple[int, dict[str, str], bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    response_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    return start["status"], response_headers, body
