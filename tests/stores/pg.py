"""PostgreSQL helpers: a throwaway schema per test, so tests never collide."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest


async def _execute(dsn: str, sql: str, *args: object) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


def execute(dsn: str, sql: str, *args: object) -> None:
    asyncio.run(_execute(dsn, sql, *args))


@pytest.fixture
def pg_schema(postgres_dsn: str) -> Iterator[str]:
    name = "sg_" + uuid.uuid4().hex[:12]
    execute(postgres_dsn, f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        execute(postgres_dsn, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def pg_control(command: str) -> str:
    control = os.environ.get("SESSIONGATE_TEST_PG_CONTROL")
    assert control
    result = subprocess.run(
        [control, *command.split()], capture_output=True, text=True, timeout=120, check=False
    )
    if not command.startswith("status") and result.returncode != 0:
        raise RuntimeError(f"pg control {command} failed: {result.stderr.strip()}")
    return result.stdout.strip()
