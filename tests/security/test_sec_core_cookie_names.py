"""Issue #9 item 7: never a 500 from a cookie name.

``authjs.session-token.x=1``, ``authjs.session-token.0=`` and ``authjs.session-token.01=abc``
made ``DatabaseSession`` raise ``IndexError`` (a chunk-looking name with no usable chunk), so
the gate, the middleware and the sidecar answered 500 to a request without any secret. The
random-input properties for the same gate live in ``test_properties.py``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sessiongate import AuthJSToken, SessionGate
from sessiongate.errors import SessionGateError
from sessiongate.sessions import BetterAuthSession, DatabaseSession
from sessiongate.stores.base import SessionRecord

from sg_security_helpers import asgi_request, make_asgi_app  # isort: skip

S = "cookie-names-secret-0123456789abcdef0123"
VALID = "valid-session-token-0001"


class MemoryStore:
    """A session store over a dict (the SessionStore protocol, no I/O)."""

    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        expires = datetime.now(UTC) + timedelta(days=1)
        self.records = {
            token: SessionRecord(token, user, expires, user={"name": user})
            for token, user in (tokens or {VALID: "u1"}).items()
        }

    async def load(self, token: str) -> SessionRecord | None:
        return self.records.get(token)

    async def aclose(self) -> None:
        return None


def full_gate(**options: Any) -> SessionGate:
    """Every cookie-reading authenticator of the core, in one gate."""
    store = MemoryStore({VALID: "u1", "B" * 32: "u2"})
    return SessionGate(
        AuthJSToken(S),
        DatabaseSession(store),
        BetterAuthSession(secret=S, store=store),
        **options,
    )


HOSTILE_NAMES = [
    "authjs.session-token.x=1",
    "authjs.session-token.0=",
    "authjs.session-token.01=abc",
    "__Secure-authjs.session-token.x=1",
    "__Secure-next-auth.session-token.0=",
    "next-auth.session-token.1=abc",
    "authjs.session-token.=abc",
    "authjs.session-token..0=abc",
    "authjs.session-token.-1=abc",
    "authjs.session-token.\u0661=abc",  # an Arabic-Indic digit: isdigit() but not a chunk index
    "better-auth.session_token.0=abc",
    "better-auth.session_data.0=",
]


@pytest.mark.parametrize("cookie", HOSTILE_NAMES)
def test_chunk_looking_cookie_names_never_500_from_the_database_session(cookie):
    gate = full_gate()
    with pytest.raises(SessionGateError) as info:
        asyncio.run(gate.authenticate({"cookie": cookie}))
    assert info.value.status_code == 401
    with pytest.raises(SessionGateError) as info:
        gate.authenticate_sync({"cookie": cookie})
    assert info.value.status_code == 401
    # the valid session next to the junk name still works
    assert gate.authenticate_sync(
        {"cookie": f"{cookie}; authjs.session-token={VALID}"}
    ).user.id == ("u1")


@pytest.mark.parametrize("cookie", HOSTILE_NAMES[:3])
def test_chunk_looking_cookie_names_never_500_through_middleware_and_sidecar(cookie):
    from sessiongate.sidecar import SidecarApp

    status, _, body = asgi_request(make_asgi_app(full_gate()), [(b"cookie", cookie.encode())])
    assert status == 401, body
    sidecar = SidecarApp(full_gate())
    status, _, body = asgi_request(sidecar, [(b"cookie", cookie.encode())], path="/verify")
    assert status == 401, body


def test_chunk_gap_in_a_database_session_cookie_is_malformed_not_500():
    gate = full_gate()
    with pytest.raises(SessionGateError) as info:
        gate.authenticate_sync({"cookie": "authjs.session-token.0=a; authjs.session-token.2=b"})
    assert info.value.code == "malformed"
