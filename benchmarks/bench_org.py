"""Better Auth plugin benchmarks: an org-guarded request on a cache hit, an API key on a miss.

    SESSIONGATE_TEST_DATABASE_URL=postgresql://... .venv/bin/python benchmarks/bench_org.py

Creates a throwaway schema with Better Auth's ``user``, ``session``, ``member`` and ``apikey``
tables (camelCase, as ``getMigrations`` makes them), fills it, measures, drops it. Prints a
table.

* **org guard, cache hit**: ``require_org_role(...).check_sync`` and ``await check(...)`` on a
  membership in the directory's cache: the whole cost an org guard adds to a request (read the
  organization from the path, check its id, cache lookup, role match). Target: < 5 µs.
* **org guard, permission, cache hit**: the same with ``require_org_permission`` (one role
  authorises the request).
* **API key, cache miss**: ``ApiKeyVerifier.authenticate`` with the cache off on a warm pool:
  hash, one ``SELECT … LEFT JOIN user`` (key row and owner in one round trip), verdict, user.
  The number of queries per verification is counted, not assumed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
import uuid
from dataclasses import replace
from typing import Any

import asyncpg
from _timing import bench_sync, pct

from sessiongate.apikeys import ApiKeyVerifier, hash_api_key
from sessiongate.organizations import (
    OrgDirectory,
    org_from_path,
    require_org_permission,
    require_org_role,
)
from sessiongate.stores import PRESETS
from sessiongate.stores.postgres import PostgresStore
from sessiongate.user import User

DDL = """
CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT, email TEXT, "emailVerified" BOOLEAN,
  image TEXT);
CREATE TABLE "session" (id TEXT PRIMARY KEY, token TEXT UNIQUE, "userId" TEXT,
  "expiresAt" TIMESTAMPTZ);
CREATE TABLE "member" (id TEXT PRIMARY KEY, "organizationId" TEXT, "userId" TEXT, role TEXT);
CREATE INDEX ON "member" ("organizationId", "userId");
CREATE TABLE "apikey" (id TEXT PRIMARY KEY, "configId" TEXT, "referenceId" TEXT, key TEXT,
  enabled BOOLEAN, "expiresAt" TIMESTAMPTZ, permissions TEXT, remaining INTEGER,
  "refillAmount" INTEGER);
CREATE INDEX ON "apikey" (key);
INSERT INTO "user" SELECT 'u' || i, 'User ' || i, 'u' || i || '@example.com', true, NULL
  FROM generate_series(1, {n}) AS i;
INSERT INTO "member" SELECT 'm' || i, 'org-' || (i % 50), 'u' || i, 'member,admin'
  FROM generate_series(1, {n}) AS i;
ANALYZE "user"; ANALYZE "member";
"""


def key_of(i: int) -> str:
    return f"{i:064d}"


class CountingStore(PostgresStore):
    """The PostgreSQL store, counting the plugin queries it runs."""

    queries = 0

    async def fetch(self, sql: str, *args: Any, limit: int | None = None) -> Any:
        CountingStore.queries += 1
        return await super().fetch(sql, *args, limit=limit)


CountingStore.__name__ = "PostgresStore"  # the SQL dialect is read off the class name


async def main(dsn: str, n: int, misses: int) -> list[tuple[str, str]]:
    schema = "bench_" + uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'CREATE SCHEMA "{schema}"; SET search_path TO "{schema}";')
    await conn.execute(DDL.format(n=n))
    await conn.executemany(
        'INSERT INTO "apikey" VALUES ($1, NULL, $2, $3, true, NULL, NULL, NULL, NULL)',
        [(f"k{i}", f"u{i}", hash_api_key(key_of(i))) for i in range(1, n + 1)],
    )
    await conn.execute('ANALYZE "apikey"')
    rows: list[tuple[str, str]] = []
    try:
        mapping = replace(PRESETS["better-auth"], db_schema=schema)
        store = CountingStore(dsn, schema=mapping)

        # ------------------------------------------------------------ org guard, cache hit
        orgs = OrgDirectory(store, cache_ttl=3600)
        by_role = require_org_role("admin", org=org_from_path("org"), directory=orgs)
        by_permission = require_org_permission(
            {"member": ["create"]}, org=org_from_path("org"), directory=orgs
        )
        user = User(id="u1", claims={"sub": "u1"})
        params, headers = {"org": "org-1"}, {}
        await by_role.check(user, params, headers)  # fills the cache
        role_sync = bench_sync(lambda: by_role.check_sync(user, params, headers))
        perm_sync = bench_sync(lambda: by_permission.check_sync(user, params, headers))
        loops = 100_000
        t0 = time.perf_counter_ns()
        for _ in range(loops):
            await by_role.check(user, params, headers)
        role_async = (time.perf_counter_ns() - t0) / loops
        rows += [
            ("org guard cache hit: require_org_role sync", f"{role_sync / 1000:.2f} µs"),
            ("org guard cache hit: require_org_role async", f"{role_async / 1000:.2f} µs"),
            ("org guard cache hit: require_org_permission", f"{perm_sync / 1000:.2f} µs"),
        ]

        # ------------------------------------------------------------ API key, cache miss
        keys = ApiKeyVerifier(store, cache_ttl=0, negative_cache_ttl=0)
        for i in range(200):  # warm: connections open, statement prepared
            await keys.authenticate({"x-api-key": key_of(1 + i % n)})
        CountingStore.queries = 0
        samples = []
        for i in range(misses):
            request = {"x-api-key": key_of(1 + (i * 7919) % n)}
            t0 = time.perf_counter_ns()
            result = await keys.authenticate(request)
            samples.append((time.perf_counter_ns() - t0) / 1000)
            assert result is not None
            assert result.user.source == "api-key"
        rows += [
            ("API key cache miss: authenticate p50", f"{pct(samples, 0.50):.0f} µs"),
            ("API key cache miss: authenticate p99", f"{pct(samples, 0.99):.0f} µs"),
            ("API key cache miss: queries per verification", f"{CountingStore.queries / misses}"),
        ]
        await store.aclose()
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=os.environ.get("SESSIONGATE_TEST_DATABASE_URL"))
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--misses", type=int, default=5000)
    args = parser.parse_args()
    if not args.dsn:
        sys.exit("set SESSIONGATE_TEST_DATABASE_URL or pass --dsn")
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    for label, value in asyncio.run(main(args.dsn, args.rows, args.misses)):
        print(f"  {label:<50} {value}")
