"""Requests per second of the sidecar's ``/verify`` under a loopback load generator.

    python benchmarks/bench_sidecar.py                 # 5 s per scenario, prints a table
    python benchmarks/bench_sidecar.py --duration 2 --json

Starts ``sessiongate serve`` (uvicorn, one process) on a free 127.0.0.1 port and loads it with
``wrk`` when installed, else with an asyncio ``httpx`` client (bounded by ``--duration`` and
``--max-requests``). Scenarios: an Auth.js v5 session cookie, an HS256 Bearer token (both on
the verified-token cache, as in production where a session makes many requests) and a request
without credentials (401). Every scenario is first checked to answer the expected status.
The load generator shares the machine's cores with the server: the figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from importlib import metadata

import httpx

from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256

SECRET = "bench-sidecar-secret-0123456789abcdef"
JWT_SECRET = "bench-sidecar-jwt-secret-0123456789ab"  # HS256 Bearer needs a dedicated secret
CLAIMS = {"sub": "user-1", "email": "ada@example.com", "name": "Ada", "role": "admin"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def wrk_run(url: str, headers: dict[str, str], duration: float, connections: int) -> dict:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, int(duration))}s", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, timeout=duration + 30, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def ms(m: re.Match | None) -> float | None:
        if m is None:
            return None
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        return float(m.group(1)) * scale

    return {
        "rps": rps,
        "p50_ms": ms(p50),
        "p99_ms": ms(p99),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "generator": "wrk",
    }


async def httpx_run(
    url: str, headers: dict[str, str], duration: float, connections: int, max_requests: int
) -> dict:
    latencies: list[float] = []
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=10) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline and len(latencies) < max_requests:
                t0 = time.perf_counter()
                await client.get(url)
                latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "generator": "httpx",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--generator", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    use_wrk = args.generator == "wrk" or (args.generator == "auto" and shutil.which("wrk"))

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update(AUTH_SECRET=SECRET, SESSIONGATE_JWT_SECRET=JWT_SECRET)
    server = subprocess.Popen(
        [sys.executable, "-m", "sessiongate", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the sidecar did not start")
            time.sleep(0.1)
        scenarios = [
            ("v5 cookie", {"Cookie": cookie_header(mint_authjs_v5(CLAIMS, SECRET))}, 200),
            ("HS256 Bearer", {"Authorization": "Bearer " + mint_hs256(CLAIMS, JWT_SECRET)}, 200),
            ("no credentials (401)", {}, 401),
        ]
        rows = []
        for label, headers, status in scenarios:
            got = httpx.get(base + "/verify", headers=headers).status_code
            if got != status:
                raise SystemExit(f"{label}: expected {status}, got {got}")
            if use_wrk:
                result = wrk_run(base + "/verify", headers, args.duration, args.connections)
            else:
                result = asyncio.run(
                    httpx_run(
                        base + "/verify",
                        headers,
                        args.duration,
                        args.connections,
                        args.max_requests,
                    )
                )
            rows.append({"scenario": label, "status": status, **result})
    finally:
        server.terminate()
        server.wait(timeout=10)
    report = {
        "machine": {
            "cpu_model": cpu_model(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "versions": {
                d: metadata.version(d) for d in ("sessiongate", "uvicorn", "starlette", "h11")
            },
        },
        "config": {"duration_s": args.duration, "connections": args.connections},
        "results": rows,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    m = report["machine"]
    print(f"sidecar /verify on {m['cpu_model']} ({m['cpu_count']} cores), Python {m['python']},")
    print(f"uvicorn {m['versions']['uvicorn']}, 1 server process, {args.connections} connections")
    print(f"{'scenario':<22} {'status':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  generator")
    for r in rows:
        print(
            f"{r['scenario']:<22} {r['status']:>6} {r['rps']:>9.0f} "
            f"{r['p50_ms'] or 0:>8.2f} {r['p99_ms'] or 0:>8.2f}  {r['generator']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
