"""Requests per second of the sidecar's ``/verify`` against its ceiling and an Express baseline.

    python benchmarks/bench_sidecar.py                          # 1 worker, default server
    python benchmarks/bench_sidecar.py --workers 2 --rounds 5
    python benchmarks/bench_sidecar.py --compare-servers        # granian vs uvicorn variants
    python benchmarks/bench_sidecar.py --json

Every target is served on 127.0.0.1 and loaded with ``wrk`` (keep-alive, ``--connections``),
in interleaved rounds so that drift on a shared machine hits them alike:

* **no-op ASGI app**: answers 200 at once, on the same server and worker count as the sidecar.
  No verifier can be faster: it is the ceiling the sidecar is measured against. A second no-op
  app answers with the sidecar's own 200 (its ten headers and JSON body, captured once): the
  difference between the two is what the server spends writing an answer of that size.
* **sessiongate**: ``sessiongate serve`` as shipped (``sessiongate.sidecar.serve.run``), and
  again with ``--metrics`` to show what counting costs.
* **express + getToken**: ``benchmarks/express-getToken/server.js``, Express 5 verifying the
  cookie with ``@auth/core``'s ``getToken`` (what a Node service does without the sidecar), with
  the same number of processes (``node:cluster``). ``npm ci`` runs there when needed.

Scenarios: one Auth.js v5 session cookie repeated (a user making many requests), ``--tokens``
distinct cookies sent round-robin (10,000 sessions; warmed up first, as in production where each
session makes many requests), an HS256 Bearer token and a request without credentials (401).
Each row gives the median req/s over the rounds, the median of the per-round ratios to the
no-op app and to Express, wrk's latency percentiles and the server's CPU time per request
(``/proc``: all processes of the server), a measure that other load on the machine disturbs far
less than req/s. The load generator shares the cores with the servers: figures are a floor.

``--compare-servers`` serves the no-op app and the sidecar on granian (uvloop and asyncio) and
uvicorn (httptools + uvloop, h11 + asyncio) with the repeated cookie: how the default was chosen.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import typing
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import httpx

from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256

FIGURES_HELP = """\
the figures of docs/production.md#figures:
  python benchmarks/bench_sidecar.py --workers 2 --rounds 3
      wrk against granian with 2 workers: the no-op ASGI app (the ceiling), the no-op app
      sending the sidecar's 200, sessiongate, sessiongate --metrics and Express + getToken
      (benchmarks/express-getToken, `npm ci` there on first use: needs node and npm) on an
      Auth.js v5 cookie repeated and 10,000 distinct ones; then the no-op app and sessiongate
      on an HS256 Bearer token and on a request without credentials (401). Needs wrk.
      About 4 minutes on 2 cores (the 10,000-token warm-up is ~35 s per sessiongate target).
  python benchmarks/bench_sidecar.py --workers 1 --rounds 3      the same with one worker
  python benchmarks/bench_sidecar.py --in-process
      CPU microseconds per request of the app called in this process, no server (the table
      "in-process CPU per request"); about 90 s. Compare two trees with
      PYTHONPATH=/path/to/other/src python benchmarks/bench_sidecar.py --in-process
  python benchmarks/bench_sidecar.py --compare-servers --workers 2 --rounds 5
      granian (uvloop, asyncio) and uvicorn (httptools+uvloop, h11+asyncio): how the
      default server was chosen.
Add --json for a machine-readable report. Run on a quiet machine: req/s shares the cores with
wrk, and the report prints the load average before and after.
"""
ROOT = Path(__file__).resolve().parents[1]
EXPRESS_DIR = ROOT / "benchmarks" / "express-getToken"
SECRET = "bench-sidecar-secret-0123456789abcdef"
JWT_SECRET = "bench-sidecar-jwt-secret-0123456789ab"  # HS256 Bearer needs a dedicated secret
COOKIE = "authjs.session-token"
CLAIMS = {"sub": "user-1", "email": "ada@example.com", "name": "Ada", "role": "admin"}
TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# ------------------------------------------------------------------------------ the no-op app


async def noop_app(scope, receive, send) -> None:
    """The ceiling: a complete ASGI app that does nothing but answer 200."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"15")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"status":"ok"}'})


def _noop_factory():
    return noop_app


