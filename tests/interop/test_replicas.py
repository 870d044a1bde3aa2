"""Three replicas, one session: a deletion or revocation reaches every process in time.

Three sidecar processes (``replica_worker.py``: caches with a 60 s TTL, the gate memo on, a
PostgreSQL and a Redis listener each) verify the same session; then the session is deleted or
its user/token revoked, in PostgreSQL or in Redis, and the test polls all three until each
answers 401. The propagation latency (from just before the write to the last refusal) must stay
under 250 ms at the 99th percentile (nearest rank) over 100 trials per kind, and again after every
listener connection was killed by the servers and came back.

On a machine whose run queue is more than twice its CPUs long when a measurement starts (a
shared developer box: the test itself needs five busy processes), scheduling delays, not
sessiongate, dominate the tail: the bound is then 1 s, and the test says so in its output.

"""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from sessiongate.betterauth import sign_cookie_value
from sessiongate.revocation.postgres import PostgresRevocations
from sessiongate.revocation.redis import RedisRevocations
from sessiongate.stores.notify_sql import install_sql
from sessiongate.testing import mint_authjs_v5, mint_hs256

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKER = Path(__file__).resolve().parent / "replica_worker.py"
REPLICAS = 3
TRIALS = 100
BOUND = 0.250
SECRET = "replicas-authjs-secret-0123456789abcdef"
JWT_SECRET = "replicas-jwt-secret-0123456789abcdef"
BA_SECRET = "replicas-better-auth-secret-0123456789"

TABLES = """
CREATE TABLE "user" (id TEXT PRIMARY KEY, name TEXT, email TEXT, image TEXT,
  "emailVerified" BOOLEAN NOT NULL DEFAULT false);
CREATE TABLE "session" (id TEXT PRIMARY KEY, token TEXT NOT NULL UNIQUE,
  "userId" TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE,
  "expiresAt" TIMESTAMPTZ NOT NULL, "createdAt" TIMESTAMPTZ NOT NULL DEFAULT now());
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PG:
    """One asyncpg connection on a private event loop (writes as the JS side does them)."""

    def __init__(self, dsn: str) -> None:
        import asyncpg

        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(asyncpg.connect(dsn))

    def execute(self, sql: str, *args: Any) -> None:
        self.loop.run_until_complete(self.conn.execute(sql, *args))

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


@pytest.fixture
def cluster(postgres_dsn: str, redis_url: str) -> Iterator[dict[str, Any]]:
    import redis

    schema = "sgr_" + uuid.uuid4().hex[:10]
    prefix = f"r{uuid.uuid4().hex[:8]}:"
    admin = PG(postgres_dsn)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    admin.execute(f'SET search_path TO "{schema}"; {TABLES}')
    admin.execute(install_sql("better-auth", db_schema=schema))
    rclient = redis.Redis.from_url(redis_url)
    previous = rclient.config_get("notify-keyspace-events")["notify-keyspace-events"]
    rclient.config_set("notify-keyspace-events", "Kg$x")
    dsn = f"{postgres_dsn}?schema={schema}"
    config = {
        "dsn": dsn,
        "redis_url": redis_url,
        "redis_prefix": prefix,
        "secret": SECRET,
        "jwt_secret": JWT_SECRET,
        "ba_secret": BA_SECRET,
    }
    procs: list[subprocess.Popen[str]] = []
    ports = [free_port() for _ in range(REPLICAS)]
    try:
        for port in ports:
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(WORKER), str(port), json.dumps(config)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            )
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line != "ready":
                proc.kill()
                raise AssertionError(f"a replica did not start: {line} {proc.stderr.read()}")
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=5) for p in ports]
        for client in clients:  # uvicorn may still be binding after "ready"
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
        writer = PG(postgres_dsn)
        writer.execute(f'SET search_path TO "{schema}"')
        yield {
            "clients": clients,
            "pollers": [Poller(port) for port in ports],
            "pg": writer,
            "redis": rclient,
            "prefix": prefix,
            "dsn": dsn,
            "redis_url": redis_url,
            "pg_revocations": PostgresRevocations(dsn),
            "redis_revocations": RedisRevocations(redis_url, prefix=prefix),
            "admin": admin,
        }
        for client in clients:
            client.close()
        writer.close()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()
        keys = list(rclient.scan_iter(match=prefix + "*"))
        if keys:
            rclient.delete(*keys)
        rclient.config_set("notify-keyspace-events", previous or "")
        rclient.close()


class Poller:
    """A keep-alive ``http.client`` connection: polling costs the test process little CPU, so
    the measurement is the replicas' latency, not the poller's."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)

    def status(self, headers: dict[str, str]) -> int:
        try:
            self.conn.request("GET", "/verify", headers=headers)
            response = self.conn.getresponse()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            self.conn.request("GET", "/verify", headers=headers)
            response = self.conn.getresponse()
        response.read()
        return response.status


