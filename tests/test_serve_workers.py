"""``sessiongate serve --workers 2`` as a real process, on granian (default) and uvicorn.

* requests are served by both workers, and ``/metrics`` sums what both counted;
* ``SIGTERM`` drains: a request in flight (waiting for a slow JWKS endpoint) still gets its 200,
  then the supervisor exits 0 and removes its metrics directory;
* a worker killed with ``SIGKILL`` is replaced and the totals do not go backwards;
* keep-alive requests do not wait ~40 ms each for a delayed ACK (TCP_NODELAY on every
  connection), checked on uvicorn's pure-asyncio stack where ``uvicorn --workers`` stalls;
* ``/readyz`` turns 503 when PostgreSQL stops and 200 when it is back;
* several workers append whole audit lines to one file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm

from sessiongate.testing import cookie_header, mint_authjs_v5

S = "workers-secret-0123456789abcdef0123"
ADMIN = {"sub": "user-1", "email": "ada@example.com", "role": "admin"}
SERVERS = ["granian", "uvicorn"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> set[int]:
    out: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out.update(int(p) for p in f.read().split())
    except OSError:
        pass
    return out


def wait_for(condition, timeout: float = 15.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        time.sleep(interval)


@dataclass
class Sidecar:
    proc: subprocess.Popen
    base: str
    log: Path
    tmp: Path

    def workers(self) -> set[int]:
        return children(self.proc.pid)

    def output(self) -> str:
        return self.log.read_text()

    def metrics_dir(self) -> Path:
        found = [p for p in self.tmp.iterdir() if p.name.startswith("sessiongate-metrics-")]
        assert len(found) == 1, found
        return found[0]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def sidecar_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AUTH_SECRET", "NEXTAUTH", "SESSIONGATE_", "JWT_SECRET", "BETTER"))
        and k != "DATABASE_URL"
    }
    env.update(AUTH_SECRET=S, TMPDIR=str(tmp), **extra)
    return env


def start(tmp: Path, *flags: str, server: str = "granian", code: str | None = None, **env: str):
    """``sessiongate serve --workers 2`` (or ``python -c code``) on a free port."""
    port = free_port()
    log = tmp / f"sidecar-{port}.log"
    if code is None:
        cmd = [sys.executable, "-m", "sessiongate", "serve", "--port", str(port)]
        cmd += ["--workers", "2", "--server", server, *flags]
    else:
        cmd = [sys.executable, "-c", code.replace("PORT", str(port))]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=sidecar_env(tmp, **env), text=True
        )
    sidecar = Sidecar(proc, f"http://127.0.0.1:{port}", log, tmp)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}:\n{sidecar.output()}")
        try:
            return httpx.get(sidecar.base + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout=30)
    wait_for(lambda: len(sidecar.workers()) == 2)
    return sidecar


def cookie(sub: str = "user-1") -> dict[str, str]:
    return {"cookie": cookie_header(mint_authjs_v5({**ADMIN, "sub": sub}, S))}


def decisions_total(base: str) -> float:
    text = httpx.get(base + "/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("sessiongate_decisions_total{")
    )


# ------------------------------------------------------------------------------ both workers


@pytest.mark.parametrize("server", SERVERS)
def test_both_workers_serve_and_metrics_sum_across_them(tmp_path, server):
    sidecar = start(tmp_path, "--metrics", server=server)
    try:
        sent = 0
        per_worker: dict[str, int] = {}

        def client(n: int) -> None:
            with httpx.Client(base_url=sidecar.base) as c:
                for i in range(n):
                    assert c.get("/verify", headers=cookie(f"u{i % 5}")).status_code == 200

        for _ in range(5):  # concurrent connections, until the kernel handed some to each worker
            threads = [threading.Thread(target=client, args=(25,)) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            sent += 8 * 25
            time.sleep(1.2)  # each worker publishes its counters every second
            per_worker = {
                f.name: sum(d[3] for d in json.loads(f.read_text())["decisions"])
                for f in sidecar.metrics_dir().iterdir()
                if f.suffix == ".json"
            }
            if len(per_worker) == 2 and all(per_worker.values()):
                break
        assert len(per_worker) == 2 and all(per_worker.values()), per_worker
        assert {int(name.split("-")[0]) for name in per_worker} == sidecar.workers()
        wait_for(lambda: decisions_total(sidecar.base) == sent)
    finally:
        assert sidecar.stop() == 0
    assert not any(p.name.startswith("sessiongate-metrics-") for p in tmp_path.iterdir())


# ------------------------------------------------------------------------------ SIGTERM drains


class SlowJWKS(BaseHTTPRequestHandler):
    body = b""
    delay = 2.0

    def do_GET(self) -> None:
        time.sleep(self.delay)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_jwks() -> Iterator[tuple[str, ed25519.Ed25519PrivateKey]]:
    key = ed25519.Ed25519PrivateKey.generate()
    jwk = {**OKPAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1", "alg": "EdDSA"}
    handler = type("Handler", (SlowJWKS,), {"body": json.dumps({"keys": [jwk]}).encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks", key
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("server", SERVERS)
def test_sigterm_drains_in_flight_requests(tmp_path, server, slow_jwks):
    url, key = slow_jwks
    flags = ["--jwks-url", url, "--allow-http-jwks", "--issuer", "https://idp", "--audience", "api"]
    flags += ["--jwks-algorithm", "EdDSA", "--graceful-timeout", "10"]
    sidecar = start(tmp_path, *flags, server=server)
    now = int(time.time())
    claims = {"sub": "user-1", "iss": "https://idp", "aud": "api", "iat": now, "exp": now + 600}
    token = pyjwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "k1"})
    result: dict[str, object] = {}

    def in_flight() -> None:
        try:
            r = httpx.get(
                sidecar.base + "/verify", headers={"authorization": f"Bearer {token}"}, timeout=30
            )
            result["status"], result["user"] = r.status_code, r.headers.get("x-user-id")
        except httpx.HTTPError as err:
            result["error"] = repr(err)

    thread = threading.Thread(target=in_flight)
    thread.start()
    time.sleep(0.7)  # the request now waits for the JWKS endpoint (2 s)
    started = time.monotonic()
    sidecar.proc.send_signal(signal.SIGTERM)
    thread.join(timeout=30)
    assert result == {"status": 200, "user": "user-1"}, sidecar.output()
    assert sidecar.proc.wait(timeout=30) == 0
    assert time.monotonic() - started < 10
    with pytest.raises(httpx.ConnectError):
        httpx.get(sidecar.base + "/healthz", timeout=2)


# ------------------------------------------------------------------------------ a dead worker


@pytest.mark.parametrize("server", SERVERS)
def test_a_killed_worker_is_replaced(tmp_path, server):
    sidecar = start(tmp_path, "--metrics", server=server)
    try:
        for _ in range(10):
            assert httpx.get(sidecar.base + "/verify", headers=cookie()).status_code == 200
        time.sleep(1.2)
        before = decisions_total(sidecar.base)
        assert before >= 10
        old = sidecar.workers()
        victim = min(old)
        os.kill(victim, signal.SIGKILL)
        new = wait_for(lambda: (w := sidecar.workers()) and len(w) == 2 and victim not in w and w)
        assert len(new - old) == 1
        for _ in range(20):
            assert httpx.get(sidecar.base + "/verify", headers=cookie()).status_code == 200
        assert sidecar.proc.poll() is None
        wait_for(lambda: decisions_total(sidecar.base) >= before + 20)  # nothing went backwards
    finally:
        assert sidecar.stop() == 0


# ------------------------------------------------------------------------------ no Nagle stall

UVICORN_ASYNCIO = """
from sessiongate.config import GateConfig
from sessiongate.sidecar.serve import AppSpec, ServeOptions, run
options = ServeOptions(port=PORT, workers=2, server="uvicorn", loop="asyncio", http="h11")
raise SystemExit(run(options, AppSpec(gate=GateConfig.from_sources())))
"""


@pytest.mark.parametrize("stack", ["granian", "uvicorn", "uvicorn-asyncio-h11"])
def test_keepalive_requests_do_not_wait_for_a_delayed_ack(tmp_path, stack):
    """With Nagle on the connection, each keep-alive answer waits ~40 ms for the client's
    delayed ACK; with TCP_NODELAY it takes about a millisecond."""
    if stack == "uvicorn-asyncio-h11":
        sidecar = start(tmp_path, code=UVICORN_ASYNCIO)
    else:
        sidecar = start(tmp_path, server=stack)
    try:
        headers = cookie()
        with httpx.Client(base_url=sidecar.base, limits=httpx.Limits(max_connections=1)) as c:
            c.get("/verify", headers=headers)
            timings = []
            for _ in range(30):
                t0 = time.perf_counter()
                assert c.get("/verify", headers=headers).status_code == 200
                timings.append(time.perf_counter() - t0)
        assert statistics.median(timings) < 0.02, [round(t * 1000, 1) for t in timings]
    finally:
        assert sidecar.stop() == 0


# ------------------------------------------------------------------------------ /readyz


def _dsn_for(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


@pytest.fixture
def ready_database(postgres_dsn: str) -> Iterator[str]:
    if not os.environ.get("SESSIONGATE_TEST_PG_CONTROL"):
        from conftest import missing

        missing("SESSIONGATE_TEST_PG_CONTROL (scripts/test.sh provides it)")
    from stores.pg import execute, pg_control

    name = "sg_ready_" + uuid.uuid4().hex[:10]
    execute(postgres_dsn, f'CREATE DATABASE "{name}"')
    dsn = _dsn_for(postgres_dsn, name)
    execute(
        dsn,
        'CREATE TABLE "User" (id TEXT PRIMARY KEY, name TEXT, email TEXT, "emailVerified" '
        'TIMESTAMP(3), image TEXT); CREATE TABLE "Session" (id TEXT PRIMARY KEY, '
        '"sessionToken" TEXT UNIQUE NOT NULL, "userId" TEXT NOT NULL, expires TIMESTAMP(3) '
        "NOT NULL); INSERT INTO \"User\" VALUES ('u1', 'Ada', 'ada@example.com', NULL, NULL); "
        "INSERT INTO \"Session\" VALUES ('s1', 'tok-ready', 'u1', now() + interval '1 day'), "
        "('s2', 'tok-fresh', 'u1', now() + interval '1 day')",
    )
    try:
        yield dsn
    finally:
        pg_control("start")  # never leave the server down for later tests
        execute(postgres_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
@pytest.mark.parametrize("server", SERVERS)
def test_readyz_follows_the_database(tmp_path, server, ready_database):
    from stores.pg import pg_control

    sidecar = start(tmp_path, server=server, DATABASE_URL=ready_database)
    db_cookie = {"cookie": "authjs.session-token=tok-ready"}

    def readyz() -> httpx.Response:
        return httpx.get(sidecar.base + "/readyz", timeout=10)

    try:
        first = readyz()
        assert first.status_code == 200, first.text
        assert first.json()["checks"] == [{"name": "database", "kind": "store", "status": "up"}]
        assert httpx.get(sidecar.base + "/verify", headers=db_cookie).status_code == 200
        pg_control("stop fast")
        down = wait_for(lambda: (r := readyz()).status_code == 503 and r, timeout=20)
        assert down.json()["checks"][0]["status"] == "down"
        assert httpx.get(sidecar.base + "/healthz").status_code == 200  # liveness stays up
        # a session no worker has cached is 503, never 401 (tok-ready may be in a 5 s cache)
        fresh = {"cookie": "authjs.session-token=tok-fresh"}
        assert httpx.get(sidecar.base + "/verify", headers=fresh).status_code == 503
        pg_control("start")
        wait_for(lambda: readyz().status_code == 200, timeout=30)
        assert httpx.get(sidecar.base + "/verify", headers=fresh).status_code == 200
    finally:
        pg_control("start")
        assert sidecar.stop() == 0
    assert ready_database.rsplit("/", 1)[1] not in sidecar.output()  # no DSN in the output


# ------------------------------------------------------------------------------ audit lines


def test_workers_append_whole_audit_lines_to_one_file(tmp_path):
    path = tmp_path / "audit.jsonl"
    sidecar = start(tmp_path, "--audit-log", str(path))
    try:

        def burst(n: int) -> None:
            with httpx.Client(base_url=sidecar.base) as c:
                for i in range(n):
                    c.get("/verify", headers={**cookie(f"user-{i}"), "x-request-id": f"r{i}"})

        threads = [threading.Thread(target=burst, args=(50,)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        assert sidecar.stop() == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 300
    records = [json.loads(line) for line in lines]  # every line is whole
    assert {r["outcome"] for r in records} == {"ok"}
    assert S not in path.read_text()


# ------------------------------------------------------------------------------ the benchmark


@pytest.mark.parametrize("server", SERVERS)
def test_benchmark_serves_its_no_op_ceiling_on_the_same_set_up(tmp_path, server):
    """``bench_sidecar.py _serve``: the no-op app and the sidecar on the server ``serve`` uses."""
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sidecar.py"
    for app, expected in (("noop", b'{"status":"ok"}'), ("sidecar", b'"id":"user-1"')):
        code = (
            f"import runpy, sys; sys.argv = ['b', '_serve', '--app', '{app}', '--server', "
            f"'{server}', '--workers', '2', '--port', 'PORT']; "
            f"runpy.run_path({str(bench)!r}, run_name='__main__')"
        )
        sidecar = start(tmp_path, code=code)
        try:
            r = httpx.get(sidecar.base + "/verify", headers=cookie())
            assert r.status_code == 200 and expected in r.content
        finally:
            assert sidecar.stop() == 0


def test_supervisor_gives_up_on_workers_that_fail_at_start_up():
    """A worker that dies at once is replaced, but not forever: exit status 1 after a few."""
    from sessiongate.sidecar.serve.supervisor import Supervisor

    before = signal.getsignal(signal.SIGTERM)
    started = time.monotonic()
    supervisor = Supervisor(
        lambda: os._exit(3), workers=1, graceful_timeout=1, min_uptime=30, max_fast_failures=3
    )
    assert supervisor.run() == 1
    assert supervisor.replaced == 2
    assert time.monotonic() - started < 10
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored
