"""Bounded-time soak test on loopback: the sidecar and a FastAPI app with database sessions.

Each target runs as its own uvicorn process on 127.0.0.1 (so its memory is measured alone);
this process drives sustained concurrent requests with a mix of valid, expired and garbage
credentials and reports throughput, p50/p99 latency, the server's RSS over time and the count of
responses by status. A status other than the one expected for a credential (200 for a valid
one, 401 for the rest) is *unexpected*; the run fails when there is any, or when RSS grows by
more than ``--max-rss-growth-mb`` between the end of warm-up and the end.

    python benchmarks/soak.py                        # CI's short form: 20 s per target
    python benchmarks/soak.py --duration 300         # the long form: 5 minutes per target
    python benchmarks/soak.py --target fastapi --database-url postgresql://...   # PostgreSQL
    python benchmarks/soak.py --json soak.json       # machine-readable results

The credential mix (weights): Auth.js v5 cookies from a pool of 500 (30), a *unique* valid v5
cookie per request (10: fills and churns the verified-token LRU), database session cookies from
a pool of 1000 (20), unknown database tokens, all distinct (10: churns the negative cache),
HS256 bearer tokens (10), expired cookies (5), garbage (5), forged bearer tokens (5), 70 KB
cookies (2), no credentials (3).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "soak-secret-" + "0123456789abcdef" * 2
JWT_SECRET = "soak-jwt-secret-" + "fedcba9876543210" * 2
V5 = "authjs.session-token"
DB_SESSIONS = 1000

# ------------------------------------------------------------------------------ server side

PRISMA_DDL = """
CREATE TABLE "User" (id TEXT PRIMARY KEY, name TEXT, email TEXT UNIQUE, "emailVerified" TEXT,
                     image TEXT, role TEXT, permissions TEXT);
CREATE TABLE "Session" ("sessionToken" TEXT UNIQUE NOT NULL,
                        "userId" TEXT NOT NULL REFERENCES "User"(id), expires TEXT NOT NULL);