def statuses(cluster: dict[str, Any], headers: dict[str, str]) -> list[int]:
    return [p.status(headers) for p in cluster["pollers"]]


def propagation(
    cluster: dict[str, Any], headers: dict[str, str], change: Callable[[], None]
) -> float:
    """Seconds from just before ``change()`` until every replica answers 401."""
    assert statuses(cluster, headers) == [200] * REPLICAS
    assert statuses(cluster, headers) == [200] * REPLICAS  # now from each replica's caches
    refused = [False] * REPLICAS
    start = time.perf_counter()
    change()
    while not all(refused):
        for i, poller in enumerate(cluster["pollers"]):
            if not refused[i]:
                status = poller.status(headers)
                assert status in (200, 401), status
                refused[i] = status == 401
        if time.perf_counter() - start > 5:
            raise AssertionError(f"not refused by every replica within 5 s: {refused}")
    return time.perf_counter() - start


def pg_session(cluster: dict[str, Any]) -> tuple[dict[str, str], Callable[[], None]]:
    user, token = "u" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    pg = cluster["pg"]
    pg.execute("INSERT INTO \"user\" (id, name, email) VALUES ($1, 'Ada', 'a@x.io')", user)
    pg.execute(
        'INSERT INTO "session" (id, token, "userId", "expiresAt") '
        "VALUES ($1, $2, $3, now() + interval '1 day')",
        uuid.uuid4().hex,
        token,
        user,
    )
    cookie = f"pg.session_token={quote(sign_cookie_value(token, BA_SECRET), safe='')}"
    return {"cookie": cookie}, lambda: pg.execute('DELETE FROM "session" WHERE token = $1', token)


def redis_session(cluster: dict[str, Any]) -> tuple[dict[str, str], Callable[[], None]]:
    from stores.redis_util import better_auth_value

    user, token = "u" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    key = cluster["prefix"] + token
    cluster["redis"].set(key, better_auth_value(token, user))
    cookie = f"rd.session_token={quote(sign_cookie_value(token, BA_SECRET), safe='')}"
    return {"cookie": cookie}, lambda: cluster["redis"].delete(key)


def jwe_user(cluster: dict[str, Any]) -> tuple[dict[str, str], Callable[[], None]]:
    """Revoked as the Next.js snippet in docs/replicas.md does it (one INSERT)."""
    user = "u" + uuid.uuid4().hex[:8]
    token = mint_authjs_v5({"sub": user}, SECRET, now=time.time() - 5)

    def change() -> None:
        cluster["pg"].execute(
            "INSERT INTO sessiongate_revocation (kind, subject, revoked_before, expires_at) "
            "VALUES ('user', $1, now(), now() + interval '30 days') "
            "ON CONFLICT (kind, subject) DO UPDATE SET revoked_before = EXCLUDED.revoked_before, "
            "expires_at = EXCLUDED.expires_at",
            user,
        )

    return {"cookie": f"authjs.session-token={token}"}, change


def jwt_jti(cluster: dict[str, Any]) -> tuple[dict[str, str], Callable[[], None]]:
    """Revoked as the Next.js snippet in docs/replicas.md does it (HSET + PUBLISH)."""
    jti = uuid.uuid4().hex
    token = mint_hs256({"sub": "u1", "jti": jti}, JWT_SECRET)
    backend = cluster["redis_revocations"]

    def change() -> None:
        expires = int(time.time() * 1000) + 600_000
        pipe = cluster["redis"].pipeline(transaction=True)
        pipe.hset(backend.tokens_key, jti, json.dumps({"x": expires}))
        pipe.publish(backend.channel, json.dumps({"t": "rev", "k": "jti", "s": jti, "x": expires}))
        pipe.execute()

    return {"authorization": f"Bearer {token}"}, change


KINDS = {
    "postgres session deleted": pg_session,
    "redis session deleted": redis_session,
    "jwe user revoked (postgres)": jwe_user,
    "jwt jti revoked (redis)": jwt_jti,
}


