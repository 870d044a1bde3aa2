"""``sessiongate db inspect``: read a live database's catalog and print the mapping it needs.

``sessiongate db inspect --database-url URL`` connects (read-only), lists the tables and columns
it may see, and prints the schema preset that reads the session tables, or a ready-to-paste
:class:`~sessiongate.stores.schema.SchemaMapping` when no preset does (renamed tables, a column
a preset expects that is missing, another PostgreSQL schema). The decision is
:func:`~sessiongate.stores.catalog.match_catalog`'s (pure; its docstring says how it refuses to
guess); this module only collects the catalog and one sample value per candidate expiry column:
PostgreSQL (``information_schema`` and ``pg_constraint``), MySQL/MariaDB (``information_schema``
of the URL's database) and SQLite (``PRAGMA``).

The exit status is 0 when exactly one mapping was found, 1 when none or several, 2 when the
database could not be read or the command was misused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any, TextIO
from urllib.parse import quote

from ..errors import ConfigurationError, ProviderUnavailableError
from .catalog import Catalog, Inspection, TableInfo, find_candidates, match_catalog
from .schema import quote_identifier
from .urls import MySQLURL, SQLiteURL, parse_database_url, parse_postgres_url

__all__ = ["add_inspect_command", "inspect_database", "run_inspect"]


def _sample_sql(table: TableInfo, column: str, *, qualify: bool, backticks: bool = False) -> str:
    name = quote_identifier(table.name)
    if qualify and table.schema is not None:
        name = quote_identifier(table.schema) + "." + name
    col = quote_identifier(column)
    # identifiers validated and quoted; nothing from outside is interpolated
    sql = f"SELECT {col} FROM {name} WHERE {col} IS NOT NULL LIMIT 1"  # noqa: S608
    # quote_identifier admits no quote character inside a name: every '"' is a delimiter
    return sql.replace('"', "`") if backticks else sql


def _valid_identifier(name: str) -> bool:
    try:
        quote_identifier(name)
    except ConfigurationError:
        return False
    return True


def _inspect_sqlite(target: SQLiteURL, session_table: str | None) -> Inspection:
    import sqlite3

    from .sqlite import _missing_file

    if not os.path.isfile(target.path):
        raise _missing_file(target)
    try:
        conn = sqlite3.connect(f"file:{quote(target.path)}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise ProviderUnavailableError(
            f"cannot open the SQLite file ({type(exc).__name__})"
        ) from None
    try:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        tables = []
        for name in names:
            if not _valid_identifier(name):
                continue  # a name no mapping could quote (spaces, dots...)
            quoted = quote_identifier(name)
            columns = {
                row[1]: str(row[2] or "").lower()
                for row in conn.execute(f"PRAGMA table_info({quoted})")
            }
            references = {
                row[3]: (None, row[2], row[4] or "id")
                for row in conn.execute(f"PRAGMA foreign_key_list({quoted})")
                if row[1] == 0  # the first (and for these tables only) column of the key
            }
            tables.append(TableInfo(None, name, columns, references))
        catalog = Catalog("sqlite", tuple(tables), searched=f"the SQLite file {target.path}")
        samples: dict[tuple[str | None, str], object] = {}
        for candidate in find_candidates(catalog)[0]:
            row = conn.execute(
                _sample_sql(candidate.session, candidate.expires, qualify=False)
            ).fetchone()
            samples[(None, candidate.session.name)] = None if row is None else row[0]
    except sqlite3.Error as exc:
        raise ProviderUnavailableError(
            f"cannot read the SQLite catalog ({type(exc).__name__})"
        ) from None
    finally:
        conn.close()
    return match_catalog(catalog, samples, session_table=session_table)


_PG_COLUMNS = """
SELECT c.table_schema, c.table_name, c.column_name, c.data_type
FROM information_schema.columns AS c
JOIN information_schema.tables AS t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE t.table_type IN ('BASE TABLE', 'VIEW')
  AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
  AND c.table_schema NOT LIKE 'pg\\_%'
  AND ($1::text IS NULL OR c.table_schema = $1)