def _same_response_factory():
    """A no-op app that answers with the sidecar's own 200 (its ten headers and JSON body),
    captured once from a real SidecarApp: the ceiling for an answer of that size."""
    import asyncio

    from sessiongate.config import GateConfig
    from sessiongate.sidecar.serve import AppSpec
    from sessiongate.sidecar.serve.app import build_app

    app = build_app(AppSpec(gate=GateConfig.from_sources()))
    cookie = cookie_header(mint_authjs_v5(CLAIMS, SECRET), COOKIE).encode()
    sent: list[dict] = []

    async def capture() -> None:
        async def receive() -> dict:
            return {"type": "http.request", "body": b""}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "scheme": "http", "path": "/verify"}
        scope |= {"query_string": b"", "headers": [(b"cookie", cookie)]}
        await app(scope, receive, send)

    asyncio.run(capture())
    start, body = sent
    assert start["status"] == 200

    async def replay(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await noop_app(scope, receive, send)
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": start["headers"]})
            await send({"type": "http.response.body", "body": body["body"]})

    return replay


def serve_main(argv: Sequence[str]) -> int:
    """``bench_sidecar.py _serve``: one target, on the server set-up ``sessiongate serve`` uses."""
    from sessiongate.config import GateConfig
    from sessiongate.sidecar.serve import AppSpec, ServeOptions, run, serve_app

    parser = argparse.ArgumentParser(prog="bench_sidecar.py _serve")
    parser.add_argument("--app", choices=["noop", "same-response", "sidecar"], required=True)
    parser.add_argument("--server", default="granian")
    parser.add_argument("--loop", default="auto")
    parser.add_argument("--http", default="auto")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--metrics", action="store_true")
    args = parser.parse_args(argv)
    options = ServeOptions(
        port=args.port, workers=args.workers, server=args.server, loop=args.loop, http=args.http
    )
    if args.app == "noop":
        return serve_app(options, _noop_factory)
    if args.app == "same-response":
        return serve_app(options, _same_response_factory)
    spec = AppSpec(gate=GateConfig.from_sources(), metrics=args.metrics)
    return run(options, spec)


# ------------------------------------------------------------------------------ measuring


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    out = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    out += process_tree(int(child))
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / TCK


def rss_mib(pid: int) -> float:
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1])
        except OSError:
            pass
    return total * PAGE / 2**20


@dataclass
class Target:
    name: str
    cmd: list[str]
    env: dict[str, str]
    cwd: Path = ROOT
    port: int = 0
    proc: subprocess.Popen | None = None
    log: typing.IO[str] | None = None
    kind: str = "sessiongate"  # noop | ceiling | sessiongate | express

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/verify"

    def start(self) -> None:
        self.port = free_port()
        env = {**self.env, "PORT": str(self.port)}
        cmd = [part.replace("{port}", str(self.port)) for part in self.cmd]
        # a file, never a pipe nobody drains; closed in stop()
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, cwd=self.cwd, env=env, stdout=subprocess.DEVNULL, stderr=self.log, text=True
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{self.name} did not start:\n{self.output()[-2000:]}")
            time.sleep(0.1)

    def output(self) -> str:
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.close()
            self.log = None


@dataclass
class Scenario:
    name: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    script: str | None = None  # a wrk Lua script (distinct tokens)
    warmup_s: float = 1.0


@dataclass
class Run:
    rps: float
    requests: int
    non_2xx: int
    p50_ms: float | None
    p99_ms: float | None
    cpu_us: float


def _ms(m: re.Match | None) -> float | None:
    if m is None:
        return None
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def wrk(target: Target, scenario: Scenario, duration: float, connections: int) -> Run:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    for k, v in scenario.headers.items():
        cmd += ["-H", f"{k}: {v}"]
    if scenario.script:
        cmd += ["-s", scenario.script]
    assert target.proc is not None
    before = cpu_seconds(target.proc.pid)
    done = subprocess.run(
        [*cmd, target.url], capture_output=True, text=True, timeout=duration + 60, check=False
    )
    after = cpu_seconds(target.proc.pid)
    if done.returncode != 0:
        state = "running" if target.proc.poll() is None else f"exited {target.proc.returncode}"
        raise SystemExit(
            f"wrk failed against {target.name} (server {state}): {done.stderr.strip()[-500:]}"
            f"\n{target.output()[-2000:]}"
        )
    out = done.stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Run(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        requests=requests,
        non_2xx=int(errors.group(1)) if errors else 0,
        p50_ms=_ms(re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)),
        p99_ms=_ms(re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)),
        cpu_us=(after - before) / max(requests, 1) * 1e6,
    )


