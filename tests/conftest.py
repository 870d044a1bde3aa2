"""Shared test fixtures.

External services (Node.js with the interop npm packages, PostgreSQL) are *required* under CI
(``CI=true``): a test that needs a missing service fails there. On a developer laptop that lacks
them the test is skipped with a message naming what is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from sg_harness import worker_environment

ROOT = Path(__file__).resolve().parent.parent
INTEROP_DIR = ROOT / "tests" / "interop"


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, point each worker at its own services (:func:`worker_environment`),
    so that a test which stops or restarts "its" server never disturbs another worker."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    for name, value in worker_environment(os.environ, worker).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


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
def mysql_url() -> str:
    """The throwaway MariaDB's URL (``mysql://…``, a password that needs percent-decoding)."""
    url = os.environ.get("SESSIONGATE_TEST_MYSQL_URL")
    if not url:
        missing("MariaDB (SESSIONGATE_TEST_MYSQL_URL; `bash scripts/test.sh` starts one)")
    return url


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
def redis_url() -> Iterator[str]:
    """The throwaway Redis/Valkey server (``scripts/redis.sh``).

    ``scripts/test.sh`` starts one and exports ``SESSIONGATE_TEST_REDIS_URL`` and
    ``SESSIONGATE_TEST_REDIS_CONTROL``; without them this fixture starts its own for the session
    (installing Debian's redis-server when root may), and stops it afterwards.
    """
    url = os.environ.get("SESSIONGATE_TEST_REDIS_URL")
    if url:
        yield url
        return
    script = ROOT / "scripts" / "redis.sh"
    if subprocess.run(["bash", str(script), "find-bin"], capture_output=True).returncode != 0:
        subprocess.run(["bash", str(script), "install"], capture_output=True, timeout=900)
    directory = tempfile.mkdtemp(prefix="sessiongate-redis.", dir="/tmp")
    started = subprocess.run(
        ["bash", str(script), "setup", directory], capture_output=True, text=True, timeout=120
    )
    if started.returncode != 0:
        subprocess.run(["bash", str(script), "teardown", directory], capture_output=True)
        missing(f"Redis (scripts/redis.sh setup failed: {started.stderr.strip()[-300:]})")
    control = os.path.join(directory, "control")
    url = subprocess.run([control, "url"], capture_output=True, text=True).stdout.strip()
    os.environ["SESSIONGATE_TEST_REDIS_URL"] = url
    os.environ["SESSIONGATE_TEST_REDIS_CONTROL"] = control
    try:
        yield url
    finally:
        os.environ.pop("SESSIONGATE_TEST_REDIS_URL", None)
        os.environ.pop("SESSIONGATE_TEST_REDIS_CONTROL", None)
        subprocess.run(["bash", str(script), "teardown", directory], capture_output=True)
