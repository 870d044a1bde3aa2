"""``sessiongate db install-notify`` and ``sessiongate revoke``: the replica commands.

``sessiongate db install-notify --database-url URL --schema PRESET`` prints the SQL that
cross-replica invalidation and the revocation list need (``NOTIFY`` triggers on the session and
user tables, the ``sessiongate_revocation`` table); ``--apply`` runs it (idempotent). With
``--redis-url`` it prints (and with ``--apply`` sets) the keyspace notification flags.

``sessiongate revoke --user ID`` / ``--jti JTI`` writes a revocation record to PostgreSQL
(``--database-url`` or ``DATABASE_URL``) or Redis (``--redis-url`` or ``REDIS_URL``); every
process's mirror learns it within milliseconds. ``--remove`` deletes the record instead.
Exit codes: 0 done, 1 the store refused or was unreachable, 2 usage errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any, TextIO

from ._extras import require
from .errors import SessionGateError

__all__ = ["add_commands"]


def _pg_schema(args: argparse.Namespace) -> tuple[str, str | None]:
    from .stores.urls import parse_postgres_url

    url = parse_postgres_url(args.database_url)
    return url.dsn, url.db_schema


async def _apply_sql(dsn: str, sql: str) -> None:
    asyncpg = require("asyncpg", "postgres")

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _cmd_install_notify(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .stores.notify_sql import describe_install, install_sql

    database_url = args.database_url or os.environ.get("DATABASE_URL")
    redis_url = args.redis_url
    if not database_url and not redis_url:
        out.write("sessiongate db install-notify: pass --database-url and/or --redis-url\n")
        return 2
    try:
        if database_url:
            args.database_url = database_url
            dsn, db_schema = _pg_schema(args)
            schema = args.schema or os.environ.get("SESSIONGATE_SCHEMA") or "authjs-prisma"
            sql = install_sql(None if schema == "none" else schema, db_schema=db_schema)
            if args.apply:
                asyncio.run(_apply_sql(dsn, sql))
                described = describe_install(
                    None if schema == "none" else schema, db_schema=db_schema
                )
                out.write(f"installed: {described}\n")
            else:
                out.write(sql)
        if redis_url:
            from .stores.redis_notify import KEYSPACE_FLAGS, enable_keyspace_notifications

            if args.apply:
                value = asyncio.run(enable_keyspace_notifications(redis_url))
                out.write(
                    f"Redis notify-keyspace-events is now {value!r} (CONFIG SET: add it to "
                    "the server's configuration to keep it across restarts)\n"
                )
            else:
                out.write(
                    f"# Redis: keyspace notifications for the session keys\n"
                    f"CONFIG SET notify-keyspace-events {KEYSPACE_FLAGS}\n"
                )
    except SessionGateError as err:
        out.write(f"sessiongate db install-notify: {err.message}\n")
        return 2
    except Exception as exc:  # the database or Redis refused: say which kind, never the URL
        out.write(f"sessiongate db install-notify: failed ({type(exc).__name__})\n")
        return 1
    return 0


def _backend(args: argparse.Namespace) -> Any:
    from .errors import ConfigurationError

    redis_url = args.redis_url or (None if args.database_url else os.environ.get("REDIS_URL"))
    database_url = args.database_url or (None if redis_url else os.environ.get("DATABASE_URL"))
    if redis_url and database_url:
        raise ConfigurationError("pass --database-url or --redis-url, not both")
    if redis_url:
        from .revocation.redis import RedisRevocations

        return RedisRevocations(redis_url)
    if database_url:
        from .revocation.postgres import PostgresRevocations

        return PostgresRevocations(database_url)
    raise ConfigurationError(
        "no revocation store: pass --database-url (DATABASE_URL) or --redis-url (REDIS_URL)"
    )


def _cmd_revoke(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from . import revocation

    kind, subject = ("user", args.user) if args.user is not None else ("jti", args.jti)
    try:
        backend = _backend(args)

        async def run() -> str:
            if args.remove:
                removed = await revocation.unrevoke(backend, kind, subject)
                return (
                    f"removed the revocation of {kind} {subject!r}"
                    if removed
                    else (f"no revocation of {kind} {subject!r}")
                )
            if kind == "user":
                record = await revocation.revoke_user(
                    backend, subject, before=args.before, retention=args.retention
                )
                when = time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime((record.before_ms or 0) / 1000)
                )
                return f"revoked every token of user {subject!r} issued before {when}"
            await revocation.revoke_token(
                backend, subject, expires=args.expires, retention=args.retention
            )
            return f"revoked the token with jti {subject!r}"

        message = asyncio.run(run())
    except SessionGateError as err:
        out.write(f"sessiongate revoke: {err.message}\n")
        return 2 if err.status_code == 500 else 1
    out.write(message + "\n")
    return 0


def add_commands(sub: Any) -> None:
    """Register ``db`` (``inspect``, ``install-notify``) and ``revoke``."""
    from .stores.inspect import add_inspect_command

    db = sub.add_parser("db", help="database helpers")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    add_inspect_command(db_sub)
    notify = db_sub.add_parser(
        "install-notify",
        help="print (or --apply) the SQL for cross-replica invalidation and revocation",
    )
    notify.add_argument("--database-url", help="postgresql://… (DATABASE_URL)")
    notify.add_argument(
        "--schema",
        help="schema preset of the session tables (SESSIONGATE_SCHEMA; default authjs-prisma); "
        "none: the revocation table only (apps with JWE / JWT sessions)",
    )
    notify.add_argument("--redis-url", help="redis://…: keyspace notifications for Redis")
    notify.add_argument("--apply", action="store_true", help="run it (idempotent)")
    notify.set_defaults(handler=_cmd_install_notify)

    rev = sub.add_parser(
        "revoke", help="revoke a user's tokens issued before now, or one token by jti"
    )
    target = rev.add_mutually_exclusive_group(required=True)
    target.add_argument("--user", help="user id: every token issued before --before (now)")
    target.add_argument("--jti", help="the jti claim of one token")
    rev.add_argument("--database-url", help="postgresql://… (DATABASE_URL)")
    rev.add_argument("--redis-url", help="redis://… (REDIS_URL)")
    rev.add_argument("--before", type=float, help="UNIX time (default: now)")
    rev.add_argument("--expires", type=float, help="the token's exp (UNIX time), for --jti")
    rev.add_argument(
        "--retention",
        type=float,
        default=30 * 24 * 3600.0,
        help="seconds to keep the record: the longest token lifetime (default 30 days)",
    )
    rev.add_argument("--remove", action="store_true", help="delete the revocation instead")
    rev.set_defaults(handler=_cmd_revoke)
