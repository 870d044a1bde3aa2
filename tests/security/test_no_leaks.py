"""Secrets hygiene: every failure path, with logging at DEBUG, leaks no token, cookie value or
secret (nor any 20-character substring of one) into log records, exception messages/reprs,
response bodies or response headers; and every configured object's ``repr`` is redacted.

Paths: the gate (sync and async), the ASGI middleware, FastAPI, WSGI, Flask, the CLI
``decode`` and the sidecar.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from flask import Flask

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate._b64json import b64url_encode
from sessiongate.authjs import v5_key
from sessiongate.betterauth import sign_cookie_value
from sessiongate.cli import main as cli_main
from sessiongate.cookies import RequestCredentials
from sessiongate.errors import SessionGateError
from sessiongate.fastapi import SessionGateAuth, install_error_handlers
from sessiongate.flask import SessionGateFlask, login_required, roles_required
from sessiongate.jwks import JWKSBearer, JWKSClient
from sessiongate.sessions import BetterAuthSession, DatabaseSession
from sessiongate.stores.cache import CachedStore
from sessiongate.stores.sqlite import SQLiteStore
from sessiongate.testing import mint_authjs_v5, mint_hs256, mint_nextauth_v4
from sessiongate.wsgi import SessionGateWSGIMiddleware

from sg_security_helpers import (  # isort: skip
    BA_SECRET,
    JWT_SECRET,
    SECRET,
    V5,
    VALID_DB_TOKEN,
    asgi_request,
    make_asgi_app,
    make_better_auth_db,
    make_prisma_db,
)

ATTACKER_SECRET = "attacker-secret-zyxwvutsrqponmlkjihgfedcba"
PG_PASSWORD = "pg-password-never-shown-0123456789"
UNKNOWN_DB_TOKEN = "tok-unknown-0123456789abcdefghij"
BA_TOKEN = "better-auth-session-token-0123456789abcdef"
JWKS_URL = "https://issuer.example/.well-known/jwks.json"
ORIGIN = "http://testserver"

# ------------------------------------------------------------------------------ the leak check


def substrings(secret: str, width: int = 20) -> Iterable[str]:
    if len(secret) < width:
        yield secret
        return
    for i in range(len(secret) - width + 1):
        yield secret[i : i + width]


def assert_no_leak(text: str, secrets: Iterable[str], where: str) -> None:
    for secret in secrets:
        for piece in substrings(secret):
            assert piece not in text, f"{where} leaks a piece of a secret/token: {piece!r}"


def exception_texts(err: BaseException) -> str:
    out = []
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        out += [str(current), repr(current)]
        if isinstance(current, SessionGateError):
            out.append(json.dumps(current.to_dict()))
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return "\n".join(out)


def log_text(records: Iterable[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(r) for r in records)


# ------------------------------------------------------------------------------ failure cases


@dataclass
class Case:
    label: str
    code: str
    status: int
    gate: str  # which gate: tokens | db | better-auth | outage | jwks
    headers: dict[str, str]
    method: str = "GET"
    secrets: tuple[str, ...] = ()  # the credential values this request carries


def _reheader(token: str, header: dict) -> str:
    parts = token.split(".")
    parts[0] = b64url_encode(json.dumps(header).encode())
    return ".".join(parts)


def _cases() -> list[Case]:
    now = time.time()
    valid = mint_authjs_v5({"sub": "u1", "role": "user"}, SECRET, now=now)
    expired = mint_authjs_v5({"sub": "u1"}, SECRET, now=now - 7200, max_age=3600)
    wrong_secret = mint_authjs_v5({"sub": "u1"}, ATTACKER_SECRET, now=now)
    head, _, iv, ct, tag = valid.split(".")
    tampered = ".".join((head, "", iv, ("A" if ct[0] != "A" else "B") + ct[1:], tag))
    bad_alg = _reheader(valid, {"alg": "A256KW", "enc": "A256CBC-HS512"})
    v4_other = mint_nextauth_v4({"sub": "u1"}, ATTACKER_SECRET, now=now)
    hs_forged = mint_hs256({"sub": "admin"}, ATTACKER_SECRET, now=now)
    hs_expired = mint_hs256({"sub": "u1"}, JWT_SECRET, now=now - 7200, expires_in=60)
    hs_no_exp = mint_hs256({"sub": "u1"}, JWT_SECRET, now=now, expires_in=None)
    hs_future = BearerJWT(JWT_SECRET).encode({"sub": "u1", "nbf": int(now) + 3600}, now=now)
    garbage = "garbage-cookie-value-that-is-long-enough-to-check-0123456789"
    huge = "A" * 70_000
    ba_forged = sign_cookie_value(BA_TOKEN, ATTACKER_SECRET)
    ba_unknown = sign_cookie_value("ba-unknown-token-0123456789abcdefghij", BA_SECRET)
    jwks_token = (
        b64url_encode(b'{"alg":"ES256","kid":"kid-1"}')
        + "."
        + b64url_encode(json.dumps({"sub": "u1", "exp": int(now) + 60}).encode())
        + "."
        + b64url_encode(b"s" * 64)
    )
    c = f"{V5}="
    return [
        Case("no credentials", "missing_credentials", 401, "tokens", {}),
        Case(
            "garbage cookie",
            "malformed",
            401,
            "tokens",
            {"cookie": c + garbage},
            secrets=(garbage,),
        ),
        Case(
            "huge cookie", "token_too_large", 401, "tokens", {"cookie": c + huge}, secrets=(huge,)
        ),
        Case(
            "alg A256KW",
            "algorithm_not_allowed",
            401,
            "tokens",
            {"cookie": c + bad_alg},
            secrets=(bad_alg,),
        ),
        Case(
            "tampered JWE",
            "decryption_failed",
            401,
            "tokens",
            {"cookie": c + tampered},
            secrets=(tampered, valid),
        ),
        Case(
            "v4 wrong secret",
            "decryption_failed",
            401,
            "tokens",
            {"cookie": "next-auth.session-token=" + v4_other},
            secrets=(v4_other,),
        ),
        Case(
            "v5 wrong secret",
            "unknown_kid",
            401,
            "tokens",
            {"cookie": c + wrong_secret},
            secrets=(wrong_secret,),
        ),
        Case("expired JWE", "expired", 401, "tokens", {"cookie": c + expired}, secrets=(expired,)),
        Case(
            "bearer JWE expired",
            "expired",
            401,
            "tokens",
            {"authorization": "Bearer " + expired},
            secrets=(expired,),
        ),
        Case(
            "HS256 forged",
            "invalid_signature",
            401,
            "tokens",
            {"authorization": "Bearer " + hs_forged},
            secrets=(hs_forged,),
        ),
        Case(
            "HS256 expired",
            "expired",
            401,
            "tokens",
            {"authorization": "Bearer " + hs_expired},
            secrets=(hs_expired,),
        ),
        Case(
            "HS256 without exp",
            "invalid_claim",
            401,
            "tokens",
            {"authorization": "Bearer " + hs_no_exp},
            secrets=(hs_no_exp,),
        ),
        Case(
            "HS256 nbf future",
            "not_yet_valid",
            401,
            "tokens",
            {"authorization": "Bearer " + hs_future},
            secrets=(hs_future,),
        ),
        Case(
            "bearer garbage",
            "malformed",
            401,
            "tokens",
            {"authorization": "Bearer " + garbage},
            secrets=(garbage,),
        ),
        Case(
            "role missing",
            "insufficient_scope",
            403,
            "tokens-admin",
            {"cookie": c + valid},
            secrets=(valid,),
        ),
        Case(
            "CSRF",
            "csrf_failed",
            403,
            "tokens",
            {"cookie": c + valid, "origin": "https://evil.example"},
            method="POST",
            secrets=(valid,),
        ),
        Case(
            "db unknown",
            "session_not_found",
            401,
            "db",
            {"cookie": c + UNKNOWN_DB_TOKEN},
            secrets=(UNKNOWN_DB_TOKEN,),
        ),
        Case(
            "db unshaped",
            "malformed",
            401,
            "db",
            {"cookie": c + "tok%00" + UNKNOWN_DB_TOKEN},
            secrets=(UNKNOWN_DB_TOKEN,),
        ),
        Case(
            "better auth forged",
            "invalid_signature",
            401,
            "better-auth",
            {"cookie": "better-auth.session_token=" + ba_forged},
            secrets=(ba_forged,),
        ),
        Case(
            "better auth unknown",
            "session_not_found",
            401,
            "better-auth",
            {"cookie": "better-auth.session_token=" + ba_unknown},
            secrets=(ba_unknown,),
        ),
        Case(
            "db outage",
            "provider_unavailable",
            503,
            "outage",
            {"cookie": c + UNKNOWN_DB_TOKEN},
            secrets=(UNKNOWN_DB_TOKEN,),
        ),
        Case(
            "jwks outage",
            "provider_unavailable",
            503,
            "jwks",
            {"authorization": "Bearer " + jwks_token},
            secrets=(jwks_token,),
        ),
    ]


CASES = _cases()
ALL_SECRETS = (
    SECRET,
    JWT_SECRET,
    BA_SECRET,
    ATTACKER_SECRET,
    PG_PASSWORD,
    VALID_DB_TOKEN,
    BA_TOKEN,
    *{s for case in CASES for s in case.secrets},
)


class Gates:
    """One gate per kind, with the stores they need (built on a tmp directory)."""

    def __init__(self, tmp: Path) -> None:
        db = make_prisma_db(tmp / "authjs.db")
        ba = make_better_auth_db(tmp / "ba.db", [BA_TOKEN])
        self.tokens = SessionGate(AuthJSToken(SECRET), BearerJWT(JWT_SECRET))
        self.db = SessionGate(DatabaseSession(SQLiteStore(db, schema="authjs-prisma")))
        self.better_auth = SessionGate(
            BetterAuthSession(secret=BA_SECRET, store=SQLiteStore(ba, schema="better-auth"))
        )
        gone = make_prisma_db(tmp / "gone.db")
        self.outage = SessionGate(DatabaseSession(SQLiteStore(gone, schema="authjs-prisma")))
        gone.unlink()  # gone after start-up: an outage (503); missing at start-up would not start
        self.jwks = SessionGate(
            JWKSBearer(JWKS_URL, algorithms=["ES256"], issuer=None, audience=None)
        )

    def get(self, kind: str) -> SessionGate:
        return {
            "tokens": self.tokens,
            "tokens-admin": self.tokens,
            "db": self.db,
            "better-auth": self.better_auth,
            "outage": self.outage,
            "jwks": self.jwks,
        }[kind]


@pytest.fixture
def gates(tmp_path: Path) -> Gates:
    return Gates(tmp_path)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # root
    caplog.set_level(logging.DEBUG, logger="sessiongate")
    return caplog


@pytest.fixture
def jwks_down():
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        mock.get(JWKS_URL).mock(return_value=httpx.Response(500, text=SECRET))
        yield mock


def _check_response(case: Case, status: int, headers: Any, body: bytes | str) -> None:
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    assert status == case.status, (case.label, status, text)
    assert json.loads(text)["error"] == case.code, (case.label, text)
    header_text = "\n".join(f"{k}: {v}" for k, v in dict(headers).items())
    assert_no_leak(text, ALL_SECRETS, f"{case.label}: response body")
    assert_no_leak(header_text, ALL_SECRETS, f"{case.label}: response headers")


# ------------------------------------------------------------------------------ the gate


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.gate != "tokens-admin" and c.code != "csrf_failed"],
    ids=lambda c: c.label,
)
def test_gate_failure_paths_leak_nothing(case, gates, debug_logs, jwks_down):
    gate = gates.get(case.gate)
    with pytest.raises(SessionGateError) as info:
        gate.authenticate_sync(case.headers)
    assert info.value.code == case.code
    with pytest.raises(SessionGateError) as info_async:
        asyncio.run(gate.authenticate(case.headers))
    assert info_async.value.code == case.code
    for err in (info.value, info_async.value):
        assert_no_leak(exception_texts(err), ALL_SECRETS, f"{case.label}: exception")
    assert_no_leak(log_text(debug_logs.records), ALL_SECRETS, f"{case.label}: logs")


def test_gate_debug_log_names_the_code_and_authenticator(gates, debug_logs):
    with pytest.raises(SessionGateError):
        gates.tokens.authenticate_sync(CASES[3].headers)  # a JWE with a refused algorithm
    messages = [r.getMessage() for r in debug_logs.records if r.name == "sessiongate"]
    assert "authenticator authjs rejected the request: algorithm_not_allowed" in messages


# ------------------------------------------------------------------------------ ASGI


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_asgi_middleware_failure_paths_leak_nothing(case, gates, debug_logs, jwks_down):
    app = make_asgi_app(gates.get(case.gate))
    headers = [(k.encode(), v.encode()) for k, v in case.headers.items()]
    if case.gate == "tokens-admin":
        from starlette.applications import Starlette
        from starlette.middleware import Middleware
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        from sessiongate.asgi import SessionGateMiddleware, requires

        @requires("admin")
        async def admin(request):
            return JSONResponse({"ok": True})

        app = Starlette(
            routes=[Route("/me", admin)],
            middleware=[Middleware(SessionGateMiddleware, gate=gates.get(case.gate))],
        )
    status, response_headers, body = asgi_request(app, headers, method=case.method)
    _check_response(case, status, response_headers, body)
    assert_no_leak(log_text(debug_logs.records), ALL_SECRETS, f"{case.label}: logs")


# ------------------------------------------------------------------------------ FastAPI


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_fastapi_failure_paths_leak_nothing(case, gates, debug_logs, jwks_down):
    auth = SessionGateAuth(gates.get(case.gate))
    app = FastAPI()
    install_error_handlers(app)

    if case.gate == "tokens-admin":

        @app.api_route(
            "/me", methods=["GET", "POST"], dependencies=[Depends(auth.require_role("admin"))]
        )
        async def me_admin() -> dict[str, bool]:
            return {"ok": True}

    else:

        @app.api_route("/me", methods=["GET", "POST"])
        async def me(user=Depends(auth.current_user)) -> dict[str, str]:  # noqa: B008
            return {"id": user.id}

    with TestClient(app, base_url=ORIGIN) as client:
        response = client.request(case.method, "/me", headers=case.headers)
    _check_response(case, response.status_code, response.headers, response.text)
    assert_no_leak(log_text(debug_logs.records), ALL_SECRETS, f"{case.label}: logs")


# ------------------------------------------------------------------------------ WSGI / Flask


def _wsgi_call(app, case: Case) -> tuple[int, list[tuple[str, str]], bytes]:
    environ = {
        "REQUEST_METHOD": case.method,
        "PATH_INFO": "/me",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in case.headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    captured: dict[str, Any] = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = int(status.split()[0])
        captured["headers"] = headers
        return lambda data: None

    body = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], body


def _flask_app(gate: SessionGate, admin: bool) -> Flask:
    app = Flask("leaks")
    SessionGateFlask(app, gate)

    if admin:

        @app.route("/me", methods=["GET", "POST"])
        @roles_required("admin")
        def me_admin():
            return {"ok": True}

    else:

        @app.route("/me", methods=["GET", "POST"])
        @login_required
        def me():
            return {"ok": True}

    return app


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_flask_failure_paths_leak_nothing(case, gates, debug_logs, jwks_down):
    app = _flask_app(gates.get(case.gate), admin=case.gate == "tokens-admin")
    status, headers, body = _wsgi_call(app.wsgi_app, case)
    _check_response(case, status, headers, body)
    assert_no_leak(log_text(debug_logs.records), ALL_SECRETS, f"{case.label}: logs")


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.code in ("csrf_failed", "provider_unavailable")],
    ids=lambda c: c.label,
)
def test_wsgi_middleware_rejections_leak_nothing(case, gates, debug_logs, jwks_down):
    def inner(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    app = SessionGateWSGIMiddleware(inner, gate=gates.get(case.gate))
    status, headers, body = _wsgi_call(app, case)
    _check_response(case, status, headers, body)
    assert_no_leak(log_text(debug_logs.records), ALL_SECRETS, f"{case.label}: logs")


# ------------------------------------------------------------------------------ sidecar


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.code != "csrf_failed"], ids=lambda c: c.label
)
def test_sidecar_failure_paths_leak_nothing(case, gates, debug_logs, jwks_down):
    from sessiongate.sidecar import SidecarApp

    app = SidecarApp(gates.get(case.gate))
    headers = [(k.encode(), v.encode()) for k, v in case.headers.items()]
    if case.gate == "tokens-admin":
        headers.append((b"x-require-role", b"admin"))
    status, response_headers, body = asgi_request(app, headers, path="/verify")
    _check_response(case, status, response_headers, body)
    assert_no_leak(body.decode(), ALL_SECRETS, f"{case.label}: sidecar body")
    assert_no_leak(str(response_headers), ALL_SECRETS, f"{case.label}: sidecar headers")
    assert_no_leak(log_text(debug_logs.records), ALL_SECRETS, f"{case.label}: logs")


# ------------------------------------------------------------------------------ CLI


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.gate == "tokens" and c.secrets and c.code != "csrf_failed"],
    ids=lambda c: c.label,
)
@pytest.mark.parametrize("via", ["argv", "stdin"])
def test_cli_decode_failure_paths_leak_nothing(case, via, debug_logs, monkeypatch):
    token = case.secrets[0]
    for name in ("AUTH_SECRET", "NEXTAUTH_SECRET", "AUTH_SECRET_1"):
        monkeypatch.delenv(name, raising=False)
    out = io.StringIO()
    argv = ["decode", token if via == "argv" else "-", "--secret", SECRET, "--secret", JWT_SECRET]
    code = cli_main(argv, stdout=out, stdin=io.StringIO(token))
    assert code == 1
    result = json.loads(out.getvalue())
    assert result["ok"] is False
    assert result["error"]["code"] in {case.code, "malformed", "token_too_large"}
    assert_no_leak(out.getvalue(), ALL_SECRETS, f"{case.label}: CLI output")
    assert_no_leak(log_text(debug_logs.records), ALL_SECRETS, f"{case.label}: logs")


def test_cli_decode_success_never_prints_the_secret(monkeypatch):
    monkeypatch.setenv("AUTH_SECRET", SECRET)
    token = mint_authjs_v5({"sub": "u1"}, SECRET)
    out = io.StringIO()
    assert cli_main(["decode", token], stdout=out) == 0
    assert_no_leak(out.getvalue(), (SECRET,), "CLI success output")


# ------------------------------------------------------------------------------ repr


def _configured_objects(tmp: Path) -> list[Any]:
    from sessiongate.config import GateConfig
    from sessiongate.sidecar import SidecarApp
    from sessiongate.stores.postgres import PostgresStore

    db = make_prisma_db(tmp / "authjs.db")
    authjs = AuthJSToken([SECRET, ATTACKER_SECRET])
    jws = BearerJWT([JWT_SECRET, ATTACKER_SECRET], algorithms=["HS256", "HS512"])
    sqlite = SQLiteStore(db, schema="authjs-prisma")
    pg = PostgresStore(f"postgresql://app:{PG_PASSWORD}@127.0.0.1:5432/app", schema="authjs-prisma")
    database = DatabaseSession(sqlite)
    better = BetterAuthSession(secret=[BA_SECRET, ATTACKER_SECRET], store=sqlite)
    client = JWKSClient(JWKS_URL)
    jwks = JWKSBearer(jwks=client, algorithms=["ES256"], issuer=None, audience=None)
    gate = SessionGate(authjs, jws, database, better, jwks)
    flask_app = Flask("repr")
    config = GateConfig.from_sources(
        secrets=[SECRET],
        jwt_secrets=[JWT_SECRET],
        database_url=f"postgresql://app:{PG_PASSWORD}@127.0.0.1:5432/app",
        better_auth_secrets=[BA_SECRET],
        environ={},
    )
    return [
        authjs,
        jws,
        v5_key(SECRET, V5),
        v5_key(SECRET, V5, "A256GCM"),
        sqlite,
        pg,
        CachedStore(sqlite),
        database,
        better,
        client,
        jwks,
        gate,
        SessionGateWSGIMiddleware(lambda e, s: [], gate=gate),
        SessionGateFlask(flask_app, gate),
        SessionGateAuth(gate),
        SidecarApp(gate),
        config,
    ]


def test_repr_of_every_configured_object_is_redacted(tmp_path):
    from sessiongate.asgi import SessionGateMiddleware

    objects = _configured_objects(tmp_path)
    middleware = SessionGateMiddleware(lambda s, r, se: None, gate=objects[11])
    for obj in [*objects, middleware]:
        text = repr(obj) + str(obj)
        assert_no_leak(text, ALL_SECRETS, f"repr({type(obj).__name__})")
        assert " object at 0x" not in text, text  # every one has a real, redacted repr


def test_request_credentials_repr_is_redacted():
    token = mint_authjs_v5({"sub": "u1"}, SECRET)
    creds = RequestCredentials.from_headers(
        {"cookie": f"{V5}={token}", "authorization": f"Bearer {token}"}
    )
    assert_no_leak(repr(creds), (token,), "repr(RequestCredentials)")


def test_the_leak_check_itself_catches_a_20_char_piece():
    token = mint_authjs_v5({"sub": "u1"}, SECRET)
    with pytest.raises(AssertionError):
        assert_no_leak("prefix " + token[100:120] + " suffix", (token,), "control")
    with pytest.raises(AssertionError):
        assert_no_leak(f"x{SECRET[5:25]}x", (SECRET,), "control")
    assert_no_leak(token[100:119], (token,), "19 characters are not a leak")
