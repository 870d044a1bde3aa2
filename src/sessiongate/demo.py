"""``sessiongate demo``: a live example API on embedded defaults, proven with real requests.

1. makes a temporary directory with an SQLite database in Auth.js's Prisma schema (``User``,
   ``Session``) and a generated secret;
2. starts a Starlette API with :class:`~sessiongate.asgi.SessionGateMiddleware` on 127.0.0.1,
   on a free port (uvicorn, in a background thread): ``/me`` needs a session, ``/admin`` the
   ``admin`` role;
3. mints an Auth.js v5 session cookie, an HS256 Bearer token and a database session (a row in
   the SQLite ``Session`` table), and prints ready-to-paste ``curl`` lines: three that succeed,
   one answered 403 and one answered 401, each with the reason;
4. runs every line itself with httpx and checks the answer;
5. exits (``--once``) or keeps serving until Ctrl-C (``--serve``).

``sessiongate demo --offline`` (:func:`run_offline_demo`) verifies minted tokens in-process
instead, with nothing but the core. The tokens printed are made for this demo's throwaway
secret, which is never printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets as _secrets
import shlex
import signal
import socket
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from ._extras import require
from .authjs import AuthJSToken
from .errors import SessionGateError
from .gate import SessionGate
from .jws import BearerJWT
from .testing import cookie_header, mint_authjs_v5, mint_hs256, mint_nextauth_v4

__all__ = ["DemoCase", "run_live_demo", "run_offline_demo"]

_DDL = """
CREATE TABLE "User" (
  id TEXT PRIMARY KEY, name TEXT, email TEXT UNIQUE, "emailVerified" TEXT, image TEXT,
  role TEXT
);
CREATE TABLE "Session" (
  id TEXT PRIMARY KEY, "sessionToken" TEXT UNIQUE NOT NULL,
  "userId" TEXT NOT NULL REFERENCES "User"(id) ON DELETE CASCADE, expires TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class DemoCase:
    """One request the demo makes: what it sends and the status it expects."""

    label: str
    path: str
    headers: dict[str, str]
    expect_status: int
    expect_code: str | None = None

    def curl(self, base: str) -> str:
        """The ready-to-paste ``curl`` line."""
        parts = ["curl", "-s", "-i" if self.expect_status != 200 else "", base + self.path]
        for name, value in self.headers.items():
            parts += ["-H", f"{name}: {value}"]
        return " ".join(shlex.quote(p) for p in parts if p)


def _naive_utc(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds")


def make_database(path: Path, now: datetime) -> str:
    """Create the Auth.js Prisma tables and one user with a 30-day session; return its token."""
    token = str(uuid.uuid4())
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(_DDL)
        conn.execute(
            'INSERT INTO "User" (id, name, email, role) VALUES (?, ?, ?, ?)',
            ("user-db-1", "Grace Hopper", "grace@example.com", "admin"),
        )
        conn.execute(
            'INSERT INTO "Session" (id, "sessionToken", "userId", expires) VALUES (?, ?, ?, ?)',
            (str(uuid.uuid4()), token, "user-db-1", _naive_utc(now + timedelta(days=30))),
        )
        conn.commit()
    return token


def build_app(secret: str, database: Path) -> Any:
    """The example API: Starlette + SessionGateMiddleware over v5/v4 cookies, HS256, database."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from .asgi import SessionGateMiddleware, requires
    from .sessions import DatabaseSession
    from .stores import PRESETS, SQLiteStore

    schema = PRESETS["authjs-prisma"].with_extra(["role"])
    gate = SessionGate(
        AuthJSToken(secret),
        BearerJWT(secret),
        DatabaseSession(SQLiteStore(database, schema=schema)),
    )

    def describe(request: Request) -> JSONResponse:
        user = request.user
        return JSONResponse(
            {
                "id": user.id,
                "email": user.email,
                "name": user.name,
                "roles": sorted(user.roles),
                "source": user.source,
                "credential": request.auth.credential,
            }
        )

    @requires()
    async def me(request: Request) -> JSONResponse:
        return describe(request)

    @requires(roles="admin")
    async def admin(request: Request) -> JSONResponse:
        return describe(request)

    app = Starlette(routes=[Route("/me", me), Route("/admin", admin)])
    app.add_middleware(SessionGateMiddleware, gate=gate)
    app.state.gate = gate
    return app


class _Server:
    """uvicorn on a pre-bound loopback socket, in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the demo server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def cases(secret: str, db_token: str, now: float) -> list[DemoCase]:
    """The demo's requests."""

    ada = {"sub": "user-1", "email": "ada@example.com", "name": "Ada Lovelace", "role": "admin"}
    bob = {"sub": "user-2", "email": "bob@example.com", "name": "Bob", "role": "viewer"}
    v5 = mint_authjs_v5(ada, secret, now=now)
    hs = mint_hs256(bob, secret, now=now, expires_in=3600)
    expired = mint_authjs_v5(ada, secret, now=now - 7200, max_age=3600)
    return [
        DemoCase("Auth.js v5 session cookie", "/me", {"Cookie": cookie_header(v5)}, 200),
        DemoCase("HS256 Bearer token", "/me", {"Authorization": f"Bearer {hs}"}, 200),
        DemoCase(
            "database session (SQLite, Auth.js Prisma schema)",
            "/admin",
            {"Cookie": f"authjs.session-token={db_token}"},
            200,
        ),
        DemoCase(
            "Bearer token of a viewer on /admin",
            "/admin",
            {"Authorization": f"Bearer {hs}"},
            403,
            "insufficient_scope",
        ),
        DemoCase(
            "v5 cookie that expired an hour ago",
            "/me",
            {"Cookie": cookie_header(expired)},
            401,
            "expired",
        ),
    ]


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """While inside: SIGTERM (``kill``, ``docker stop``, systemd) stops the demo like Ctrl-C,
    so the server, the database and the temporary directory are cleaned up. Only the main
    thread can install signal handlers: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="sessiongate-demo-") as tmp:
        yield Path(tmp)


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def run_live_demo(
    out: TextIO,
    *,
    serve: bool = False,
    color: bool = False,
    wait: Any = None,
) -> int:
    """Run the live demo; returns 0 when every request was answered as expected.

    ``wait`` (tests) replaces the wait for Ctrl-C in ``serve`` mode; SIGTERM stops it the same
    way, cleaning up the temporary directory. Raises
    :class:`~sessiongate.errors.MissingExtraError` before anything starts when Starlette,
    uvicorn or httpx is missing (``pip install 'sessiongate[demo]'``).
    """
    for module in ("starlette", "uvicorn", "httpx"):
        require(module, "demo")
    import httpx

    secret = _secrets.token_urlsafe(32)
    now_dt = datetime.now(UTC)
    with _sigterm_as_ctrl_c(), _workdir() as tmp:
        db = tmp / "demo.db"
        db_token = make_database(db, now_dt)
        app = build_app(secret, db)
        with _Server(app) as server:
            base = f"http://127.0.0.1:{server.port}"
            out.write(
                "sessiongate demo: an example API (Starlette + SessionGateMiddleware) on "
                f"{base}\n  secret: generated for this run (not shown); sessions: SQLite in "
                f"{tmp}\n  routes: /me (any session), /admin (role admin)\n\n"
            )
            failures = 0
            with httpx.Client(timeout=10) as client:
                for case in cases(secret, db_token, now_dt.timestamp()):
                    response = client.get(base + case.path, headers=case.headers)
                    try:
                        body = response.json()
                    except ValueError:
                        body = {}
                    ok = response.status_code == case.expect_status and (
                        case.expect_code is None or body.get("error") == case.expect_code
                    )
                    failures += not ok
                    if response.status_code == 200:
                        verdict = (
                            f"200 user {body.get('id')} ({body.get('source')}, "
                            f"roles {','.join(body.get('roles', [])) or '-'})"
                        )
                    else:
                        verdict = (
                            f"{response.status_code} {body.get('error')}: {body.get('message')}"
                        )
                    mark = _paint("✔", "32", color) if ok else _paint("✘", "31", color)
                    expect = "succeeds" if case.expect_status == 200 else "fails"
                    out.write(f"# {case.label} ({expect})\n{case.curl(base)}\n")
                    out.write(f"  {mark} checked: {verdict}\n\n")
            if failures:
                out.write(_paint(f"{failures} request(s) did not behave\n", "31", color))
            else:
                out.write(_paint("all requests behaved as expected\n", "32", color))
            if serve and not failures:
                try:  # a Ctrl-C or SIGTERM right after the line below is a normal stop too
                    out.write(f"\nserving on {base}; paste the curl lines above. Ctrl-C to stop.\n")
                    out.flush()
                    if wait is not None:
                        wait(base)
                    else:
                        while server.thread.is_alive():
                            time.sleep(0.5)
                except KeyboardInterrupt:
                    out.write("\nstopping\n")
            elif not failures:
                out.write(
                    "the server has stopped (--once); run `sessiongate demo --serve` to keep it "
                    "up and paste the lines above\n"
                )
        asyncio.run(app.state.gate.aclose())
    return 0 if not failures else 1


def run_offline_demo(out: TextIO, *, secret: str | None = None, now: float | None = None) -> int:
    """Mint a v5 cookie, a v4 cookie and an HS256 token with a generated secret, verify them with
    a :class:`SessionGate`, and show one rejection with its reason. Returns 0 when all behave."""
    secret = secret or _secrets.token_urlsafe(32)
    t = time.time() if now is None else now
    gate = SessionGate(AuthJSToken(secret), BearerJWT(secret), clock=lambda: t)
    claims = {"sub": "user-1", "email": "ada@example.com", "name": "Ada", "role": "admin"}
    cases: list[tuple[str, dict[str, str], str | None]] = [
        (
            "Auth.js v5 cookie",
            {"cookie": cookie_header(mint_authjs_v5(claims, secret, now=t))},
            None,
        ),
        (
            "NextAuth v4 cookie",
            {
                "cookie": cookie_header(
                    mint_nextauth_v4(claims, secret, now=t), "next-auth.session-token"
                )
            },
            None,
        ),
        ("HS256 Bearer", {"authorization": "Bearer " + mint_hs256(claims, secret, now=t)}, None),
        (
            "expired v5 cookie",
            {"cookie": cookie_header(mint_authjs_v5(claims, secret, now=t - 7200, max_age=3600))},
            "expired",
        ),
        (
            "v5 cookie under the __Secure- name it was not made for",
            {"cookie": "__Secure-" + cookie_header(mint_authjs_v5(claims, secret, now=t))},
            "unknown_kid",
        ),
        ("no credentials", {}, "missing_credentials"),
    ]
    failures = 0
    out.write("sessiongate demo (generated secret, nothing leaves this process)\n\n")
    for label, headers, expected in cases:
        try:
            user = gate.authenticate_sync(headers).user
            verdict = f"OK    {user.source:<12} id={user.id} roles={sorted(user.roles)}"
            ok = expected is None
        except SessionGateError as err:
            verdict = f"DENY  {err.status_code} {err.code}: {err.message}"
            ok = err.code == expected
        failures += not ok
        out.write(f"  {label:<55} {verdict}\n")
    out.write("\nall cases behaved as expected\n" if not failures else f"\n{failures} unexpected\n")
    return 0 if not failures else 1
