"""MySQL/MariaDB URLs as Prisma, mysql2 (Drizzle, Better Auth) and the mariadb connector write
them (pure: no server), and the backtick-quoted lookup query."""

from __future__ import annotations

import logging
import ssl

import pytest

from sessiongate.errors import ConfigurationError
from sessiongate.stores import PRESETS, open_store
from sessiongate.stores.mysql import MySQLStore
from sessiongate.stores.urls import MySQLURL, parse_database_url, parse_mysql_url


def test_prisma_url_with_pool_parameters():
    url = parse_mysql_url(
        "mysql://johndoe:randompassword@localhost:3306/mydb"
        "?connection_limit=5&pool_timeout=10&socket_timeout=3&connect_timeout=7"
    )
    assert (url.host, url.port, url.user, url.database) == ("localhost", 3306, "johndoe", "mydb")
    assert url.password == "randompassword"
    assert dict(url.options) == {"max_size": 5, "connect_timeout": 7.0}
    assert url.ignored == ("pool_timeout", "socket_timeout")
    assert url.tls == "off"


def test_mysql2_url_camel_case_milliseconds_and_json_values():
    url = parse_mysql_url(
        "mysql://root@db:3307/app?connectionLimit=3&connectTimeout=2500&timezone=Z"
        '&ssl={"rejectUnauthorized":false}'
    )
    assert dict(url.options) == {"max_size": 3, "connect_timeout": 2.5}
    assert url.tls == "unverified"
    assert url.ignored == ("timezone",)


def test_user_password_and_database_are_percent_decoded_like_decode_uri_component():
    url = parse_mysql_url("mysql://us%40er:p%40ss%2Fw%3Ard@host/my%2Ddb")
    assert (url.user, url.password, url.database) == ("us@er", "p@ss/w:rd", "my-db")


def test_defaults_ipv6_and_socket():
    assert parse_mysql_url("mysql://u@h/db").port == 3306
    assert parse_mysql_url("mariadb://u@[::1]:3310/db").host == "::1"
    url = parse_mysql_url("mysql://u@localhost/db?socket=/run/mysqld/mysqld.sock")
    assert url.unix_socket == "/run/mysqld/mysqld.sock"
    assert parse_mysql_url("mysql://u@/db?socketPath=/tmp/m.sock").unix_socket == "/tmp/m.sock"
    assert parse_mysql_url("mysql+asyncmy://u@h/db").database == "db"  # SQLAlchemy style


@pytest.mark.parametrize(
    ("query", "tls"),
    [
        ("sslaccept=strict", "verify-full"),
        ("sslaccept=accept_invalid_certs", "unverified"),
        ("sslcert=/etc/ssl/ca.pem", "verify-full"),
        ('ssl={"rejectUnauthorized":true}', "verify-full"),
        ("ssl={}", "verify-full"),  # Node's default: rejectUnauthorized true
        ("ssl=true", "verify-full"),  # the mariadb connector
        ("ssl=Amazon%20RDS", "verify-full"),  # a mysql2 profile name
        ("ssl=false", "off"),
        ("ssl-mode=DISABLED", "off"),
        ("ssl-mode=REQUIRED", "unverified"),
        ("sslmode=verify_ca", "verify-ca"),
        ("ssl-mode=VERIFY_IDENTITY", "verify-full"),
        # two settings: the stricter wins, in either order
        ("sslaccept=accept_invalid_certs&sslaccept=strict", "verify-full"),
        ('ssl={"rejectUnauthorized":true}&ssl-mode=REQUIRED', "verify-full"),
        ("ssl-mode=VERIFY_IDENTITY&ssl=false", "verify-full"),
    ],
)
def test_tls_parameters(query, tls):
    assert parse_mysql_url(f"mysql://u@h/db?{query}").tls == tls


def test_sslcert_is_the_ca_file():
    assert parse_mysql_url("mysql://u@h/db?sslcert=/ca.pem").ssl_ca == "/ca.pem"