"""


def db_token(i: int) -> str:
    return f"soak-session-{i:06d}-0123456789abcdef"


def make_sqlite(path: Path) -> None:
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(tzinfo=None)
    conn = sqlite3.connect(path)
    try:
        conn.executescript(PRISMA_DDL)
        conn.executemany(
            'INSERT INTO "User" VALUES (?, ?, ?, NULL, NULL, ?, NULL)',
            [(f"u{i}", f"User {i}", f"u{i}@example.com", "user") for i in range(DB_SESSIONS)],
        )
        conn.executemany(
            'INSERT INTO "Session" VALUES (?, ?, ?)',
            [(db_token(i), f"u{i}", expires.isoformat(sep=" ")) for i in range(DB_SESSIONS)],
        )
        conn.commit()
    finally:
        conn.close()


async def make_postgres(dsn: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            'DROP TABLE IF EXISTS "Session"; DROP TABLE IF EXISTS "User";'
            'CREATE TABLE "User" (id TEXT PRIMARY KEY, name TEXT, email TEXT UNIQUE,'
            ' "emailVerified" TIMESTAMP(3), image TEXT);'
            'CREATE TABLE "Session" (id TEXT PRIMARY KEY, "sessionToken" TEXT UNIQUE NOT NULL,'
            ' "userId" TEXT NOT NULL REFERENCES "User"(id), expires TIMESTAMP(3) NOT NULL);'
        )
        await conn.executemany(
            'INSERT INTO "User" VALUES ($1, $2, $3, NULL, NULL)',
            [(f"u{i}", f"User {i}", f"u{i}@example.com") for i in range(DB_SESSIONS)],
        )
        expires = (datetime.now(UTC) + timedelta(days=30)).replace(tzinfo=None)
        await conn.executemany(
            'INSERT INTO "Session" VALUES ($1, $2, $3, $4)',
            [(f"s{i}", db_token(i), f"u{i}", expires) for i in range(DB_SESSIONS)],
        )
    finally:
        await conn.close()


def build_gate(database_url: str):
    from sessiongate import AuthJSToken, BearerJWT, SessionGate
    from sessiongate.sessions import DatabaseSession
    from sessiongate.stores import open_store

    store = open_store(database_url, schema="authjs-prisma")
    return SessionGate(
        AuthJSToken(SECRET), BearerJWT(JWT_SECRET), DatabaseSession(store, accept_bearer=False)
    )


def build_app(target: str, database_url: str):
    gate = build_gate(database_url)
    if target == "sidecar":
        from sessiongate.sidecar import SidecarApp

        return SidecarApp(gate)
    from fastapi import Depends, FastAPI

    from sessiongate.asgi import SessionGateMiddleware
    from sessiongate.fastapi import SessionGateAuth, install_error_handlers

    auth = SessionGateAuth(gate)
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/verify")
    async def me(user=Depends(auth.current_user)) -> dict[str, object]:  # noqa: B008
        return {"id": user.id, "roles": sorted(user.roles), "source": user.source}

    app.add_middleware(SessionGateMiddleware, gate=gate)
    return app


def serve(target: str, port: int, database_url: str) -> None:
    import uvicorn

    sys.path.insert(0, str(ROOT / "src"))
    uvicorn.run(
        build_app(target, database_url),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        # Same HTTP parser and header allowance everywhere (httptools may or may not be
        # installed), as `sessiongate serve` configures it: oversized credentials then reach
        # the app and are answered by its own size cap (401 token_too_large), not by the server.
        http="h11",
        h11_max_incomplete_event_size=128 * 1024,
        # Longer than the client's idle connections can last here: with uvicorn's 5 s default, a
        # loaded machine left a pooled connection idle past it and a request raced the server's
        # close (httpx ReadError), a client/server keep-alive race that says nothing about the
        # verifier. Proxies in front of the sidecar do the same (upstream keepalive < server's).
        timeout_keep_alive=75,
    )


# ------------------------------------------------------------------------------ client side


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Credentials:
    jwe_pool: list[str]
    jwe_unique: list[str]
    jws_pool: list[str]
    expired: list[str]
    forged: list[str]
    rng: random.Random
    unique_index: int = 0

    @classmethod
    def mint(cls, unique: int, seed: int = 7) -> Credentials:
        from sessiongate.testing import mint_authjs_v5, mint_hs256

        now = time.time()
        return cls(
            jwe_pool=[mint_authjs_v5({"sub": f"j{i}", "role": "user"}, SECRET) for i in range(500)],
            jwe_unique=[mint_authjs_v5({"sub": f"x{i}"}, SECRET) for i in range(unique)],
            jws_pool=[
                mint_hs256({"sub": f"b{i}"}, JWT_SECRET, expires_in=7200) for i in range(200)
            ],
            expired=[
                mint_authjs_v5({"sub": "e"}, SECRET, now=now - 7200, max_age=60) for _ in range(50)
            ],
            forged=[mint_hs256({"sub": "admin"}, "forged-" + SECRET) for _ in range(50)],
            rng=random.Random(seed),
        )

    KINDS = (
        ("jwe_valid", 30, 200),
        ("jwe_unique", 10, 200),
        ("db_valid", 20, 200),
        ("db_unknown", 10, 401),
        ("jws_valid", 10, 200),
        ("expired", 5, 401),
        ("garbage", 5, 401),
        ("forged", 5, 401),
        ("huge", 2, 401),
        ("none", 3, 401),
    )

    def pick(self) -> tuple[str, int, dict[str, str]]:
        kinds, weights, expected = zip(*self.KINDS, strict=True)
        i = self.rng.choices(range(len(kinds)), weights=weights)[0]
        kind = kinds[i]
        r = self.rng
        if kind == "jwe_valid":
            headers = {"cookie": f"{V5}={r.choice(self.jwe_pool)}"}
        elif kind == "jwe_unique":
            token = self.jwe_unique[self.unique_index % len(self.jwe_unique)]
            self.unique_index += 1
            headers = {"cookie": f"{V5}={token}"}
        elif kind == "db_valid":
            headers = {"cookie": f"{V5}={db_token(r.randrange(DB_SESSIONS))}"}
        elif kind == "db_unknown":
            headers = {"cookie": f"{V5}=unknown-{secrets.token_hex(16)}"}
        elif kind == "jws_valid":
            headers = {"authorization": f"Bearer {r.choice(self.jws_pool)}"}
        elif kind == "expired":
            headers = {"cookie": f"{V5}={r.choice(self.expired)}"}
        elif kind == "garbage":
            headers = {"cookie": f"{V5}={secrets.token_urlsafe(r.randrange(10, 600))}"}
        elif kind == "forged":
            headers = {"authorization": f"Bearer {r.choice(self.forged)}"}
        elif kind == "huge":
            headers = {"cookie": f"{V5}=" + "A" * 70_000}
        else:
            headers = {}
        return kind, expected[i], headers


@dataclass
class Result:
    target: str
    database: str
    duration_s: float
    concurrency: int
    requests: int
    throughput_rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    rss_start_mb: float
    rss_warm_mb: float
    rss_end_mb: float
    rss_growth_after_warmup_mb: float
    statuses: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    unexpected: int = 0
    unexpected_examples: list[str] = field(default_factory=list)
    client_errors: int = 0


async def drive(
    target: str, port: int, pid: int, args: argparse.Namespace, creds: Credentials, database: str
) -> Result:
    import httpx

    url = f"http://127.0.0.1:{port}/verify"
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    unexpected: list[str] = []
    client_errors = 0
    rss_samples: list[tuple[float, float]] = []
    start = time.perf_counter()
    deadline = start + args.duration
    warm_until = start + args.duration * args.warmup_fraction
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def worker() -> None:
            nonlocal client_errors
            while time.perf_counter() < deadline:
                kind, expected, headers = creds.pick()
                t0 = time.perf_counter()
                try:
                    response = await client.get(url, headers=headers)
                except httpx.HTTPError as err:
                    client_errors += 1
                    unexpected.append(f"{kind}: {type(err).__name__}")
                    continue
                elapsed = time.perf_counter() - t0
                latencies.append(elapsed)
                statuses[str(response.status_code)] += 1
                kinds[kind] += 1
                if response.status_code != expected:
                    unexpected.append(f"{kind}: {response.status_code} {response.text[:80]}")

        async def sampler() -> None:
            while time.perf_counter() < deadline:
                rss_samples.append((time.perf_counter() - start, rss_mb(pid)))
                await asyncio.sleep(0.5)

        rss_start = rss_mb(pid)
        await asyncio.gather(sampler(), *(worker() for _ in range(args.concurrency)))
    total = time.perf_counter() - start
    warm = [rss for t, rss in rss_samples if t >= warm_until - start]
    rss_warm = warm[0] if warm else rss_start
    rss_end = rss_mb(pid)
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    return Result(
        target=target,
        database=database,
        duration_s=round(total, 2),
        concurrency=args.concurrency,
        requests=len(latencies),
        throughput_rps=round(len(latencies) / total, 1),
        p50_ms=round(statistics.median(ordered) * 1000 if ordered else 0.0, 2),
        p99_ms=round(pct(0.99), 2),
        max_ms=round(ordered[-1] * 1000 if ordered else 0.0, 2),
        rss_start_mb=round(rss_start, 1),
        rss_warm_mb=round(rss_warm, 1),
        rss_end_mb=round(rss_end, 1),
        rss_growth_after_warmup_mb=round(rss_end - rss_warm, 1),
        statuses=dict(statuses),
        by_kind=dict(kinds),
        unexpected=len(unexpected),
        unexpected_examples=unexpected[:10],
        client_errors=client_errors,
    )


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become ready")


def run_target(
    target: str, args: argparse.Namespace, creds: Credentials, database_url: str, database: str
) -> Result:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            target,
            "--port",
            str(port),
            "--database-url",
            database_url,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_ready(port, proc)
        return asyncio.run(drive(target, port, proc.pid, args, creds, database))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPU, Python {platform.python_version()}, {platform.system()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per target")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--target", choices=["sidecar", "fastapi", "both"], default="both")
    parser.add_argument("--database-url", help="postgresql://... (default: a temporary SQLite)")
    parser.add_argument("--warmup-fraction", type=float, default=0.25)
    parser.add_argument("--max-rss-growth-mb", type=float, default=64.0)
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--serve", choices=["sidecar", "fastapi"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.database_url)
        return 0

    with tempfile.TemporaryDirectory(prefix="sessiongate-soak-") as tmp:
        if args.database_url:
            asyncio.run(make_postgres(args.database_url))
            database_url, database = args.database_url, "postgresql"
        else:
            path = Path(tmp) / "soak.db"
            make_sqlite(path)
            database_url, database = str(path), "sqlite"
        creds = Credentials.mint(unique=6000)
        targets = ["sidecar", "fastapi"] if args.target == "both" else [args.target]
        results = [run_target(t, args, creds, database_url, database) for t in targets]

    report = {"machine": machine(), "results": [asdict(r) for r in results]}
    print(f"machine: {report['machine']}")
    for r in results:
        print(
            f"{r.target:8} {r.database:10} {r.requests:7d} req in {r.duration_s:6.1f} s  "
            f"{r.throughput_rps:8.1f} req/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:7.2f} ms  "
            f"RSS {r.rss_start_mb:.1f} -> warm {r.rss_warm_mb:.1f} -> end {r.rss_end_mb:.1f} MB "
            f"(+{r.rss_growth_after_warmup_mb:.1f})  statuses {r.statuses}  "
            f"unexpected {r.unexpected}"
        )
        for example in r.unexpected_examples:
            print(f"    unexpected: {example}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    failed = any(
        r.unexpected or r.requests == 0 or r.rss_growth_after_warmup_mb > args.max_rss_growth_mb
        for r in results
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