ORDER BY c.table_schema, c.table_name, c.ordinal_position
"""
_PG_FOREIGN_KEYS = """
SELECT ns.nspname, cl.relname, att.attname, fns.nspname, fcl.relname, fatt.attname
FROM pg_constraint AS con
JOIN pg_class AS cl ON cl.oid = con.conrelid
JOIN pg_namespace AS ns ON ns.oid = cl.relnamespace
JOIN pg_class AS fcl ON fcl.oid = con.confrelid
JOIN pg_namespace AS fns ON fns.oid = fcl.relnamespace
JOIN pg_attribute AS att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1]
JOIN pg_attribute AS fatt ON fatt.attrelid = con.confrelid AND fatt.attnum = con.confkey[1]
WHERE con.contype = 'f' AND cardinality(con.conkey) = 1
  AND ($1::text IS NULL OR ns.nspname = $1)
"""


def _tables_from_rows(
    columns: Iterable[Sequence[Any]], foreign_keys: Iterable[Sequence[Any]]
) -> tuple[TableInfo, ...]:
    found: dict[tuple[str | None, str], dict[str, str]] = {}
    for schema, table, column, data_type in columns:
        found.setdefault((schema, table), {})[column] = str(data_type).lower()
    references: dict[tuple[str | None, str], dict[str, tuple[str | None, str, str]]] = {}
    for schema, table, column, ref_schema, ref_table, ref_column in foreign_keys:
        references.setdefault((schema, table), {})[column] = (ref_schema, ref_table, ref_column)
    return tuple(
        TableInfo(schema, table, cols, references.get((schema, table), {}))
        for (schema, table), cols in found.items()
        if (schema is None or _valid_identifier(schema)) and _valid_identifier(table)
    )


async def _inspect_postgres(
    url: str, db_schema: str | None, session_table: str | None, timeout: float
) -> Inspection:
    import asyncpg  # type: ignore[import-untyped]

    target = parse_postgres_url(url)
    only = db_schema or target.db_schema
    try:
        conn = await asyncpg.connect(target.dsn, timeout=timeout)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise ProviderUnavailableError(
            f"cannot connect to the database ({type(exc).__name__}; check the URL and its "
            "credentials)"
        ) from None
    try:
        async with asyncio.timeout(timeout):
            current = await conn.fetchval("SELECT current_schema()")
            tables = _tables_from_rows(
                await conn.fetch(_PG_COLUMNS, only), await conn.fetch(_PG_FOREIGN_KEYS, only)
            )
            if only is not None:
                searched = f'schema "{only}"'
            else:
                schemas = sorted({t.schema for t in tables if t.schema is not None})
                listed = ", ".join(f'"{s}"' for s in schemas)
                searched = f"schemas {listed}" if schemas else "every schema this role can read"
            catalog = Catalog(
                "postgresql",
                tables,
                default_schema=current,
                url_schema=target.db_schema,
                searched=searched,
            )
            samples: dict[tuple[str | None, str], object] = {}
            for candidate in find_candidates(catalog)[0]:
                samples[(candidate.session.schema, candidate.session.name)] = await conn.fetchval(
                    _sample_sql(candidate.session, candidate.expires, qualify=True)
                )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise ProviderUnavailableError(
            f"cannot read the database catalog ({type(exc).__name__})"
        ) from None
    finally:
        await conn.close()
    return match_catalog(catalog, samples, session_table=session_table)


_MYSQL_COLUMNS = """
SELECT table_name, column_name, data_type FROM information_schema.columns
WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position
"""
_MYSQL_FOREIGN_KEYS = """
SELECT table_name, column_name, referenced_table_schema, referenced_table_name,
       referenced_column_name
