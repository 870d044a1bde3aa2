"""Revocation records in Redis / Valkey: two hashes and one pub/sub channel.

=================================== ========================================================
key (default prefix ``sessiongate:``) content
=================================== ========================================================
``sessiongate:revoked-users``       hash: user id -> ``{"b": <before ms>, "x": <expires ms>}``
``sessiongate:revoked-tokens``      hash: jti -> ``{"x": <expires ms>}``
``sessiongate:revocation``          pub/sub channel: the event of each write
=================================== ========================================================

A write is one ``MULTI`` (``HSET`` + ``PUBLISH``): the record and its announcement go
together. Expired fields are pruned on write. The JavaScript side can write the same record
(see docs/replicas.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from ..errors import ConfigurationError, ProviderUnavailableError
from ..stores.redis import (
    check_redis_url,
    connection_errors,
    describe_redis_url,
    make_client,
    make_pool,
)
from .rules import Revocation, encode_event

__all__ = ["RedisRevocations"]

logger = logging.getLogger("sessiongate")


class RedisRevocations:
    """The revocation hashes (a :class:`~.mirror.RevocationBackend`).

    Args:
        url: the Redis URL (``REDIS_URL``).
        prefix: key and channel prefix (default ``sessiongate:``).
        timeout: seconds for one load or write.
    """

    def __init__(self, url: str, *, prefix: str = "sessiongate:", timeout: float = 5.0) -> None:
        self._url = check_redis_url(url)
        if not isinstance(prefix, str) or any(c in prefix for c in "*?[]\\"):
            raise ConfigurationError("prefix must be a string without glob characters")
        if not timeout > 0:
            raise ConfigurationError("timeout must be positive")
        self.prefix = prefix
        self.timeout = float(timeout)
        self.users_key = prefix + "revoked-users"
        self.tokens_key = prefix + "revoked-tokens"
        self.channel = prefix + "revocation"
        self.location = describe_redis_url(self._url)
        self._errors = connection_errors()

    def __repr__(self) -> str:
        return f"RedisRevocations({self.location!r}, prefix={self.prefix!r})"

    async def _run(self, fn: Any) -> Any:
        pool = make_pool(
            self._url, max_connections=1, timeout=self.timeout, connect_timeout=self.timeout
        )
        client = make_client(pool)
        try:
            async with asyncio.timeout(self.timeout):
                return await fn(client)
        except ProviderUnavailableError:
            raise
        except self._errors as exc:
            logger.debug("revocation store unavailable: %s", type(exc).__name__)
            raise ProviderUnavailableError("the revocation store (Redis) is unreachable") from None
        finally:
            try:
                await client.aclose()
                await pool.disconnect()
            except Exception as exc:  # best effort
                logger.debug("closing the Redis client failed: %s", type(exc).__name__)

    async def load(self) -> list[Revocation]:
        """Every record that has not expired (malformed fields are skipped with a log line)."""

        async def query(client: Any) -> list[Revocation]:
            pipe = client.pipeline(transaction=False)
            pipe.hgetall(self.users_key)
            pipe.hgetall(self.tokens_key)
            users, tokens = await pipe.execute()
            return self._parse(users, "user") + self._parse(tokens, "jti")

        records: list[Revocation] = await self._run(query)
        return records

    def _parse(self, fields: dict[bytes, bytes], kind: str) -> list[Revocation]:
        now_ms = int(time.time() * 1000)
        out: list[Revocation] = []
        for raw_subject, raw_value in fields.items():
            try:
                subject = raw_subject.decode("utf-8")
                value = json.loads(raw_value)
                expires = int(value["x"])
                before = int(value["b"]) if kind == "user" else None
                if expires > now_ms:
                    out.append(Revocation(kind, subject, expires, before))  # type: ignore[arg-type]
            except (ValueError, KeyError, TypeError, ConfigurationError):
                logger.error("malformed revocation record skipped (%s)", kind)
        return out

    async def fetch(self, kind: str, subject: str) -> Revocation | None:
        """The stored, unexpired record of one subject."""
        if kind not in ("user", "jti"):
            return None

        async def query(client: Any) -> Revocation | None:
            key = self.users_key if kind == "user" else self.tokens_key
            value = await client.hget(key, subject)
            if value is None:
                return None
            parsed = self._parse({subject.encode("utf-8"): value}, kind)
            return parsed[0] if parsed else None

        record: Revocation | None = await self._run(query)
        return record

    async def write(self, record: Revocation) -> None:
        """Store ``record`` (merged with the existing one) and publish its event."""

        async def query(client: Any) -> None:
            key = self.users_key if record.kind == "user" else self.tokens_key
            old = await client.hget(key, record.subject)
            merged = record
            if old is not None:
                try:
                    value = json.loads(old)
                    previous = Revocation(
                        record.kind,
                        record.subject,
                        int(value["x"]),
                        int(value["b"]) if record.kind == "user" else None,
                    )
                    merged = previous.merged(record)
                except (ValueError, KeyError, TypeError, ConfigurationError):
                    merged = record
            body: dict[str, int] = {"x": merged.expires_ms}
            if merged.before_ms is not None:
                body["b"] = merged.before_ms
            pipe = client.pipeline(transaction=True)
            pipe.hset(key, record.subject, json.dumps(body, separators=(",", ":")))
            pipe.publish(self.channel, encode_event(merged))
            await pipe.execute()
            await self._prune(client, key)

        await self._run(query)

    async def _prune(self, client: Any, key: str) -> None:
        now_ms = int(time.time() * 1000)
        fields = await client.hgetall(key)
        stale = []
        for subject, value in fields.items():
            try:
                if int(json.loads(value)["x"]) <= now_ms:
                    stale.append(subject)
            except (ValueError, KeyError, TypeError):
                continue
        if stale:
            await client.hdel(key, *stale)

    async def remove(self, kind: str, subject: str) -> bool:
        """Delete a record (un-revoke) and publish it."""
        if kind not in ("user", "jti"):
            raise ConfigurationError(f"unknown revocation kind {kind!r}")

        async def query(client: Any) -> bool:
            key = self.users_key if kind == "user" else self.tokens_key
            record = Revocation(kind, subject, 0, 0 if kind == "user" else None)  # type: ignore[arg-type]
            pipe = client.pipeline(transaction=True)
            pipe.hdel(key, subject)
            pipe.publish(self.channel, encode_event(record, removed=True))
            deleted, _ = await pipe.execute()
            return bool(deleted)

        removed: bool = await self._run(query)
        return removed

    async def aclose(self) -> None:
        """Nothing to release: each call opens and closes its own connection."""
        return None
