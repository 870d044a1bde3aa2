"""SQLite database sessions from blocking code (WSGI, Flask, the CLI): the cost of one lookup.

    .venv/bin/python benchmarks/bench_sqlite.py [--rounds 7] [--threads 8]

Builds a Prisma-shaped SQLite file with 1,000 sessions, then measures
``SessionGate.authenticate_sync`` with the session cache off (every request reads the
database) and on (a TTL-cache hit):

* **miss, 1 thread**: median ns per lookup from one thread;
* **miss, N threads**: lookups per second with N threads asking at once (a WSGI server's
  worker threads);
* **hit**: the cached verdict.

A blocking caller used to hop from its own thread to the background event loop and from there to
the store's worker thread; with ``SQLiteStore.load_sync`` it queries in its own thread. The
numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sessiongate import DatabaseSession, SessionGate, SQLiteStore

DDL = """
CREATE TABLE "User" (id TEXT PRIMARY KEY, name TEXT, email TEXT UNIQUE, "emailVerified" TEXT,
  image TEXT);
CREATE TABLE "Session" (id TEXT PRIMARY KEY, "sessionToken" TEXT UNIQUE NOT NULL,
  "userId" TEXT NOT NULL REFERENCES "User"(id), expires TEXT NOT NULL);
"""
SESSIONS = 1000


def make_database(path: Path) -> None:
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(tzinfo=None)
    with sqlite3.connect(path) as conn:
        conn.executescript(DDL)
        conn.executemany(
            'INSERT INTO "User" (id, name, email) VALUES (?, ?, ?)',
            [(f"u{i}", f"User {i}", f"u{i}@example.com") for i in range(SESSIONS)],
        )
        conn.executemany(
            'INSERT INTO "Session" (id, "sessionToken", "userId", expires) VALUES (?, ?, ?, ?)',
            [
                (f"s{i}", f"tok-{i}", f"u{i}", expires.isoformat(sep=" ", timespec="milliseconds"))
                for i in range(SESSIONS)
            ],
        )
    conn.close()


def headers(i: int) -> dict[str, str]:
    return {"cookie": f"authjs.session-token=tok-{i % SESSIONS}"}


def per_call_ns(gate: SessionGate, calls: int, rounds: int) -> float:
    results = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        for i in range(calls):
            gate.authenticate_sync(headers(i))
        results.append((time.perf_counter_ns() - t0) / calls)
    return statistics.median(results)


def threaded_per_second(gate: SessionGate, threads: int, calls: int) -> float:
    start = threading.Barrier(threads + 1)

    def worker(offset: int) -> None:
        start.wait()
        for i in range(calls):
            gate.authenticate_sync(headers(offset + i))

    pool = [threading.Thread(target=worker, args=(t * calls,)) for t in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    return threads * calls / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "app.db"
        make_database(path)
        miss = SessionGate(
            DatabaseSession(SQLiteStore(path), cache_ttl=0, negative_cache_ttl=0), memo_size=0
        )
        hit = SessionGate(DatabaseSession(SQLiteStore(path), cache_ttl=60), memo_size=0)
        for i in range(SESSIONS):  # warm: connections open, cache full
            miss.authenticate_sync(headers(i))
            hit.authenticate_sync(headers(i))
        miss_ns = per_call_ns(miss, 2000, args.rounds)
        hit_ns = per_call_ns(hit, 20000, args.rounds)
        rate = threaded_per_second(miss, args.threads, 500)
        print(f"miss, 1 thread          {miss_ns / 1000:8.1f} us per lookup")
        print(f"miss, {args.threads} threads        {rate:8.0f} lookups/s")
        print(f"hit (TTL cache)         {hit_ns / 1000:8.1f} us per lookup")


if __name__ == "__main__":
    main()