def lua_round_robin(cookies: Sequence[str], path: Path) -> str:
    """A wrk script sending ``cookies`` in turn, one per request."""
    with open(path, "w") as f:
        f.write("local cookies = {\n")
        for c in cookies:
            f.write(f'  "{c}",\n')
        f.write(
            "}\nlocal i = 0\n"
            "request = function()\n"
            "  i = i % #cookies + 1\n"
            '  return wrk.format("GET", nil, { ["Cookie"] = cookies[i] })\n'
            "end\n"
        )
    return str(path)


def check_status(target: Target, scenario: Scenario, cookies: Sequence[str]) -> None:
    """Every target must answer the scenario as expected before it is timed."""
    if target.kind in ("noop", "ceiling"):
        return
    headers = {"Cookie": cookies[0]} if scenario.script else scenario.headers
    got = httpx.get(target.url, headers=headers).status_code
    if got != scenario.status:
        raise SystemExit(f"{target.name}, {scenario.name}: expected {scenario.status}, got {got}")


def measure(
    targets: Sequence[Target],
    scenarios: Sequence[Scenario],
    *,
    duration: float,
    rounds: int,
    connections: int,
    cookies: Sequence[str],
    log: Callable[[str], None],
) -> list[dict]:
    rows: list[dict] = []
    for scenario in scenarios:
        runs: dict[str, list[Run]] = {t.name: [] for t in targets}
        for t in targets:
            check_status(t, scenario, cookies)
            if t.kind == "sessiongate":  # fill its caches, as a stream of sessions would
                wrk(t, scenario, scenario.warmup_s, connections)
        for r in range(rounds):
            order = list(targets[r % len(targets) :]) + list(targets[: r % len(targets)])
            for t in order:
                runs[t.name].append(wrk(t, scenario, duration, connections))
            log(f"  {scenario.name}: round {r + 1}/{rounds} done")
        noop = next((t.name for t in targets if t.kind == "noop"), None)
        ceiling = next((t.name for t in targets if t.kind == "ceiling"), None)
        express = next((t.name for t in targets if t.kind == "express"), None)
        for t in targets:
            rs = runs[t.name]
            if scenario.status == 200 and t.kind != "noop" and any(x.non_2xx for x in rs):
                raise SystemExit(f"{t.name}, {scenario.name}: non-2xx answers under load")
            row = {
                "scenario": scenario.name,
                "target": t.name,
                "rps": statistics.median(x.rps for x in rs),
                "rps_runs": [round(x.rps) for x in rs],
                "p50_ms": statistics.median(x.p50_ms or 0 for x in rs),
                "p99_ms": statistics.median(x.p99_ms or 0 for x in rs),
                "cpu_us_per_request": statistics.median(x.cpu_us for x in rs),
            }
            for label, other in (
                ("vs_noop", noop),
                ("vs_same_response", ceiling),
                ("vs_express", express),
            ):
                if other is not None and other != t.name:
                    row[label] = statistics.median(
                        a.rps / b.rps for a, b in zip(rs, runs[other], strict=True)
                    )
            if noop is not None and t.name != noop:
                row["cpu_vs_noop"] = statistics.median(x.cpu_us for x in runs[noop]) / max(
                    row["cpu_us_per_request"], 1e-9
                )
            if t.proc is not None and t.kind == "sessiongate":
                row["rss_mib"] = round(rss_mib(t.proc.pid), 1)
            rows.append(row)
    return rows


# ------------------------------------------------------------------------------ in process


