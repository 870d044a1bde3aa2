"""Requests per second of a hello-world FastAPI app under uvicorn, on loopback, several ways:

* ``noauth``               no authentication at all (the baseline);
* ``noop_dep``             one async FastAPI dependency that reads the request and returns a
                           constant: FastAPI's own cost of ``Depends``, the ceiling of any
                           dependency-based verifier;
* ``sessiongate``          ``Depends(auth.current_user)`` verifying an Auth.js v5 cookie (JWE,
                           A256CBC-HS512), with sessiongate's default verified-token cache;
* ``sessiongate_nocache``  the same with ``cache_size=0``: every request decrypts;
* ``sessiongate_mw``       ``SessionGateMiddleware`` + the dependency (which reuses its user);
* ``sessiongate_mw_only``  ``SessionGateMiddleware`` + ``@requires()`` (no FastAPI dependency);
* ``nextauth_jwt``         the same app with ``fastapi-nextauth-jwt`` (``NextAuthJWT`` dependency).

Every request carries the same valid cookie; before measuring, each server is checked to answer
200 with the right user. Load generator: ``wrk`` when installed, else a small asyncio HTTP/1.1
keep-alive client (bounded by request count and time). Loopback only.

    python benchmarks/bench_web.py                       # all variants, 10 s each
    python benchmarks/bench_web.py --duration 5 --connections 32 --generator python
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
from typing import Any

from starlette.requests import Request  # resolvable annotation for FastAPI

SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
COOKIE_NAME = "authjs.session-token"
VARIANTS = [
    "noauth",
    "noop_dep",
    "sessiongate",
    "sessiongate_nocache",
    "sessiongate_mw",
    "sessiongate_mw_only",
    "nextauth_jwt",
]


# ------------------------------------------------------------------------------------ apps


def build_app(variant: str) -> Any:
    from fastapi import Depends, FastAPI

    app = FastAPI()

    if variant == "noauth":

        @app.get("/")
        async def hello() -> dict[str, str]:
            return {"hello": "world"}

    elif variant == "noop_dep":  # FastAPI's own cost of one async dependency reading the request

        async def nobody(request: Request) -> str:
            return "world"

        @app.get("/")
        async def hello_dep(who: str = Depends(nobody)) -> dict[str, str]:
            return {"hello": who}

    elif variant.startswith("sessiongate"):
        from sessiongate import AuthJSToken, SessionGate
        from sessiongate.fastapi import SessionGateAuth

        cache = 0 if variant == "sessiongate_nocache" else 4096
        gate = SessionGate(AuthJSToken(secret=SECRET, cache_size=cache))
        auth = SessionGateAuth(gate)
        if variant.startswith("sessiongate_mw"):
            from sessiongate.asgi import SessionGateMiddleware

            app.add_middleware(SessionGateMiddleware, gate=gate)
        current_user = auth.current_user

        if variant == "sessiongate_mw_only":
            from sessiongate.asgi import requires

            @app.get("/")
            @requires()
            async def hello_request(request: Request) -> dict[str, str]:
                return {"hello": request.user.id}

        else:

            @app.get("/")
            async def hello_user(user: Any = Depends(current_user)) -> dict[str, str]:  # noqa: B008
                return {"hello": user.id}

    elif variant == "nextauth_jwt":
        from fastapi_nextauth_jwt import NextAuthJWT

        jwt = NextAuthJWT(
            secret=SECRET,
            cookie_name=COOKIE_NAME,
            secure_cookie=False,
            csrf_prevention_enabled=False,
        )

        @app.get("/")
        async def hello_jwt(token: dict[str, Any] = Depends(jwt)) -> dict[str, str]:  # noqa: B008
            return {"hello": token["sub"]}

    else:
        raise SystemExit(f"unknown variant {variant!r}")
    return app


def serve(variant: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        build_app(variant),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


# ------------------------------------------------------------------------------------ load


def cookie_value() -> str:
    from sessiongate.testing import mint_authjs_v5

    claims = {"sub": "bench-user", "name": "Bench", "email": "bench@example.com"}
    return mint_authjs_v5(claims, SECRET, cookie_name=COOKIE_NAME, max_age=24 * 3600)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, cookie: str, variant: str, timeout: float = 20.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/", headers={"Cookie": cookie}, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        expected = "world" if variant in ("noauth", "noop_dep") else "bench-user"
        if r.status_code != 200 or r.json() != {"hello": expected}:
            raise SystemExit(f"{variant}: unexpected answer {r.status_code} {r.text[:200]}")
        if variant not in ("noauth", "noop_dep"):
            bad = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            if bad.status_code == 200:  # fastapi-nextauth-jwt answers 500 here
                raise SystemExit(f"{variant}: an anonymous request got {bad.status_code}")
        return
    raise SystemExit(f"{variant}: server did not start")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux ``/proc``), or ``None`` elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(port: int, cookie: str, duration: float, connections: int) -> tuple[float, int]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(duration)}s",
            "-H",
            f"Cookie: {cookie}",
            f"http://127.0.0.1:{port}/",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit("wrk saw non-2xx responses:\n" + out)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if match is None or total is None:
        raise SystemExit("could not parse wrk output:\n" + out)
    return float(match.group(1)), int(total.group(1))


async def _python_load(
    port: int, cookie: str, duration: float, connections: int, max_requests: int
) -> tuple[float, int]:
    request = (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\r\n").encode(
        "latin-1"
    )
    done = 0
    failures = 0
    deadline = time.monotonic() + duration

    async def worker() -> None:
        nonlocal done, failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < deadline and done < max_requests:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    failures += 1
                length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                done += 1
        finally:
            writer.close()

    start = time.monotonic()
    await asyncio.wait_for(
        asyncio.gather(*(worker() for _ in range(connections))), timeout=duration + 30
    )
    elapsed = time.monotonic() - start
    if failures:
        raise SystemExit(f"python load generator saw {failures} non-200 responses")
    return done / elapsed, done


def run_python(
    port: int, cookie: str, duration: float, connections: int, max_requests: int
) -> tuple[float, int]:
    return asyncio.run(_python_load(port, cookie, duration, connections, max_requests))


def measure(variant: str, args: argparse.Namespace, cookie: str) -> tuple[float, float | None]:
    """``(requests per second, server CPU microseconds per request)``."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", variant, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_ready(port, f"{COOKIE_NAME}={cookie}", variant)
        header = f"{COOKIE_NAME}={cookie}"
        if args.generator == "wrk":
            run_wrk(port, header, min(2.0, args.duration), args.connections)  # warm-up
        else:
            run_python(port, header, min(2.0, args.duration), args.connections, args.max_requests)
        before = cpu_seconds(proc.pid)
        if args.generator == "wrk":
            rps, total = run_wrk(port, header, args.duration, args.connections)
        else:
            rps, total = run_python(
                port, header, args.duration, args.connections, args.max_requests
            )
        after = cpu_seconds(proc.pid)
        cpu_us = None if before is None or after is None else 1e6 * (after - before) / total
        return rps, cpu_us
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per variant")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--max-requests", type=int, default=2_000_000, help="python generator cap")
    parser.add_argument("--rounds", type=int, default=1, help="repeat and keep the best run")
    parser.add_argument(
        "--generator", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python"
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return

    cookie = cookie_value()
    results: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for _ in range(args.rounds):
        for variant in args.variants.split(","):
            rps, cpu_us = measure(variant, args, cookie)
            results[variant] = max(results.get(variant, 0.0), rps)
            if cpu_us is not None:
                cpu[variant] = min(cpu.get(variant, float("inf")), cpu_us)
            shown = f"{cpu_us:8.0f} us CPU/req" if cpu_us is not None else ""
            print(f"  {variant:<20} {rps:10.0f} req/s {shown}", file=sys.stderr)

    base = results.get("noauth")
    base_cpu = cpu.get("noauth")
    info = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} CPU, {platform.system()}",
        "generator": args.generator,
        "connections": args.connections,
        "duration_s": args.duration,
        "versions": {
            d: version(d)
            for d in ("sessiongate", "fastapi", "starlette", "uvicorn", "fastapi-nextauth-jwt")
        },
    }
    if args.json:
        print(json.dumps({"results": results, "cpu_us_per_request": cpu, **info}, indent=2))
        return
    print(
        "\n| variant | req/s (best) | vs no auth | server CPU µs/req (best) "
        "| CPU capacity vs no auth |\n|---|---:|---:|---:|---:|"
    )
    for variant, rps in results.items():
        ratio = f"{100 * rps / base:.1f} %" if base else "-"
        c = cpu.get(variant)
        cap = f"{100 * base_cpu / c:.1f} %" if c and base_cpu else "-"
        print(
            f"| {variant} | {rps:,.0f} | {ratio} | {c:,.0f} | {cap} |"
            if c
            else f"| {variant} | {rps:,.0f} | {ratio} | - | - |"
        )
    print(f"\n{json.dumps(info)}")


if __name__ == "__main__":
    main()
