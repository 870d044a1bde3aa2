"""Drive tests/interop/db/db_oracle.mjs (real @auth/pg-adapter and better-auth on PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DB_ORACLE = Path(__file__).resolve().parent / "db" / "db_oracle.mjs"


class DbOracleError(RuntimeError):
    pass


def call(node_bin: str, op: str, *, script: Path = DB_ORACLE, **params: Any) -> Any:
    """Run one op of ``script`` in a fresh Node process (JSON on stdin/stdout)."""
    proc = subprocess.run(
        [node_bin, str(script)],
        input=json.dumps({"op": op, **params}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin", "NODE_ENV": "test"},
    )
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise DbOracleError(f"{op}: no answer (exit {proc.returncode}): {proc.stderr[-2000:]}")
    answer = json.loads(lines[-1])
    if not answer["ok"]:
        raise DbOracleError(f"{op}: {answer['error']}")
    return answer["result"]


async def _execute(dsn: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def execute(dsn: str, sql: str) -> None:
    asyncio.run(_execute(dsn, sql))


@contextlib.contextmanager
def temp_schema(dsn: str) -> Iterator[str]:
    """A PostgreSQL schema that exists for one test only."""
    name = "sgi_" + uuid.uuid4().hex[:12]
    execute(dsn, f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        execute(dsn, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
