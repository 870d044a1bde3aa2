"""The sidecar decides like the ASGI middleware: one policy, :func:`sessiongate.policy.decide`.

For a table of requests (methods, ``Origin`` / ``Referer``, a cookie, a Bearer token, bad or no
credentials, forwarded headers or the original host, role requirements, an outage) the same
request is sent

* to a Starlette app behind :class:`~sessiongate.asgi.SessionGateMiddleware`, on a route
  protected by :func:`~sessiongate.asgi.requires`, and
* to the sidecar as a proxy forwards it: nginx style (``GET /verify`` with
  ``X-Original-Method``, the original ``X-Forwarded-Host`` / ``-Proto``) or Envoy style (the
  original method and ``Host``),

both under the sidecar's :class:`~sessiongate.policy.WebPolicy`, and the verdicts must be equal:
status, error code, ``WWW-Authenticate``, ``Retry-After`` and the user.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.asgi import SessionGateMiddleware, requires
from sessiongate.cookies import RequestCredentials
from sessiongate.errors import ProviderUnavailableError
from sessiongate.sidecar import SidecarApp, sidecar_policy
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256
from sessiongate.types import Verified

S = "differential-sidecar-secret-0123456789ab"
JWT = "differential-sidecar-jwt-0123456789abcd"
HOST = "app.example.com"
APP = f"https://{HOST}"
TRUSTED = "https://admin.example.com"
USER = {"sub": "u1", "role": "admin"}

CREDENTIALS: dict[str, dict[str, str]] = {
    "cookie": {"cookie": cookie_header(mint_authjs_v5(USER, S))},
    "bearer": {"authorization": "Bearer " + mint_hs256(USER, JWT)},
    "expired-cookie": {"cookie": cookie_header(mint_authjs_v5(USER, S, now=1_000_000))},
    "bad-bearer": {
        "authorization": "Bearer " + mint_hs256(USER, "another-secret-0123456789abcdef")
    },
    "none": {},
}
METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "OPTIONS")
ORIGINS: dict[str, dict[str, str]] = {
    "no-origin": {},
    "own": {"origin": APP},
    "evil": {"origin": "https://evil.example"},
    "opaque": {"origin": "null"},
    "trusted": {"origin": TRUSTED},
    "referer-own": {"referer": APP + "/posts/new"},
    "referer-evil": {"referer": "https://evil.example/x"},
    "http-downgrade": {"origin": f"http://{HOST}"},
}
ROLES = ("", "admin", "editor", "admin|editor")
STYLES = ("nginx", "envoy")


class Down:
    """A session store that is down (503 for every request)."""

    name = "database"

    def authenticate_sync(self, credentials: RequestCredentials, now: float) -> Verified | None:
        raise ProviderUnavailableError("the session store is unreachable")


def protected(role: str) -> Any:
    @requires(role.split("|") if role else (), mode="any")
    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.user.id})

    return endpoint


def asgi_app(gate: SessionGate) -> SessionGateMiddleware:
    routes = [
        Route(f"/r/{role or 'any'}", protected(role), methods=list(METHODS)) for role in ROLES
    ]
    return SessionGateMiddleware(Starlette(routes=routes), gate=gate, policy=POLICY)


POLICY = sidecar_policy(trusted_origins=[TRUSTED])


def verdict(r: httpx.Response, user_id: str | None, method: str) -> tuple[Any, ...]:
    """What both must agree on (a HEAD answer has no body to read the error code from)."""
    error = None
    if r.status_code != 200 and method != "HEAD":
        error = r.json()["error"]
    return (
        r.status_code,
        error,
        r.headers.get("www-authenticate"),
        r.headers.get("retry-after"),
        user_id if r.status_code == 200 else None,
    )


async def both(
    gate: SessionGate, method: str, headers: dict[str, str], role: str, style: str
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    sidecar = SidecarApp(gate, trusted_origins=[TRUSTED], response_memo_size=0)
    direct = httpx.ASGITransport(app=asgi_app(gate))
    via_proxy = httpx.ASGITransport(app=sidecar)
    async with httpx.AsyncClient(transport=direct, base_url=APP) as client:
        r = await client.request(
            method,
            f"/r/{role or 'any'}",
            headers={**headers, "x-forwarded-host": HOST, "x-forwarded-proto": "https"}
            if style == "nginx"
            else headers,
        )
        user = r.json()["id"] if r.status_code == 200 and method != "HEAD" else "u1"
        asgi = verdict(r, user, method)
    require = {"x-require-role": role} if role else {}
    if style == "nginx":
        sent = {
            **headers,
            **require,
            "x-original-method": method,
            "x-forwarded-host": HOST,
            "x-forwarded-proto": "https",
        }
        base, own_method = "http://sidecar:8787", "GET"
    else:  # Envoy ext_authz: the check request keeps the original method and Host
        sent, base, own_method = {**headers, **require}, APP, method
    async with httpx.AsyncClient(transport=via_proxy, base_url=base) as client:
        r = await client.request(own_method, "/verify", headers=sent)
        side = verdict(r, r.headers.get("x-user-id"), method)
    return asgi, side


@pytest.mark.parametrize("credential", sorted(CREDENTIALS))
def test_the_sidecar_verdict_equals_the_asgi_middleware_verdict(credential: str) -> None:
    gate = SessionGate(AuthJSToken(S), BearerJWT(JWT))
    cases = list(itertools.product(METHODS, sorted(ORIGINS), ROLES, STYLES))

    async def run() -> list[tuple[Any, ...]]:
        differences = []
        for method, origin, role, style in cases:
            headers = {**CREDENTIALS[credential], **ORIGINS[origin]}
            asgi, side = await both(gate, method, headers, role, style)
            if asgi != side:
                differences.append((method, origin, role, style, asgi, side))
        return differences

    assert asyncio.run(run()) == []


def test_the_table_covers_every_kind_of_verdict() -> None:
    gate = SessionGate(AuthJSToken(S), BearerJWT(JWT))

    async def statuses() -> set[tuple[int, str | None]]:
        seen = set()
        for credential, method, origin, role in itertools.product(
            CREDENTIALS, ("GET", "POST"), ("own", "evil"), ("", "editor")
        ):
            headers = {**CREDENTIALS[credential], **ORIGINS[origin]}
            asgi, _ = await both(gate, method, headers, role, "nginx")
            seen.add((asgi[0], asgi[1]))
        return seen

    seen = asyncio.run(statuses())
    assert {
        (200, None),
        (401, "missing_credentials"),
        (401, "expired"),
        (401, "invalid_signature"),
        (403, "csrf_failed"),
        (403, "insufficient_scope"),
    } <= seen, seen


@pytest.mark.parametrize("style", STYLES)
def test_an_outage_is_the_same_503_on_both(style: str) -> None:
    gate = SessionGate(Down())
    asgi, side = asyncio.run(both(gate, "POST", CREDENTIALS["cookie"], "", style))
    assert asgi == side
    assert asgi[0] == 503 and asgi[3] == "5"


def test_an_unknown_method_is_checked_allowed_or_refused_as_the_policy_says() -> None:
    from sessiongate.errors import ConfigurationError
    from sessiongate.policy import UNKNOWN_METHOD, RequestFacts, WebPolicy, decide
    from sessiongate.types import AuthResult
    from sessiongate.user import User

    outcome = AuthResult(User(id="u1"), "cookie", "authjs")
    foreign = RequestFacts(
        method=UNKNOWN_METHOD, scheme="https", host=HOST, origin="https://evil.example"
    )
    own = foreign._replace(origin=APP)
    check, allow, refuse = (WebPolicy(unknown_method=m) for m in ("check", "allow", "refuse"))
    # "check" (every adapter's default): an unknown method is a write, the Origin decides
    assert decide(outcome, foreign, check).status == 403
    assert decide(outcome, own, check).allowed
    assert decide(outcome, foreign, allow).allowed  # the upstream checks
    refused = decide(outcome, own, refuse)  # even a same-origin request: the proxy must say
    assert refused.status == 403 and "X-Original-Method" in str(refused.error)
    assert decide(AuthResult(User(id="u1"), "bearer", "jws"), own, refuse).allowed
    assert decide(outcome, own._replace(method="GET"), refuse).allowed
    assert decide(outcome, foreign, WebPolicy(csrf=False, unknown_method="refuse")).allowed
    with pytest.raises(ConfigurationError):
        WebPolicy(unknown_method="maybe")  # type: ignore[arg-type]
