"""Database session stores: where Auth.js database sessions and Better Auth sessions live.

* :class:`PostgresStore` (asyncpg pool), :class:`MySQLStore` (asyncmy pool, MySQL and
  MariaDB) and :class:`SQLiteStore` (stdlib, embedded default);
* :class:`SchemaMapping` and the presets for the tables the JS side creates;
* :class:`CachedStore` (TTL cache, negative cache, single-flight) in front of either;
* :func:`touching`: opt-in extension of Auth.js sessions as ``session.updateAge`` does;
* :func:`open_store` and :func:`parse_database_url`: database URLs as the JS side writes them.

The stores are loaded on first use (``sqlite3``, ``asyncpg`` and ``asyncmy`` are imported only
then); the drivers come with the ``postgres`` and ``mysql`` extras
(``pip install 'sessiongate[postgres]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import SessionRecord, SessionStore, SyncSessionStore
from .cache import CachedStore
from .schema import PRESETS, SchemaMapping, quote_identifier, resolve_schema
from .touch import TouchingStore, touching
from .urls import SUPPORTED_SCHEMES, MySQLURL, SQLiteURL, parse_database_url

if TYPE_CHECKING:
    from .mysql import MySQLStore
    from .postgres import PostgresStore
    from .sqlite import SQLiteStore

__all__ = [
    "PRESETS",
    "SUPPORTED_SCHEMES",
    "CachedStore",
    "MySQLStore",
    "PostgresStore",
    "SQLiteStore",
    "SchemaMapping",
    "SessionRecord",
    "SessionStore",
    "SyncSessionStore",
    "TouchingStore",
    "open_store",
    "parse_database_url",
    "quote_identifier",
    "resolve_schema",
    "touching",
]


def __getattr__(name: str) -> Any:
    """The stores load lazily: ``sqlite3`` / ``asyncpg`` / ``asyncmy`` on first use."""
    if name == "SQLiteStore":
        from .sqlite import SQLiteStore

        return SQLiteStore
    if name == "PostgresStore":
        from .postgres import PostgresStore

        return PostgresStore
    if name == "MySQLStore":
        from .mysql import MySQLStore

        return MySQLStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(url: str, *, schema: SchemaMapping | str, **options: Any) -> SessionStore:
    """The store for a database URL exactly as the JavaScript app's ``DATABASE_URL`` has it.

    ``postgresql://…`` / ``postgres://…`` (Prisma's ``?schema=``, ``connection_limit``... are
    honoured or ignored with a log line) open a :class:`PostgresStore`; ``mysql://…`` /
    ``mariadb://…`` (Prisma's and mysql2's parameters) a :class:`MySQLStore`; ``file:./dev.db``,
    ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or a plain path open a read-only
    :class:`SQLiteStore` (relative to the working directory; the file must exist). Any other
    scheme (``mongodb://``, ``prisma://``...) raises :class:`ConfigurationError`
    naming the supported ones, here, at construction. See :mod:`sessiongate.stores.urls`.
    """
    target = parse_database_url(url)
    if isinstance(target, SQLiteURL):
        from .sqlite import SQLiteStore

        return SQLiteStore(url, schema=schema, **options)
    if isinstance(target, MySQLURL):
        from .mysql import MySQLStore

        return MySQLStore(url, schema=schema, **options)
    from .postgres import PostgresStore

    return PostgresStore(url, schema=schema, **options)
