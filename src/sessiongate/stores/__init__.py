"""Database session stores: where Auth.js database sessions and Better Auth sessions live.

* :class:`PostgresStore` (asyncpg pool) and :class:`SQLiteStore` (stdlib, embedded default);
* :class:`SchemaMapping` and the presets for the tables the JS side creates;
* :class:`CachedStore` (TTL cache, negative cache, single-flight) in front of either;
* :class:`BackgroundLoop` so synchronous (WSGI) code uses the same async stores.
"""

from __future__ import annotations

from typing import Any

from .base import SessionRecord, SessionStore
from .bridge import BackgroundLoop, default_loop
from .cache import CachedStore
from .schema import PRESETS, SchemaMapping, quote_identifier, resolve_schema
from .sqlite import SQLiteStore

__all__ = [
    "PRESETS",
    "BackgroundLoop",
    "CachedStore",
    "PostgresStore",
    "SQLiteStore",
    "SchemaMapping",
    "SessionRecord",
    "SessionStore",
    "default_loop",
    "open_store",
    "quote_identifier",
    "resolve_schema",
]


def __getattr__(name: str) -> Any:
    # asyncpg is imported only when PostgreSQL is used
    if name == "PostgresStore":
        from .postgres import PostgresStore

        return PostgresStore
    raise AttributeError(name)


def open_store(url: str, *, schema: SchemaMapping | str, **options: Any) -> SessionStore:
    """A store for a database URL: ``postgresql://…``, ``sqlite:///path`` or a ``.db`` path."""
    if url.startswith(("postgres://", "postgresql://")):
        from .postgres import PostgresStore

        return PostgresStore(url, schema=schema, **options)
    if url.startswith("sqlite:///"):
        return SQLiteStore(url[len("sqlite:///") - 1 :], schema=schema, **options)
    if url.startswith("sqlite:"):
        from ..errors import ConfigurationError

        raise ConfigurationError("SQLite URLs look like sqlite:///relative/or//absolute/path")
    return SQLiteStore(url, schema=schema, **options)
