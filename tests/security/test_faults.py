"""Faults: a JWKS endpoint that is down, slow or returns garbage; SQLite and PostgreSQL that
are missing, locked, broken, stopped and restarted. Each must end in 503 or stale keys served,
as designed, never in a 401 that logs users out, never in a hang past the configured timeout,
never in a leaked connection, and the service must recover by itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import ec

from sessiongate import SessionGate
from sessiongate.errors import SessionGateError
from sessiongate.jwks import JWKSBearer, JWKSClient
from sessiongate.sessions import DatabaseSession
from sessiongate.stores.sqlite import SQLiteStore

from sg_security_helpers import (  # isort: skip
    V5,
    VALID_DB_TOKEN,
    asgi_request,
    asgi_request_async,
    make_asgi_app,
    make_prisma_db,
)

JWKS_URL = "https://issuer.example/.well-known/jwks.json"


class Clock:
    def __init__(self, t: float = 10_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def es256_key_and_jwks(kid: str = "k1") -> tuple[ec.EllipticCurvePrivateKey, dict]:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": "ES256", "use": "sig"})
    return key, {"keys": [jwk]}


def es256_token(key, kid: str = "k1") -> str:
    return jwt.encode(
        {"sub": "u1", "exp": int(time.time()) + 600}, key, algorithm="ES256", headers={"kid": kid}
    )


def jwks_gate(clock: Clock, **client_options) -> tuple[SessionGate, JWKSClient]:
    client = JWKSClient(JWKS_URL, monotonic=clock, **client_options)
    return SessionGate(
        JWKSBearer(jwks=client, algorithms=["ES256"], issuer=None, audience=None)
    ), client


def bearer(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


# ============================================================== JWKS down / garbage

GARBAGE = [
    httpx.Response(500, text="internal error"),
    httpx.Response(503, json={"keys": []}),
    httpx.Response(404),
    httpx.Response(200, text="<html>login</html>"),
    httpx.Response(200, text="{not json"),
    httpx.Response(200, json={"keys": "nope"}),
    httpx.Response(200, json=[1, 2, 3]),
    httpx.Response(200, json={"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
    httpx.Response(200, json={"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}),
    httpx.Response(200, content=b"[" * 100_000),
    httpx.Response(200, content=b"\xff\xfe\x00garbage"),
    httpx.Response(302, headers={"location": "http://issuer.example/downgrade"}),
]


@pytest.mark.parametrize("response", GARBAGE, ids=lambda r: f"{r.status_code}-{len(r.content)}")
def test_jwks_garbage_without_cached_keys_is_503_never_401(response):
    key, _ = es256_key_and_jwks()
    gate, client = jwks_gate(Clock())
    app = make_asgi_app(gate)
    with respx.mock(assert_all_mocked=True) as mock:
        mock.get(JWKS_URL).mock(return_value=response)
        status, _, body = asgi_request(app, bearer(es256_token(key)))
    assert (status, json.loads(body)["error"]) == (503, "provider_unavailable")
    assert client.kids == ()


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("broken")],
    ids=type,
)
def test_jwks_down_without_cached_keys_is_503_never_401_async_and_sync(error):
    key, _ = es256_key_and_jwks()
    token = es256_token(key)
    gate, _ = jwks_gate(Clock())
    with respx.mock(assert_all_mocked=True) as mock:
        mock.get(JWKS_URL).mock(side_effect=error)
        status, _, body = asgi_request(make_asgi_app(gate), bearer(token))
        assert (status, json.loads(body)["error"]) == (503, "provider_unavailable")
        gate_sync, _ = jwks_gate(Clock())
        with pytest.raises(SessionGateError) as info:
            gate_sync.authenticate_sync({"authorization": f"Bearer {token}"})
    assert info.value.code == "provider_unavailable"


@pytest.mark.parametrize(
    "response",
    [*GARBAGE[:6], httpx.ConnectError("refused")],
    ids=lambda r: type(r).__name__ + str(getattr(r, "status_code", "")),
)
def test_jwks_outage_after_expiry_serves_stale_keys_then_503(response):
    key, jwks = es256_key_and_jwks()
    token = es256_token(key)
    clock = Clock()
    gate, client = jwks_gate(clock, cache_ttl=60, max_stale=600, retry_interval=5)
    app = make_asgi_app(gate)
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.get(JWKS_URL).mock(return_value=httpx.Response(200, json=jwks))
        assert asgi_request(app, bearer(token))[0] == 200
        if isinstance(response, Exception):
            route.mock(side_effect=response)
        else:
            route.mock(return_value=response)
        clock.t += 120  # keys expired, endpoint broken: stale keys are served
        for _ in range(20):
            status, _, body = asgi_request(app, bearer(es256_token(key)))
            assert status == 200, body
        assert route.call_count == 2  # one failed refresh, then retry_interval throttles
        clock.t += 10
        assert asgi_request(app, bearer(es256_token(key)))[0] == 200
        assert route.call_count == 3
        clock.t += 600  # beyond max_stale: nothing trustworthy left -> 503, never 401
        status, _, body = asgi_request(app, bearer(es256_token(key)))
        assert (status, json.loads(body)["error"]) == (503, "provider_unavailable")
        route.mock(return_value=httpx.Response(200, json=jwks))  # recovers by itself
        clock.t += 10
        assert asgi_request(app, bearer(es256_token(key)))[0] == 200
    assert client.kids == ("k1",)


def test_jwks_slow_async_fetch_bounded_by_timeout():
    key, jwks = es256_key_and_jwks()
    gate, _ = jwks_gate(Clock(), timeout=0.5)

    async def slow(request):
        await asyncio.sleep(10)
        return httpx.Response(200, json=jwks)

    async def run() -> tuple[int, float]:
        started = time.perf_counter()
        status, _, _ = await asgi_request_async(make_asgi_app(gate), bearer(es256_token(key)))
        return status, time.perf_counter() - started

    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        mock.get(JWKS_URL).mock(side_effect=slow)
        status, elapsed = asyncio.run(run())
    assert status == 503
    assert elapsed < 0.5 + 1.0


# ---------------------------------------------------------------- a real slow loopback server


@contextmanager
def slow_jwks_server(body: bytes, *, header_delay: float, chunk_delay: float) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that waits before the headers and drips the body."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(header_delay)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            for i in range(0, len(body), 64):
                time.sleep(chunk_delay)
                try:
                    self.wfile.write(body[i : i + 64])
                    self.wfile.flush()
                except OSError:
                    return

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks"
    finally:
        server.shutdown()
        server.server_close()


def decode(verifier: JWKSBearer, token: str, mode: str) -> dict:
    if mode == "sync":
        return verifier.decode_sync(token)
    return asyncio.run(verifier.decode(token))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_jwks_dripping_server_never_hangs_past_timeout(mode):
    key, jwks = es256_key_and_jwks()
    body = json.dumps(jwks).encode()
    timeout = 0.6
    with slow_jwks_server(body, header_delay=0.0, chunk_delay=0.25) as url:
        client = JWKSClient(url, allow_http=True, timeout=timeout)
        verifier = JWKSBearer(jwks=client, algorithms=["ES256"], issuer=None, audience=None)
        token = es256_token(key)
        started = time.perf_counter()
        with pytest.raises(SessionGateError) as info:
            decode(verifier, token, mode)
        elapsed = time.perf_counter() - started
    assert info.value.code == "provider_unavailable"
    assert elapsed < timeout + 0.5, elapsed


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_jwks_slow_headers_and_first_chunk_bounded_by_timeout(mode):
    key, jwks = es256_key_and_jwks()
    timeout = 0.6
    with slow_jwks_server(json.dumps(jwks).encode(), header_delay=0.5, chunk_delay=0.5) as url:
        client = JWKSClient(url, allow_http=True, timeout=timeout)
        verifier = JWKSBearer(jwks=client, algorithms=["ES256"], issuer=None, audience=None)
        token = es256_token(key)
        started = time.perf_counter()
        with pytest.raises(SessionGateError) as info:
            decode(verifier, token, mode)
        elapsed = time.perf_counter() - started
    assert info.value.code == "provider_unavailable"
    assert elapsed < timeout + 0.3, elapsed


def test_jwks_endpoint_refusing_connections_on_loopback_is_fast_503():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key, _ = es256_key_and_jwks()
    client = JWKSClient(f"http://127.0.0.1:{port}/jwks", allow_http=True, timeout=2)
    gate = SessionGate(JWKSBearer(jwks=client, algorithms=["ES256"], issuer=None, audience=None))
    started = time.perf_counter()
    status, _, body = asgi_request(make_asgi_app(gate), bearer(es256_token(key)))
    assert (status, json.loads(body)["error"]) == (503, "provider_unavailable")
    assert time.perf_counter() - started < 2.5


# ============================================================== SQLite


def db_gate(path: Path, **store_options) -> SessionGate:
    store = SQLiteStore(path, schema="authjs-prisma", **store_options)
    return SessionGate(DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0))


def cookie(token: str = VALID_DB_TOKEN) -> list[tuple[bytes, bytes]]:
    return [(b"cookie", f"{V5}={token}".encode())]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def test_sqlite_missing_file_is_503_then_recovers_when_it_appears(tmp_path):
    # missing at start-up is a ConfigurationError (tests/security/test_db_urls.py); gone later
    # (moved away before the first lookup opened it) is an outage
    path = make_prisma_db(tmp_path / "later.db")
    app = make_asgi_app(db_gate(path))
    moved = path.rename(tmp_path / "elsewhere.db")
    status, _, body = asgi_request(app, cookie())
    assert (status, json.loads(body)["error"]) == (503, "provider_unavailable")
    moved.rename(path)
    assert asgi_request(app, cookie())[0] == 200


def test_sqlite_locked_database_is_503_within_timeout_then_recovers(tmp_path):
    path = make_prisma_db(tmp_path / "authjs.db")
    app = make_asgi_app(db_gate(path, timeout=0.5))
    assert asgi_request(app, cookie())[0] == 200
    locker = sqlite3.connect(path)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.perf_counter()
        status, _, body = asgi_request(app, cookie())
        elapsed = time.perf_counter() - started
        assert (status, json.loads(body)["error"]) == (503, "provider_unavailable")
        assert elapsed < 0.5 + 1.0
    finally:
        locker.rollback()
        locker.close()
    assert asgi_request(app, cookie())[0] == 200


@pytest.mark.parametrize("damage", ["drop-table", "garbage-file", "truncate"])
def test_sqlite_broken_database_is_503_never_401(tmp_path, damage):
    path = make_prisma_db(tmp_path / "authjs.db")
    if damage == "drop-table":
        with sqlite3.connect(path) as conn:
            conn.execute('DROP TABLE "Session"')
    elif damage == "garbage-file":
        path.write_bytes(b"this is not an sqlite database" * 200)
    else:
        path.write_bytes(path.read_bytes()[:1000])
    app = make_asgi_app(db_gate(path))
    for token in (VALID_DB_TOKEN, "tok-unknown-123"):
        status, _, body = asgi_request(app, cookie(token))
        assert (status, json.loads(body)["error"]) == (503, "provider_unavailable")


def test_sqlite_repeated_failures_leak_no_file_descriptors(tmp_path):
    path = make_prisma_db(tmp_path / "authjs.db")
    gate = db_gate(path, max_workers=4)
    app = make_asgi_app(gate)
    with sqlite3.connect(path) as conn:
        conn.execute('ALTER TABLE "Session" RENAME TO "Gone"')

    async def hammer() -> list[int]:
        results = await asyncio.gather(
            *(asgi_request_async(app, cookie(f"tok-{i}")) for i in range(200))
        )
        return [status for status, _, _ in results]

    asyncio.run(hammer())  # warm the worker threads' connections
    before = open_fds()
    statuses = asyncio.run(hammer())
    assert set(statuses) == {503}
    assert open_fds() - before <= 2


# ============================================================== PostgreSQL

PG_DDL = """
CREATE TABLE "User" (id TEXT PRIMARY KEY, name TEXT, email TEXT, "emailVerified" TIMESTAMP(3),
                     image TEXT);
