"""Database-session benchmarks: cache hits, cache misses on PostgreSQL, concurrent load.

    SESSIONGATE_TEST_DATABASE_URL=postgresql://... .venv/bin/python benchmarks/bench_db.py

Creates a throwaway schema (Prisma-shaped ``Session``/``User`` tables), fills it, measures,
and drops it. Prints a table.

* **cache hit**: ``DatabaseSession`` answering a cookie from its TTL cache (the sync path and
  the async path), and the bare ``CachedStore.get_cached`` lookup;
* **cache miss**: one ``PostgresStore.load`` per request (cache disabled), sequential, on a
  warm pool: the prepared ``SELECT … JOIN`` is one round trip;
* **load**: many concurrent requests over many distinct tokens through one cached
  authenticator: queries must be <= distinct tokens and the pool must not be exhausted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
import uuid
from dataclasses import replace

import asyncpg
from _timing import bench_sync, pct

from sessiongate.cookies import RequestCredentials
from sessiongate.errors import ProviderUnavailableError
from sessiongate.sessions import DatabaseSession
from sessiongate.stores import PRESETS
from sessiongate.stores.postgres import PostgresStore

DDL = """
CREATE TABLE "User" (id TEXT PRIMARY KEY, name TEXT, email TEXT UNIQUE,
  "emailVerified" TIMESTAMP(3), image TEXT, role TEXT);
CREATE TABLE "Session" ("sessionToken" TEXT NOT NULL UNIQUE, "userId" TEXT NOT NULL
  REFERENCES "User"(id), expires TIMESTAMP(3) NOT NULL);
INSERT INTO "User" SELECT 'u' || i, 'User ' || i, 'u' || i || '@example.com', NULL, NULL, 'user'
  FROM generate_series(1, {n}) AS i;
INSERT INTO "Session" SELECT 'tok-' || i, 'u' || i, now() + interval '30 days'
  FROM generate_series(1, {n}) AS i;
ANALYZE "User"; ANALYZE "Session";
"""


async def main(
    dsn: str, n_tokens: int, requests: int, pool: int, concurrency: int
) -> list[tuple[str, str]]:
    schema = "bench_" + uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'CREATE SCHEMA "{schema}"; SET search_path TO "{schema}";')
    await conn.execute(DDL.format(n=n_tokens))
    rows: list[tuple[str, str]] = []
    try:
        mapping = replace(PRESETS["authjs-prisma"], db_schema=schema).with_extra(["role"])
        now = time.time()

        # ---------------------------------------------------------------- cache hit
        store = PostgresStore(dsn, schema=mapping, max_size=pool)
        auth = DatabaseSession(store, cache_ttl=60)
        creds = RequestCredentials(cookies={"authjs.session-token": "tok-1"})
        await auth.authenticate(creds, now)
        hit_lookup = bench_sync(lambda: auth.store.get_cached("tok-1"))
        hit_sync = bench_sync(lambda: auth.authenticate_sync(creds, now))
        loops = 200_000
        t0 = time.perf_counter_ns()
        for _ in range(loops):
            await auth.authenticate(creds, now)
        hit_async = (time.perf_counter_ns() - t0) / loops
        rows += [
            ("cache hit: CachedStore.get_cached", f"{hit_lookup / 1000:.2f} µs"),
            ("cache hit: DatabaseSession sync (cookie -> Verified)", f"{hit_sync / 1000:.2f} µs"),
            ("cache hit: DatabaseSession async (await)", f"{hit_async / 1000:.2f} µs"),
        ]
        await auth.aclose()

        # ---------------------------------------------------------------- cache miss
        store = PostgresStore(dsn, schema=mapping, max_size=pool)
        for i in range(200):  # warm: connection open, statement prepared
            await store.load(f"tok-{1 + i % n_tokens}")
        samples = []
        for i in range(5000):
            t0 = time.perf_counter_ns()
            record = await store.load(f"tok-{1 + (i * 7919) % n_tokens}")
            samples.append((time.perf_counter_ns() - t0) / 1000)
            assert record is not None
        rows += [
            ("cache miss: PostgresStore.load p50", f"{pct(samples, 0.50):.0f} µs"),
            ("cache miss: PostgresStore.load p99", f"{pct(samples, 0.99):.0f} µs"),
            ("cache miss: mean", f"{statistics.fmean(samples):.0f} µs"),
        ]
        await store.aclose()

        # ---------------------------------------------------------------- load
        store = PostgresStore(dsn, schema=mapping, max_size=pool, timeout=5.0)
        auth = DatabaseSession(store, cache_ttl=60)
        tokens = [f"tok-{1 + (i * 7919) % n_tokens}" for i in range(requests)]
        distinct = len(set(tokens))
        errors = 0
        unavailable = 0

        gate = asyncio.Semaphore(concurrency)
        peak = 0

        async def one(token: str) -> None:
            nonlocal errors, unavailable, peak
            c = RequestCredentials(cookies={"authjs.session-token": token})
            try:
                async with gate:
                    await auth.authenticate(c, now)
                    peak = max(peak, store.pool_stats()["size"])
            except ProviderUnavailableError:
                unavailable += 1
            except Exception:
                errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(one(t) for t in tokens))
        elapsed = time.perf_counter() - t0
        stats = store.pool_stats()
        rows += [
            (
                f"load: {requests} requests, {concurrency} in flight, {distinct} tokens",
                f"{elapsed:.2f} s",
            ),
            ("load: throughput", f"{requests / elapsed:,.0f} req/s"),
            ("load: database queries (<= distinct tokens)", f"{auth.store.queries}"),
            ("load: 503 (pool exhausted / timeout)", f"{unavailable}"),
            ("load: other errors", f"{errors}"),
            ("load: pool connections used (max_size)", f"{peak} ({stats['max_size']})"),
        ]
        ok = auth.store.queries <= distinct and unavailable == 0 and errors == 0
        rows.append(("load: verdict", "OK" if ok else "FAILED"))
        await auth.aclose()
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        server = await conn.fetchval("SHOW server_version")
        await conn.close()
    rows.append(("PostgreSQL / asyncpg", f"{server} / {asyncpg.__version__}"))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=os.environ.get("SESSIONGATE_TEST_DATABASE_URL"))
    parser.add_argument("--tokens", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--pool", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=500)
    args = parser.parse_args()
    if not args.dsn:
        sys.exit("set SESSIONGATE_TEST_DATABASE_URL or pass --dsn")
    table = asyncio.run(main(args.dsn, args.tokens, args.requests, args.pool, args.concurrency))
    print(
        f"sessiongate database benchmarks — Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs\n"
    )
    width = max(len(k) for k, _ in table)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 16}")
    for key, value in table:
        print(f"{key:<{width}}  {value}")
    if any(k == "load: verdict" and v != "OK" for k, v in table):
        sys.exit(1)
