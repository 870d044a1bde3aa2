"""Shared test fixtures.

External services (Node.js with the interop npm packages, PostgreSQL) are *required* under CI
(``CI=true``): a test that needs a missing service fails there. On a developer laptop that lacks
them the test is skipped with a message naming what is missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
INTEROP_DIR = ROOT / "tests" / "interop"


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(what: str) -> NoReturn:
    """Fail under CI, skip elsewhere, saying what is missing."""
    message = f"missing test dependency: {what}"
    if running_in_ci():
        pytest.fail(message + " (CI=true: services are required)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def node_bin() -> str:
    node = shutil.which("node")
    if node is None:
        missing("Node.js (`node` on PATH)")
    if not (INTEROP_DIR / "node_modules").is_dir():
        missing("npm packages for interop tests (run `npm ci --prefix tests/interop`)")
    return node


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    dsn = os.environ.get("SESSIONGATE_TEST_DATABASE_URL")
    if not dsn:
        missing("PostgreSQL (SESSIONGATE_TEST_DATABASE_URL; `bash scripts/test.sh` starts one)")
    return dsn


@pytest.fixture(scope="session")
def nginx_bin() -> str:
    """The nginx binary (``scripts/test.sh`` installs Debian's nginx-light under CI)."""
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
    )
    if nginx is None:
        missing("nginx (Debian package nginx-light)")
    return nginx


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The throwaway Redis/Valkey server ``scripts/test.sh`` starts (``scripts/redis.sh``)."""
    url = os.environ.get("SESSIONGATE_TEST_REDIS_URL")
    if not url:
        missing("Redis (SESSIONGATE_TEST_REDIS_URL; `bash scripts/test.sh` starts redis-server)")
    return url
