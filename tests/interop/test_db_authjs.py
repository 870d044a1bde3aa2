"""Auth.js database sessions written by the real @auth/pg-adapter, verified by sessiongate.

The adapter's own ``createUser``/``createSession`` write into a real PostgreSQL (its
``schema.sql``, and the Prisma-shaped tables behind views named like the adapter's tables);
sessiongate must find exactly those rows, and reject them once deleted or expired.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sessiongate.errors import ExpiredTokenError, SessionNotFoundError
from sessiongate.gate import SessionGate
from sessiongate.sessions import DatabaseSession
from sessiongate.stores import PRESETS
from sessiongate.stores.postgres import PostgresStore

from .db_driver import call, execute, temp_schema

pytestmark = [pytest.mark.node, pytest.mark.postgres]


@pytest.fixture
def schema(postgres_dsn, node_bin):
    with temp_schema(postgres_dsn) as name:
        yield name


def gate_for(
    dsn: str, preset: str, schema: str, **mapping_extra
) -> tuple[SessionGate, DatabaseSession]:
    mapping = replace(PRESETS[preset], db_schema=schema)
    if mapping_extra:
        mapping = mapping.with_extra(**mapping_extra)
    auth = DatabaseSession(PostgresStore(dsn, schema=mapping), cache_ttl=0, negative_cache_ttl=0)
    return SessionGate(auth), auth


def test_pg_adapter_rows_verify(postgres_dsn, node_bin, schema):
    p = {"dsn": postgres_dsn, "schema": schema}
    call(node_bin, "authjs.setup", shape="pg", **p)
    created = call(
        node_bin, "authjs.create", name="Ada", email="ada@example.com", image="https://i/a", **p
    )
    gate, auth = gate_for(postgres_dsn, "authjs-pg", schema)
    token = created["sessionToken"]

    async def main():
        try:
            for header in (
                {"cookie": f"authjs.session-token={token}"},
                {"cookie": f"__Secure-authjs.session-token={token}"},
                {"cookie": f"next-auth.session-token={token}"},
                {"authorization": f"Bearer {token}"},
            ):
                user = (await gate.authenticate(header)).user
                assert user.id == created["userId"]  # SERIAL id as a string
                assert user.email == "ada@example.com"
                assert user.image == "https://i/a"
                assert user.source == "database"
            expires = datetime.fromisoformat(created["expires"].replace("Z", "+00:00"))
            assert user.expires_at == expires.timestamp()
            # the adapter agrees on what it wrote
            found = call(node_bin, "authjs.getSessionAndUser", sessionToken=token, **p)
            assert found["userId"] == user.id

            # the JS side signs out: the adapter deletes the row
            call(node_bin, "authjs.deleteSession", sessionToken=token, **p)
            with pytest.raises(SessionNotFoundError):
                await gate.authenticate({"cookie": f"authjs.session-token={token}"})
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_pg_adapter_expired_session_rejected(postgres_dsn, node_bin, schema):
    p = {"dsn": postgres_dsn, "schema": schema}
    call(node_bin, "authjs.setup", shape="pg", **p)
    past = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    created = call(
        node_bin, "authjs.create", name="Old", email="old@example.com", expiresAt=past, **p
    )
    live = call(node_bin, "authjs.create", name="Live", email="live@example.com", **p)
    gate, auth = gate_for(postgres_dsn, "authjs-pg", schema)

    async def main():
        try:
            with pytest.raises(ExpiredTokenError):
                await gate.authenticate(
                    {"cookie": f"authjs.session-token={created['sessionToken']}"}
                )
            # updateSession (what core does on refresh) moving expiry into the past also ends it
            assert (
                await gate.authenticate({"cookie": f"authjs.session-token={live['sessionToken']}"})
            ).user
            call(
                node_bin,
                "authjs.updateSession",
                sessionToken=live["sessionToken"],
                expiresAt=past,
                **p,
            )
            with pytest.raises(ExpiredTokenError):
                await gate.authenticate({"cookie": f"authjs.session-token={live['sessionToken']}"})
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_prisma_shaped_tables_written_by_the_adapter(postgres_dsn, node_bin, schema):
    p = {"dsn": postgres_dsn, "schema": schema}
    call(node_bin, "authjs.setup", shape="prisma", **p)
    created = call(node_bin, "authjs.create", name="Ada", email="ada@example.com", **p)
    execute(
        postgres_dsn,
        f"UPDATE \"{schema}\".\"User\" SET role = 'admin' WHERE id = '{created['userId']}'",
    )
    gate, auth = gate_for(postgres_dsn, "authjs-prisma", schema, columns=["role"])
    token = created["sessionToken"]

    async def main():
        try:
            user = (await gate.authenticate({"cookie": f"authjs.session-token={token}"})).user
            assert user.id == created["userId"]
            assert user.role == "admin"
            # "expires" is a naive TIMESTAMP(3): read as UTC, to the millisecond the adapter sent
            expires = datetime.fromisoformat(created["expires"].replace("Z", "+00:00"))
            assert user.expires_at == expires.timestamp()
            assert abs(user.expires_at - (time.time() + 30 * 86400)) < 120
            call(node_bin, "authjs.deleteSession", sessionToken=token, **p)
            with pytest.raises(SessionNotFoundError):
                await gate.authenticate({"cookie": f"authjs.session-token={token}"})
        finally:
            await auth.aclose()

    asyncio.run(main())
