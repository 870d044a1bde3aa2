"""Audit lines (``sessiongate.audit``): one JSON line per verdict, never a credential.

The lines of several worker processes writing one file are checked in
tests/test_serve_workers.py.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.audit import MAX_LINE_BYTES, AuditLog, audit_line, request_id_from
from sessiongate.sidecar import SidecarApp
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256

S = "audit-secret-0123456789abcdef0123"
JWT_S = "audit-jwt-secret-0123456789abcdef"
KEYS = ["time", "request_id", "outcome", "status", "credential", "authenticator", "user_id"]


def line(**kw) -> bytes:
    base = {
        "when": 1_800_000_000.1234,
        "request_id": "req-1",
        "outcome": "ok",
        "status": 200,
        "credential": "cookie",
        "authenticator": "authjs",
        "user_id": "user-1",
        "latency_s": 0.0000421,
    }
    return audit_line(**{**base, **kw})


def test_audit_line_shape():
    raw = line()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    record = json.loads(raw)
    assert list(record) == [*KEYS, "latency_ms"]
    assert record == {
        "time": "2027-01-15T08:00:00.123Z",
        "request_id": "req-1",
        "outcome": "ok",
        "status": 200,
        "credential": "cookie",
        "authenticator": "authjs",
        "user_id": "user-1",
        "latency_ms": 0.042,
    }


def test_a_user_id_cannot_forge_a_second_line():
    raw = line(user_id='evil\n{"outcome":"ok"}\r\u2028é')
    assert raw.count(b"\n") == 1
    raw.decode("ascii")  # every other character is escaped
    assert json.loads(raw)["user_id"] == 'evil\n{"outcome":"ok"}\r\u2028é'


def test_an_overlong_user_id_is_dropped_not_split():
    raw = line(user_id="x" * 10_000)
    assert len(raw) <= MAX_LINE_BYTES
    record = json.loads(raw)
    assert record["user_id"] is None and record["user_id_truncated"] is True


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"x-request-id", b"4bf92f35-77b3-4da6")], "4bf92f35-77b3-4da6"),
        ([(b"X-Request-Id", b"  abc/def+ghi=@:  ")], "abc/def+ghi=@:"),
        ([], None),
        ([(b"x-request-id", b"")], None),
        ([(b"x-request-id", b"a" * 129)], None),
        ([(b"x-request-id", b"a\r\nb")], None),
        ([(b"x-request-id", b'a"b')], None),
        ([(b"x-request-id", "é".encode())], None),
        ([(b"x-request-id", b"a"), (b"x-request-id", b"b")], None),
    ],
)
def test_request_id_passes_through_only_when_plain(headers, expected):
    assert request_id_from(headers) == expected


def test_audit_log_appends_lines_to_a_file(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"earlier":true}\n')
    log = AuditLog(str(path), clock=lambda: 1_800_000_000.0)
    for i in range(3):
        log.record(
            request_id=str(i),
            outcome="ok",
            status=200,
            credential="bearer",
            authenticator="jws",
            user_id="u",
            latency_s=0.001,
        )
    log.close()
    lines = path.read_bytes().splitlines()
    assert len(lines) == 4 and [json.loads(x)["request_id"] for x in lines[1:]] == ["0", "1", "2"]


def test_a_failing_audit_log_never_fails_the_request(tmp_path):
    log = AuditLog(str(tmp_path))  # a directory: every write fails
    log.record(
        request_id=None,
        outcome="ok",
        status=200,
        credential="cookie",
        authenticator="authjs",
        user_id="u",
        latency_s=0.0,
    )
    assert log.errors == 1


def test_sidecar_writes_one_line_per_verdict_and_never_a_credential(tmp_path):
    path = tmp_path / "audit.jsonl"
    gate = SessionGate(AuthJSToken(S), BearerJWT(JWT_S))
    app = SidecarApp(gate, audit_log=AuditLog(str(path)))
    cookie = cookie_header(mint_authjs_v5({"sub": "user-7", "email": "e@x.io"}, S))
    bearer = "Bearer " + mint_hs256({"sub": "user-8"}, JWT_S)
    expired = cookie_header(mint_authjs_v5({"sub": "user-9"}, S, now=1_000_000, max_age=60))
    requests = [
        {"cookie": cookie, "x-request-id": "r1"},
        {"cookie": cookie, "x-request-id": "r2"},
        {"cookie": cookie, "x-request-id": "r3"},  # answered from the response memo
        {"authorization": bearer, "x-request-id": "r4"},
        {"cookie": expired, "x-request-id": "r5"},
        {"x-request-id": "r6", "x-require-mode": "any"},
        {"x-request-id": "r7\n"},
    ]

    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
            return [(await client.get("/verify", headers=h)).status_code for h in requests]

    assert asyncio.run(go()) == [200, 200, 200, 200, 401, 400, 401]
    raw = path.read_text()
    records = [json.loads(x) for x in raw.splitlines()]
    summary = [(r["request_id"], r["outcome"], r["status"], r["user_id"]) for r in records]
    assert summary == [
        ("r1", "ok", 200, "user-7"),
        ("r2", "ok", 200, "user-7"),
        ("r3", "ok", 200, "user-7"),
        ("r4", "ok", 200, "user-8"),
        ("r5", "expired", 401, None),
        ("r6", "invalid_request", 400, None),
        ("r7", "missing_credentials", 401, None),  # httpx strips the newline; still plain
    ]
    assert [r["credential"] for r in records[:5]] == ["cookie"] * 3 + ["bearer", "cookie"]
    assert records[3]["authenticator"] == "jws" and records[4]["authenticator"] == "none"
    for secret in (cookie.split("=", 1)[1], bearer[7:], expired.split("=", 1)[1], S, JWT_S):
        assert secret not in raw
    assert "e@x.io" not in raw  # only the id, no other claim
