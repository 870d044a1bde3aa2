"""Database URLs as the JavaScript side writes them (stores/urls.py), table-driven."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3

import pytest

from sessiongate.errors import ConfigurationError
from sessiongate.stores import PRESETS, SQLiteStore, open_store
from sessiongate.stores.postgres import PostgresStore
from sessiongate.stores.urls import (
    SUPPORTED_SCHEMES,
    PostgresURL,
    SQLiteURL,
    parse_database_url,
    parse_postgres_url,
    parse_sqlite_url,
)

CWD = "/srv/app"


@pytest.mark.parametrize(
    ("url", "path", "relative"),
    [
        # SQLAlchemy: three slashes relative, four absolute
        ("sqlite:///rel.db", "/srv/app/rel.db", True),
        ("sqlite:///data/app.db", "/srv/app/data/app.db", True),
        ("sqlite:////abs.db", "/abs.db", False),
        ("sqlite:////var/lib/app/app.db", "/var/lib/app/app.db", False),
        ("sqlite+pysqlite:///rel.db", "/srv/app/rel.db", True),
        ("sqlite+aiosqlite:////abs.db", "/abs.db", False),
        # Prisma / Drizzle / libSQL file: URLs
        ("file:./dev.db", "/srv/app/dev.db", True),
        ("file:dev.db", "/srv/app/dev.db", True),
        ("file:../shared/dev.db", "/srv/shared/dev.db", True),
        ("file:./prisma/dev.db", "/srv/app/prisma/dev.db", True),
        ("file:/abs/dev.db", "/abs/dev.db", False),
        ("file:///abs/dev.db", "/abs/dev.db", False),
        ("file://localhost/abs/dev.db", "/abs/dev.db", False),
        ("FILE:./dev.db", "/srv/app/dev.db", True),
        # plain paths
        ("dev.db", "/srv/app/dev.db", True),
        ("./dev.db", "/srv/app/dev.db", True),
        ("/abs/dev.db", "/abs/dev.db", False),
        ("data/sqlite.db", "/srv/app/data/sqlite.db", True),
    ],
)
def test_sqlite_url_forms(url, path, relative):
    target = parse_database_url(url, cwd=CWD)
    assert isinstance(target, SQLiteURL)
    assert target.path == path
    assert target.relative is relative
    assert target.ignored == ()


@pytest.mark.parametrize(
    ("url", "ignored"),
    [
        ("file:./dev.db?connection_limit=1", ("connection_limit",)),
        (
            "file:./dev.db?socket_timeout=5&connection_limit=1",
            ("connection_limit", "socket_timeout"),
        ),
        ("file:dev.db?mode=rwc", ("mode",)),
        ("sqlite:///rel.db?timeout=20", ("timeout",)),
    ],
)
def test_sqlite_query_parameters_are_ignored_and_reported(url, ignored):
    target = parse_sqlite_url(url, cwd=CWD)
    assert target.path.endswith(".db")
    assert "?" not in target.path
    assert target.ignored == ignored


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///",
        "sqlite://:memory:",
        "sqlite:relative.db",
        "sqlite://host/app.db",
        "file::memory:",
        "file:",
        "file:memdb1?mode=memory&cache=shared",
        "file://otherhost/dev.db",
        ":memory:",
        "",
        "   ",
    ],
)
def test_sqlite_urls_that_name_no_shared_file_are_refused(url):
    with pytest.raises(ConfigurationError):
        parse_database_url(url, cwd=CWD)


@pytest.mark.parametrize(
    "url",
    [
        "mongodb://root:hunter2@localhost:27017/app",
        "mongodb+srv://root:hunter2@cluster0.example.net/app",
        "redis://:hunter2@localhost:6379/0",
        "sqlserver://localhost:1433;database=app;user=sa;password=hunter2",
        "prisma://accelerate.prisma-data.net/?api_key=hunter2",
        "prisma+postgres://accelerate.prisma-data.net/?api_key=hunter2",
        "libsql://app-org.turso.io?authToken=hunter2",
        "cockroachdb://root:hunter2@localhost:26257/app",
    ],
)
def test_unsupported_scheme_refused_at_construction_naming_supported_ones(url, tmp_path):
    scheme = url.split(":", 1)[0]
    with pytest.raises(ConfigurationError) as info:
        parse_database_url(url)
    message = str(info.value)
    assert f"{scheme}:" in message
    assert SUPPORTED_SCHEMES in message
    assert "postgresql://" in message and "file:" in message and "sqlite:///" in message
    assert "hunter2" not in message  # never the credentials
    # open_store refuses at construction too, before any file or socket is touched
    with pytest.raises(ConfigurationError):
        open_store(url, schema="authjs-prisma")


def test_windows_drive_letter_is_a_path_not_a_scheme():
    target = parse_database_url("C:dev.db", cwd=CWD)
    assert isinstance(target, SQLiteURL)


# ------------------------------------------------------------------------------ PostgreSQL


@pytest.mark.parametrize(
    ("url", "dsn", "db_schema", "options", "ignored"),
    [
        ("postgres://u:p@h:5432/db", "postgres://u:p@h:5432/db", None, {}, ()),
        ("postgresql://u:p@h/db", "postgresql://u:p@h/db", None, {}, ()),
        # Prisma's default DATABASE_URL
        (
            "postgresql://u:p@h:5432/db?schema=public",
            "postgresql://u:p@h:5432/db",
            "public",
            {},
            (),
        ),
        (
            "postgresql://u:p@h:5432/db?schema=auth&connection_limit=5&pool_timeout=10"
            "&sslmode=require",
            "postgresql://u:p@h:5432/db?sslmode=require",
            "auth",
            {"max_size": 5},
            ("pool_timeout",),
        ),
        (
            "postgresql://u:p@h/db?pgbouncer=true&statement_cache_size=50&connect_timeout=7",
            "postgresql://u:p@h/db",
            None,
            {"statement_cache_size": 0, "connect_timeout": 7.0},
            (),
        ),
        (
            "postgresql://u:p@h/db?statement_cache_size=50",
            "postgresql://u:p@h/db",
            None,
            {"statement_cache_size": 50},
            (),
        ),
        (
            "postgresql://u:p@h/db?connect_timeout=0&socket_timeout=3&sslaccept=accept_invalid_certs",
            "postgresql://u:p@h/db",
            None,
            {},
            ("connect_timeout", "socket_timeout", "sslaccept"),
        ),
        # Prisma's sslaccept=strict only ever makes TLS stricter
        (
            "postgresql://u:p@h/db?sslmode=require&sslaccept=strict",
            "postgresql://u:p@h/db?sslmode=verify-full",
            None,
            {},
            (),
        ),
        # node-postgres' ssl=true verifies the certificate
        (
            "postgresql://u:p@h/db?ssl=true",
            "postgresql://u:p@h/db?sslmode=verify-full",
            None,
            {},
            (),
        ),
        (
            "postgresql://u:p@h/db?ssl=true&sslmode=disable",
            "postgresql://u:p@h/db?sslmode=disable",
            None,
            {},
            (),
        ),
        # what asyncpg understands passes unchanged (re-encoded so asyncpg decodes it back)
        (
            "postgresql://u:p@/db?host=/var/run/postgresql&application_name=sg%20x&options=-c%20x%3Dy",
            "postgresql://u:p@/db?host=%2Fvar%2Frun%2Fpostgresql&application_name=sg%20x"
            "&options=-c%20x%3Dy",
            None,
            {},
            (),
        ),
        ("postgresql://u:p@h/db?schema=my%5Fschema", "postgresql://u:p@h/db", "my_schema", {}, ()),
    ],
)
def test_postgres_url_forms(url, dsn, db_schema, options, ignored):
    target = parse_database_url(url)
    assert isinstance(target, PostgresURL)
    assert target.dsn == dsn
    assert target.db_schema == db_schema
    assert dict(target.options) == options
    assert target.ignored == ignored
    assert "p@" not in repr(target)  # the DSN (and its password) is not in the repr


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@h/db?connection_limit=0",
        "postgresql://u:p@h/db?connection_limit=many",
        "postgresql://u:p@h/db?connect_timeout=-1",
        "postgresql://u:p@h/db?statement_cache_size=-5",
        "postgresql://u:p@h/db?sslidentity=client.p12&sslpassword=hunter2",
    ],
)
def test_bad_prisma_parameters_are_configuration_errors(url):
    with pytest.raises(ConfigurationError) as info:
        parse_postgres_url(url)
    assert "hunter2" not in str(info.value)


def test_postgres_store_takes_schema_and_pool_from_the_url():
    store = PostgresStore(
        "postgresql://u:p@127.0.0.1:1/db?schema=auth&connection_limit=3&pgbouncer=true",
        schema="authjs-prisma",
    )
    assert store.schema.db_schema == "auth"
    assert '"auth"."Session"' in store.sql and '"auth"."User"' in store.sql
    assert store.max_size == 3
    assert store.statement_cache_size == 0
    assert "schema" not in store._dsn and "pgbouncer" not in store._dsn
    # arguments given in code win over the URL
    explicit = PostgresStore(
        "postgresql://u:p@h/db?connection_limit=3", schema="authjs-prisma", max_size=7
    )
    assert explicit.max_size == 7


def test_url_schema_that_contradicts_the_mapping_is_refused():
    from dataclasses import replace

    mapping = replace(PRESETS["authjs-prisma"], db_schema="other")
    with pytest.raises(ConfigurationError, match="schema"):
        PostgresStore("postgresql://u:p@h/db?schema=auth", schema=mapping)
    same = PostgresStore("postgresql://u:p@h/db?schema=other", schema=mapping)
    assert same.schema.db_schema == "other"


def test_url_schema_that_is_not_an_identifier_is_refused():
    with pytest.raises(ConfigurationError):
        PostgresStore('postgresql://u:p@h/db?schema=a"b', schema="authjs-prisma")


def test_ignored_postgres_parameters_are_logged_by_name_only(caplog):
    with caplog.at_level(logging.INFO, logger="sessiongate"):
        PostgresStore("postgresql://u:hunter2@h/db?pool_timeout=10&socket_timeout=5")
    assert "pool_timeout" in caplog.text and "socket_timeout" in caplog.text
    assert "hunter2" not in caplog.text and "=10" not in caplog.text


# ----------------------------------------------------------------------------- SQLite files


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "dev.db"
    sqlite3.connect(path).close()
    return tmp_path


@pytest.mark.parametrize(
    "url", ["file:./dev.db", "file:dev.db", "sqlite:///dev.db", "dev.db", "./dev.db"]
)
def test_relative_urls_open_the_file_in_the_working_directory(in_tmp, url):
    store = open_store(url, schema="authjs-prisma")
    assert isinstance(store, SQLiteStore)
    assert store.path == in_tmp / "dev.db"
    asyncio.run(store.aclose())


def test_absolute_urls_open_the_absolute_file(in_tmp):
    absolute = str(in_tmp / "dev.db")
    for url in (f"file:{absolute}", f"file://{absolute}", f"sqlite:///{absolute}", absolute):
        store = open_store(url, schema="authjs-prisma")
        assert store.path == in_tmp / "dev.db"
        asyncio.run(store.aclose())


def test_missing_sqlite_file_is_a_configuration_error_naming_the_absolute_path(in_tmp):
    with pytest.raises(ConfigurationError) as info:
        open_store("file:./nope.db", schema="authjs-prisma")
    assert str(in_tmp / "nope.db") in str(info.value)
    assert not (in_tmp / "nope.db").exists()  # nothing was created


def test_missing_file_hint_for_prisma_6_schema_relative_paths(in_tmp):
    (in_tmp / "prisma").mkdir()
    sqlite3.connect(in_tmp / "prisma" / "app.db").close()
    with pytest.raises(ConfigurationError) as info:
        open_store("file:./app.db", schema="authjs-prisma")
    message = str(info.value)
    assert str(in_tmp / "app.db") in message
    assert "file:./prisma/app.db" in message
    assert not (in_tmp / "app.db").exists()


def test_directory_is_not_a_database(in_tmp):
    (in_tmp / "dir.db").mkdir()
    with pytest.raises(ConfigurationError, match="not a file"):
        open_store("file:./dir.db", schema="authjs-prisma")


def test_sqlite_url_with_prisma_parameters_opens_read_only(in_tmp, caplog):
    with caplog.at_level(logging.INFO, logger="sessiongate"):
        store = open_store("file:./dev.db?connection_limit=1", schema="authjs-prisma")
    assert "connection_limit" in caplog.text
    conn = store._connection()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("CREATE TABLE t (x)")
    asyncio.run(store.aclose())
    assert sorted(os.listdir(in_tmp)) == ["dev.db"]
