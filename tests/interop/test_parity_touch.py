"""The opt-in touch against the real Auth.js: same threshold, same new expiry, readable by the ORM.

PostgreSQL: two sessions created by the real ``@auth/pg-adapter`` with the same expiry; at each
instant the real ``@auth/core`` 0.41.3 ``Auth()`` serves ``/auth/session`` for the first (the
database strategy with ``maxAge``/``updateAge``: its own arithmetic and ``updateSession``),
sessiongate's :func:`~sessiongate.stores.touch.touching` store looks the second up. Both rows
must hold the same expiry afterwards, read back through the real adapter.

SQLite: sessions written by the real Prisma 7 client (ISO-8601 text and integer milliseconds)
and the real Drizzle adapter (milliseconds and seconds); after sessiongate extends one, the
real adapter's ``getSessionAndUser`` reads exactly the new expiry.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sessiongate.stores import PRESETS, SQLiteStore
from sessiongate.stores.postgres import PostgresStore
from sessiongate.stores.touch import touching

from .db_driver import temp_schema
from .parity_driver import call
from .test_db_prisma_drizzle_sqlite import call as orm_call
from .test_db_prisma_drizzle_sqlite import make_tables, prisma_client  # noqa: F401 - a fixture

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


class Clock:
    def __init__(self) -> None:
        self.ms = 0

    def __call__(self) -> float:
        return self.ms / 1000


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("max_age_days", "update_age_hours"), [(30, 24), (7, 1)]
)  # Auth.js's defaults; a shorter setting
def test_same_updates_as_auth_core_at_every_instant(
    postgres_dsn, node_bin, max_age_days, update_age_hours
):
    max_age_ms, update_age_ms = max_age_days * DAY_MS, update_age_hours * HOUR_MS
    with temp_schema(postgres_dsn) as schema:
        db = {"dsn": postgres_dsn, "schema": schema}
        call(node_bin, "authjs.setup", **db)
        t0 = int(time.time() * 1000)
        js, ours = call(node_bin, "authjs.create", expiresAt=[t0 + max_age_ms] * 2, **db)["tokens"]
        clock = Clock()
        store = touching(
            PostgresStore(f"{postgres_dsn}?schema={schema}", schema="authjs-pg"),
            max_age=max_age_ms / 1000,
            update_age=update_age_ms / 1000,
            clock=clock,
        )

        def expires(token: str) -> int:
            return call(node_bin, "authjs.expires", sessionToken=token, **db)["expires"]

        due = t0 + update_age_ms  # expires - maxAge + updateAge <= now
        instants = [
            t0 + update_age_ms // 2,  # too early: nobody writes
            due - 1,  # one millisecond before the threshold
            due,  # the threshold itself (<=): both extend
            due + 5_000,  # just extended: nothing to do
            due + update_age_ms + 7,  # due again
            t0 + 10 * max_age_ms,  # long expired: never extended (Auth.js deletes it)
        ]
        seen = []

        async def ours_at(ms: int) -> None:
            clock.ms = ms
            await store.load(ours)

        try:
            for now in instants:
                response = call(
                    node_bin,
                    "authjs.session",
                    now=now,
                    sessionToken=js,
                    maxAge=max_age_ms // 1000,
                    updateAge=update_age_ms // 1000,
                    **db,
                )
                asyncio.run(ours_at(now))
                js_after = call(node_bin, "authjs.expires", sessionToken=js, **db)
                ours_after = call(node_bin, "authjs.expires", sessionToken=ours, **db)
                if js_after is None:  # expired: Auth.js deleted its row; ours is left, unchanged
                    assert response["body"] is None
                    assert ours_after["expires"] == seen[-1]
                    continue
                assert response["status"] == 200
                assert response["body"]["user"]["name"] == "Ada"
                assert ours_after["expires"] == js_after["expires"], now - t0
                seen.append(ours_after["expires"])
        finally:
            asyncio.run(store.aclose())
        assert seen == [
            t0 + max_age_ms,
            t0 + max_age_ms,
            due + max_age_ms,
            due + max_age_ms,
            due + update_age_ms + 7 + max_age_ms,
        ]
        assert store.touches == 2
        assert expires(ours) == seen[-1]


def _touch_at(url: str, schema: Any, token: str, now_ms: int) -> Any:
    store = touching(SQLiteStore(url, schema=schema, read_only=False), clock=lambda: now_ms / 1000)

    async def main() -> Any:
        try:
            return await store.load(token)
        finally:
            await store.aclose()

    return asyncio.run(main())


def _check_sqlite(node_bin: str, params: dict[str, Any], schema: Any, precision_ms: int) -> None:
    t0 = int(time.time() * 1000)
    created = orm_call(node_bin, "create", email="ada@example.com", expiresAt=[t0], **params)
    token = created["sessions"][0]["sessionToken"]
    # the session was last extended 2 days ago: expires = now - 2 days + 30 days
    orm_call(node_bin, "updateSession", sessionToken=token, expiresAt=t0 + 28 * DAY_MS, **params)
    now = t0 + 5
    record = _touch_at(params["url"], schema, token, now)
    new_ms = now + 30 * DAY_MS
    assert abs(record.expires_at * 1000 - new_ms) < precision_ms
    found = orm_call(node_bin, "getSessionAndUser", sessionToken=token, **params)
    assert found["userId"] == created["userId"]
    assert abs(found["expires"] - new_ms) < precision_ms  # the ORM reads what we wrote
    assert found["expires"] == int(record.expires_at * 1000)


@pytest.mark.parametrize("timestamp_format", ["iso8601", "unixepoch-ms"])
def test_prisma_sqlite_reads_the_extended_session(
    node_bin,
    prisma_client,  # noqa: F811 - the imported fixture
    tmp_path: Path,
    monkeypatch,
    timestamp_format,
):
    monkeypatch.chdir(tmp_path)
    make_tables(tmp_path / "dev.db", "prisma-tables.sql")
    params = {
        "cwd": str(tmp_path),
        "url": "file:./dev.db",
        "orm": "prisma",
        "client": str(prisma_client),
        "adapter": "better-sqlite3",
        "timestampFormat": timestamp_format,
    }
    _check_sqlite(node_bin, params, "authjs-prisma", precision_ms=1)


@pytest.mark.parametrize(
    ("mode", "expires_format", "precision_ms"),
    [("timestamp_ms", "timestamp", 1), ("timestamp", "epoch_s", 1000)],
)
def test_drizzle_sqlite_reads_the_extended_session(
    node_bin, tmp_path: Path, monkeypatch, mode, expires_format, precision_ms
):
    monkeypatch.chdir(tmp_path)
    make_tables(tmp_path / "dev.db", "drizzle-tables.sql")
    params = {
        "cwd": str(tmp_path),
        "url": "file:./dev.db",
        "orm": "drizzle",
        "driver": "libsql",
        "mode": mode,
    }
    mapping = replace(PRESETS["authjs-drizzle"], expires_format=expires_format)
    _check_sqlite(node_bin, params, mapping, precision_ms)
