"""Django REST framework: SessionGateAuthentication, the permission classes and the
drf-spectacular schemes, through DRF's APIClient."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from sg_django_helpers import (
    EVIL,
    FRONT,
    build_chunked_v5_cookie,
    build_expired_v5_cookie,
    build_hs256_bearer,
    build_jwks_bearer,
    build_outage_gate,
    build_tampered_v5_cookie,
    build_v4_cookie,
    build_v5_cookie,
)

from sessiongate.drf import HasPermission, HasRole


@pytest.fixture
def api():
    return APIClient()


def call(api, path, method="get", **headers):
    return getattr(api, method)(path, headers=headers, format="json")


@pytest.mark.parametrize(
    "credential",
    [
        {"cookie": build_v5_cookie()},
        {"cookie": build_v4_cookie()},
        {"cookie": build_chunked_v5_cookie()},
        {"authorization": build_hs256_bearer()},
    ],
    ids=["v5", "v4", "chunked", "hs256"],
)
def test_credentials_authenticate_next_to_is_authenticated(api, credential):
    response = call(api, "/api/me", **credential)
    assert response.status_code == 200
    assert response.json()["id"] == "u1"
    assert response.json()["auth"] == "authjs" or response.json()["auth"] == "jws"


def test_no_credential_is_401_with_challenge_not_403(api):
    response = call(api, "/api/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_allow_any_view_sees_anonymous(api):
    assert call(api, "/api/open").json() == {"anon": 1}


@pytest.mark.parametrize(
    ("credential", "code"),
    [
        ({"cookie": build_expired_v5_cookie()}, "expired"),
        ({"cookie": build_tampered_v5_cookie()}, "decryption_failed"),
        ({"authorization": "Bearer not-a-token"}, "malformed"),
    ],
)
def test_bad_credential_is_401_with_invalid_token(api, credential, code):
    response = call(api, "/api/open", **credential)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["error"] == code


def test_other_authorization_schemes_are_left_to_other_classes(api):
    assert call(api, "/api/open", authorization="Token abc").json() == {"anon": 1}


def test_csrf_cookie_post_from_foreign_origin_refused(api):
    response = call(api, "/api/me", "post", cookie=build_v5_cookie(), origin=EVIL)
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"


def test_csrf_cookie_post_without_origin_or_referer_refused(api):
    assert call(api, "/api/me", "post", cookie=build_v5_cookie()).status_code == 403


def test_csrf_cookie_post_from_trusted_origin_passes(api):
    response = call(api, "/api/me", "post", cookie=build_v5_cookie(), origin=FRONT)
    assert response.json() == {"posted_by": "u1"}


def test_csrf_bearer_post_is_exempt(api):
    response = call(api, "/api/me", "post", authorization=build_hs256_bearer(), origin=EVIL)
    assert response.status_code == 200


def test_has_role_with_hierarchy(api):
    assert call(api, "/api/editor", cookie=build_v5_cookie(role="admin")).status_code == 200
    refused = call(api, "/api/editor", cookie=build_v5_cookie(role="user"))
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "insufficient_scope",
        "message": "required role(s): editor",
    }
    assert call(api, "/api/editor").status_code == 401


def test_composed_permissions(api):
    assert call(api, "/api/either", cookie=build_v5_cookie(role="admin")).status_code == 200
    writer = build_v5_cookie(permissions=["posts:write"])
    assert call(api, "/api/either", cookie=writer).status_code == 200
    assert call(api, "/api/either", cookie=build_v5_cookie(role="user")).status_code == 403


def test_has_any_role(api):
    assert call(api, "/api/any-role", cookie=build_v5_cookie(role="auditor")).status_code == 200
    assert call(api, "/api/any-role", cookie=build_v5_cookie(role="nobody")).status_code == 403


def test_permission_instances_are_validated():
    with pytest.raises(TypeError):
        HasRole()
    with pytest.raises(TypeError):
        HasPermission()


def test_outage_is_503(api, gate_settings):
    gate_settings(build_outage_gate(), RETRY_AFTER=3)
    response = call(api, "/api/open", cookie="authjs.session-token=abc")
    assert response.status_code == 503
    assert response["Retry-After"] == "3"
    assert response.json()["error"] == "provider_unavailable"


def test_every_credential_type(api, gate_settings, full_gate, session_databases):
    gate_settings(full_gate)
    for credential, user_id in (
        ({"authorization": build_jwks_bearer()}, "u1"),
        ({"cookie": session_databases.authjs_cookie()}, "db-user"),
        ({"cookie": session_databases.better_auth_cookie()}, "ba-user"),
    ):
        response = call(api, "/api/me", **credential)
        assert response.status_code == 200, response.content
        assert response.json()["id"] == user_id


def test_one_verification_per_request_with_the_middleware(api, monkeypatch):
    from sessiongate.django.conf import get_config

    gate = get_config().gate
    calls = []
    real = gate.authenticate_sync
    monkeypatch.setattr(gate, "authenticate_sync", lambda h: calls.append(1) or real(h))
    assert call(api, "/api/me", cookie=build_v5_cookie()).status_code == 200
    assert calls == [1]


def test_spectacular_schema_lists_bearer_and_cookie(api):
    schema = call(api, "/api/schema?format=json", authorization=build_hs256_bearer()).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["SessionGateBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWE",
        "description": "A NextAuth/Auth.js session token or a bearer JWT.",
    }
    assert schemes["SessionGateCookie"]["in"] == "cookie"
    assert schemes["SessionGateCookie"]["name"] == "authjs.session-token"
    security = schema["paths"]["/api/me"]["get"]["security"]
    assert security == [{"SessionGateBearer": []}, {"SessionGateCookie": []}]
