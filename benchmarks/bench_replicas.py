"""Many-replica benchmarks: the revocation check on the hot path, the Redis store's cache miss.

    .venv/bin/python benchmarks/bench_replicas.py [--quick] [--json]
    SESSIONGATE_TEST_REDIS_URL=redis://127.0.0.1:PORT/0 .venv/bin/python \
        benchmarks/bench_replicas.py

* **revocation, hot path**: the gate answering a repeated Auth.js JWE cookie from its memo
  (the cache hit every request after the first takes), with and without
  ``Revocable(…, mirror)``; the mirror holds 1,000 user and 1,000 ``jti`` revocations, none of
  which matches (the common case), then one that names the user (still allowed: issued after).
  The difference is what revocation adds per request. Also the bare ``RevocationMirror.check``.
* **Redis store, cache miss**: ``RedisStore.load`` on loopback (Better Auth layout: ``GET`` of
  the token, ``GET`` of the user's revocation mark), sequential on a warm pool: p50 / p99.

The cross-replica propagation latency is measured by ``tests/interop/test_replicas.py`` (three
processes; it prints its figures with ``pytest -s``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid

from _timing import Timer, measure_group

from sessiongate.authjs import AuthJSToken
from sessiongate.gate import SessionGate
from sessiongate.revocation import Revocable, Revocation, RevocationMirror
from sessiongate.testing import mint_authjs_v5

SECRET = "bench-replicas-secret-0123456789abcdef"


class _Backend:
    def __init__(self, records: list[Revocation]) -> None:
        self.records = records

    async def load(self) -> list[Revocation]:
        return self.records

    async def write(self, record: Revocation) -> None:
        self.records.append(record)

    async def remove(self, kind: str, subject: str) -> bool:
        return False

    async def fetch(self, kind: str, subject: str) -> Revocation | None:
        return None

    async def aclose(self) -> None:
        return None


def revocation_mirror(extra: list[Revocation] | None = None) -> RevocationMirror:
    now_ms = int(time.time() * 1000)
    records = [
        Revocation("user", f"other-{i}", now_ms + 3_600_000, before_ms=now_ms) for i in range(1000)
    ] + [Revocation("jti", uuid.uuid4().hex, now_ms + 3_600_000) for _ in range(1000)]
    mirror = RevocationMirror(_Backend(records + (extra or [])), max_stale=3600)
    asyncio.run(mirror.reload())
    return mirror


def bench_hot_path(timer: Timer) -> dict[str, float]:
    token = mint_authjs_v5({"sub": "u1", "email": "a@x.io"}, SECRET)
    headers = {"cookie": f"authjs.session-token={token}"}
    plain = SessionGate(AuthJSToken(SECRET))
    guarded = SessionGate(Revocable(AuthJSToken(SECRET), revocation_mirror()))
    earlier = int((time.time() - 3600) * 1000)
    user_listed = SessionGate(
        Revocable(
            AuthJSToken(SECRET),
            revocation_mirror([Revocation("user", "u1", earlier + 10**8, before_ms=earlier)]),
        )
    )
    for gate in (plain, guarded, user_listed):
        assert gate.authenticate_sync(headers).user.id == "u1"
    mirror = revocation_mirror()
    claims = {"sub": "u1", "iat": int(time.time()), "jti": "not-revoked"}
    results = measure_group(
        [
            ("gate memo hit, no revocation", lambda: plain.authenticate_sync(headers)),
            ("gate memo hit, Revocable", lambda: guarded.authenticate_sync(headers)),
            (
                "gate memo hit, Revocable, user listed",
                lambda: user_listed.authenticate_sync(headers),
            ),
            ("RevocationMirror.check alone", lambda: mirror.check(claims)),
        ],
        timer,
    )
    out = {m.name: m.median_ns for m in results}
    out["added by revocation (median)"] = (
        out["gate memo hit, Revocable"] - out["gate memo hit, no revocation"]
    )
    out["added by revocation, user listed (median)"] = (
        out["gate memo hit, Revocable, user listed"] - out["gate memo hit, no revocation"]
    )
    return out


def bench_redis_miss(url: str, n: int) -> dict[str, float]:
    import redis

    from sessiongate.stores.redis import RedisStore
    from sessiongate.stores.redis_layouts import BetterAuthRedisLayout

    prefix = f"bench{uuid.uuid4().hex[:6]}:"
    client = redis.Redis.from_url(url)
    now = time.time()
    session = {
        "session": {
            "token": "tok",
            "userId": "u1",
            "createdAt": "2026-01-01T00:00:00.000Z",
            "expiresAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now + 86400)),
        },
        "user": {"id": "u1", "name": "Ada", "email": "a@x.io", "emailVerified": False},
    }
    client.set(prefix + "tok", json.dumps(session))
    store = RedisStore(url, layout=BetterAuthRedisLayout(prefix=prefix))

    async def run() -> list[float]:
        for _ in range(200):
            await store.load("tok")
        samples = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            record = await store.load("tok")
            samples.append((time.perf_counter_ns() - t0) / 1000)
            assert record is not None
        await store.aclose()
        return samples

    try:
        samples = sorted(asyncio.run(run()))
    finally:
        client.delete(prefix + "tok")
        client.close()
    return {
        "p50_us": statistics.median(samples),
        "p99_us": samples[int(0.99 * (len(samples) - 1))],
        "lookups": float(n),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (smoke test)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    timer = Timer(rounds=5, round_s=0.02, warmup_s=0.02) if args.quick else Timer()
    report: dict[str, object] = {
        "machine": f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPU",
        "hot_path_ns": bench_hot_path(timer),
    }
    url = os.environ.get("SESSIONGATE_TEST_REDIS_URL")
    if url:
        report["redis_miss"] = bench_redis_miss(url, 300 if args.quick else 5000)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"machine: {report['machine']}")
    for name, ns in report["hot_path_ns"].items():  # type: ignore[attr-defined]
        print(f"  {name:<45} {ns:>9.0f} ns")
    if "redis_miss" in report:
        miss = report["redis_miss"]
        print(
            f"  RedisStore.load (cache miss, loopback)  p50 {miss['p50_us']:.0f} us, "  # type: ignore[index]
            f"p99 {miss['p99_us']:.0f} us"
        )  # type: ignore[index]
    else:
        print("  (set SESSIONGATE_TEST_REDIS_URL for the Redis cache-miss figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
