"""Django is configured once for this folder (``sg_django_settings``), with a shared in-memory
database holding the auth tables; every test starts from the default ``SESSIONGATE``.

The folder has no ``__init__.py``: as a package named ``django`` it would shadow Django."""

from __future__ import annotations

import os

import pytest

# "django.conf", not "django": without Django installed, this folder itself would import as a
# namespace package named django
pytest.importorskip("django.conf", reason="the [django] extra is not installed")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sg_django_settings")

from django.conf import settings

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from sessiongate.django import reset_config  # noqa: E402

setup_test_environment()
connection.creation.create_test_db(verbosity=0)  # shared in-memory SQLite, migrated


@pytest.fixture(autouse=True)
def _fresh_config():
    """Each test reads settings.SESSIONGATE anew (override_settings also resets it)."""
    reset_config()
    yield
    reset_config()


@pytest.fixture
def settings_keys():
    """``settings_keys(drop=[...], django={...}, **keys)``: change ``settings.SESSIONGATE``
    (and other Django settings) for one test."""
    from django.test import override_settings

    active = []

    def apply(*, drop=(), django=None, **keys):
        current = {k: v for k, v in settings.SESSIONGATE.items() if k not in drop}
        override = override_settings(SESSIONGATE={**current, **keys}, **(django or {}))
        override.enable()
        active.append(override)

    yield apply
    for override in reversed(active):
        override.disable()


@pytest.fixture(scope="session")
def session_databases(tmp_path_factory):
    from sg_django_helpers import SessionDatabases

    return SessionDatabases(tmp_path_factory.mktemp("sessions"))


@pytest.fixture(scope="session")
def jwks_server():
    from sg_django_helpers import JWKSServer

    server = JWKSServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def full_gate(session_databases, jwks_server):
    from sg_django_helpers import build_full_gate

    return build_full_gate(session_databases, jwks_server.url)


@pytest.fixture
def gate_settings():
    """``gate_settings(gate, **keys)``: SESSIONGATE with a ready gate instead of the variables."""

    def apply(gate, **keys):
        policy = {
            k: v
            for k, v in settings.SESSIONGATE.items()
            if k in ("TRUSTED_ORIGINS", "ROLE_HIERARCHY")
        }
        from django.test import override_settings

        override = override_settings(SESSIONGATE={"GATE": gate, **policy, **keys})
        override.enable()
        applied.append(override)

    applied = []
    yield apply
    for override in reversed(applied):
        override.disable()


@pytest.fixture(scope="session")
def missing(request):
    """tests/conftest.py's ``missing(what)``: fail under CI, skip with a message elsewhere."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "conftest.py"
    for plugin in request.config.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", None) or "/").resolve() == root:
            return plugin.missing
    raise RuntimeError("tests/conftest.py is not loaded")
