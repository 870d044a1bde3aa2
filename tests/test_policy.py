"""decide(): the web layer's one policy, tested without any framework.

Each row of the tables below is one request: what the gate said (the outcome), the request
facts, the policy and the route's requirement, and the expected decision (status, error code,
headers, WebSocket close code).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from typing import Any

import pytest

from sessiongate import BearerJWT
from sessiongate.errors import (
    ConfigurationError,
    ExpiredTokenError,
    MissingCredentialsError,
    ProviderUnavailableError,
    SessionGateError,
)
from sessiongate.gate import SessionGate
from sessiongate.guards import AUTHENTICATED, Requirement, RoleHierarchy
from sessiongate.policy import (
    Decision,
    RequestFacts,
    Verdict,
    WebOptions,
    WebPolicy,
    build_policy,
    decide,
    refuse,
)
from sessiongate.responses import ErrorResponse
from sessiongate.types import AuthResult
from sessiongate.user import AnonymousUser, User

HOST = "api.example.com"
OWN = "https://api.example.com"
EVIL = "https://evil.example"
FRONT = "https://app.example.com"

ADA = User(id="ada", roles=frozenset({"admin"}), permissions=frozenset({"posts:read"}))
BOB = User(id="bob", roles=frozenset({"user"}))


def cookie(user: User = ADA) -> AuthResult:
    return AuthResult(user, "cookie", "authjs-v5")


def bearer(user: User = ADA) -> AuthResult:
    return AuthResult(user, "bearer", "jws")


def facts(**kw: Any) -> RequestFacts:
    base: dict[str, Any] = {"scheme": "https", "host": HOST, "credential_sent": True}
    base.update(kw)
    return RequestFacts(**base)


def post(**kw: Any) -> RequestFacts:
    return facts(method="POST", **kw)


def ws(**kw: Any) -> RequestFacts:
    return facts(scheme="wss", websocket=True, **kw)


DEFAULT = WebPolicy()
HIERARCHY = {"admin": ["moderator"], "moderator": ["user"]}


# ------------------------------------------------------------------------ the table
# (id, outcome, facts, policy, require, expected status, expected error code, close code)

CASES: list[tuple[str, Any, RequestFacts, WebPolicy, Any, int, str | None, int | None]] = [
    # pass-through layer (a middleware): anonymous requests continue, keeping the reason
    ("anonymous passes", MissingCredentialsError(), facts(), DEFAULT, None, 200, None, None),
    ("expired passes", ExpiredTokenError(), facts(), DEFAULT, None, 200, None, None),
    (
        "expired write passes",
        ExpiredTokenError(),
        post(origin=EVIL),
        DEFAULT,
        None,
        200,
        None,
        None,
    ),
    (
        "outage blocks",
        ProviderUnavailableError(),
        facts(),
        DEFAULT,
        None,
        503,
        "provider_unavailable",
        None,
    ),
    (
        "outage ws 1013",
        ProviderUnavailableError(),
        ws(),
        DEFAULT,
        None,
        503,
        "provider_unavailable",
        1013,
    ),
    (
        "outage lenient",
        ProviderUnavailableError(),
        facts(),
        WebPolicy(block_on_outage=False),
        None,
        200,
        None,
        None,
    ),
    # protected route: anonymous is refused with its reason
    (
        "missing 401",
        MissingCredentialsError(),
        facts(credential_sent=False),
        DEFAULT,
        AUTHENTICATED,
        401,
        "missing_credentials",
        None,
    ),
    ("expired 401", ExpiredTokenError(), facts(), DEFAULT, AUTHENTICATED, 401, "expired", None),
    ("expired ws 1008", ExpiredTokenError(), ws(), DEFAULT, AUTHENTICATED, 401, "expired", 1008),
    (
        "outage 503 even lenient",
        ProviderUnavailableError(),
        facts(),
        WebPolicy(block_on_outage=False),
        AUTHENTICATED,
        503,
        "provider_unavailable",
        None,
    ),
    (
        "empty requirement list still needs a user",
        MissingCredentialsError(),
        facts(),
        DEFAULT,
        [],
        401,
        "missing_credentials",
        None,
    ),
    # CSRF: cookie + unsafe method
    ("cookie GET foreign ok", cookie(), facts(origin=EVIL), DEFAULT, None, 200, None, None),
    ("cookie HEAD no origin ok", cookie(), facts(method="HEAD"), DEFAULT, None, 200, None, None),
    ("cookie POST same origin", cookie(), post(origin=OWN), DEFAULT, None, 200, None, None),
    (
        "cookie POST own origin default port",
        cookie(),
        post(origin=OWN + ":443"),
        DEFAULT,
        None,
        200,
        None,
        None,
    ),
    ("cookie POST foreign", cookie(), post(origin=EVIL), DEFAULT, None, 403, "csrf_failed", None),
    (
        "cookie POST http downgrade",
        cookie(),
        post(origin="http://api.example.com"),
        DEFAULT,
        None,
        403,
        "csrf_failed",
        None,
    ),
    ("cookie POST no origin no referer", cookie(), post(), DEFAULT, None, 403, "csrf_failed", None),
    (
        "cookie POST null origin",
        cookie(),
        post(origin="null"),
        DEFAULT,
        None,
        403,
        "csrf_failed",
        None,
    ),
    (
        "cookie POST same referer",
        cookie(),
        post(referer=OWN + "/form?x=1"),
        DEFAULT,
        None,
        200,
        None,
        None,
    ),
    (
        "cookie POST foreign referer",
        cookie(),
        post(referer=EVIL + "/"),
        DEFAULT,
        None,
        403,
        "csrf_failed",
        None,
    ),
    (
        "origin wins over referer",
        cookie(),
        post(origin=EVIL, referer=OWN + "/"),
        DEFAULT,
        None,
        403,
        "csrf_failed",
        None,
    ),
    (
        "cookie DELETE foreign",
        cookie(),
        facts(method="DELETE", origin=EVIL),
        DEFAULT,
        None,
        403,
        "csrf_failed",
        None,
    ),
    (
        "unusual method checked",
        cookie(),
        facts(method="PROPFIND", origin=EVIL),
        DEFAULT,
        None,
        403,
        "csrf_failed",
        None,
    ),
    (
        "lower-case post checked",
        cookie(),
        facts(method="post", origin=EVIL),
        DEFAULT,
        None,
        403,
        "csrf_failed",
        None,
    ),
    (
        "trusted origin",
        cookie(),
        post(origin=FRONT),
        WebPolicy(trusted_origins=[FRONT]),
        None,
        200,
        None,
        None,
    ),
    (
        "trusted wildcard",
        cookie(),
        post(origin="https://a.example.com"),
        WebPolicy(trusted_origins=["https://*.example.com"]),
        None,
        200,
        None,
        None,
    ),
    (
        "wildcard is not the apex",
        cookie(),
        post(origin="https://example.com"),
        WebPolicy(trusted_origins=["https://*.example.com"]),
        None,
        403,
        "csrf_failed",
        None,
    ),
    ("csrf off", cookie(), post(origin=EVIL), WebPolicy(csrf=False), None, 200, None, None),
    ("bearer exempt", bearer(), post(origin=EVIL), DEFAULT, None, 200, None, None),
    (
        "forwarded ignored by default",
        cookie(),
        post(
            origin="https://public.example",
            host="internal:8000",
            forwarded_host="public.example",
            forwarded_proto="https",
        ),
        DEFAULT,
        None,
        403,
        "csrf_failed",
        None,
    ),
    (
        "forwarded trusted",
        cookie(),
        post(
            origin="https://public.example",
            host="internal:8000",
            forwarded_host="public.example",
            forwarded_proto="https",
        ),
        WebPolicy(trust_forwarded=True),
        None,
        200,
        None,
        None,
    ),
    (
        "csrf before the role check",
        cookie(BOB),
        post(origin=EVIL),
        DEFAULT,
        Requirement(roles=("admin",)),
        403,
        "csrf_failed",
        None,
    ),
    # WebSocket Origin (cross-site WebSocket hijacking)
    ("ws cookie same origin", cookie(), ws(origin=OWN), DEFAULT, None, 200, None, None),
    ("ws cookie foreign", cookie(), ws(origin=EVIL), DEFAULT, None, 403, "csrf_failed", 1008),
    ("ws cookie no origin", cookie(), ws(), DEFAULT, None, 403, "csrf_failed", 1008),
    (
        "ws referer does not count",
        cookie(),
        ws(referer=OWN + "/"),
        DEFAULT,
        None,
        403,
        "csrf_failed",
        1008,
    ),
    (
        "ws check off",
        cookie(),
        ws(origin=EVIL),
        WebPolicy(websocket_origin_check=False),
        None,
        200,
        None,
        None,
    ),
    (
        "ws check off keeps csrf",
        cookie(),
        post(origin=EVIL),
        WebPolicy(websocket_origin_check=False),
        None,
        403,
        "csrf_failed",
        None,
    ),
    (
        "csrf off keeps ws check",
        cookie(),
        ws(origin=EVIL),
        WebPolicy(csrf=False),
        None,
        403,
        "csrf_failed",
        1008,
    ),
    ("ws bearer foreign ok", bearer(), ws(origin=EVIL), DEFAULT, AUTHENTICATED, 200, None, None),
    # a bearer token taken from the URL by an earlier layer
    (
        "query token refused by a policy without it",
        bearer(),
        ws(query_token=True),
        DEFAULT,
        AUTHENTICATED,
        401,
        "missing_credentials",
        1008,
    ),
    (
        "query token refused in pass-through too",
        bearer(),
        ws(query_token=True),
        DEFAULT,
        None,
        401,
        "missing_credentials",
        1008,
    ),
    (
        "query token allowed",
        bearer(),
        ws(query_token=True),
        WebPolicy(allow_query_token=True),
        AUTHENTICATED,
        200,
        None,
        None,
    ),
    (
        "query flag irrelevant to cookies",
        cookie(),
        ws(origin=OWN, query_token=True),
        DEFAULT,
        AUTHENTICATED,
        200,
        None,
        None,
    ),
    # requirements
    ("role held", bearer(), facts(), DEFAULT, Requirement(roles=("admin",)), 200, None, None),
    (
        "role missing",
        bearer(BOB),
        facts(),
        DEFAULT,
        Requirement(roles=("admin",)),
        403,
        "insufficient_scope",
        None,
    ),
    (
        "role missing ws",
        bearer(BOB),
        ws(),
        DEFAULT,
        Requirement(roles=("admin",)),
        403,
        "insufficient_scope",
        1008,
    ),
    (
        "role through policy hierarchy",
        bearer(),
        facts(),
        WebPolicy(role_hierarchy=HIERARCHY),
        Requirement(roles=("user",)),
        200,
        None,
        None,
    ),
    (
        "no hierarchy, no implication",
        bearer(),
        facts(),
        DEFAULT,
        Requirement(roles=("user",)),
        403,
        "insufficient_scope",
        None,
    ),
    (
        "requirement hierarchy wins",
        bearer(),
        facts(),
        DEFAULT,
        Requirement(roles=("user",), hierarchy=RoleHierarchy(HIERARCHY)),
        200,
        None,
        None,
    ),
    (
        "any mode",
        bearer(BOB),
        facts(),
        DEFAULT,
        Requirement(roles=("admin", "user"), roles_mode="any"),
        200,
        None,
        None,
    ),
    (
        "permission",
        bearer(),
        facts(),
        DEFAULT,
        Requirement(permissions=("posts:read",)),
        200,
        None,
        None,
    ),
    (
        "permission missing",
        bearer(),
        facts(),
        DEFAULT,
        Requirement(permissions=("posts:write",)),
        403,
        "insufficient_scope",
        None,
    ),
    (
        "scopes mix roles and permissions",
        bearer(),
        facts(),
        WebPolicy(role_hierarchy=HIERARCHY),
        Requirement(scopes=("moderator", "posts:read")),
        200,
        None,
        None,
    ),
    (
        "scope missing",
        bearer(),
        facts(),
        DEFAULT,
        Requirement(scopes=("posts:write",)),
        403,
        "insufficient_scope",
        None,
    ),
    (
        "all requirements must hold",
        bearer(),
        facts(),
        DEFAULT,
        [Requirement(roles=("admin",)), Requirement(permissions=("posts:write",))],
        403,
        "insufficient_scope",
        None,
    ),
    (
        "every requirement held",
        bearer(),
        facts(),
        DEFAULT,
        (Requirement(roles=("admin",)), Requirement(permissions=("posts:read",))),
        200,
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("outcome", "request_facts", "policy", "require", "status", "code", "close"),
    [pytest.param(*row[1:], id=row[0]) for row in CASES],
)
def test_decide_table(outcome, request_facts, policy, require, status, code, close):
    decision = decide(outcome, request_facts, policy, require=require)
    assert decision.status == status
    assert decision.close_code == close
    if code is None:
        assert decision.allowed
        assert decision.error is None
        assert decision.response is None
        if isinstance(outcome, SessionGateError):
            assert decision.user == AnonymousUser(error=outcome)
            assert decision.credential is None
        else:
            assert decision.user is outcome.user
            assert decision.credential == outcome.credential
            assert decision.authenticator == outcome.authenticator
    else:
        assert not decision.allowed
        assert decision.error is not None
        assert decision.error.code == code
        assert decision.response is not None
        assert json.loads(decision.response.body)["error"] == code


# ------------------------------------------------------------------------ response headers
# (id, error, credential sent, policy, expected WWW-Authenticate or None, Retry-After or None)

HEADER_CASES: list[tuple[str, Any, RequestFacts, WebPolicy, Any, str | None, str | None]] = [
    (
        "bare challenge without credential",
        MissingCredentialsError(),
        facts(credential_sent=False),
        DEFAULT,
        AUTHENTICATED,
        "Bearer",
        None,
    ),
    (
        "realm",
        MissingCredentialsError(),
        facts(credential_sent=False),
        WebPolicy(realm="api"),
        AUTHENTICATED,
        'Bearer realm="api"',
        None,
    ),
    (
        "invalid_token with credential",
        ExpiredTokenError(),
        facts(),
        DEFAULT,
        AUTHENTICATED,
        'Bearer error="invalid_token", error_description="the session has expired"',
        None,
    ),
    (
        "insufficient_scope",
        bearer(BOB),
        facts(),
        DEFAULT,
        Requirement(roles=("admin",)),
        'Bearer error="insufficient_scope", error_description="required role(s): admin"',
        None,
    ),
    ("csrf has no challenge", cookie(), post(origin=EVIL), DEFAULT, None, None, None),
    (
        "retry-after on outage",
        ProviderUnavailableError(),
        facts(),
        WebPolicy(retry_after=7),
        None,
        None,
        "7",
    ),
    ("no retry-after unless set", ProviderUnavailableError(), facts(), DEFAULT, None, None, None),
]


@pytest.mark.parametrize(
    ("outcome", "request_facts", "policy", "require", "challenge", "retry"),
    [pytest.param(*row[1:], id=row[0]) for row in HEADER_CASES],
)
def test_decision_headers(outcome, request_facts, policy, require, challenge, retry):
    decision = decide(outcome, request_facts, policy, require=require)
    assert decision.response is not None
    headers = dict(decision.response.headers)
    assert headers.get("WWW-Authenticate") == challenge
    assert headers.get("Retry-After") == retry
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Type"] == "application/json"


def test_custom_renderer_renders_every_refusal():
    def teapot(error: SessionGateError, sent: bool) -> ErrorResponse:
        return ErrorResponse(418, f"{error.code}:{sent}".encode(), (("X-Why", error.code),))

    policy = WebPolicy(error_renderer=teapot)
    decision = decide(cookie(), post(origin=EVIL), policy)
    assert decision.response == ErrorResponse(418, b"csrf_failed:True", (("X-Why", "csrf_failed"),))
    assert decision.status == 418
    assert decide(cookie(), post(origin=OWN), policy).status == 200


def test_refused_user_is_kept_for_logging():
    assert decide(cookie(BOB), post(origin=EVIL), DEFAULT).user is BOB
    expired = ExpiredTokenError()
    assert decide(expired, facts(), DEFAULT, require=AUTHENTICATED).user == AnonymousUser(
        error=expired
    )


def test_refuse_renders_with_the_policy():
    decision = refuse(ExpiredTokenError(), ws(), WebPolicy(realm="r"))
    assert (decision.status, decision.close_code, decision.allowed) == (401, 1008, False)
    assert dict(decision.response.headers)["WWW-Authenticate"].startswith('Bearer realm="r"')


def test_custom_user_objects_are_judged_by_is_authenticated():
    class NotReally:
        is_authenticated = False
        roles = frozenset({"admin"})

    decision = decide(
        AuthResult(NotReally(), "bearer", "x"), facts(), DEFAULT, require=AUTHENTICATED
    )
    assert decision.error is not None
    assert decision.error.code == "missing_credentials"


# ------------------------------------------------------------------------ the policy object


def test_policy_normalises_once():
    policy = WebPolicy(
        trusted_origins=["https://App.Example.com:443", "https://*.example.org"],
        role_hierarchy=HIERARCHY,
    )
    assert policy.trusted_origins == ("https://app.example.com", "https://*.example.org")
    assert isinstance(policy.role_hierarchy, RoleHierarchy)
    assert policy.hierarchy is policy.role_hierarchy
    assert policy.hierarchy.expand(["admin"]) == {"admin", "moderator", "user"}
    assert WebPolicy(trusted_origins="https://a.example").trusted_origins == ("https://a.example",)


def test_equal_options_make_equal_hashable_policies():
    one = WebPolicy(trusted_origins=[FRONT], role_hierarchy=HIERARCHY)
    two = WebPolicy(trusted_origins=(FRONT + ":443",), role_hierarchy=RoleHierarchy(HIERARCHY))
    assert one == two
    assert hash(one) == hash(two)
    assert one != WebPolicy(trusted_origins=[FRONT], role_hierarchy=HIERARCHY, csrf=False)


@pytest.mark.parametrize(
    "options",
    [
        {"csrf": "false"},
        {"websocket_origin_check": 0},
        {"trust_forwarded": None},
        {"block_on_outage": "yes"},
        {"allow_query_token": 1},
        {"query_param": ""},
        {"retry_after": -1},
        {"retry_after": 1.5},
        {"retry_after": True},
        {"realm": 3},
        {"error_renderer": "not callable"},
        {"role_hierarchy": ["admin"]},
        {"role_hierarchy": {"admin": "user"}},
        {"trusted_origins": ["app.example.com"]},
        {"trusted_origins": ["https://app.example.com/path"]},
        {"trusted_origins": ["ftp://app.example.com"]},
    ],
)
def test_misconfiguration_fails_at_construction(options):
    with pytest.raises(ConfigurationError):
        WebPolicy(**options)


def test_policy_repr_and_fields_are_documented_options():
    fields = {f.name for f in dataclasses.fields(WebPolicy) if f.init}
    assert fields == set(WebOptions.__annotations__)
    shown = repr(WebPolicy())
    for derived in ("origins", "render", "hierarchy"):
        assert f", {derived}=" not in shown


def test_build_policy_from_options_or_policy():
    assert build_policy(None, {}) == WebPolicy()
    assert build_policy(None, {"csrf": False}) == WebPolicy(csrf=False)
    shared = WebPolicy(trusted_origins=[FRONT])
    assert build_policy(shared, {}) is shared
    merged = build_policy(shared, {"realm": "api"})
    assert merged == WebPolicy(trusted_origins=[FRONT], realm="api")
    with pytest.raises(ConfigurationError, match="unknown web option"):
        build_policy(None, {"crsf": False})
    with pytest.raises(ConfigurationError):
        build_policy({"csrf": False}, {})  # type: ignore[arg-type]


def test_verdict_user():
    gate = SessionGate(BearerJWT(secret="policy-test-secret-0123456789abcdef"))
    expired = ExpiredTokenError()
    assert Verdict(gate, expired, facts(), DEFAULT).user == AnonymousUser(error=expired)
    assert Verdict(gate, bearer(), facts(), DEFAULT).user is ADA


def test_decision_defaults():
    decision = Decision(ADA)
    assert (decision.allowed, decision.status, decision.close_code) == (True, 200, None)


def test_policy_module_imports_no_web_framework():
    code = (
        "import sys, sessiongate.policy; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'starlette', 'fastapi', 'flask', 'werkzeug', 'uvicorn', 'django'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