def p99(values: list[float]) -> float:
    """The nearest-rank 99th percentile (of 100 trials: the second largest)."""
    ordered = sorted(values)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def bound() -> float:
    """250 ms, or 1 s on an oversubscribed machine (see the module docstring)."""
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    if load > 2:
        print(f"\nload {load:.1f} per CPU: propagation bound relaxed to 1 s")
        return 1.0
    return BOUND


def measure(cluster: dict[str, Any], label: str) -> dict[str, dict[str, float]]:
    report: dict[str, dict[str, float]] = {}
    for kind, make in KINDS.items():
        limit = bound()
        latencies = []
        for _ in range(TRIALS):
            headers, change = make(cluster)
            latencies.append(propagation(cluster, headers, change))
        ordered = sorted(latencies)
        report[kind] = {
            "p50_ms": round(ordered[len(ordered) // 2] * 1000, 1),
            "p99_ms": round(p99(latencies) * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1),
        }
        assert p99(latencies) < limit, f"{label}: {kind}: {report[kind]}"
    print(f"\npropagation to {REPLICAS} replicas, {TRIALS} trials each ({label}): {report}")
    return report


def listeners(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    return [c.get("/listeners").json() for c in cluster["clients"]]


def test_three_replicas_refuse_within_250ms(cluster: dict[str, Any]) -> None:
    measure(cluster, "steady")
    before = listeners(cluster)

    # the servers kill every listener connection; each replica reconnects by itself
    cluster["admin"].execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'sessiongate-listener'"
    )
    cluster["redis"].client_kill_filter(_type="pubsub")
    deadline = time.monotonic() + 10
    while True:
        now = listeners(cluster)
        if all(
            s[k]["connected"] and s[k]["connections"] > b[k]["connections"]
            for s, b in zip(now, before, strict=True)
            for k in ("postgres", "redis")
        ):
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.05)
    measure(cluster, "after the listener connections were killed and restored")


@pytest.mark.node
def test_better_auth_sign_out_on_postgres_reaches_a_cached_replica(
    postgres_dsn: str, node_bin: str
) -> None:
    """Real better-auth on PostgreSQL signs out; a process that cached the session (60 s TTL)
    refuses it within a second, through the triggers of ``db install-notify``."""
    from http.cookies import SimpleCookie

    from sessiongate._sync import default_loop
    from sessiongate.errors import SessionNotFoundError
    from sessiongate.gate import SessionGate
    from sessiongate.sessions import BetterAuthSession
    from sessiongate.stores.notify import PostgresListener
    from sessiongate.stores.postgres import PostgresStore

    from .db_driver import call, temp_schema

    secret = "interop-better-auth-secret-0123456789"
    with temp_schema(postgres_dsn) as schema:
        params = {"dsn": postgres_dsn, "schema": schema, "secret": secret}
        signed_up = call(
            node_bin,
            "ba.signup",
            email="ada@example.com",
            password="correct horse battery staple",
            name="Ada",
            **params,
        )
        jar: SimpleCookie = SimpleCookie()
        for header in signed_up["setCookie"]:
            jar.load(header)
        cookie = f"better-auth.session_token={jar['better-auth.session_token'].value}"
        admin = PG(postgres_dsn)
        admin.execute(install_sql("better-auth", db_schema=schema))
        admin.close()
        url = f"{postgres_dsn}?schema={schema}"
        auth = BetterAuthSession(
            secret=secret, store=PostgresStore(url, schema="better-auth"), cache_ttl=60
        )
        listener = PostgresListener(url)
        listener.subscribe_cache(auth.store)
        listener.start()
        try:
            assert listener.wait_connected_sync(10)
            gate = SessionGate(auth)
            assert gate.authenticate_sync({"cookie": cookie}).user.id == signed_up["userId"]
            queries = auth.store.queries
            assert gate.authenticate_sync({"cookie": cookie}).user.id == signed_up["userId"]
            assert auth.store.queries == queries  # from the cache
            assert call(node_bin, "ba.signOut", headers={"cookie": cookie}, **params) == {
                "status": 200
            }
            start = time.monotonic()
            while True:
                try:
                    gate.authenticate_sync({"cookie": cookie})
                except SessionNotFoundError:
                    break
                assert time.monotonic() - start < 1.0, "sign-out not seen within a second"
                time.sleep(0.005)
        finally:
            default_loop().run(listener.aclose())
            default_loop().run(auth.aclose())