@pytest.mark.parametrize(
    "query",
    [
        "sslidentity=client.p12",
        "sslpassword=x",
        "ssl-key=/k.pem",
        "sslaccept=maybe",
        "ssl-mode=SOMETIMES",
        "connection_limit=0",
        "connectTimeout=-1",
    ],
)
def test_parameters_that_cannot_be_honoured_are_refused(query):
    with pytest.raises(ConfigurationError):
        parse_mysql_url(f"mysql://u:hunter2@h/db?{query}")


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:hunter2@h:notaport/db",
        "mysql://u:hunter2@/db",  # no host, no socket
        "mysql://u:hunter2@h/db/extra",
        "postgresql://u:hunter2@h/db",
    ],
)
def test_malformed_urls_are_refused_without_the_password(url):
    with pytest.raises(ConfigurationError) as info:
        parse_mysql_url(url)
    assert "hunter2" not in str(info.value)


def test_password_never_in_repr_or_logs(caplog):
    url = parse_mysql_url("mysql://app:hunter2@h/db?pool_timeout=1")
    assert "hunter2" not in repr(url)
    with caplog.at_level(logging.DEBUG, logger="sessiongate"):
        store = MySQLStore("mysql://app:hunter2@h/db?pool_timeout=1&sslaccept=accept_invalid_certs")
    assert "hunter2" not in repr(store)
    assert "pool_timeout" in caplog.text and "hunter2" not in caplog.text


def test_dispatch_and_open_store_pick_mysql():
    assert isinstance(parse_database_url("mysql://u@h/db"), MySQLURL)
    assert isinstance(parse_database_url("mariadb://u@h/db"), MySQLURL)
    store = open_store("mysql://u@h/db?connection_limit=4", schema="better-auth")
    assert isinstance(store, MySQLStore)
    assert (store.max_size, store.schema.name) == (4, "better-auth")
    # arguments win over the URL
    store = open_store("mysql://u@h/db?connection_limit=4", schema="better-auth", max_size=2)
    assert store.max_size == 2


def test_tls_context_follows_the_url_and_the_argument_wins():
    strict = MySQLStore("mysql://u@h/db?sslaccept=strict")
    context = strict._connect_args["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    loose = MySQLStore("mysql://u@h/db?ssl-mode=REQUIRED")._connect_args["ssl"]
    assert loose.verify_mode == ssl.CERT_NONE
    assert MySQLStore("mysql://u@h/db")._connect_args["ssl"] is None
    assert MySQLStore("mysql://u@h/db?sslaccept=strict", ssl=False)._connect_args["ssl"] is None
    mine = ssl.create_default_context()
    assert MySQLStore("mysql://u@h/db", ssl=mine)._connect_args["ssl"] is mine


def test_lookup_query_quotes_identifiers_with_backticks():
    sql = PRESETS["authjs-prisma"].select_sql("%s", dialect="mysql")
    assert '"' not in sql
    assert "FROM `Session` AS s JOIN `User` AS u ON u.`id` = s.`userId`" in sql
    assert sql.endswith("WHERE s.`sessionToken` = %s LIMIT 1")
    assert PRESETS["authjs-prisma"].select_sql("$1") != sql  # PostgreSQL unchanged
    with pytest.raises(ConfigurationError):
        PRESETS["authjs-prisma"].select_sql("%s", dialect="oracle")  # type: ignore[arg-type]


def test_server_side_deadline_in_both_dialects():
    store = MySQLStore("mysql://u@h/db", timeout=1.5)
    assert store._sql_mariadb.startswith("SET STATEMENT max_statement_time=2.000 FOR SELECT ")
    assert store._sql_mysql.startswith("SELECT /*+ MAX_EXECUTION_TIME(2000) */ ")
    assert store._connect_args["init_command"] == "SET lock_wait_timeout = 2"
