"""Attacks on the Litestar integration, each test named after the attack it stops."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, Request, WebSocket, get, post, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from sg_litestar_helpers import EVIL, FRONT, build_cookie, build_token, make_gate

from sessiongate import AuthJSToken, SessionGate
from sessiongate.cookies import RequestCredentials
from sessiongate.errors import ConfigurationError
from sessiongate.litestar import SessionGatePlugin, require_permissions, require_role
from sessiongate.types import Verified

SIDE_EFFECTS: list[str] = []


@post("/transfer", guards=[require_permissions("money:move")])
async def transfer(request: Request[Any, Any, Any]) -> dict[str, str]:
    SIDE_EFFECTS.append(request.user.id)
    return {"moved_by": request.user.id}


@websocket("/picky")
async def picky(socket: WebSocket[Any, Any, Any]) -> None:
    # an application choosing a subprotocol the client never offered
    await socket.accept(subprotocols="graphql-ws")
    await socket.send_json({"seen": list(socket.scope.get("subprotocols") or ())})
    await socket.close()


@websocket("/query", guards=[require_role("user")])
async def query(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    await socket.send_json({"query": socket.scope["query_string"].decode()})
    await socket.close()


def app_with(gate: SessionGate | None = None, **options: Any) -> Litestar:
    plugin = SessionGatePlugin(gate or make_gate(), trusted_origins=[FRONT], **options)
    return Litestar(route_handlers=[transfer, picky, query], plugins=[plugin])


def test_cross_site_cookie_post_refused_before_the_handler_runs() -> None:
    SIDE_EFFECTS.clear()
    mover = build_cookie(permissions=["money:move"])
    with TestClient(app_with()) as client:
        for headers in ({"origin": EVIL}, {"referer": EVIL + "/page"}, {}):
            r = client.post("/transfer", headers={**mover, **headers})
            assert (r.status_code, r.json()["error"]) == (403, "csrf_failed")
        assert SIDE_EFFECTS == []
        assert client.post("/transfer", headers={**mover, "origin": FRONT}).status_code == 201
    assert SIDE_EFFECTS == ["u1"]


def test_forged_x_forwarded_host_does_not_make_a_foreign_origin_own() -> None:
    mover = build_cookie(permissions=["money:move"])
    forged = {
        **mover,
        "origin": EVIL,
        "x-forwarded-host": "evil.example",
        "x-forwarded-proto": "https",
    }
    with TestClient(app_with()) as client:
        r = client.post("/transfer", headers=forged)
        assert (r.status_code, r.json()["error"]) == (403, "csrf_failed")


def test_cross_site_websocket_hijacking_with_the_session_cookie_refused() -> None:
    with TestClient(app_with()) as client:
        for headers in ({**build_cookie(role="user"), "origin": EVIL}, build_cookie(role="user")):
            with (
                pytest.raises(WebSocketDisconnect) as refused,
                client.websocket_connect("/query", headers=headers),
            ):
                pass
            assert (refused.value.code, refused.value.detail) == (1008, "csrf_failed")


def test_websocket_token_offered_as_subprotocol_is_never_seen_nor_echoed() -> None:
    token = build_token()
    with (
        TestClient(app_with()) as client,
        client.websocket_connect(
            "/picky", subprotocols=["sessiongate.bearer", token, "chat"]
        ) as ws,
    ):
        assert ws.receive_json() == {"seen": ["sessiongate.bearer", "chat"]}
        assert ws.accepted_subprotocol == "sessiongate.bearer"


def test_websocket_token_in_the_url_refused_unless_allowed() -> None:
    token = build_token(role="user")
    with TestClient(app_with()) as client:
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(f"/query?access_token={token}&room=1"),
        ):
            pass
        assert (refused.value.code, refused.value.detail) == (1008, "missing_credentials")
    with (
        TestClient(app_with(allow_query_token=True)) as client,
        client.websocket_connect(f"/query?access_token={token}&room=1") as ws,
    ):
        assert ws.receive_json() == {"query": "room=1"}  # the token never reaches the app


class CountingAuthJS(AuthJSToken):
    calls = 0

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        type(self).calls += 1
        return super().authenticate_sync(credentials, now)


def test_guards_reuse_the_middleware_verdict_instead_of_verifying_again() -> None:
    from sg_litestar_helpers import SECRET

    counting = CountingAuthJS(secret=SECRET)
    with TestClient(app_with(SessionGate(counting, memo_size=0))) as client:
        mover = build_cookie(permissions=["money:move"])
        assert client.post("/transfer", headers={**mover, "origin": FRONT}).status_code == 201
    assert CountingAuthJS.calls == 1


@get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


@get("/admin/health-report")
async def health_report(request: Request[Any, Any, Any]) -> dict[str, Any]:
    # no guard: the middleware's refusal of anonymous requests is this route's protection
    return {"report": "internal", "user": getattr(request.scope.get("user"), "id", None)}


def test_exclude_pattern_does_not_exempt_a_path_that_merely_contains_it() -> None:
    plugin = SessionGatePlugin(make_gate(), trusted_origins=[FRONT], exclude=["/health"])
    app = Litestar(route_handlers=[health, health_report], plugins=[plugin])
    with TestClient(app) as client:
        assert client.get("/health").json() == {"ok": True}  # excluded, as configured
        sneaked = client.get("/admin/health-report")
        assert sneaked.status_code == 401
        assert sneaked.json()["error"] == "missing_credentials"
        assert client.get("/admin/health-report", headers=build_cookie()).json() == {
            "report": "internal",
            "user": "u1",
        }


def test_misconfigured_plugin_fails_at_construction_not_at_the_first_route() -> None:
    with pytest.raises(ConfigurationError, match="allow_anonymous"):
        SessionGatePlugin(make_gate(), allow_anonymous="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="exclude"):
        SessionGatePlugin(make_gate(), exclude=[""])
