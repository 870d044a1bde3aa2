"""Attacks on the Socket.IO connect helper, each test named after the attack it stops.

The helper runs as in a ``connect`` handler (environ built by python-engineio's ASGI driver, or
a WSGI environ), with a stand-in for the server's session API; the real servers run the same
scenarios in test_socketio_realserver.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sg_socketio_apps import FRONT, SECRET, OutageAuthenticator, make_gate
from test_socketio_unit import asgi_environ, wsgi_environ

from sessiongate import SessionGate
from sessiongate.socketio import SessionGateConnectionRefused, SessionGateSocketIO
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256

TOKEN = mint_authjs_v5({"sub": "u1", "name": "Ada"}, SECRET)


class SessionServer:
    """The session API of ``socketio.AsyncServer`` / ``socketio.Server``, in memory."""

    def __init__(self) -> None:
        self.sessions: dict[tuple[str, str | None], dict[str, Any]] = {}

    @contextlib.asynccontextmanager
    async def asession(self, sid: str, namespace: str | None) -> AsyncIterator[dict[str, Any]]:
        yield self.sessions.setdefault((sid, namespace), {})

    @contextlib.contextmanager
    def session(self, sid: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        yield self.sessions.setdefault((sid, namespace), {})


class AsyncSessionServer(SessionServer):
    def session(self, sid: str, namespace: str | None = None) -> Any:  # type: ignore[override]
        return self.asession(sid, namespace)


def connect(
    auth: SessionGateSocketIO, environ: dict[str, Any], payload: Any = None, **kw: Any
) -> Any:
    """Run the async helper and the sync one; both must agree. Returns the user or the refusal."""
    results: list[Any] = []
    for sync in (False, True):
        server = SessionServer() if sync else AsyncSessionServer()
        try:
            if sync:
                user = auth.authenticate_sync(server, "sid", environ, payload, **kw)  # type: ignore[arg-type]
            else:
                user = asyncio.run(auth.authenticate(server, "sid", environ, payload, **kw))  # type: ignore[arg-type]
        except SessionGateConnectionRefused as refused:
            assert server.sessions == {}  # nothing saved for a refused connection
            results.append(("refused", refused.error.code, refused.decision.status))
        else:
            saved = {"user": user}
            if kw.get("org") is not None:  # an organization guard also saves the membership
                saved["membership"] = server.sessions[("sid", kw.get("namespace"))]["membership"]
            assert server.sessions == {("sid", kw.get("namespace")): saved}
            results.append(("ok", user.id if user.is_authenticated else None))
    assert results[0] == results[1], results
    return results[0]


@pytest.fixture
def auth() -> SessionGateSocketIO:
    return SessionGateSocketIO(make_gate(), trusted_origins=[FRONT])


@pytest.mark.parametrize("build", [asgi_environ, "wsgi"])
def test_cross_site_socketio_hijacking_with_the_session_cookie_refused(
    auth: SessionGateSocketIO, build: Any
) -> None:
    headers = {
        "host": "api.example",
        "origin": "https://evil.example",
        "cookie": cookie_header(TOKEN),
    }
    environ = build(headers) if callable(build) else wsgi_environ(**headers)
    assert connect(auth, environ) == ("refused", "csrf_failed", 403)
    headers["origin"] = FRONT
    environ = build(headers) if callable(build) else wsgi_environ(**headers)
    assert connect(auth, environ) == ("ok", "u1")


def test_cookie_connection_without_origin_refused(auth: SessionGateSocketIO) -> None:
    environ = asgi_environ({"host": "api.example", "cookie": cookie_header(TOKEN)})
    assert connect(auth, environ) == ("refused", "csrf_failed", 403)


def test_client_x_forwarded_proto_does_not_make_a_foreign_scheme_own(
    auth: SessionGateSocketIO,
) -> None:
    # served over plain ws://api.example: https://api.example is another origin, whatever the
    # client claims in X-Forwarded-Proto (python-engineio copies it into wsgi.url_scheme)
    headers = {
        "host": "api.example",
        "origin": "https://api.example",
        "x-forwarded-proto": "https",
        "cookie": cookie_header(TOKEN),
    }
    assert connect(auth, asgi_environ(headers, scheme="ws")) == ("refused", "csrf_failed", 403)
    # with a proxy that sets it, trust_forwarded=True takes it
    trusting = SessionGateSocketIO(make_gate(), trust_forwarded=True)
    assert connect(trusting, asgi_environ(headers, scheme="ws")) == ("ok", "u1")


def test_same_origin_cookie_over_tls_is_own(auth: SessionGateSocketIO) -> None:
    # python-engineio says wsgi.url_scheme "http" for a wss:// scope; the scope's scheme counts
    headers = {
        "host": "api.example",
        "origin": "https://api.example",
        "cookie": cookie_header(TOKEN),
    }
    assert connect(auth, asgi_environ(headers, scheme="wss")) == ("ok", "u1")


def test_token_in_the_socketio_url_is_never_read() -> None:
    auth = SessionGateSocketIO(make_gate(), allow_query_token=True)
    environ = wsgi_environ(host="api.example")
    environ["QUERY_STRING"] = "EIO=4&transport=polling&access_token=" + TOKEN
    assert connect(auth, environ) == ("refused", "missing_credentials", 401)


def test_auth_payload_does_not_rescue_a_refused_authorization_header(
    auth: SessionGateSocketIO,
) -> None:
    expired = mint_hs256({"sub": "u2"}, SECRET, expires_in=60, now=time.time() - 3600)
    environ = wsgi_environ(authorization="Bearer " + expired)
    assert connect(auth, environ, {"token": TOKEN}) == ("refused", "expired", 401)


class CountingAuthenticator:
    """Counts how often the gate asks it (it never recognises anything)."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def authenticate_sync(self, credentials: Any, now: float) -> None:
        self.calls += 1