FROM information_schema.key_column_usage
WHERE table_schema = DATABASE() AND referenced_table_name IS NOT NULL
"""


async def _inspect_mysql(target: MySQLURL, session_table: str | None, timeout: float) -> Inspection:
    import asyncmy

    from .mysql import _tls_context

    if not target.database:
        raise ConfigurationError("the MySQL URL names no database (mysql://…/DATABASE)")
    try:
        async with asyncio.timeout(timeout):
            conn = await asyncmy.connect(
                host=target.host,
                port=target.port,
                user=target.user,
                password=target.password,
                db=target.database,
                unix_socket=target.unix_socket,
                ssl=_tls_context(target),
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=timeout,
            )
    except (OSError, TimeoutError, asyncmy.errors.Error) as exc:
        raise ProviderUnavailableError(
            f"cannot connect to the database ({type(exc).__name__}; check the URL and its "
            "credentials)"
        ) from None
    try:
        async with asyncio.timeout(timeout), conn.cursor() as cursor:
            await cursor.execute(_MYSQL_COLUMNS)
            column_rows = [(None, *row) for row in await cursor.fetchall()]
            await cursor.execute(_MYSQL_FOREIGN_KEYS)
            key_rows = [
                (None, table, column, None if ref_db == target.database else ref_db, ref, ref_col)
                for table, column, ref_db, ref, ref_col in await cursor.fetchall()
            ]
            catalog = Catalog(
                "mysql",
                _tables_from_rows(column_rows, key_rows),
                searched=f'database "{target.database}"',
            )
            samples: dict[tuple[str | None, str], object] = {}
            for candidate in find_candidates(catalog)[0]:
                await cursor.execute(
                    _sample_sql(candidate.session, candidate.expires, qualify=False, backticks=True)
                )
                row = await cursor.fetchone()
                samples[(None, candidate.session.name)] = None if row is None else row[0]
    except (OSError, TimeoutError, asyncmy.errors.Error) as exc:
        raise ProviderUnavailableError(
            f"cannot read the database catalog ({type(exc).__name__})"
        ) from None
    finally:
        conn.close()
    return match_catalog(catalog, samples, session_table=session_table)


def inspect_database(
    url: str,
    *,
    db_schema: str | None = None,
    session_table: str | None = None,
    timeout: float = 10.0,
) -> Inspection:
    """Connect to the database at ``url`` (as the JS app writes it) and inspect it.

    Args:
        url: ``postgresql://…`` (Prisma's ``?schema=`` restricts the search to that schema),
            ``mysql://…/database`` (that database) or an SQLite file (``file:./dev.db``...).
        db_schema: search only this PostgreSQL schema (default: every schema the role reads).
        session_table: keep only session tables of this name (to pick one of several).
        timeout: seconds for connecting and reading the catalog.

    Raises:
        ConfigurationError: an unsupported URL, or a MySQL URL without a database.
        ProviderUnavailableError: the database could not be reached or read.
    """
    if db_schema is not None:
        quote_identifier(db_schema)
    target = parse_database_url(url)
    if isinstance(target, SQLiteURL):
        if db_schema is not None:
            raise ConfigurationError("--db-schema is for PostgreSQL; SQLite has one schema")
        return _inspect_sqlite(target, session_table)
    if isinstance(target, MySQLURL):
        if db_schema is not None:
            raise ConfigurationError(
                "--db-schema is for PostgreSQL; name the MySQL database in the URL"
            )
        return asyncio.run(_inspect_mysql(target, session_table, timeout))
    return asyncio.run(_inspect_postgres(url, db_schema, session_table, timeout))


def run_inspect(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    """``sessiongate db inspect``: print the report; return the exit status (0, 1 or 2)."""
    url = args.database_url or os.environ.get("DATABASE_URL")
    if not url:
        out.write("sessiongate db inspect: pass --database-url (or set DATABASE_URL)\n")
        return 2
    try:
        inspection = inspect_database(
            url, db_schema=args.db_schema, session_table=args.session_table
        )
    except (ConfigurationError, ProviderUnavailableError) as err:
        out.write(f"sessiongate db inspect: {err.message}\n")
        return 2
    out.write(
        json.dumps(inspection.as_json(), indent=2) + "\n" if args.json else inspection.render()
    )
    return inspection.exit_code


def add_inspect_command(db_commands: Any) -> None:
    """Register ``inspect`` on the ``sessiongate db`` sub-commands (an argparse subparsers)."""
    ins = db_commands.add_parser("inspect", help="find the session tables, print their mapping")
    ins.add_argument("--database-url", help="postgresql://, mysql:// or SQLite (DATABASE_URL)")
    ins.add_argument("--db-schema", help="search only this PostgreSQL schema")
    ins.add_argument("--session-table", help="keep only session tables of this name")
    ins.add_argument("--json", action="store_true", help="print the report as JSON")
    ins.set_defaults(handler=run_inspect)