def _scope(headers: Sequence[tuple[bytes, bytes]]) -> dict:
    """An ASGI scope as granian builds it for ``GET /verify`` from wrk (``Host`` first)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8787),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": "/verify",
        "raw_path": b"/verify",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8787"), *headers],
    }


def _cpu_per_call(app, scopes: Sequence[dict], calls: int, statuses: list[int]) -> float:
    """Process CPU µs per request: ``app`` called directly, round-robin over ``scopes``.

    Each call gets a fresh scope with fresh header bytes, as from a server (a bytes object
    caches its hash: reusing one would hide the cost of hashing a cookie). The coroutine is
    driven by hand: on these workloads nothing awaits real I/O, so no event loop is timed.
    """

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    count = len(scopes)
    started = time.process_time()
    for i in range(calls):
        scope = scopes[i % count]
        fresh = {**scope, "headers": [(k, memoryview(v).tobytes()) for k, v in scope["headers"]]}
        coroutine = app(fresh, receive, send)
        try:
            coroutine.send(None)
        except StopIteration:
            pass
        else:
            raise RuntimeError("the app awaited I/O: not an in-process workload")
    return (time.process_time() - started) / calls * 1e6


def in_process(args: argparse.Namespace, log: Callable[[str], None]) -> list[dict]:
    """CPU µs per ``/verify`` request of ``SidecarApp`` called in this process, without a server
    (so without the server's own ~40 µs), for each scenario, and of the no-op ASGI app under the
    same harness: the minimum over ``--rounds`` runs of ``--calls`` requests, after a warm-up
    in which every session is seen three times. A measure of the sidecar's own work that other
    load on the machine disturbs far less than req/s."""
    import asyncio

    from sessiongate.config import GateConfig
    from sessiongate.sidecar.serve import AppSpec
    from sessiongate.sidecar.serve.app import build_app

    os.environ.clear()
    os.environ.update(sidecar_env())
    now = time.time()
    one = cookie_header(mint_authjs_v5(CLAIMS, SECRET, now=now), COOKIE).encode()
    many = [
        cookie_header(mint_authjs_v5({**CLAIMS, "sub": f"user-{i}"}, SECRET, now=now), COOKIE)
        for i in range(args.tokens)
    ]
    bearer = ("Bearer " + mint_hs256(CLAIMS, JWT_SECRET)).encode()
    bad = ("Bearer " + mint_hs256(CLAIMS, "another-secret-0123456789abcdefghij")).encode()
    workloads = [
        ("v5 cookie, 1 token", [_scope([(b"cookie", one)])], 200),
        (
            f"v5 cookie, {args.tokens:,} tokens",
            [_scope([(b"cookie", c.encode())]) for c in many],
            200,
        ),
        ("HS256 Bearer", [_scope([(b"authorization", bearer)])], 200),
        ("no credentials (401)", [_scope([])], 401),
        ("bad Bearer signature (401)", [_scope([(b"authorization", bad)])], 401),
    ]
    apps = [
        ("no-op ASGI app", lambda: noop_app),
        ("sessiongate", lambda: build_app(AppSpec(gate=GateConfig.from_sources()))),
        (
            "sessiongate --metrics",
            lambda: build_app(AppSpec(gate=GateConfig.from_sources(), metrics=True)),
        ),
    ]
    rows: list[dict] = []
    for scenario, scopes, status in workloads:
        noop_us = None
        for name, factory in apps:
            app = factory()
            statuses: list[int] = []
            _cpu_per_call(app, scopes, 3 * len(scopes) + 1000, statuses)  # warm-up
            if name != "no-op ASGI app" and set(statuses) != {status}:
                raise SystemExit(f"{name}, {scenario}: expected {status}, got {set(statuses)}")
            runs = [_cpu_per_call(app, scopes, args.calls, []) for _ in range(args.rounds)]
            row = {
                "scenario": scenario,
                "target": name,
                "cpu_us_per_request": min(runs),
                "median_us": statistics.median(runs),
            }
            if noop_us is None:
                noop_us = min(runs)
            else:
                row["over_noop_us"] = min(runs) - noop_us
            rows.append(row)
            if hasattr(app, "gate"):
                asyncio.run(app.gate.aclose())
        log(f"  {scenario}: done")
    return rows


def print_in_process(report: dict) -> None:
    m, c = report["machine"], report["config"]
    print(
        f"in-process CPU per /verify request on {m['cpu_model']} ({m['cpu_count']} cores), "
        f"Python {m['python']}, sessiongate {m['versions']['sessiongate']}"
    )
    print(
        f"min of {c['rounds']} runs of {c['calls']:,} requests, load {c['load_before']} -> "
        f"{c['load_after']}"
    )
    print(f"{'scenario':<28} {'target':<24} {'cpu us/req':>10} {'median':>8} {'over no-op':>10}")
    last = None
    for r in report["results"]:
        scen = r["scenario"] if r["scenario"] != last else ""
        last = r["scenario"]
        over = f"{r['over_noop_us']:.2f}" if "over_noop_us" in r else ""
        print(
            f"{scen:<28} {r['target']:<24} {r['cpu_us_per_request']:>10.2f} "
            f"{r['median_us']:>8.2f} {over:>10}"
        )


# ------------------------------------------------------------------------------ set-up


def versions() -> dict[str, str]:
    out = {}
    for dist in ("sessiongate", "granian", "uvicorn", "uvloop", "httptools", "prometheus-client"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    node = shutil.which("node")
    if node:
        out["node"] = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
        out["node"] = out["node"].strip()
        for pkg in ("express", "@auth/core"):
            try:
                with open(EXPRESS_DIR / "node_modules" / pkg / "package.json") as f:
                    out[pkg] = json.load(f)["version"]
            except OSError:
                pass
    return out


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ensure_express(log: Callable[[str], None]) -> bool:
    if not shutil.which("node") or not shutil.which("npm"):
        log("node/npm not found: no Express baseline")
        return False
    if not (EXPRESS_DIR / "node_modules" / "@auth" / "core").is_dir():
        log("npm ci in benchmarks/express-getToken")
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=EXPRESS_DIR,
            check=True,
        )
    return True


def sidecar_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AUTH_SECRET", "NEXTAUTH", "SESSIONGATE_", "JWT_SECRET"))
        and k not in ("DATABASE_URL", "BETTER_AUTH_SECRET")
    }
    env.update(AUTH_SECRET=SECRET, SESSIONGATE_JWT_SECRET=JWT_SECRET)
    return env


def serve_target(name: str, app: str, kind: str, workers: int, server: str, *extra: str) -> Target:
    cmd = [sys.executable, str(Path(__file__).resolve()), "_serve", "--app", app]
    cmd += ["--server", server, "--workers", str(workers), "--port", "{port}", *extra]
    return Target(name, cmd, sidecar_env(), kind=kind)


@contextmanager
def running(targets: Sequence[Target]) -> Iterator[None]:
    try:
        for t in targets:
            t.start()
        yield
    finally:
        for t in targets:
            t.stop()


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ------------------------------------------------------------------------------ main


def print_table(report: dict) -> None:
    m, c = report["machine"], report["config"]
    print(f"sidecar /verify on {m['cpu_model']} ({m['cpu_count']} cores), Python {m['python']}")
    print(
        f"{c['server']}, {c['workers']} worker(s), wrk -t1 -c{c['connections']}, "
        f"{c['rounds']} interleaved rounds x {c['duration_s']} s, load {c['load_before']} -> "
        f"{c['load_after']}"
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))
    head = f"{'scenario':<24} {'target':<30} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
    print(
        head + f" {'cpu us/req':>10} {'vs no-op':>9} {'cpu vs no-op':>12} {'vs same resp':>12}"
        f" {'vs express':>10}"
    )
    last = None
    for r in report["results"]:
        scen = r["scenario"] if r["scenario"] != last else ""
        last = r["scenario"]
        vs_noop = f"{r['vs_noop']:.1%}" if "vs_noop" in r else ""
        cpu_vs = f"{r['cpu_vs_noop']:.1%}" if "cpu_vs_noop" in r else ""
        vs_ex = f"{r['vs_express']:.2f}x" if "vs_express" in r else ""
        vs_same = f"{r['vs_same_response']:.1%}" if "vs_same_response" in r else ""
        print(
            f"{scen:<24} {r['target']:<30} {r['rps']:>8.0f} {r['p50_ms']:>7.2f} "
            f"{r['p99_ms']:>7.2f} {r['cpu_us_per_request']:>10.1f} {vs_noop:>9} {cpu_vs:>12} "
            f"{vs_same:>12} {vs_ex:>10}"
        )


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        return serve_main(sys.argv[2:])
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog=FIGURES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--server", default="granian", choices=["granian", "uvicorn"])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    parser.add_argument(
        "--rounds", type=int, default=None, help="interleaved rounds (default 3; 9 in process)"
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=10_000, help="distinct sessions")
    parser.add_argument("--no-express", action="store_true", help="leave out Express + getToken")
    parser.add_argument("--compare-servers", action="store_true")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="CPU per request of the app called in this process (no server, no wrk)",
    )
    parser.add_argument(
        "--calls", type=int, default=30_000, help="requests per run with --in-process"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.in_process:
        args.rounds = args.rounds or 9
        load_before = load_average()
        rows = in_process(args, log)
        report = {
            "machine": {
                "cpu_model": cpu_model(),
                "cpu_count": os.cpu_count(),
                "python": platform.python_version(),
                "versions": {"sessiongate": metadata.version("sessiongate")},
            },
            "config": {
                "calls": args.calls,
                "rounds": args.rounds,
                "tokens": args.tokens,
                "load_before": load_before,
                "load_after": load_average(),
            },
            "results": rows,
        }
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print_in_process(report)
        return 0
    args.rounds = args.rounds or 3
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (apt-get install wrk)")

    now = time.time()
    cookie = cookie_header(mint_authjs_v5(CLAIMS, SECRET, now=now), COOKIE)
    cookies = [
        cookie_header(mint_authjs_v5({**CLAIMS, "sub": f"user-{i}"}, SECRET, now=now), COOKIE)
        for i in range(args.tokens)
    ]
    tmp = Path(tempfile.mkdtemp(prefix="bench-sidecar-"))
    load_before = load_average()
    try:
        if args.compare_servers:
            variants = [
                ("granian", "granian (uvloop)", ["--loop", "uvloop"]),
                ("granian", "granian (asyncio)", ["--loop", "asyncio"]),
                (
                    "uvicorn",
                    "uvicorn (httptools+uvloop)",
                    ["--loop", "uvloop", "--http", "httptools"],
                ),
                ("uvicorn", "uvicorn (h11+asyncio)", ["--loop", "asyncio", "--http", "h11"]),
            ]
            targets: list[Target] = []
            for server, label, extra in variants:
                targets.append(
                    serve_target(f"{label} no-op", "noop", "noop", args.workers, server, *extra)
                )
                targets.append(
                    serve_target(label, "sidecar", "sessiongate", args.workers, server, *extra)
                )
            scenarios = [Scenario("v5 cookie, 1 token", 200, {"Cookie": cookie})]
            rows = []
            with running(targets):
                for i in range(0, len(targets), 2):
                    rows += measure(
                        targets[i : i + 2],
                        scenarios,
                        duration=args.duration,
                        rounds=args.rounds,
                        connections=args.connections,
                        cookies=[cookie],
                        log=log,
                    )
            server_label = "servers compared"
        else:
            targets = [
                serve_target("no-op ASGI app", "noop", "noop", args.workers, args.server),
                serve_target(
                    "no-op, sidecar's response",
                    "same-response",
                    "ceiling",
                    args.workers,
                    args.server,
                ),
                serve_target("sessiongate", "sidecar", "sessiongate", args.workers, args.server),
                serve_target(
                    "sessiongate --metrics",
                    "sidecar",
                    "sessiongate",
                    args.workers,
                    args.server,
                    "--metrics",
                ),
            ]
            if not args.no_express and ensure_express(log):
                env = {**sidecar_env(), "WORKERS": str(args.workers)}
                targets.append(
                    Target(
                        "express + getToken",
                        ["node", "server.js"],
                        env,
                        EXPRESS_DIR,
                        kind="express",
                    )
                )
            script = lua_round_robin(cookies, tmp / "tokens.lua")
            scenarios = [
                Scenario("v5 cookie, 1 token", 200, {"Cookie": cookie}),
                # every worker sees each session (its memos keep it from the first request)
                Scenario(
                    f"v5 cookie, {args.tokens:,} tokens",
                    200,
                    script=script,
                    warmup_s=4.0 + 1.5e-3 * args.tokens * args.workers,
                ),
            ]
            with running(targets):
                rows = measure(
                    targets,
                    scenarios,
                    duration=args.duration,
                    rounds=args.rounds,
                    connections=args.connections,
                    cookies=cookies,
                    log=log,
                )
                extra = [
                    Scenario(
                        "HS256 Bearer",
                        200,
                        {"Authorization": "Bearer " + mint_hs256(CLAIMS, JWT_SECRET)},
                    ),
                    Scenario("no credentials (401)", 401, {}),
                ]
                rows += measure(
                    [t for t in targets if t.kind == "noop" or t.name == "sessiongate"],
                    extra,
                    duration=args.duration,
                    rounds=args.rounds,
                    connections=args.connections,
                    cookies=[cookie],
                    log=log,
                )
            server_label = f"{args.server} {metadata.version(args.server)}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report = {
        "machine": {
            "cpu_model": cpu_model(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "versions": versions(),
        },
        "config": {
            "server": server_label,
            "workers": args.workers,
            "connections": args.connections,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "tokens": args.tokens,
            "load_before": load_before,
            "load_after": load_average(),
        },
        "results": rows,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
