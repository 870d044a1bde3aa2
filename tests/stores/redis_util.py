"""Helpers for tests on the throwaway Redis server (``scripts/redis.sh``)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any


def redis_control(command: str) -> str:
    """Run the server's control script: start | stop | restart | status | kill-clients."""
    control = os.environ.get("SESSIONGATE_TEST_REDIS_CONTROL")
    assert control, "SESSIONGATE_TEST_REDIS_CONTROL is not set"
    result = subprocess.run(
        [control, *command.split()], capture_output=True, text=True, timeout=60, check=False
    )
    if command != "status" and result.returncode != 0:
        raise RuntimeError(f"redis control {command} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def sync_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url)


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}:"


def iso_ms(dt: datetime) -> str:
    """``Date.prototype.toJSON``: milliseconds and ``Z``."""
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def better_auth_value(
    token: str,
    user_id: str,
    *,
    created: datetime | None = None,
    expires: datetime | None = None,
    **user: Any,
) -> str:
    """A stored session as Better Auth's ``createSession`` writes it (JSON of Dates)."""
    now = datetime.now(UTC)
    created = created or now
    session = {
        "id": uuid.uuid4().hex,
        "token": token,
        "userId": user_id,
        "expiresAt": iso_ms(expires or now + timedelta(days=7)),
        "createdAt": iso_ms(created),
        "updatedAt": iso_ms(created),
        "ipAddress": "",
        "userAgent": "",
    }
    body = {"id": user_id, "name": "Ada", "email": f"{user_id}@example.com"}
    body.update(user)
    return json.dumps({"session": session, "user": body})
