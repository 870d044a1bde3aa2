"""Organization memberships, API keys and plugin detection on MariaDB (the MySQL store's fetch)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from sessiongate.apikeys import ApiKeyDisabledError, ApiKeyVerifier, hash_api_key
from sessiongate.ba_detect import detect_presence
from sessiongate.errors import ProviderUnavailableError
from sessiongate.organizations import OrgDirectory

pytestmark = pytest.mark.mysql

DDL = [
    "CREATE TABLE `user` (id VARCHAR(36) PRIMARY KEY, name TEXT, email VARCHAR(255), "
    "emailVerified TINYINT(1), image TEXT, role TEXT, banned TINYINT(1), banReason TEXT, "
    "banExpires DATETIME(3))",
    "CREATE TABLE `session` (id VARCHAR(36) PRIMARY KEY, token VARCHAR(255), "
    "userId VARCHAR(36), expiresAt DATETIME(3), impersonatedBy TEXT)",
    "CREATE TABLE `member` (id VARCHAR(36) PRIMARY KEY, organizationId VARCHAR(36), "
    "userId VARCHAR(36), role TEXT)",
    "CREATE TABLE `organizationRole` (id VARCHAR(36) PRIMARY KEY, organizationId VARCHAR(36), "
    "role TEXT, permission TEXT)",
    "CREATE TABLE `apikey` (id VARCHAR(36) PRIMARY KEY, configId VARCHAR(255), "
    "referenceId VARCHAR(36), `key` VARCHAR(255), enabled TINYINT(1), expiresAt DATETIME(3), "
    "permissions TEXT, remaining INT, refillAmount INT)",
    "INSERT INTO `user` (id, name, email) VALUES ('u1', 'Ada', 'ada@x.org')",
    "INSERT INTO `member` VALUES ('m1', 'org-1', 'u1', 'member, admin')",
    "INSERT INTO `organizationRole` VALUES ('r1', 'org-1', 'member', "
    + json.dumps(json.dumps({"member": ["create"]}))
    + ")",
]
KEY, DISABLED = "a" * 64, "b" * 64


async def _run(url: str, statements: list[str]) -> None:
    import asyncmy

    from sessiongate.stores.urls import parse_mysql_url

    target = parse_mysql_url(url)
    conn = await asyncmy.connect(
        host=target.host,
        port=target.port,
        user=target.user,
        password=target.password,
        database=target.database,
        autocommit=True,
    )
    try:
        async with conn.cursor() as cursor:
            for sql in statements:
                await cursor.execute(sql)
    finally:
        conn.close()


@pytest.fixture
def database(mysql_url: str) -> Iterator[str]:
    name = "sg_org_" + uuid.uuid4().hex[:10]
    asyncio.run(_run(mysql_url, [f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"]))
    parts = urlsplit(mysql_url)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
    try:
        keys = [
            f"INSERT INTO `apikey` VALUES ('k1', NULL, 'u1', '{hash_api_key(KEY)}', 1, NULL, "
            '\'{"project":["read"]}\', NULL, NULL)',
            f"INSERT INTO `apikey` VALUES ('k2', NULL, 'u1', '{hash_api_key(DISABLED)}', 0, "
            "NULL, NULL, NULL, NULL)",
        ]
        asyncio.run(_run(url, DDL + keys))
        yield url
    finally:
        asyncio.run(_run(mysql_url, [f"DROP DATABASE IF EXISTS `{name}`"]))


def test_mysql_memberships_dynamic_roles_api_keys_and_detection(database):
    from sessiongate.stores.mysql import MySQLStore

    async def main() -> None:
        store = MySQLStore(database, schema="better-auth")
        try:
            presence = await detect_presence(store)
            assert presence.organization and presence.organization_roles and presence.api_key
            orgs = OrgDirectory(store, cache_ttl=0, dynamic_roles=True)
            member = await orgs.membership("org-1", "u1")
            assert member is not None and member.roles == ("member", "admin")
            assert member.allows({"member": ["create"]})
            assert await orgs.membership("org-2", "u1") is None
            keys = ApiKeyVerifier(store, cache_ttl=0)
            result = await keys.authenticate({"x-api-key": KEY})
            assert result is not None and result.user.email == "ada@x.org"
            assert result.user.claims["apiKey"]["permissions"] == {"project": ["read"]}
            with pytest.raises(ApiKeyDisabledError):
                await keys.authenticate({"x-api-key": DISABLED})
        finally:
            await store.aclose()

    asyncio.run(main())


def test_mysql_missing_plugin_table_is_503(database):
    from sessiongate.stores.mysql import MySQLStore

    async def main() -> None:
        await _run(database, ["DROP TABLE `member`"])
        store = MySQLStore(database, schema="better-auth")
        try:
            with pytest.raises(ProviderUnavailableError):
                await OrgDirectory(store, cache_ttl=0).membership("org-1", "u1")
        finally:
            await store.aclose()

    asyncio.run(main())
