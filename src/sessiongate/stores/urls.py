"""Database URLs as the JavaScript side writes them, parsed once at construction (pure).

One function per kind, and one dispatcher:

* :func:`parse_database_url` picks the kind from the scheme and refuses every scheme we cannot
  read (``mongodb://``, ``prisma://``, ``sqlserver://``...) with a :class:`ConfigurationError` that
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
  ``options``...) is passed to asyncpg unchanged.

* :func:`parse_mysql_url` reads ``mysql://user:pass@host:3306/db`` (also ``mariadb://`` and
  SQLAlchemy's ``mysql+<driver>://``) as Prisma and the Node drivers (mysql2 for Drizzle and
  Better Auth, the ``mariadb`` connector under ``@prisma/adapter-mariadb``) write it. User,
  password and database are percent-decoded (``decodeURIComponent``); the port defaults to
  3306. Parameters:

  =================================== ======================================================
  parameter                           what it becomes
  =================================== ======================================================
  ``connection_limit`` (Prisma),      the pool's ``max_size``
  ``connectionLimit`` (mysql2,
  mariadb)
  ``connect_timeout`` (Prisma, s),    seconds to open one connection (``0`` is ignored: the
  ``connectTimeout`` (mysql2, ms)     store's own default applies)
  ``socket`` (Prisma),                a Unix socket path instead of host and port
  ``socketPath`` (mysql2)
  ``sslaccept=strict`` (Prisma)       TLS, certificate and host name verified
  ``sslaccept=accept_invalid_certs``  TLS without certificate verification (logged)
  ``sslcert`` (Prisma)                the CA file that verifies the server (TLS, verified)
  ``ssl={"rejectUnauthorized":true}`` TLS, verified; ``false``: TLS without verification;
  (mysql2, JSON), ``ssl=true``        a profile name (``Amazon RDS``): TLS verified with the
  (mariadb)                           system's CAs
  ``ssl-mode``/``sslmode``            ``DISABLED``, ``PREFERRED``/``REQUIRED`` (TLS, not
  (MySQL client, PlanetScale)         verified), ``VERIFY_CA``, ``VERIFY_IDENTITY``
  ``sslidentity``, other ``ssl*``     refused: never a TLS setting silently dropped
  every other parameter               ignored and reported (``pool_timeout``, ``charset``,
  (``pool_timeout``, ``timezone``...) ``timezone``...: the store's per-lookup ``timeout``
                                      bounds the wait; it always reads utf8mb4, in UTC)
  =================================== ======================================================

Nothing here ever puts a password or a whole URL into a message: messages name schemes,
parameter names and file paths only.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from ..errors import ConfigurationError

__all__ = [
    "SUPPORTED_SCHEMES",
    "MySQLURL",
    "PostgresURL",
    "SQLiteURL",
    "parse_database_url",
    "parse_mysql_url",
    "parse_postgres_url",
    "parse_sqlite_url",
]

SUPPORTED_SCHEMES = (
    "postgresql://, postgres://, mysql://, mariadb://, "
    "file: (SQLite, as Prisma and Drizzle write it), "
    "sqlite:///relative or sqlite:////absolute (SQLAlchemy style), or a path to an SQLite file"
)
"""What :func:`parse_database_url` accepts, for error messages and documentation."""

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_POSTGRES_SCHEMES = frozenset({"postgres", "postgresql"})
_MYSQL_SCHEMES = frozenset({"mysql", "mariadb"})
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


# ----------------------------------------------------------------------------- MySQL/MariaDB

TLSMode = Literal["off", "unverified", "verify-ca", "verify-full"]
"""TLS towards MySQL: none, encrypted only, CA checked, CA and host name checked."""

_TLS_STRENGTH: Mapping[TLSMode, int] = MappingProxyType(
    {"off": 0, "unverified": 1, "verify-ca": 2, "verify-full": 3}
)
_SSL_MODES: Mapping[str, TLSMode] = MappingProxyType(
    {
        "disabled": "off",
        "preferred": "unverified",
        "required": "unverified",
        "verify_ca": "verify-ca",
        "verify_identity": "verify-full",
    }
)


@dataclass(frozen=True, slots=True)
class MySQLURL:
    """A ``mysql://`` URL as :class:`~sessiongate.stores.mysql.MySQLStore` needs it.

    Attributes:
        host / port / user / database: where to connect (percent-decoded).
        password: the password (never logged, not in ``repr``).
        unix_socket: a socket path (``socket=``/``socketPath=``) used instead of host and port.
        tls: see :data:`TLSMode`.
        ssl_ca: a CA file that verifies the server (Prisma's ``sslcert``).
        options: store keyword arguments the URL set (``max_size``, ``connect_timeout``).
        ignored: names of the parameters that were ignored.
    """

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str | None
    unix_socket: str | None = None
    tls: TLSMode = "off"
    ssl_ca: str | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    ignored: tuple[str, ...] = ()


def _stricter(current: TLSMode, wanted: TLSMode) -> TLSMode:
    return wanted if _TLS_STRENGTH[wanted] > _TLS_STRENGTH[current] else current


def _mysql2_ssl(value: str) -> TLSMode:
    """mysql2 JSON-parses every parameter: ``ssl={"rejectUnauthorized":false}``, ``true``, or a
    profile name such as ``Amazon RDS`` (verified here with the system's CAs)."""
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value
    if isinstance(parsed, dict):
        verify = parsed.get("rejectUnauthorized", True)
        return "verify-full" if verify is not False else "unverified"
    if parsed is False or parsed in ("", "false", "0"):
        return "off"
    return "verify-full"


def parse_mysql_url(url: str) -> MySQLURL:
    """Read a ``mysql://``/``mariadb://`` URL (see the module docstring)."""
    scheme = _scheme(url.strip()) if isinstance(url, str) else None
    base = (scheme or "").partition("+")[0]
    if base not in _MYSQL_SCHEMES:
        raise ConfigurationError("the database URL must start with mysql:// or mariadb://")
    parts = urlsplit(url.strip())
    try:
        port = parts.port or 3306
        host = parts.hostname or ""
    except ValueError:
        raise ConfigurationError("the MySQL URL has an invalid host or port") from None
    database = unquote(parts.path.lstrip("/")) or None
    if database is not None and "/" in database:
        raise ConfigurationError("the MySQL URL names the database as a single path segment")
    options: dict[str, Any] = {}
    ignored: set[str] = set()
    tls: TLSMode = "off"
    ssl_ca: str | None = None
    unix_socket: str | None = None
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        key = name.lower()
        if name in ("connection_limit", "connectionLimit"):
            options["max_size"] = _int_param(name, value, 1)
        elif name in ("connect_timeout", "connectTimeout"):
            seconds = _float_param(name, value)
            if name == "connectTimeout":
                seconds /= 1000.0  # mysql2 and the mariadb connector count milliseconds
            if seconds > 0:
                options["connect_timeout"] = seconds
            else:
                ignored.add(name)
        elif name in ("socket", "socketPath"):
            unix_socket = value or None
        elif key == "sslaccept":
            mode = value.strip().lower()
            if mode == "strict":
                tls = _stricter(tls, "verify-full")
            elif mode == "accept_invalid_certs":
                tls = _stricter(tls, "unverified")
            else:
                raise ConfigurationError(
                    "database URL parameter 'sslaccept' must be strict or accept_invalid_certs"
                )
        elif key == "sslcert":
            ssl_ca = value or None
            tls = _stricter(tls, "verify-full")
        elif key == "ssl":
            tls = _stricter(tls, _mysql2_ssl(value))
        elif key in ("ssl-mode", "sslmode", "ssl_mode"):
            mode_name = value.strip().lower()
            if mode_name not in _SSL_MODES:
                raise ConfigurationError(
                    f"database URL parameter {name!r} must be one of "
                    f"{', '.join(m.upper() for m in _SSL_MODES)}"
                )
            tls = _stricter(tls, _SSL_MODES[mode_name])
        elif key.startswith("ssl"):
            # sslidentity (PKCS#12), sslpassword, ssl-key...: never drop a TLS setting silently
            raise ConfigurationError(
                f"database URL parameter {name!r} is not supported for MySQL (supported: "
                "sslaccept, sslcert, ssl, ssl-mode); pass ssl= (an SSLContext) to the store"
            )
        else:
            # pool_timeout, socket_timeout, charset, timezone, dateStrings, idleTimeout...:
            # they tune the JS side's pool or type mapping; the store reads utf8mb4 in UTC
            ignored.add(name)
    if not host and unix_socket is None:
        raise ConfigurationError("the MySQL URL names no host (and no socket)")
    return MySQLURL(
        host=host or "localhost",
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=database,
        unix_socket=unix_socket,
        tls=tls,
        ssl_ca=ssl_ca,
        options=MappingProxyType(options),
        ignored=tuple(sorted(ignored)),
    )


# -------------------------------------------------------------------------------- dispatch


def parse_database_url(url: str, *, cwd: str | None = None) -> SQLiteURL | PostgresURL | MySQLURL:
    """Parse any supported database URL; refuse every other scheme (see the module docstring)."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"no database URL; supported: {SUPPORTED_SCHEMES}")
    scheme = _scheme(url.strip())
    if scheme in _POSTGRES_SCHEMES:
        return parse_postgres_url(url)
    if scheme is not None and scheme.partition("+")[0] in _MYSQL_SCHEMES:
        return parse_mysql_url(url)
    if scheme is None or scheme == "file" or scheme == "sqlite" or scheme.startswith("sqlite+"):
        return parse_sqlite_url(url, cwd=cwd)
    raise _unsupported(scheme)
