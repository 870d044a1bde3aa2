"""Django Ninja: SessionGateAuth / AsyncSessionGateAuth as ``auth=``, with and without
install_error_handlers."""

from __future__ import annotations

import asyncio

import pytest
from django.test import AsyncClient, Client
from sg_django_helpers import (
    EVIL,
    FRONT,
    build_expired_v5_cookie,
    build_hs256_bearer,
    build_outage_gate,
    build_v5_cookie,
)


@pytest.fixture
def client():
    return Client()


def call(client, path, method="get", **headers):
    return getattr(client, method)(path, headers=headers)


def test_cookie_and_bearer_authenticate(client):
    assert call(client, "/ninja/me", cookie=build_v5_cookie()).json()["id"] == "u1"
    response = call(client, "/ninja/me", authorization=build_hs256_bearer())
    assert response.json()["credential"] == "bearer"


def test_missing_credential_is_401_with_challenge(client):
    response = call(client, "/ninja/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == "missing_credentials"


def test_bad_credential_names_the_reason(client):
    response = call(client, "/ninja/me", cookie=build_expired_v5_cookie())
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json() == {"error": "expired", "message": "the session has expired"}


def test_roles_on_an_operation(client):
    assert call(client, "/ninja/editor", cookie=build_v5_cookie(role="admin")).status_code == 200
    response = call(client, "/ninja/editor", cookie=build_v5_cookie(role="user"))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"


def test_csrf_on_cookie_posts(client):
    assert (
        call(client, "/ninja/me", "post", cookie=build_v5_cookie(), origin=EVIL).status_code == 403
    )
    ok = call(client, "/ninja/me", "post", cookie=build_v5_cookie(), origin=FRONT)
    assert ok.json() == {"posted_by": "u1"}
    bearer = call(client, "/ninja/me", "post", authorization=build_hs256_bearer(), origin=EVIL)
    assert bearer.status_code == 200


def test_async_operation():
    client = AsyncClient()
    response = asyncio.run(client.get("/ninja/ame", headers={"cookie": build_v5_cookie()}))
    assert response.json()["id"] == "u1"
    assert asyncio.run(client.get("/ninja/ame")).status_code == 401


def test_outage_is_503(client, gate_settings):
    gate_settings(build_outage_gate())
    response = call(client, "/ninja/me", cookie="authjs.session-token=abc")
    assert response.status_code == 503
    assert response.json()["error"] == "provider_unavailable"


def test_without_install_ninjas_own_handler_keeps_the_status(client):
    response = call(client, "/plain-ninja/admin", cookie=build_v5_cookie(role="user"))
    assert response.status_code == 403
    assert response.json() == {"detail": "required role(s): admin"}
    assert call(client, "/plain-ninja/admin").status_code == 401


def test_openapi_documents_the_bearer_scheme(client):
    schema = client.get("/ninja/openapi.json").json()
    scheme = schema["components"]["securitySchemes"]["SessionGateAuth"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
