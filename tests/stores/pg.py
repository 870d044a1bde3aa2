"""PostgreSQL helpers for the store tests."""

from __future__ import annotations

import asyncio
import os
import subprocess


async def _execute(dsn: str, sql: str, *args: object) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


def execute(dsn: str, sql: str, *args: object) -> None:
    asyncio.run(_execute(dsn, sql, *args))


def pg_control(command: str) -> str:
    control = os.environ.get("SESSIONGATE_TEST_PG_CONTROL")
    assert control
    result = subprocess.run(
        [control, *command.split()], capture_output=True, text=True, timeout=120, check=False
    )
    if not command.startswith("status") and result.returncode != 0:
        raise RuntimeError(f"pg control {command} failed: {result.stderr.strip()}")
    return result.stdout.strip()
