"""The optional local user model mapping (read-only by default, create on explicit opt-in),
and the testing helper for Django's test clients."""

from __future__ import annotations

import asyncio

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client
from sg_django_helpers import SECRET, build_v5_cookie, claims

from sessiongate.testing import mint_authjs_v5, set_django_session_cookie


@pytest.fixture
def rows():
    created = []

    def make(**fields):
        row = User.objects.create(**fields)
        created.append(row)
        return row

    yield make
    User.objects.all().delete()


def local_of(client, cookie):
    return client.get("/dj/local", headers={"cookie": cookie}).json()["local"]


def test_no_mapping_means_no_local_user():
    assert local_of(Client(), build_v5_cookie()) is None


def test_read_only_lookup_by_email(settings_keys, rows):
    row = rows(username="ada", email="ada@example.com")
    settings_keys(LOCAL_USER={"FIELD": "email", "CLAIM": "email"})
    assert local_of(Client(), build_v5_cookie()) == [row.pk, "ada"]


def test_read_only_lookup_never_creates(settings_keys, rows):
    settings_keys(LOCAL_USER={"FIELD": "email", "CLAIM": "email"})
    assert local_of(Client(), build_v5_cookie()) is None
    assert User.objects.count() == 0


def test_create_on_first_sight_is_an_explicit_opt_in(settings_keys, rows):
    settings_keys(LOCAL_USER={"FIELD": "username", "CLAIM": "id", "CREATE": True})
    first = local_of(Client(), build_v5_cookie())
    assert first[1] == "u1"
    assert local_of(Client(), build_v5_cookie()) == first  # found, not created twice
    row = User.objects.get(username="u1")
    assert not row.has_usable_password()
    assert User.objects.count() == 1


def test_lookup_by_another_claim_in_an_async_view(settings_keys, rows):
    row = rows(username="tenant-7")
    settings_keys(LOCAL_USER={"FIELD": "username", "CLAIM": "tenant"})
    cookie = build_v5_cookie(tenant="tenant-7")
    response = asyncio.run(AsyncClient().get("/dj/alocal", headers={"cookie": cookie}))
    assert response.json()["local"] == [row.pk, "tenant-7"]


def test_anonymous_has_no_local_user(settings_keys):
    settings_keys(LOCAL_USER={"FIELD": "email", "CLAIM": "email"})
    assert Client().get("/dj/local").json()["local"] is None


@pytest.mark.parametrize(
    "mapping",
    [{"FIELD": "nope", "CLAIM": "email"}, {"FIELD": "email", "MODEL": "missing.Model"}],
)
def test_wrong_mapping_is_a_configuration_error(settings_keys, mapping):
    from sessiongate.django.conf import get_config
    from sessiongate.errors import ConfigurationError

    settings_keys(LOCAL_USER=mapping)
    with pytest.raises(ConfigurationError):
        get_config().local_user.model_class()


def test_testing_helper_sets_the_cookie_on_djangos_clients():
    client = Client()
    set_django_session_cookie(client, mint_authjs_v5(claims(sub="first"), SECRET))
    assert client.get("/dj/me").json()["id"] == "first"
    big = mint_authjs_v5(claims(sub="second", blob="y" * 6000), SECRET)
    set_django_session_cookie(client, big)
    assert "authjs.session-token" not in client.cookies  # the earlier cookie is replaced
    assert client.get("/dj/me").json()["id"] == "second"
    set_django_session_cookie(client, mint_authjs_v5(claims(sub="third"), SECRET))
    assert not [name for name in client.cookies if name.startswith("authjs.session-token.")]
    async_client = AsyncClient()
    set_django_session_cookie(async_client, mint_authjs_v5(claims(sub="async"), SECRET))
    assert asyncio.run(async_client.get("/dj/ame")).json()["id"] == "async"
