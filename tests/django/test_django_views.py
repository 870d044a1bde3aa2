"""The Django middleware, decorators, mixins, users and settings reader, through Django's
test client (sync and async views, every credential type)."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.test import AsyncClient, Client
from sg_django_helpers import (
    EVIL,
    FRONT,
    build_chunked_v5_cookie,
    build_expired_hs256_bearer,
    build_expired_v5_cookie,
    build_hs256_bearer,
    build_jwks_bearer,
    build_outage_gate,
    build_tampered_v5_cookie,
    build_v4_cookie,
    build_v5_cookie,
)

from sessiongate.django.conf import get_config
from sessiongate.errors import ConfigurationError


@pytest.fixture
def client():
    return Client()


def get(client, path, *, cookie=None, authorization=None, method="get", **headers):
    if cookie is not None:
        headers["cookie"] = cookie
    if authorization is not None:
        headers["authorization"] = authorization
    return getattr(client, method)(path, headers=headers)


def body(response):
    return json.loads(response.content)


# ------------------------------------------------------------------ the lazy request.user


@pytest.mark.parametrize(
    "cookie",
    [build_v5_cookie, build_v4_cookie, build_chunked_v5_cookie],
    ids=["v5", "v4", "chunked-v5"],
)
def test_session_cookie_becomes_request_user(client, cookie):
    data = body(get(client, "/dj/whoami", cookie=cookie(role="editor")))
    assert data == {
        "authenticated": True,
        "anonymous": False,
        "id": "u1",
        "username": "ada@example.com",
        "groups": ["editor", "user"],
        "credential": "cookie",
        "error": None,
    }


def test_hs256_bearer_becomes_request_user(client):
    data = body(get(client, "/dj/whoami", authorization=build_hs256_bearer()))
    assert data["id"] == "u1"
    assert data["credential"] == "bearer"


def test_anonymous_user_keeps_the_reason(client):
    assert body(get(client, "/dj/whoami")) == {
        "authenticated": False,
        "anonymous": True,
        "id": None,
        "username": "",
        "groups": [],
        "credential": None,
        "error": "missing_credentials",
    }
    assert body(get(client, "/dj/whoami", cookie=build_expired_v5_cookie()))["error"] == "expired"


def test_user_is_verified_only_when_touched(client, monkeypatch):
    gate = get_config().gate
    calls = []
    real = gate.authenticate_sync

    def counting(headers):
        calls.append(1)
        return real(headers)

    monkeypatch.setattr(gate, "authenticate_sync", counting)
    assert get(client, "/dj/untouched", cookie=build_v5_cookie()).status_code == 200
    assert calls == []
    assert get(client, "/dj/whoami", cookie=build_v5_cookie()).status_code == 200
    assert calls == [1]


def test_async_view_awaits_auser():
    response = asyncio.run(
        AsyncClient().get("/dj/awhoami", headers={"authorization": build_hs256_bearer()})
    )
    assert body(response)["id"] == "u1"


def test_async_middleware_chain_sets_the_lazy_user():
    response = asyncio.run(AsyncClient().get("/dj/whoami", headers={"cookie": build_v5_cookie()}))
    assert body(response)["id"] == "u1"


# ------------------------------------------------------------------ decorators


def test_login_required_401_with_challenge(client):
    response = get(client, "/dj/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response["Cache-Control"] == "no-store"
    assert body(response) == {
        "error": "missing_credentials",
        "message": "no session cookie or bearer token was sent",
    }


@pytest.mark.parametrize(
    ("credential", "code"),
    [
        ({"cookie": build_expired_v5_cookie()}, "expired"),
        ({"cookie": build_tampered_v5_cookie()}, "decryption_failed"),
        ({"authorization": build_expired_hs256_bearer()}, "expired"),
    ],
)
def test_login_required_names_the_bad_credential(client, credential, code):
    response = get(client, "/dj/me", **credential)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert body(response)["error"] == code


def test_login_required_async_view():
    client = AsyncClient()
    assert asyncio.run(client.get("/dj/ame")).status_code == 401
    response = asyncio.run(client.get("/dj/ame", headers={"cookie": build_v5_cookie()}))
    assert body(response)["id"] == "u1"


def test_role_required_uses_the_hierarchy(client):
    assert get(client, "/dj/editor", cookie=build_v5_cookie(role="user")).status_code == 403
    assert get(client, "/dj/editor", cookie=build_v5_cookie(role="admin")).status_code == 200
    response = get(client, "/dj/editor", cookie=build_v5_cookie(role="user"))
    assert body(response)["error"] == "insufficient_scope"
    assert response["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')


def test_role_required_any_on_async_view():
    client = AsyncClient()
    ok = asyncio.run(client.get("/dj/aadmin", headers={"cookie": build_v5_cookie(role="auditor")}))
    assert ok.status_code == 200
    no = asyncio.run(client.get("/dj/aadmin", headers={"cookie": build_v5_cookie(role="editor")}))
    assert no.status_code == 403


def test_permission_required(client):
    allowed = get(client, "/dj/write", cookie=build_v5_cookie(permissions=["posts:write"]))
    assert body(allowed) == {"written_by": "u1"}
    assert get(client, "/dj/write", cookie=build_v5_cookie()).status_code == 403


def test_raise_exception_gives_djangos_permission_denied(client):
    response = get(client, "/dj/write-or-denied", cookie=build_v5_cookie())
    assert response.status_code == 403
    assert b"insufficient_scope" not in response.content  # Django's handler403 rendered it
    assert get(client, "/dj/write-or-denied").status_code == 403


def test_sessiongate_error_raised_in_a_view_is_answered(client):
    response = get(client, "/dj/helper", cookie=build_v5_cookie(role="user"))
    assert response.status_code == 403
    assert body(response)["error"] == "insufficient_scope"
    assert get(client, "/dj/helper").status_code == 401


def test_user_permissions_api(client):
    data = body(get(client, "/dj/perms", cookie=build_v5_cookie(permissions=["posts:write"])))
    assert data == {"posts:write": True, "both": False, "module": True}


# ------------------------------------------------------------------ mixins


def test_login_required_mixin(client):
    assert get(client, "/dj/dashboard").status_code == 401
    assert body(get(client, "/dj/dashboard", cookie=build_v4_cookie()))["id"] == "u1"


def test_role_required_mixin_on_async_view():
    client = AsyncClient()
    assert asyncio.run(client.get("/dj/async-admin")).status_code == 401
    headers = {"authorization": build_hs256_bearer(role="editor")}
    assert asyncio.run(client.get("/dj/async-admin", headers=headers)).status_code == 403
    headers = {"authorization": build_hs256_bearer(role="admin")}
    assert body(asyncio.run(client.get("/dj/async-admin", headers=headers)))["id"] == "u1"


def test_permission_mixin_any_with_permission_denied(client):
    cookie = build_v5_cookie(permissions=["posts:publish"])
    assert get(client, "/dj/publisher", cookie=cookie).status_code == 200
    assert get(client, "/dj/publisher", cookie=build_v5_cookie()).status_code == 403


# ------------------------------------------------------------------ CSRF, Origin


def test_cookie_post_from_trusted_origin_passes(client):
    response = get(client, "/dj/dashboard", method="post", cookie=build_v5_cookie(), origin=FRONT)
    assert body(response) == {"posted_by": "u1"}


def test_cookie_post_from_same_origin_passes(client):
    response = get(
        client, "/dj/dashboard", method="post", cookie=build_v5_cookie(), origin="http://testserver"
    )
    assert response.status_code == 200


def test_cookie_post_from_foreign_origin_is_refused(client):
    response = get(client, "/dj/dashboard", method="post", cookie=build_v5_cookie(), origin=EVIL)
    assert response.status_code == 403
    assert body(response)["error"] == "csrf_failed"
    assert "WWW-Authenticate" not in response


def test_bearer_post_is_exempt_from_the_origin_check(client):
    response = get(
        client, "/dj/dashboard", method="post", authorization=build_hs256_bearer(), origin=EVIL
    )
    assert response.status_code == 200


def test_foreign_post_that_never_reads_the_user_is_not_refused(client):
    response = get(client, "/dj/untouched", method="post", cookie=build_v5_cookie(), origin=EVIL)
    assert response.status_code == 200


def test_trusted_origins_default_to_csrf_trusted_origins(client, settings_keys):
    settings_keys(
        drop=["TRUSTED_ORIGINS"], django={"CSRF_TRUSTED_ORIGINS": ["https://other.example"]}
    )
    assert get_config().policy.trusted_origins == ("https://other.example",)
    response = get(
        client,
        "/dj/dashboard",
        method="post",
        cookie=build_v5_cookie(),
        origin="https://other.example",
    )
    assert response.status_code == 200


# ------------------------------------------------------------------ outage


def test_outage_is_503_never_401(client, gate_settings):
    gate_settings(build_outage_gate(), RETRY_AFTER=7)
    for path in ("/dj/whoami", "/dj/me"):
        response = get(client, path, cookie="authjs.session-token=abc")
        assert response.status_code == 503
        assert response["Retry-After"] == "7"
        assert body(response)["error"] == "provider_unavailable"


def test_outage_without_blocking_reaches_the_view_anonymous(client, gate_settings):
    gate_settings(build_outage_gate(), BLOCK_ON_OUTAGE=False)
    data = body(get(client, "/dj/whoami", cookie="authjs.session-token=abc"))
    assert data["authenticated"] is False
    assert data["error"] == "provider_unavailable"
    assert get(client, "/dj/me", cookie="authjs.session-token=abc").status_code == 503


# ------------------------------------------------------------------ every credential type


def test_every_credential_type_through_one_gate(
    client, gate_settings, full_gate, session_databases
):
    gate_settings(full_gate)
    cases = {
        "v5": ({"cookie": build_v5_cookie()}, "u1", "authjs"),
        "v4": ({"cookie": build_v4_cookie()}, "u1", "authjs"),
        "chunked": ({"cookie": build_chunked_v5_cookie()}, "u1", "authjs"),
        "hs256": ({"authorization": build_hs256_bearer()}, "u1", "jws"),
        "jwks": ({"authorization": build_jwks_bearer()}, "u1", "jwks"),
        "database": ({"cookie": session_databases.authjs_cookie()}, "db-user", "database"),
        "better-auth": ({"cookie": session_databases.better_auth_cookie()}, "ba-user", "better"),
    }
    for name, (credential, user_id, _source) in cases.items():
        response = get(client, "/dj/me", **credential)
        assert response.status_code == 200, (name, response.content)
        assert body(response)["id"] == user_id, name


def test_database_sessions_in_async_views(gate_settings, full_gate, session_databases):
    gate_settings(full_gate)
    client = AsyncClient()
    for cookie, user_id in (
        (session_databases.authjs_cookie(), "db-user"),
        (session_databases.better_auth_cookie(), "ba-user"),
    ):
        response = asyncio.run(client.get("/dj/awhoami", headers={"cookie": cookie}))
        assert body(response)["id"] == user_id
        response = asyncio.run(client.get("/dj/ame", headers={"cookie": cookie}))
        assert body(response)["id"] == user_id


# ------------------------------------------------------------------ the settings reader


def test_settings_override_the_environment(monkeypatch, settings_keys):
    monkeypatch.setenv("AUTH_SECRET", "from-the-environment-0123456789abcdef")
    settings_keys()
    assert get_config().gate.authenticators[0].name.startswith("authjs")
    client = Client()
    assert get(client, "/dj/me", cookie=build_v5_cookie()).status_code == 200


def test_missing_keys_fall_back_to_the_environment(monkeypatch, settings_keys):
    monkeypatch.setenv("AUTH_SECRET", "env-secret-0123456789abcdef0123456789")
    settings_keys(drop=["AUTH_SECRET"])
    from sessiongate.testing import cookie_header, mint_authjs_v5

    cookie = cookie_header(mint_authjs_v5({"sub": "env"}, "env-secret-0123456789abcdef0123456789"))
    assert body(get(Client(), "/dj/me", cookie=cookie))["id"] == "env"


def test_none_masks_the_environment(monkeypatch, settings_keys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    settings_keys(DATABASE_URL=None)
    names = [a.name for a in get_config().gate.authenticators]
    assert not any("database" in name for name in names)


@pytest.mark.parametrize(
    "keys",
    [
        {"AUTH_SECRETS": "typo"},
        {"auth_secret": "lower"},
        {"AUTH_SECRET": 123},
        {"GATE_OPTIONS": "nope"},
        {"CSRF": "yes"},
        {"LOCAL_USER": {"FIELD": "email", "CREAT": True}},
        {"GATE": "sg_django_helpers.build_outage_gate"},
    ],
)
def test_wrong_settings_fail_with_a_configuration_error(settings_keys, keys):
    settings_keys(**keys)
    with pytest.raises(ConfigurationError):
        get_config()


def test_gate_by_dotted_path(settings_keys):
    from django.test import override_settings

    with override_settings(SESSIONGATE={"GATE": "sg_django_helpers.build_outage_gate"}):
        assert get_config().gate.authenticators[0].name == "outage"


def test_session_user_copies_and_delegates():
    import copy

    from sessiongate.django.users import SessionGateUser, as_django_user
    from sessiongate.user import AnonymousUser, User

    user = as_django_user(User(id="u9", email="x@example.com", roles=frozenset({"a"})))
    assert isinstance(user, SessionGateUser)
    assert user.email == "x@example.com"  # read from the verified user
    assert copy.copy(user) == user
    blank = SessionGateUser.__new__(SessionGateUser)  # as copy and pickle build one
    with pytest.raises(AttributeError):
        _ = blank.email  # an unset slot is an AttributeError, not an endless recursion
    assert str(user) == "x@example.com"
    with pytest.raises(AttributeError):
        user.no_such_attribute  # noqa: B018
    with pytest.raises(NotImplementedError):
        user.save()
    anonymous = as_django_user(AnonymousUser())
    assert anonymous.is_anonymous
    assert not anonymous.has_perm("x")
    assert str(anonymous) == "AnonymousUser"


def test_wrong_settings_fail_when_the_middleware_loads(settings_keys):
    from sessiongate.django import SessionGateMiddleware

    settings_keys(AUTH_SECRETS="typo")
    with pytest.raises(ConfigurationError):
        SessionGateMiddleware(lambda request: None)


def test_user_factory_types_without_is_authenticated_stay_authenticated(gate_settings):
    from sg_django_helpers import SECRET

    from sessiongate import AuthJSToken, SessionGate

    class Account:
        def __init__(self, claims):
            self.id = claims["sub"]

    gate = SessionGate(AuthJSToken(SECRET), user_factory=lambda claims, *_: Account(claims))
    gate_settings(gate)
    data = body(get(Client(), "/dj/whoami", cookie=build_v5_cookie()))
    assert (data["authenticated"], data["id"]) == (True, "u1")


def test_split_cookie_headers_under_asgi_are_joined_as_cookies():
    """HTTP/2 may split Cookie into several headers; Django's META joins them with ","."""
    from django.core.handlers.asgi import ASGIRequest

    from sessiongate.django.verdicts import get_verdict

    chunks = build_chunked_v5_cookie().split("; ")
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": [(b"host", b"testserver")] + [(b"cookie", c.encode()) for c in chunks],
    }
    request = ASGIRequest(scope, __import__("io").BytesIO(b""))
    # Django 5.x joins repeated headers in META with ","; newer releases may join cookies with
    # "; ". Either way the verdict must read every chunk.
    assert get_verdict(request).outcome.user.id == "u1"
