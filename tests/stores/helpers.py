"""Shared helpers for the store tests (SQLite fixtures, fake stores)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sessiongate.cookies import RequestCredentials
from sessiongate.errors import ProviderUnavailableError
from sessiongate.stores.base import SessionRecord

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
NOW_TS = NOW.timestamp()

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


def naive_utc(dt: datetime) -> str:
    """How Prisma/Drizzle store a DateTime in a naive column: UTC wall time, no offset."""
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds")


def make_prisma_sqlite(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.executescript(PRISMA_DDL)
    conn.execute(
        'INSERT INTO "User" VALUES (?, ?, ?, ?, ?, ?, ?)',
        ("u1", "Ada", "ada@example.com", None, "https://img/ada.png", "admin", '["read","write"]'),
    )
    conn.execute(
        'INSERT INTO "Session" VALUES (?, ?, ?)',
        ("tok-valid", "u1", naive_utc(NOW + timedelta(days=30))),
    )
    conn.execute(
        'INSERT INTO "Session" VALUES (?, ?, ?)',
        ("tok-expired", "u1", naive_utc(NOW - timedelta(seconds=1))),
    )
    conn.commit()
    return conn


def creds(cookies: Mapping[str, str] | None = None, authorization: str | None = None):
    return RequestCredentials(cookies=dict(cookies or {}), authorization=authorization)


class FakeStore:
    """An in-memory SessionStore that counts queries and can be slowed down or broken."""

    def __init__(self, records: dict[str, SessionRecord] | None = None, delay: float = 0.0):
        self.records = dict(records or {})
        self.delay = delay
        self.calls = 0
        self.fail = False
        self.closed = False
        self.timeout = 1.0

    async def load(self, token: str) -> SessionRecord | None:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise ProviderUnavailableError("fake outage")
        return self.records.get(token)

    async def aclose(self) -> None:
        self.closed = True


def record(token: str = "tok", *, expires: datetime | None = None, **user: object) -> SessionRecord:
    return SessionRecord(
        session_token=token,
        user_id="u1",
        expires=expires or NOW + timedelta(days=1),
        user={"email": "ada@example.com", **user},
    )
