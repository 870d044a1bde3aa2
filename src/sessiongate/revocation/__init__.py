"""Revocable stateless sessions: "user X: every token issued before T" and "token J".

Auth.js / NextAuth JWE cookies, HS256 and JWKS Bearer JWTs carry their own expiry and cannot be
recalled by deleting a row. This package keeps a small revocation list in PostgreSQL or Redis,
mirrors it in every process (:class:`RevocationMirror`, refreshed by the listener of
:mod:`sessiongate.stores.notify`) and checks each verdict against the mirror with no I/O
(:class:`Revocable`). A revoked token is answered 401 ``revoked``.

* :mod:`.rules` - the records and the check (pure);
* :mod:`.mirror` - the per-process mirror and its freshness;
* :mod:`.guard` - the authenticator wrapper;
* :mod:`.postgres`, :mod:`.redis` - the backends (imported lazily);
* :func:`revoke_user`, :func:`revoke_token`, :func:`unrevoke` - the Python API to write records.
"""

from __future__ import annotations

import time
from typing import Any

from .guard import Revocable, RevocableAsync, revocable
from .mirror import RevocationBackend, RevocationMirror
from .rules import DEFAULT_RETENTION, Revocation, RevocationSet

__all__ = [
    "DEFAULT_RETENTION",
    "PostgresRevocations",
    "RedisRevocations",
    "Revocable",
    "RevocableAsync",
    "Revocation",
    "RevocationBackend",
    "RevocationMirror",
    "RevocationSet",
    "revocable",
    "revoke_token",
    "revoke_user",
    "unrevoke",
]


def __getattr__(name: str) -> Any:
    # asyncpg / redis are imported only when their backend is used
    if name == "PostgresRevocations":
        from .postgres import PostgresRevocations

        return PostgresRevocations
    if name == "RedisRevocations":
        from .redis import RedisRevocations

        return RedisRevocations
    raise AttributeError(name)


async def revoke_user(
    backend: RevocationBackend,
    user_id: str,
    *,
    before: float | None = None,
    retention: float = DEFAULT_RETENTION,
) -> Revocation:
    """Revoke every token of ``user_id`` issued before ``before`` (UNIX seconds; default now).

    The record is kept ``retention`` seconds after ``before`` (the longest lifetime of a token
    it must cover: Auth.js's ``maxAge``, 30 days by default). Every process's mirror learns it
    through the listener within milliseconds.
    """
    at = time.time() if before is None else float(before)
    record = Revocation(
        "user", str(user_id), int((at + retention) * 1000), before_ms=int(at * 1000)
    )
    await backend.write(record)
    return record


async def revoke_token(
    backend: RevocationBackend,
    jti: str,
    *,
    expires: float | None = None,
    retention: float = DEFAULT_RETENTION,
) -> Revocation:
    """Revoke the one token whose ``jti`` claim is ``jti``, until ``expires`` (its ``exp``, UNIX
    seconds; default now + ``retention``)."""
    until = time.time() + retention if expires is None else float(expires)
    record = Revocation("jti", str(jti), int(until * 1000))
    await backend.write(record)
    return record


async def unrevoke(backend: RevocationBackend, kind: str, subject: str) -> bool:
    """Delete a revocation record; ``True`` when there was one."""
    return await backend.remove(kind, subject)
