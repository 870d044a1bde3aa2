"""Shared builders for the Better Auth admin / two-factor / session-column tests.

A SQLite database laid out as better-auth 1.7.25 creates it with ``admin()``, ``twoFactor()``
and ``organization()`` (camelCase columns), signed session cookies and ``session_data`` cookie
caches (compact strategy) minted as Better Auth mints them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sessiongate._b64json import b64url_encode, json_compact
from sessiongate.betterauth import sign_cookie_value
from sessiongate.cookies import RequestCredentials
from sessiongate.stores.schema import SchemaMapping

SECRET = "better-auth-admin-secret-0123456789abcdef"
NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
NOW_TS = NOW.timestamp()
COOKIE = "better-auth.session_token"
CACHE = "better-auth.session_data"

# the admin, two-factor and organization columns, named as SchemaMapping.with_extra takes them
# (so that tests/security can run against code that predates with_better_auth_columns)
ADMIN_USER_COLUMNS = ["role", "banned", "banReason", "banExpires", "twoFactorEnabled"]
LEGACY_SCHEMA = SchemaMapping.preset("better-auth").with_extra(ADMIN_USER_COLUMNS)

DDL = """
CREATE TABLE "user" (
  "id" text PRIMARY KEY, "name" text NOT NULL, "email" text NOT NULL, "emailVerified" integer,
  "image" text, "createdAt" datetime, "updatedAt" datetime, "role" text, "banned" integer,
  "banReason" text, "banExpires" datetime, "twoFactorEnabled" integer
);
CREATE TABLE "session" (
  "id" text PRIMARY KEY, "expiresAt" datetime NOT NULL, "token" text NOT NULL UNIQUE,
  "createdAt" datetime NOT NULL, "updatedAt" datetime NOT NULL, "ipAddress" text, "userAgent" text,
  "userId" text NOT NULL REFERENCES "user"("id"), "impersonatedBy" text,
  "activeOrganizationId" text, "activeTeamId" text
);
"""


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def token_for(name: str) -> str:
    """A 32-character session token (``generateId(32)`` shape) named after ``name``."""
    return (name + "x" * 32)[:32]


def make_db(
    path: Path,
    users: list[dict[str, Any]],
    sessions: list[dict[str, Any]],
    *,
    defaults: dict[str, Any] | None = None,
) -> Path:
    """A database with these users and sessions (missing columns take Better Auth defaults,
    or ``defaults`` for the session rows)."""
    conn = sqlite3.connect(path)
    conn.executescript(DDL)
    for user in users:
        row = {
            "name": "User " + user["id"],
            "email": user["id"] + "@example.com",
            "emailVerified": 0,
            "createdAt": iso(NOW - timedelta(days=30)),
            "updatedAt": iso(NOW - timedelta(days=30)),
            "role": "user",
            "banned": 0,
            "twoFactorEnabled": 0,
            **user,
        }
        cols = ", ".join(f'"{k}"' for k in row)
        conn.execute(
            f'INSERT INTO "user" ({cols}) VALUES ({", ".join("?" * len(row))})', [*row.values()]
        )
    for session in sessions:
        row = {
            "id": "s-" + session["token"][:8],
            "expiresAt": iso(NOW + timedelta(days=7)),
            "createdAt": iso(NOW - timedelta(hours=1)),
            "updatedAt": iso(NOW - timedelta(minutes=5)),
            "ipAddress": "203.0.113.7",
            "userAgent": "Mozilla/5.0 test",
            **(defaults or {}),
            **session,
        }
        cols = ", ".join(f'"{k}"' for k in row)
        conn.execute(
            f'INSERT INTO "session" ({cols}) VALUES ({", ".join("?" * len(row))})', [*row.values()]
        )
    conn.commit()
    conn.close()
    return path


def signed(token: str, secret: str = SECRET) -> str:
    return sign_cookie_value(token, secret)


def creds(token: str | None = None, cache: str | None = None) -> RequestCredentials:
    cookies: dict[str, str] = {}
    if token is not None:
        cookies[COOKIE] = signed(token)
    if cache is not None:
        cookies[CACHE] = cache
    return RequestCredentials(cookies=cookies)


def session_data(
    token: str,
    *,
    user: dict[str, Any] | None = None,
    session: dict[str, Any] | None = None,
    written_at: datetime = NOW,
) -> dict[str, Any]:
    """A ``session_data`` payload as ``setCookieCache`` builds it."""
    return {
        "session": {
            "expiresAt": iso(NOW + timedelta(days=7)),
            "token": token,
            "createdAt": iso(NOW - timedelta(hours=1)),
            "updatedAt": iso(NOW - timedelta(minutes=5)),
            "ipAddress": "203.0.113.7",
            "userAgent": "Mozilla/5.0 test",
            "userId": "u1",
            "id": "s1",
            **(session or {}),
        },
        "user": {
            "id": "u1",
            "name": "Ada",
            "email": "ada@example.com",
            "emailVerified": True,
            "image": None,
            "role": "user",
            "banned": False,
            "banReason": None,
            "banExpires": None,
            **(user or {}),
        },
        "updatedAt": int(written_at.timestamp() * 1000),
        "version": "1",
    }


def compact_cache(data: dict[str, Any], secret: str = SECRET, max_age: float = 300) -> str:
    """The compact ``session_data`` cookie: base64url JSON with an HMAC over the payload."""
    expires_ms = int(data["updatedAt"] + max_age * 1000)
    signed_part = json_compact({**data, "expiresAt": expires_ms})
    sig = b64url_encode(hmac.new(secret.encode(), signed_part, hashlib.sha256).digest())
    outer = {"session": data, "expiresAt": expires_ms, "signature": sig}
    return b64url_encode(json.dumps(outer, separators=(",", ":")).encode())
