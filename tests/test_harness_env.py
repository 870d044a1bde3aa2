"""Checks of the test-harness contract set up by ``scripts/test.sh``.

``scripts/test.sh`` starts a throwaway PostgreSQL and exports:

* ``SESSIONGATE_TEST_DATABASE_URL``: ``postgresql://postgres@127.0.0.1:PORT/sessiongate_test``
* ``SESSIONGATE_TEST_PG_CONTROL``: an executable taking ``start``,
  ``stop [fast|immediate|smart]``, ``restart [MODE]``, ``status`` (exit 0 and "running ..." /
  exit 3 and "stopped") and ``dsn``.

Under pytest-xdist it starts one server per worker and exports worker K's as ``NAME__GWK``;
``tests/conftest.py`` maps them onto ``NAME`` in that worker. Under ``CI=true`` a missing
service fails these tests instead of skipping them, and so does a run that collects no test.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import asyncpg
import pytest

from sg_harness import worker_environment

ROOT = Path(__file__).resolve().parent.parent
INTEROP_DIR = ROOT / "tests" / "interop"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing(what: str) -> NoReturn:
    if _in_ci():
        pytest.fail(
            f"missing test dependency: {what} (CI=true: services are required)", pytrace=False
        )
    pytest.skip(f"missing test dependency: {what}")


@pytest.fixture(scope="module")
def pg_control(postgres_dsn: str) -> str:
    control = os.environ.get("SESSIONGATE_TEST_PG_CONTROL")
    if not control:
        _missing("SESSIONGATE_TEST_PG_CONTROL (`bash scripts/test.sh` provides it)")
    return control


def _control(control: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [control, *args], capture_output=True, text=True, timeout=120, check=False
    )


async def _query(dsn: str, sql: str) -> object:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


@pytest.mark.postgres
def test_database_url_select_one(postgres_dsn: str) -> None:
    assert asyncio.run(_query(postgres_dsn, "SELECT 1")) == 1


@pytest.mark.postgres
def test_database_is_postgres_15_plus_on_loopback(postgres_dsn: str) -> None:
    parts = urlsplit(postgres_dsn)
    assert parts.scheme in {"postgresql", "postgres"}
    assert parts.hostname is not None
    assert ipaddress.ip_address(parts.hostname).is_loopback

    async def inspect() -> tuple[int, str, str]:
        conn = await asyncpg.connect(postgres_dsn, timeout=10)
        try:
            major = conn.get_server_version().major
            addr = await conn.fetchval("SELECT host(inet_server_addr())")
            db = await conn.fetchval("SELECT current_database()")
            return major, addr, db
        finally:
            await conn.close()

    major, addr, db = asyncio.run(inspect())
    assert major >= 15
    assert ipaddress.ip_address(addr).is_loopback
    assert db == "sessiongate_test"


@pytest.mark.postgres
def test_database_listens_on_loopback_only(postgres_dsn: str) -> None:
    listen = asyncio.run(_query(postgres_dsn, "SHOW listen_addresses"))
    assert isinstance(listen, str)
    for addr in listen.split(","):
        addr = addr.strip()
        assert addr == "localhost" or ipaddress.ip_address(addr).is_loopback, listen


@pytest.mark.postgres
def test_postgres_server_does_not_run_as_root(postgres_dsn: str) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("no /proc: cannot check which user runs PostgreSQL")

    async def backend_uid() -> int:
        conn = await asyncpg.connect(postgres_dsn, timeout=10)
        try:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            # Read while connected: the backend process exits with the connection.
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        finally:
            await conn.close()
        uid_line = next(line for line in lines if line.startswith("Uid:"))
        return int(uid_line.split()[1])

    assert asyncio.run(backend_uid()) != 0, "PostgreSQL must not run as root"


@pytest.mark.postgres
def test_pg_control_status_reports_running(pg_control: str) -> None:
    assert os.access(pg_control, os.X_OK), f"{pg_control} is not executable"
    result = _control(pg_control, "status")
    assert result.returncode == 0, result
    assert result.stdout.startswith("running"), result.stdout


@pytest.mark.postgres
def test_pg_control_dsn_matches_database_url(pg_control: str, postgres_dsn: str) -> None:
    result = _control(pg_control, "dsn")
    assert result.returncode == 0, result
    assert result.stdout.strip() == postgres_dsn


@pytest.mark.postgres
def test_pg_control_stop_and_start_same_server(pg_control: str, postgres_dsn: str) -> None:
    """The fault-injection contract: stop makes the DSN refuse connections, start brings the
    same server (same port, same data) back."""
    started_before = asyncio.run(_query(postgres_dsn, "SELECT pg_postmaster_start_time()"))
    try:
        stop = _control(pg_control, "stop")
        assert stop.returncode == 0, stop
        status = _control(pg_control, "status")
        assert status.returncode == 3, status
        assert status.stdout.strip() == "stopped"
        with pytest.raises((OSError, asyncpg.PostgresError, TimeoutError)):
            asyncio.run(_query(postgres_dsn, "SELECT 1"))
    finally:
        start = _control(pg_control, "start")
    assert start.returncode == 0, start
    assert _control(pg_control, "status").returncode == 0
    started_after = asyncio.run(_query(postgres_dsn, "SELECT pg_postmaster_start_time()"))
    assert started_after != started_before
    assert asyncio.run(_query(postgres_dsn, "SELECT current_database()")) == "sessiongate_test"

    restart = _control(pg_control, "restart", "immediate")
    assert restart.returncode == 0, restart
    assert asyncio.run(_query(postgres_dsn, "SELECT 1")) == 1


@pytest.mark.node
def test_interop_npm_packages_match_lockfile(request: pytest.FixtureRequest) -> None:
    if not (INTEROP_DIR / "package-lock.json").exists():
        pytest.skip("tests/interop/package-lock.json not committed yet")
    request.getfixturevalue("node_bin")
    npm = shutil.which("npm")
    if npm is None:
        _missing("npm")
    result = subprocess.run(
        [npm, "ls", "--depth=0"],
        cwd=INTEROP_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_worker_environment_gives_each_worker_its_own_instance() -> None:
    environ = {
        "SESSIONGATE_TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1:1000/x",
        "SESSIONGATE_TEST_DATABASE_URL__GW0": "postgresql://postgres@127.0.0.1:1000/x",
        "SESSIONGATE_TEST_DATABASE_URL__GW1": "postgresql://postgres@127.0.0.1:1001/x",
        "SESSIONGATE_TEST_PG_CONTROL": "/tmp/a/control",
        "SESSIONGATE_TEST_PG_CONTROL__GW0": "/tmp/a/control",
        "SESSIONGATE_TEST_PG_CONTROL__GW1": "/tmp/b/control",
        "SESSIONGATE_TEST_WORKERS": "2",
        "PATH": "/usr/bin",
    }
    assert worker_environment(environ, "gw1") == {
        "SESSIONGATE_TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1:1001/x",
        "SESSIONGATE_TEST_PG_CONTROL": "/tmp/b/control",
    }
    assert worker_environment(environ, "gw0") == {
        "SESSIONGATE_TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1:1000/x",
        "SESSIONGATE_TEST_PG_CONTROL": "/tmp/a/control",
    }


def test_worker_without_its_own_instance_gets_none_not_a_shared_one() -> None:
    environ = {
        "SESSIONGATE_TEST_PG_CONTROL": "/tmp/a/control",
        "SESSIONGATE_TEST_PG_CONTROL__GW0": "/tmp/a/control",
        "SESSIONGATE_TEST_PG_CONTROL__GW1": "/tmp/b/control",
    }
    assert worker_environment(environ, "gw2") == {"SESSIONGATE_TEST_PG_CONTROL": None}
    # A variable the developer set by hand, with no per-worker copies, is left alone.
    assert worker_environment({"SESSIONGATE_TEST_DATABASE_URL": "postgresql://h/db"}, "gw3") == {}


@pytest.mark.postgres
def test_each_xdist_worker_has_its_own_postgres(postgres_dsn: str, pg_control: str) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if worker is None or count < 2:
        pytest.skip("not running under pytest-xdist with several workers")
    prefix = "SESSIONGATE_TEST_DATABASE_URL__GW"
    dsns = {name: value for name, value in os.environ.items() if name.startswith(prefix)}
    assert len(dsns) == count, sorted(dsns)
    assert len(set(dsns.values())) == count, "two workers share a PostgreSQL"
    assert postgres_dsn == os.environ[prefix + worker.removeprefix("gw")]
    assert pg_control == os.environ["SESSIONGATE_TEST_PG_CONTROL__" + worker.upper()]
    assert _control(pg_control, "dsn").stdout.strip() == postgres_dsn


def test_test_command_fails_when_no_test_is_collected(tmp_path: Path) -> None:
    """pytest's exit code 5 (nothing collected) must fail ``scripts/test.sh``, hence CI."""
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("scripts/test.sh has not set up .venv in this checkout")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SESSIONGATE_", "PYTEST_", "CI", "VIRTUAL_ENV"))
    }
    env.update(
        SESSIONGATE_SKIP_LINT="1",
        SESSIONGATE_NO_PG="1",
        SESSIONGATE_TEST_WORKERS="1",
        TMPDIR=str(tmp_path),
    )
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "test.sh"), "-q", "-k", "no_test_has_this_name_zq9"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "collected no tests (exit 5)" in output, output[-3000:]