CREATE TABLE "Session" (id TEXT PRIMARY KEY, "sessionToken" TEXT UNIQUE NOT NULL,
                        "userId" TEXT NOT NULL REFERENCES "User"(id),
                        expires TIMESTAMP(3) NOT NULL);
INSERT INTO "User" VALUES ('u1', 'Ada', 'ada@example.com', NULL, NULL);
INSERT INTO "Session" VALUES ('s1', '{token}', 'u1', now() AT TIME ZONE 'UTC' + interval '1 day');
"""


@contextmanager
def pg_schema(dsn: str) -> Iterator[str]:
    import asyncpg

    name = "sg_faults_" + uuid.uuid4().hex[:8]

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(
        run(
            f'CREATE SCHEMA "{name}"; SET search_path TO "{name}"; '
            + PG_DDL.format(token=VALID_DB_TOKEN)
        )
    )
    try:
        yield name
    finally:
        asyncio.run(run(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


async def pg_connections(dsn: str, application_name: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", application_name
        )
    finally:
        await conn.close()


def pg_control(command: str) -> int:
    import subprocess

    control = os.environ["SESSIONGATE_TEST_PG_CONTROL"]
    return subprocess.run(
        [control, *command.split()], capture_output=True, timeout=120, check=False
    ).returncode


@pytest.mark.postgres
def test_postgres_slow_query_is_503_within_timeout_no_leaked_connection(postgres_dsn):
    import asyncpg

    from sessiongate.stores.postgres import PostgresStore

    app_name = "sg-faults-" + uuid.uuid4().hex[:8]
    with pg_schema(postgres_dsn) as schema:
        store = PostgresStore(
            postgres_dsn,
            schema="authjs-prisma",
            timeout=0.5,
            max_size=4,
            server_settings={"search_path": schema, "application_name": app_name},
        )
        gate = SessionGate(DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0))
        app = make_asgi_app(gate)

        async def run() -> None:
            assert (await asgi_request_async(app, cookie()))[0] == 200
            locker = await asyncpg.connect(postgres_dsn)
            try:
                tx = locker.transaction()
                await tx.start()
                await locker.execute(f'LOCK TABLE "{schema}"."Session" IN ACCESS EXCLUSIVE MODE')
                started = time.perf_counter()
                results = await asyncio.gather(
                    *(asgi_request_async(app, cookie(f"tok-{i}")) for i in range(8))
                )
                elapsed = time.perf_counter() - started
                assert {status for status, _, _ in results} == {503}
                assert elapsed < 0.5 + 1.5
                await tx.rollback()
            finally:
                await locker.close()
            assert (await asgi_request_async(app, cookie()))[0] == 200  # recovered
            assert await pg_connections(postgres_dsn, app_name) <= 4
            await gate.aclose()
            for _ in range(50):
                if await pg_connections(postgres_dsn, app_name) == 0:
                    break
                await asyncio.sleep(0.1)
            assert await pg_connections(postgres_dsn, app_name) == 0

        asyncio.run(run())


@pytest.mark.postgres
def test_postgres_driver_internal_error_is_503_not_500(postgres_dsn, monkeypatch):
    """Seen under stop/start mid-load: a pooled connection left mid-operation raises asyncpg's
    InternalClientError ("cannot switch to state 12; another operation is in progress"), which
    is neither an InterfaceError nor a PostgresError, so it escaped the store as a 500."""
    import asyncpg
    from asyncpg.exceptions._base import InternalClientError

    from sessiongate.stores.postgres import PostgresStore

    with pg_schema(postgres_dsn) as schema:
        store = PostgresStore(
            postgres_dsn,
            schema="authjs-prisma",
            timeout=1.0,
            server_settings={"search_path": schema},
        )
        app = make_asgi_app(SessionGate(DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0)))

        async def broken_fetchrow(self, *args, **kwargs):
            raise InternalClientError(
                "cannot switch to state 12; another operation (2) is in progress"
            )

        async def run() -> list[int]:
            statuses = [(await asgi_request_async(app, cookie()))[0]]
            with monkeypatch.context() as patch:
                patch.setattr(asyncpg.connection.Connection, "fetchrow", broken_fetchrow)
                statuses.append((await asgi_request_async(app, cookie()))[0])
            statuses.append((await asgi_request_async(app, cookie()))[0])
            await store.aclose()
            return statuses

        assert asyncio.run(run()) == [200, 503, 200]


@pytest.mark.postgres
def test_postgres_stopped_mid_load_is_503_never_401_then_recovers(postgres_dsn):
    if not os.environ.get("SESSIONGATE_TEST_PG_CONTROL"):
        pytest.skip("SESSIONGATE_TEST_PG_CONTROL is not set")
    from sessiongate.stores.postgres import PostgresStore

    app_name = "sg-faults-" + uuid.uuid4().hex[:8]
    with pg_schema(postgres_dsn) as schema:
        store = PostgresStore(
            postgres_dsn,
            schema="authjs-prisma",
            timeout=1.0,
            max_size=4,
            server_settings={"search_path": schema, "application_name": app_name},
        )
        gate = SessionGate(DatabaseSession(store, cache_ttl=0, negative_cache_ttl=0))
        app = make_asgi_app(gate)
        statuses: list[int] = []

        async def load(stop: asyncio.Event) -> None:
            while not stop.is_set():
                status, _, _ = await asgi_request_async(app, cookie())
                statuses.append(status)
                await asyncio.sleep(0.01)

        async def run() -> None:
            stop = asyncio.Event()
            workers = [asyncio.create_task(load(stop)) for _ in range(4)]
            try:
                await asyncio.sleep(0.5)
                assert await asyncio.to_thread(pg_control, "stop fast") == 0
                await asyncio.sleep(1.0)
            finally:
                assert await asyncio.to_thread(pg_control, "start") == 0
            recovered = None
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if statuses and statuses[-1] == 200 and 503 in statuses:
                    recovered = time.monotonic()
                    break
                await asyncio.sleep(0.1)
            stop.set()
            await asyncio.gather(*workers)
            assert recovered is not None
            assert await pg_connections(postgres_dsn, app_name) <= 4
            await gate.aclose()

        try:
            asyncio.run(run())
        finally:
            pg_control("start")
        assert set(statuses) == {200, 503}  # never 401 or 500
        assert statuses[0] == 200 and statuses[-1] == 200
