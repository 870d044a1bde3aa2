"""A Better Auth database with the admin, organization and api-key plugin tables, on SQLite.

The layout is what better-auth 1.7.25's ``getMigrations`` creates on SQLite (camelCase names,
dates as ISO text, booleans as integers); the interop tests check the same code against the
tables the real library made.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sessiongate.apikeys import hash_api_key

SCHEMA = """
CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT, email TEXT, emailVerified INTEGER,
  image TEXT, role TEXT, banned INTEGER, banReason TEXT, banExpires TEXT);
CREATE TABLE "session" (id TEXT PRIMARY KEY, token TEXT, userId TEXT, expiresAt TEXT,
  impersonatedBy TEXT, activeOrganizationId TEXT);
CREATE TABLE "organization" (id TEXT PRIMARY KEY, name TEXT, slug TEXT);
CREATE TABLE "member" (id TEXT PRIMARY KEY, organizationId TEXT, userId TEXT, role TEXT);
CREATE TABLE "organizationRole" (id TEXT PRIMARY KEY, organizationId TEXT, role TEXT,
  permission TEXT);
CREATE TABLE "apikey" (id TEXT PRIMARY KEY, configId TEXT, name TEXT, referenceId TEXT,
  key TEXT, enabled INTEGER, expiresAt TEXT, permissions TEXT, remaining INTEGER,
  refillAmount INTEGER);
"""

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KEY_PLAIN = "k" * 64
KEY_DISABLED = "d" * 64
KEY_EXPIRED = "e" * 64
KEY_PERMS = "p" * 64
KEY_EXHAUSTED = "x" * 64
KEY_ORPHAN = "o" * 64
KEY_ORG = "g" * 64


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def make_db(path: Path, *, plugins: bool = True) -> Path:
    conn = sqlite3.connect(path)
    statements = SCHEMA if plugins else SCHEMA.split('CREATE TABLE "organization"')[0]
    if not plugins:
        statements = statements.replace(
            ", role TEXT, banned INTEGER, banReason TEXT, banExpires TEXT", ""
        ).replace(",\n  impersonatedBy TEXT, activeOrganizationId TEXT", "")
    conn.executescript(statements)
    conn.execute(
        'INSERT INTO "user" (id, name, email) VALUES (?, ?, ?)', ("u-ada", "Ada", "ada@x.org")
    )
    if plugins:
        rows: list[tuple[Any, ...]] = [
            ("u-owner", "Owner", "owner@x.org"),
            ("u-admin", "Admin", "admin@x.org"),
            ("u-member", "Member", "member@x.org"),
            ("u-multi", "Multi", "multi@x.org"),
            ("u-auditor", "Auditor", "auditor@x.org"),
        ]
        conn.executemany('INSERT INTO "user" (id, name, email) VALUES (?, ?, ?)', rows)
        conn.executemany(
            'INSERT INTO "organization" VALUES (?, ?, ?)',
            [("org-1", "Acme", "acme"), ("org-2", "Other", "other")],
        )
        conn.executemany(
            'INSERT INTO "member" VALUES (?, ?, ?, ?)',
            [
                ("m1", "org-1", "u-owner", "owner"),
                ("m2", "org-1", "u-admin", "admin"),
                ("m3", "org-1", "u-member", "member"),
                ("m4", "org-1", "u-multi", " member , admin "),
                ("m5", "org-1", "u-auditor", "auditor"),
                ("m6", "org-2", "u-member", "owner"),
            ],
        )
        conn.execute(
            'INSERT INTO "organizationRole" VALUES (?, ?, ?, ?)',
            ("r1", "org-1", "auditor", json.dumps({"member": ["create"]})),
        )
        later, earlier = iso(NOW + timedelta(days=1)), iso(NOW - timedelta(seconds=1))
        keys = [
            ("k1", None, "u-ada", KEY_PLAIN, 1, None, None, None, None),
            ("k2", "default", "u-ada", KEY_DISABLED, 0, None, None, None, None),
            ("k3", None, "u-ada", KEY_EXPIRED, 1, earlier, None, None, None),
            ("k4", None, "u-admin", KEY_PERMS, None, later, '{"project":["read"]}', 3, None),
            ("k5", None, "u-ada", KEY_EXHAUSTED, 1, None, None, 0, None),
            ("k6", None, "u-gone", KEY_ORPHAN, 1, None, None, None, None),
            ("k7", None, "org-1", KEY_ORG, 1, None, None, None, None),
        ]
        conn.executemany(
            'INSERT INTO "apikey" (id, configId, referenceId, key, enabled, expiresAt, '
            "permissions, remaining, refillAmount) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(k[0], k[1], k[2], hash_api_key(k[3]), *k[4:]) for k in keys],
        )
    conn.commit()
    conn.close()
    return path
