"""The sidecar's fast paths answer exactly as the full path would.

* A replayed 200 is confirmed by the gate's own re-check
  (:meth:`~sessiongate.gate.SessionGate.memo_check`), not by reading the credentials again: it
  stops as soon as that re-check fails (expired, revoked; also in
  ``tests/security/test_sec_sidecar_memo_revocation.py``), whether or not the gate's memo still
  holds the verdict.
* Refusals are rendered once per distinct error (:mod:`sessiongate.sidecar.refusals`): the
  same bytes as :func:`~sessiongate.responses.error_response`, and a bounded memo however many
  distinct messages clients provoke.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.errors import (
    AuthorizationError,
    ExpiredTokenError,
    MalformedTokenError,
    MissingCredentialsError,
    ProviderUnavailableError,
    SessionGateError,
)
from sessiongate.responses import error_response
from sessiongate.sidecar import SidecarApp
from sessiongate.sidecar.headers import raw_headers
from sessiongate.sidecar.refusals import MAX_BODY_BYTES, MAX_REFUSALS, RefusalMemo
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256
from sessiongate.types import AuthResult

S = "fastpath-secret-0123456789abcdef0123"
JWT_S = "fastpath-jwt-secret-0123456789abcdef"
T = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = T) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def session(sub: str = "u1", **kw: float) -> list[tuple[bytes, bytes]]:
    token = mint_authjs_v5({"sub": sub, "role": "admin"}, S, now=T, **kw)
    return [(b"cookie", cookie_header(token).encode())]


def authenticate(gate: SessionGate, headers: Sequence[tuple[bytes, bytes]]) -> AuthResult:
    return asyncio.run(gate.authenticate(headers))


def call(app: SidecarApp, headers: Sequence[tuple[bytes, bytes]]) -> tuple[int, list, bytes]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "scheme": "http", "path": "/verify"}
    scope |= {"query_string": b"", "headers": list(headers)}
    asyncio.run(app(scope, receive, send))
    start, body = sent
    return start["status"], list(start["headers"]), body["body"]


# ------------------------------------------------------------------------------ memo_check


def test_memo_check_confirms_only_the_result_the_gate_memoised():
    gate = SessionGate(AuthJSToken(S), BearerJWT(JWT_S), clock=Clock())
    headers = session()
    result = authenticate(gate, headers)
    still_valid = gate.memo_check(headers, result)
    assert still_valid is not None and still_valid(T)
    assert authenticate(gate, headers) is result  # what memo_check vouches for
    same_user = AuthResult(result.user, result.credential, result.authenticator)
    assert gate.memo_check(headers, same_user) is None  # an equal result is not the memoised one
    assert gate.memo_check(session("u2"), result) is None  # another request's headers
    assert gate.memo_check([], result) is None  # no credential: nothing memoised
    bearer = [(b"authorization", f"Bearer {mint_hs256({'sub': 'u1'}, JWT_S, now=T)}".encode())]
    assert gate.memo_check(bearer, authenticate(gate, bearer)) is not None


def test_memo_check_is_none_without_the_gates_memo():
    gate = SessionGate(AuthJSToken(S), clock=Clock(), memo_size=0)
    headers = session()
    assert gate.memo_check(headers, authenticate(gate, headers)) is None


def test_memo_check_turns_false_once_the_token_expires_and_the_gate_forgets_the_verdict():
    gate = SessionGate(AuthJSToken(S), clock=Clock())
    headers = session(max_age=100)  # exp = T + 100, Auth.js leeway 15 s
    result = authenticate(gate, headers)
    still_valid = gate.memo_check(headers, result)
    assert still_valid is not None
    assert still_valid(T + 110)  # inside the leeway: the gate would still answer from its memo
    assert not still_valid(T + 120)
    assert authenticate(gate, headers) is not result  # dropped, as a failed memo hit drops it


def test_memo_check_outlives_the_gate_memo_entry_but_not_its_recheck():
    clock = Clock()
    gate = SessionGate(AuthJSToken(S), clock=clock, memo_size=2)  # room for one v5 cookie
    first = session("u1", max_age=100)
    still_valid = gate.memo_check(first, authenticate(gate, first))
    assert still_valid is not None and still_valid(T)
    authenticate(gate, session("u2"))  # evicts u1's verdict from the gate's memo
    assert still_valid(T)  # a stateless verdict: nothing but its re-check can change it
    assert not still_valid(T + 120)


def test_sidecar_replays_after_the_gate_memo_evicted_the_verdict_until_it_expires():
    clock = Clock()
    app = SidecarApp(SessionGate(AuthJSToken(S), clock=clock, memo_size=2))
    one, two = session("u1", max_age=100), session("u2")
    assert [call(app, one)[0] for _ in range(2)] == [200, 200]
    assert call(app, two)[0] == 200  # evicts u1's verdict from the gate's memo
    status, headers, _ = call(app, one)
    assert status == 200 and (b"x-user-id", b"u1") in headers
    assert app.memo.hits == 2
    clock.now = T + 120
    status, _, body = call(app, one)
    assert status == 401 and b'"expired"' in body


def test_revoked_user_is_not_replayed_after_the_gate_memo_evicted_the_verdict():
    import time

    from sessiongate.revocation import Revocation, RevocationMirror, revocable
    from sg_revocation import MemoryBackend

    mirror = RevocationMirror(MemoryBackend(), max_stale=3600.0)
    asyncio.run(mirror.reload())
    issued = int(time.time()) - 60
    app = SidecarApp(SessionGate(revocable(AuthJSToken(S), mirror), memo_size=2))

    def cookie(sub: str) -> list[tuple[bytes, bytes]]:
        token = mint_authjs_v5({"sub": sub, "iat": issued}, S, now=issued)
        return [(b"cookie", cookie_header(token).encode())]

    one, two = cookie("u1"), cookie("u2")
    assert [call(app, one)[0] for _ in range(2)] == [200, 200]
    assert call(app, two)[0] == 200  # u1's verdict leaves the gate's memo, not the sidecar's
    assert app.memo.hits == 1
    now_ms = int(time.time() * 1000)
    mirror.apply(Revocation("user", "u1", now_ms + 86_400_000, before_ms=now_ms))
    status, headers, body = call(app, one)
    assert status == 401 and b'"revoked"' in body
    assert not any(name == b"x-user-id" for name, _ in headers)
    assert call(app, two)[0] == 200


def test_expired_token_is_refused_even_though_its_answer_was_memoised():
    clock = Clock()
    app = SidecarApp(SessionGate(AuthJSToken(S), clock=clock))
    headers = session(max_age=100)
    assert [call(app, headers)[0] for _ in range(3)] == [200, 200, 200]
    assert app.memo.hits == 2
    clock.now = T + 120
    status, _, body = call(app, headers)
    assert status == 401 and b'"expired"' in body


# ------------------------------------------------------------------------------ refusals

ERRORS: list[SessionGateError] = [
    MissingCredentialsError(),
    MalformedTokenError("the bearer token is of no format this server accepts"),
    ExpiredTokenError(),
    AuthorizationError("missing role(s): admin"),
    ProviderUnavailableError("the session store is unreachable"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: e.code)
@pytest.mark.parametrize("sent", [False, True])
@pytest.mark.parametrize(("realm", "retry_after"), [(None, None), ('api "x"', 7)])
def test_refusal_memo_answers_what_the_standard_renderer_answers(error, sent, realm, retry_after):
    def standard(err: SessionGateError, credential_sent: bool):
        return error_response(err, credential_sent, realm=realm, retry_after=retry_after)

    memo = RefusalMemo(standard)
    expected = standard(error, sent)
    first = memo(error, sent)
    assert first == expected
    again = memo(type(error)(error.message), sent)
    assert again is first  # rendered once
    headers = memo.asgi_headers(again)
    assert isinstance(headers, tuple)
    assert list(headers) == raw_headers(expected.headers, expected.body)
    other = error_response(error, sent)  # not one this memo rendered: converted, still right
    assert list(memo.asgi_headers(other)) == raw_headers(other.headers, other.body)


def test_refusals_of_one_code_with_other_messages_are_not_mixed_up():
    memo = RefusalMemo(error_response)
    a = memo(AuthorizationError("missing role(s): admin"), True)
    b = memo(AuthorizationError("missing role(s): billing"), True)
    assert b"admin" in a.body and b"billing" in b.body
    sent, not_sent = memo(ExpiredTokenError(), True), memo(ExpiredTokenError(), False)
    assert dict(sent.headers)["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert dict(not_sent.headers)["WWW-Authenticate"] == "Bearer"


def test_client_chosen_role_names_cannot_grow_the_refusal_memo():
    app = SidecarApp(SessionGate(AuthJSToken(S), clock=Clock()))
    memo = app.verify.refusals
    assert memo is not None
    headers = session()
    for i in range(MAX_REFUSALS + 50):
        status, _, body = call(app, [*headers, (b"x-require-role", f"role-{i}".encode())])
        assert status == 403 and f"role-{i}".encode() in body
    assert len(memo._answers) <= MAX_REFUSALS
    huge = "r" * (MAX_BODY_BYTES + 10)
    assert call(app, [*headers, (b"x-require-role", huge.encode())])[0] == 403
    assert all(len(r.body) <= MAX_BODY_BYTES for r, _ in memo._answers.values())


def test_sidecar_refusal_headers_are_the_standard_ones():
    app = SidecarApp(SessionGate(AuthJSToken(S), clock=Clock()), realm="api", retry_after=3)
    for _ in range(2):
        status, headers, body = call(app, [])
        expected = error_response(MissingCredentialsError(), False, realm="api")
        assert status == 401 and body == expected.body
        assert headers == raw_headers(expected.headers, expected.body)
