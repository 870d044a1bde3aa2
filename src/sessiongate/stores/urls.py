"""Database URLs as the JavaScript side writes them, parsed once at construction (pure).

One function per kind, and one dispatcher:

* :func:`parse_database_url` picks the kind from the scheme and refuses every scheme we cannot
  read (``mysql://``, ``mongodb://``, ``prisma://``...) with a :class:`ConfigurationError` that
  names the supported ones, so a wrong ``DATABASE_URL`` stops the process at start-up instead of
  answering 503 on every request.
* :func:`parse_sqlite_url` reads every spelling of an SQLite file:

  ==================================== =========================================================
  written as                           file opened (read-only)
  ==================================== =========================================================
  ``file:./dev.db``, ``file:dev.db``   ``<working directory>/dev.db`` (Prisma, Drizzle, libSQL)
  ``file:/abs/dev.db``                 ``/abs/dev.db``
  ``file:///abs/dev.db``               ``/abs/dev.db`` (RFC 8089, empty or ``localhost`` host)
  ``sqlite:///app.db``                 ``<working directory>/app.db`` (SQLAlchemy: three slashes)
  ``sqlite:////abs/app.db``            ``/abs/app.db`` (SQLAlchemy: four slashes)
  ``app.db``, ``./app.db``, ``/abs``   the path itself, relative to the working directory
  ==================================== =========================================================

  Relative paths are resolved against the **working directory of this process**, which is what
  Prisma 7 (``@prisma/adapter-better-sqlite3`` strips ``file:`` and hands the rest to
  better-sqlite3), Prisma 7's CLI (relative to ``prisma.config.ts``, normally the project
  root), Drizzle and libSQL do. Prisma 6 and older resolved a relative ``file:`` URL written in
  ``schema.prisma`` against the schema file's folder (``prisma/dev.db``); a Python process
  cannot know where that file was, so such a set-up must pass ``file:./prisma/dev.db`` or an
  absolute path (the missing-file error says so when ``prisma/<path>`` exists). Query
  parameters (Prisma's ``connection_limit``/``socket_timeout``, SQLite URI options such as
  ``mode``) are ignored and reported in :attr:`SQLiteURL.ignored`: the store always opens the
  file read-only with its own timeout. No percent-decoding is done, as in Prisma's adapters.

* :func:`parse_postgres_url` takes Prisma's parameters out of a ``postgresql://`` URL before
  asyncpg sees it (asyncpg would send every parameter it does not know to the server as a
  setting, and the server refuses ``schema`` on every connection):

  ========================= ===============================================================
  parameter                 what it becomes
  ========================= ===============================================================
  ``schema``                the PostgreSQL schema the session tables are read from
  ``connection_limit``      the pool's ``max_size``
  ``connect_timeout``       seconds to open one connection (``0``, Prisma's "no limit", is
                            ignored: the store's own default applies)
  ``pgbouncer=true``        ``statement_cache_size=0`` (no named prepared statements)
  ``statement_cache_size``  asyncpg's prepared-statement cache size
  ``pool_timeout``,         ignored (the store's per-lookup ``timeout`` bounds the wait for a
  ``socket_timeout``, …     connection and the query)
  ``sslaccept=strict``      ``sslmode=require``/``prefer`` becomes ``verify-full`` (stricter)
  ``ssl=true`` (pg)         ``sslmode=verify-full`` when no ``sslmode`` is given, as
                            node-postgres verifies the certificate
  ``sslidentity``           refused: a PKCS#12 client identity cannot be loaded by asyncpg
  ========================= ===============================================================

  Every other parameter (``sslmode``, ``sslrootcert``, ``host``, ``application_name``,
  ``options``...) is passed to asyncpg unchanged. Nothing here ever puts a password or a whole
  URL into a message: messages name schemes, parameter names and file paths only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..errors import ConfigurationError

__all__ = [
    "SUPPORTED_SCHEMES",
    "PostgresURL",
    "SQLiteURL",
    "parse_database_url",
    "parse_postgres_url",
    "parse_sqlite_url",
]

SUPPORTED_SCHEMES = (
    "postgresql://, postgres://, file: (SQLite, as Prisma and Drizzle write it), "
    "sqlite:///relative or sqlite:////absolute (SQLAlchemy style), or a path to an SQLite file"
)
"""What :func:`parse_database_url` accepts, for error messages and documentation."""

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_POSTGRES_SCHEMES = frozenset({"postgres", "postgresql"})
_HINTS: Mapping[str, str] = MappingProxyType(
    {
        "prisma": "a Prisma Accelerate URL points at a proxy; give the direct database URL "
        "(Prisma's DIRECT_URL)",
        "prisma+postgres": "a Prisma Postgres URL points at a proxy; give the direct "
        "postgres:// connection string",
        "libsql": "a remote libSQL/Turso database cannot be read; a local file: URL can",
    }
)

# Prisma's connection-string parameters that asyncpg does not understand (it would send them
# to the server as settings). Values are read below; these are only ignored.
_PRISMA_IGNORED = frozenset(
    {
        "pool_timeout",
        "socket_timeout",
        "max_connection_lifetime",
        "max_idle_connection_lifetime",
        "single_use_connections",
        "uselibpqcompat",  # node-postgres (pg-connection-string)
    }
)


def _scheme(url: str) -> str | None:
    """The URL scheme in lower case, or ``None`` for a plain path (``C:`` counts as a path)."""
    match = _SCHEME.match(url)
    if match is None or len(match.group(1)) < 2:
        return None
    return match.group(1).lower()


def _unsupported(scheme: str) -> ConfigurationError:
    hint = _HINTS.get(scheme)
    return ConfigurationError(
        f"unsupported database URL scheme {scheme + ':'!r}"
        + (f" ({hint})" if hint else "")
        + f"; supported: {SUPPORTED_SCHEMES}"
    )


# ---------------------------------------------------------------------------------- SQLite


@dataclass(frozen=True, slots=True)
class SQLiteURL:
    """An SQLite database file named by a URL or a path.

    Attributes:
        path: the absolute, normalised file path (not checked for existence here).
        written: the path as the URL wrote it (relative paths stay relative), for messages.
        relative: whether the URL named a relative path.
        ignored: names of the query parameters that were ignored.
    """

    path: str
    written: str
    relative: bool
    ignored: tuple[str, ...] = ()


def parse_sqlite_url(url: str, *, cwd: str | None = None) -> SQLiteURL:
    """Read an SQLite URL or path (see the module docstring); ``cwd`` defaults to ``os.getcwd()``.

    Raises :class:`ConfigurationError` for an in-memory database, an empty path, a remote host
    or a URL that is not an SQLite one.
    """
    if not isinstance(url, str):
        raise ConfigurationError("the SQLite database must be given as a str or os.PathLike")
    raw = url.strip()
    scheme = _scheme(raw)
    query = ""
    if scheme is None:
        written = raw
    elif scheme == "file":
        written, _, query = raw[len("file:") :].partition("?")
        written = written.partition("#")[0]
        if written.startswith("//"):  # file://host/path: only an empty host or localhost
            host, slash, rest = written[2:].partition("/")
            if host.lower() not in ("", "localhost"):
                raise ConfigurationError(
                    f"file: URLs name a local file; host {host!r} is not supported"
                )
            written = slash + rest
    elif scheme == "sqlite" or scheme.startswith("sqlite+"):
        rest = raw[len(scheme) + 1 :]
        if not rest.startswith("///"):
            raise ConfigurationError(
                "SQLite URLs look like sqlite:///relative/path.db (three slashes) or "
                "sqlite:////absolute/path.db (four slashes)"
            )
        written, _, query = rest[3:].partition("?")
    else:
        raise ConfigurationError(f"not an SQLite URL (scheme {scheme + ':'!r})")
    if written in ("", ":memory:") or "mode=memory" in query:
        raise ConfigurationError(
            "an in-memory SQLite database is private to one process: give the file the "
            "JavaScript app writes"
        )
    relative = not os.path.isabs(written)
    base = os.getcwd() if cwd is None else cwd
    path = os.path.normpath(os.path.join(base, written) if relative else written)
    ignored = tuple(sorted({name for name, _ in parse_qsl(query, keep_blank_values=True)}))
    return SQLiteURL(path=path, written=written, relative=relative, ignored=ignored)


# ------------------------------------------------------------------------------ PostgreSQL


@dataclass(frozen=True, slots=True)
class PostgresURL:
    """A ``postgresql://`` URL with Prisma's parameters taken out.

    Attributes:
        dsn: what asyncpg receives (never logged: it may hold a password).
        db_schema: the PostgreSQL schema from ``?schema=``, or ``None``.
        options: :class:`~sessiongate.stores.postgres.PostgresStore` keyword arguments the URL
            set (``max_size``, ``connect_timeout``, ``statement_cache_size``).
        ignored: names of the parameters that were ignored.
    """

    dsn: str = field(repr=False)
    db_schema: str | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    ignored: tuple[str, ...] = ()


def _int_param(name: str, value: str, minimum: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise ConfigurationError(
            f"database URL parameter {name!r} must be an integer >= {minimum}"
        ) from None
    return number


def _float_param(name: str, value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise ConfigurationError(
            f"database URL parameter {name!r} must be a number of seconds >= 0"
        ) from None
    return number


def parse_postgres_url(url: str) -> PostgresURL:
    """Split a ``postgres://``/``postgresql://`` URL into asyncpg's DSN and sessiongate options."""
    if not isinstance(url, str) or _scheme(url.strip()) not in _POSTGRES_SCHEMES:
        raise ConfigurationError("the database URL must start with postgresql:// or postgres://")
    parts = urlsplit(url.strip())
    kept: list[tuple[str, str]] = []
    options: dict[str, Any] = {}
    ignored: set[str] = set()
    db_schema: str | None = None
    sslaccept_strict = False
    node_ssl: bool | None = None
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        key = name.lower()
        if key == "schema":
            db_schema = value or None
        elif key == "connection_limit":
            options["max_size"] = _int_param(name, value, 1)
        elif key == "connect_timeout":
            seconds = _float_param(name, value)
            if seconds > 0:
                options["connect_timeout"] = seconds
            else:
                ignored.add(name)
        elif key == "pgbouncer":
            if value.strip().lower() in ("true", "1"):
                options["statement_cache_size"] = 0
        elif key == "statement_cache_size":
            options.setdefault("statement_cache_size", _int_param(name, value, 0))
        elif key == "sslaccept":
            if value.strip().lower() == "strict":
                sslaccept_strict = True
            else:
                ignored.add(name)
        elif key == "sslidentity":
            raise ConfigurationError(
                "database URL parameter 'sslidentity' (a PKCS#12 client identity) is not "
                "supported: use sslcert and sslkey (PEM files) instead"
            )
        elif key == "ssl":
            node_ssl = value.strip().lower() in ("true", "1")
        elif key in _PRISMA_IGNORED:
            ignored.add(name)
        else:
            kept.append((name, value))
    if node_ssl and not any(name == "sslmode" for name, _ in kept):
        kept.append(("sslmode", "verify-full"))
    if sslaccept_strict:
        kept = [
            (name, "verify-full" if name == "sslmode" and value in ("require", "prefer") else value)
            for name, value in kept
        ]
        if not any(name == "sslmode" for name, _ in kept):
            kept.append(("sslmode", "verify-full"))
    query = urlencode(kept, quote_via=quote, safe="")
    dsn = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return PostgresURL(
        dsn=dsn,
        db_schema=db_schema,
        options=MappingProxyType(options),
        ignored=tuple(sorted(ignored)),
    )


# -------------------------------------------------------------------------------- dispatch


def parse_database_url(url: str, *, cwd: str | None = None) -> SQLiteURL | PostgresURL:
    """Parse any supported database URL; refuse every other scheme (see the module docstring)."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"no database URL; supported: {SUPPORTED_SCHEMES}")
    scheme = _scheme(url.strip())
    if scheme in _POSTGRES_SCHEMES:
        return parse_postgres_url(url)
    if scheme is None or scheme == "file" or scheme == "sqlite" or scheme.startswith("sqlite+"):
        return parse_sqlite_url(url, cwd=cwd)
    raise _unsupported(scheme)
