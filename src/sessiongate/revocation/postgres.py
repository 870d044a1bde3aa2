"""Revocation records in PostgreSQL: the ``sessiongate_revocation`` table.

Only ``sessiongate db install-notify --apply`` (or running the SQL it prints) creates the table
and its trigger; this module never creates anything. Each write is one ``INSERT … ON
CONFLICT`` that keeps the later ``revoked_before`` and ``expires_at``; the table's trigger
sends the ``NOTIFY`` every process's listener turns into a mirror update.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from .._extras import require
from ..errors import ConfigurationError, ProviderUnavailableError
from ..stores.notify_sql import REVOCATION_TABLE, qualified_table
from ..stores.schema import quote_identifier
from ..stores.urls import parse_postgres_url
from .rules import Revocation

__all__ = ["PostgresRevocations"]

logger = logging.getLogger("sessiongate")


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000.0, tz=UTC)


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


class PostgresRevocations:
    """The revocation table (a :class:`~.mirror.RevocationBackend`).

    Args:
        dsn: the database URL (Prisma's ``?schema=`` picks the schema of the table).
        db_schema: the PostgreSQL schema of the table (default: the URL's, else the search
            path).
        timeout: seconds for one load or write, connecting included.
        required: a missing table is an outage (503, the default); ``False``: it means no
            records (what start-up detection uses when the database could not be inspected).
    """

    def __init__(
        self,
        dsn: str,
        *,
        db_schema: str | None = None,
        timeout: float = 5.0,
        required: bool = True,
    ) -> None:
        url = parse_postgres_url(dsn)
        self._dsn = url.dsn
        self.db_schema = db_schema or url.db_schema
        if self.db_schema is not None:
            quote_identifier(self.db_schema)
        if not timeout > 0:
            raise ConfigurationError("timeout must be positive")
        self.timeout = float(timeout)
        self.required = required
        self.found_table: bool | None = None
        """Whether the last load found the table (``None``: not loaded yet)."""
        table = qualified_table(self.db_schema, REVOCATION_TABLE)
        self._select = (
            f"SELECT kind, subject, revoked_before, expires_at FROM {table} "  # noqa: S608
            "WHERE expires_at > now()"
        )
        self._upsert = (
            f"INSERT INTO {table} AS r (kind, subject, revoked_before, expires_at) "  # noqa: S608
            "VALUES ($1, $2, $3, $4) ON CONFLICT (kind, subject) DO UPDATE SET "
            "revoked_before = GREATEST(r.revoked_before, EXCLUDED.revoked_before), "
            "expires_at = GREATEST(r.expires_at, EXCLUDED.expires_at)"
        )
        self._delete = f"DELETE FROM {table} WHERE kind = $1 AND subject = $2"  # noqa: S608
        self._fetch = (
            f"SELECT kind, subject, revoked_before, expires_at FROM {table} "  # noqa: S608
            "WHERE kind = $1 AND subject = $2 AND expires_at > now()"
        )
        self._exists = "SELECT to_regclass($1) IS NOT NULL"  # the table, without touching it
        self.table = table

    def __repr__(self) -> str:
        return f"PostgresRevocations(table={self.table!r})"

    async def _run(self, fn: Any) -> Any:
        asyncpg = require("asyncpg", "postgres")

        try:
            async with asyncio.timeout(self.timeout):
                conn = await asyncpg.connect(self._dsn, timeout=self.timeout)
                try:
                    return await fn(conn)
                finally:
                    await conn.close()
        except ProviderUnavailableError:
            raise
        except asyncpg.exceptions.UndefinedTableError:
            raise ProviderUnavailableError(
                f"the revocation table {self.table} does not exist (run `sessiongate db "
                "install-notify --apply`)"
            ) from None
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            logger.debug("revocation store unavailable: %s", type(exc).__name__)
            raise ProviderUnavailableError(
                "the revocation store (PostgreSQL) is unreachable"
            ) from None

    async def installed(self) -> bool:
        """Whether the revocation table exists (what ``serve`` and ``from_env`` detect)."""

        async def query(conn: Any) -> bool:
            return bool(await conn.fetchval(self._exists, self.table))

        result: bool = await self._run(query)
        return result

    async def load(self) -> list[Revocation]:
        """Every record that has not expired."""

        async def query(conn: Any) -> list[Revocation]:
            if not self.required and not await conn.fetchval(self._exists, self.table):
                logger.warning("the revocation table %s does not exist: no records", self.table)
                self.found_table = False
                return []
            rows = await conn.fetch(self._select)
            self.found_table = True
            return [
                Revocation(row[0], row[1], _ms(row[3]) or 0, _ms(row[2]))
                for row in rows
                if row[0] in ("user", "jti")
            ]

        records: list[Revocation] = await self._run(query)
        return records

    async def fetch(self, kind: str, subject: str) -> Revocation | None:
        """The stored, unexpired record of one subject."""

        async def query(conn: Any) -> Revocation | None:
            if not self.required and not await conn.fetchval(self._exists, self.table):
                return None
            row = await conn.fetchrow(self._fetch, kind, subject)
            if row is None:
                return None
            return Revocation(row[0], row[1], _ms(row[3]) or 0, _ms(row[2]))

        record: Revocation | None = await self._run(query)
        return record

    async def write(self, record: Revocation) -> None:
        """Insert or merge ``record``; the trigger announces it."""

        async def query(conn: Any) -> None:
            await conn.execute(
                self._upsert,
                record.kind,
                record.subject,
                _dt(record.before_ms),
                _dt(record.expires_ms),
            )

        await self._run(query)

    async def remove(self, kind: str, subject: str) -> bool:
        """Delete a record (un-revoke); the trigger announces it."""

        async def query(conn: Any) -> bool:
            status = await conn.execute(self._delete, kind, subject)
            return bool(status.endswith(" 1"))

        removed: bool = await self._run(query)
        return removed

    async def aclose(self) -> None:
        """Nothing to release: each call opens and closes its own connection."""
        return None