def test_oversized_auth_payload_token_refused_before_any_crypto() -> None:
    counting = CountingAuthenticator()
    auth = SessionGateSocketIO(SessionGate(counting, max_token_bytes=4096))
    assert connect(auth, wsgi_environ(), {"token": "a" * 10_000}) == (
        "refused",
        "token_too_large",
        401,
    )
    assert counting.calls == 0
    assert connect(auth, wsgi_environ(), {"token": "a" * 100}) == ("refused", "malformed", 401)
    assert counting.calls == 2  # async and sync


@pytest.mark.parametrize("token", [42, {"nested": TOKEN}, "tökén"])
def test_auth_payload_token_of_another_type_refused(auth: SessionGateSocketIO, token: Any) -> None:
    assert connect(auth, wsgi_environ(), {"token": token}) == ("refused", "malformed", 401)


@pytest.mark.parametrize(
    "payload",
    [
        {"token": mint_authjs_v5({"sub": "u1"}, SECRET, max_age=60, now=time.time() - 3600)},
        {"token": TOKEN[:-4] + "AAAA"},
        {"token": mint_authjs_v5({"sub": "u1"}, "another-secret-0123456789abcdef01234")},
    ],
)
def test_refusal_sent_to_the_client_never_carries_the_token(
    auth: SessionGateSocketIO, payload: dict[str, str]
) -> None:
    with pytest.raises(SessionGateConnectionRefused) as refused:
        auth.authenticate_sync(SessionServer(), "sid", wsgi_environ(), payload)  # type: ignore[arg-type]
    sent = repr(refused.value.error_args) + str(refused.value) + repr(refused.value)
    token = payload["token"]
    for piece in (token, *token.split(".")):
        if len(piece) >= 8:
            assert piece not in sent


def test_outage_refused_with_503_never_401_even_where_anonymous_is_allowed() -> None:
    auth = SessionGateSocketIO(SessionGate(OutageAuthenticator()))
    environ = wsgi_environ()
    assert connect(auth, environ, {"token": TOKEN}) == ("refused", "provider_unavailable", 503)
    assert connect(auth, environ, {"token": TOKEN}, require=None) == (
        "refused",
        "provider_unavailable",
        503,
    )
    lenient = SessionGateSocketIO(SessionGate(OutageAuthenticator()), block_on_outage=False)
    assert connect(lenient, environ, {"token": TOKEN}, require=None) == ("ok", None)


def test_anonymous_connection_refused_by_default(auth: SessionGateSocketIO) -> None:
    assert connect(auth, wsgi_environ()) == ("refused", "missing_credentials", 401)
    assert connect(auth, wsgi_environ(), namespace="/chat", require=None) == ("ok", None)


def engineio_driver_environ(driver: str, **headers: str) -> dict[str, Any]:
    """The environ python-engineio's aiohttp, Sanic and Tornado drivers build for a connection
    served over plain HTTP (``engineio/async_drivers/{aiohttp,sanic,tornado}.py``): headers as
    ``HTTP_*``, ``wsgi.url_scheme`` copied from the client's ``X-Forwarded-Proto``, and the
    framework's own request object under the driver's key."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "QUERY_STRING": "EIO=4&transport=websocket",
        "SERVER_NAME": driver,
    }
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    environ["wsgi.url_scheme"] = environ.get("HTTP_X_FORWARDED_PROTO", "http")
    if driver == "tornado":
        request = SimpleNamespace(protocol="http")  # tornado.httputil.HTTPServerRequest
        environ["tornado.handler"] = SimpleNamespace(request=request)
    else:
        environ[f"{driver}.request"] = SimpleNamespace(scheme="http")
    return environ


@pytest.mark.parametrize("driver", ["aiohttp", "sanic", "tornado"])
def test_client_x_forwarded_proto_does_not_make_a_foreign_scheme_own_on_other_drivers(
    auth: SessionGateSocketIO, driver: str
) -> None:
    headers = {
        "host": "api.example",
        "origin": "https://api.example",
        "x-forwarded-proto": "https",
        "cookie": cookie_header(TOKEN),
    }
    environ = engineio_driver_environ(driver, **headers)
    assert connect(auth, environ) == ("refused", "csrf_failed", 403)
    trusting = SessionGateSocketIO(make_gate(), trust_forwarded=True)
    assert connect(trusting, environ) == ("ok", "u1")
    plain = engineio_driver_environ(driver, **{**headers, "origin": "http://api.example"})
    assert connect(auth, plain) == ("ok", "u1")


def test_outage_refusal_tells_the_client_when_to_retry_only_when_configured() -> None:
    environ = wsgi_environ()
    server = SessionServer()
    timed = SessionGateSocketIO(SessionGate(OutageAuthenticator()), retry_after=7)
    with pytest.raises(SessionGateConnectionRefused) as refused:
        timed.authenticate_sync(server, "sid", environ, {"token": TOKEN})
    assert refused.value.error_args["data"] == {
        "code": "provider_unavailable",
        "message": refused.value.error.message,
        "status": 503,
        "retry_after": 7,
    }
    plain = SessionGateSocketIO(SessionGate(OutageAuthenticator()))
    with pytest.raises(SessionGateConnectionRefused) as refused:
        plain.authenticate_sync(server, "sid", environ, {"token": TOKEN})
    assert "retry_after" not in refused.value.error_args["data"]
