"""sessiongate.socketio without a network: the handshake's facts and credentials, the refusal,
the constructor. The environ of an ASGI server is built by python-engineio's own
``translate_request``, as the server does."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
import socketio
from engineio.async_drivers.asgi import translate_request
from sg_socketio_apps import FRONT, SECRET, make_gate

from sessiongate.errors import ConfigurationError, MissingCredentialsError
from sessiongate.policy import Decision, WebPolicy
from sessiongate.socketio import SessionGateConnectionRefused, SessionGateSocketIO, handshake
from sessiongate.testing import cookie_header, mint_authjs_v5
from sessiongate.user import AnonymousUser

TOKEN = mint_authjs_v5({"sub": "u1"}, SECRET)


def asgi_environ(
    headers: dict[str, str], *, kind: str = "websocket", scheme: str = "ws"
) -> dict[str, Any]:
    """The environ python-engineio's ASGI driver gives the ``connect`` handler."""
    scope = {
        "type": kind,
        "path": "/socket.io/",
        "query_string": b"EIO=4&transport=" + (b"websocket" if kind == "websocket" else b"polling"),
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "scheme": scheme,
        **({"method": "GET"} if kind == "http" else {}),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect" if kind == "websocket" else "http.request"}

    async def send(message: dict[str, Any]) -> None:
        pass

    environ: dict[str, Any] = asyncio.run(translate_request(scope, receive, send))
    return environ


def wsgi_environ(**headers: str) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": "GET",
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "api.example",
        "QUERY_STRING": "EIO=4&transport=polling",
    }
    environ.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    return environ


def test_asgi_handshake_facts_come_from_the_scope() -> None:
    environ = asgi_environ(
        {"host": "api.example", "origin": FRONT, "cookie": "a=b", "x-forwarded-proto": "https"},
        scheme="ws",
    )
    headers, facts, error = handshake(environ, None)
    assert headers == [(b"cookie", b"a=b")]
    assert error is None
    assert facts.websocket is True
    assert facts.method == "GET"
    assert facts.scheme == "ws"  # the scope's, not X-Forwarded-Proto (engineio's url_scheme)
    assert environ["wsgi.url_scheme"] == "https"
    assert (facts.host, facts.origin, facts.credential_sent) == ("api.example", FRONT, True)
    assert facts.forwarded_proto == "https"  # kept for trust_forwarded=True only


def test_polling_handshake_is_judged_like_a_websocket_handshake() -> None:
    environ = asgi_environ({"host": "api.example"}, kind="http", scheme="http")
    _, facts, _ = handshake(environ, None)
    assert (facts.websocket, facts.method, facts.credential_sent) == (True, "GET", False)


def test_wsgi_handshake_facts_and_credentials() -> None:
    environ = wsgi_environ(host="api.example", origin=FRONT, cookie="a=b", authorization="Bearer x")
    headers, facts, error = handshake(environ, None)
    assert headers == [(b"cookie", b"a=b"), (b"authorization", b"Bearer x")]
    assert (facts.scheme, facts.host, facts.origin, facts.websocket) == (
        "http",
        "api.example",
        FRONT,
        True,
    )
    assert error is None


def test_auth_payload_token_becomes_a_bearer_header() -> None:
    headers, facts, error = handshake(wsgi_environ(host="api.example"), {"token": "abc.def"})
    assert headers == [(b"authorization", b"Bearer abc.def")]
    assert facts.credential_sent is True
    assert error is None


def test_authorization_header_wins_over_the_auth_payload() -> None:
    environ = wsgi_environ(authorization="Bearer from-header")
    headers, _, _ = handshake(environ, {"token": "from-payload"})
    assert headers == [(b"authorization", b"Bearer from-header")]


@pytest.mark.parametrize("payload", [None, {}, {"token": None}, {"token": ""}, "a string", [1]])
def test_payloads_without_a_token(payload: Any) -> None:
    headers, facts, error = handshake(wsgi_environ(), payload)
    assert (headers, facts.credential_sent, error) == ([], False, None)


@pytest.mark.parametrize("token", [42, ["a"], {"a": 1}, "tökén"])
def test_unusable_payload_token_is_malformed(token: Any) -> None:
    headers, facts, error = handshake(wsgi_environ(), {"token": token})
    assert headers == []
    assert facts.credential_sent is True
    assert error is not None and error.code == "malformed"


def test_refusal_payload_is_code_message_status() -> None:
    error = MissingCredentialsError()
    decision = Decision(AnonymousUser(error=error), error, WebPolicy().render(error, False))
    refused = SessionGateConnectionRefused(decision)
    assert isinstance(refused, socketio.exceptions.ConnectionRefusedError)
    assert refused.error_args == {
        "message": error.message,
        "data": {"code": "missing_credentials", "message": error.message, "status": 401},
    }
    assert refused.error is error and refused.decision is decision
    assert repr(refused) == "SessionGateConnectionRefused(code='missing_credentials')"


def test_an_allowed_decision_refuses_nothing() -> None:
    with pytest.raises(ValueError, match="refused decision"):
        SessionGateConnectionRefused(Decision(AnonymousUser()))


def test_constructor_validates_its_options() -> None:
    gate = make_gate()
    with pytest.raises(ConfigurationError, match="gate must be"):
        SessionGateSocketIO(object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="session_key"):
        SessionGateSocketIO(gate, session_key="")
    with pytest.raises(ConfigurationError, match="unknown web option"):
        SessionGateSocketIO(gate, csrf_strict=True)  # type: ignore[call-arg]
    policy = WebPolicy(trusted_origins=[FRONT])
    auth = SessionGateSocketIO(gate, policy=policy, websocket_origin_check=False)
    assert auth.policy.trusted_origins == (FRONT,)
    assert auth.policy.websocket_origin_check is False
    assert SECRET not in repr(auth)


class FakeAsyncServer:
    """Just the session API of ``socketio.AsyncServer``."""

    def __init__(self, session: dict[str, Any]) -> None:
        self.session = session

    async def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        return self.session


class FakeServer:
    def __init__(self, session: dict[str, Any]) -> None:
        self.session = session

    def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        return self.session


def test_user_of_a_connection_without_one_is_anonymous() -> None:
    auth = SessionGateSocketIO(make_gate())
    user = asyncio.run(auth.user(FakeAsyncServer({}), "sid"))
    assert isinstance(user, AnonymousUser)
    assert isinstance(auth.user_sync(FakeServer({}), "sid"), AnonymousUser)
    assert auth.user_sync(FakeServer({"user": "kept"}), "sid") == "kept"


@pytest.mark.parametrize("hidden", ["socketio", "engineio"])
def test_missing_extra_is_one_pip_install_line(hidden: str) -> None:
    code = (
        f"import sys; sys.modules[{hidden!r}] = None\n"
        "try:\n    import sessiongate.socketio\n"
        "except ImportError as exc:\n    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == (
        f"MissingExtraError the python-socketio helper (sessiongate.socketio) needs "
        f"python-{hidden}, which is not installed: pip install 'sessiongate[socketio]'\n"
    )


def test_the_helper_needs_no_web_framework() -> None:
    code = (
        "import sys\n"
        "for name in ('starlette', 'fastapi', 'flask', 'litestar'):\n"
        "    sys.modules[name] = None\n"
        "import sessiongate.socketio\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout == "ok\n", done.stderr[-2000:]


def test_cookie_header_of_a_real_token_is_passed_verbatim() -> None:
    cookie = cookie_header(TOKEN)
    headers, _, _ = handshake(asgi_environ({"cookie": cookie}), None)
    assert headers == [(b"cookie", cookie.encode())]
