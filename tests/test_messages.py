"""What a new user reads when the set-up is wrong (issue #11 item 4): errors that name the
variable to set, never a raw ``TypeError``, and exit codes as documented."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sessiongate import AuthJSToken, SessionGate
from sessiongate.asgi import SessionGateMiddleware, requires
from sessiongate.cli import main
from sessiongate.errors import ConfigurationError
from sessiongate.testing import cookie_header, mint_authjs_v5

SECRET = "messages-secret-0123456789abcdef0123456789"


@pytest.mark.parametrize("secret", [None, "", []])
def test_authjs_token_without_a_secret_names_the_variables(secret: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AuthJSToken(secret=secret)
    assert "AUTH_SECRET" in caught.value.message
    assert "NEXTAUTH_SECRET" in caught.value.message


def test_from_env_with_nothing_set_names_variables_not_cli_flags() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SessionGate.from_env({})
    message = caught.value.message
    assert "AUTH_SECRET" in message and "DATABASE_URL" in message
    assert "--" not in message


def test_wrong_secret_says_no_configured_secret_decrypts_it() -> None:
    gate = SessionGate(AuthJSToken(SECRET))
    other = mint_authjs_v5({"sub": "u1"}, "another-secret-entirely-0123456789abcdef")
    with pytest.raises(Exception) as caught:
        gate.authenticate_sync({"cookie": cookie_header(other)})
    assert caught.value.code == "unknown_kid"  # type: ignore[attr-defined]
    assert caught.value.message == (  # type: ignore[attr-defined]
        "no configured secret decrypts it (wrong secret, or a token for another cookie name)"
    )


def _wrong_factory(claims: Any) -> Any:  # the factory is called with three arguments
    return claims


def test_user_factory_type_error_is_a_configuration_error_naming_the_factory() -> None:
    gate = SessionGate(AuthJSToken(SECRET), user_factory=_wrong_factory)  # type: ignore[arg-type]
    headers = {"cookie": cookie_header(mint_authjs_v5({"sub": "u1"}, SECRET))}
    with pytest.raises(ConfigurationError) as caught:
        gate.authenticate_sync(headers)
    assert "_wrong_factory" in caught.value.message
    assert "TypeError" in caught.value.message
    assert isinstance(caught.value.__cause__, TypeError)


def test_user_factory_type_error_is_a_500_configuration_error_response() -> None:
    gate = SessionGate(AuthJSToken(SECRET), user_factory=_wrong_factory)  # type: ignore[arg-type]

    @requires()
    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.user.id})

    app = Starlette(
        routes=[Route("/me", me)], middleware=[Middleware(SessionGateMiddleware, gate=gate)]
    )
    client = TestClient(app, raise_server_exceptions=True)
    client.cookies.set("authjs.session-token", mint_authjs_v5({"sub": "u1"}, SECRET))
    response = client.get("/me")
    assert response.status_code == 500
    assert response.json()["error"] == "configuration_error"


@pytest.mark.parametrize(
    "argv",
    [["--bogus"], ["decode"], ["decode", "--now", "soon", "x"], ["doctor"], []],
    ids=["unknown-flag", "missing-token", "bad-number", "doctor-missing-input", "no-command"],
)
def test_cli_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv, stdout=io.StringIO())
    assert caught.value.code == 2


def test_decode_without_any_secret_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AUTH_SECRET", "NEXTAUTH_SECRET"):
        monkeypatch.delenv(name, raising=False)
    out = io.StringIO()
    assert main(["decode", "a.b.c.d.e"], stdout=out) == 2
    assert json.loads(out.getvalue())["error"]["code"] == "configuration_error"
