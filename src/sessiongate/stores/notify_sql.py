"""The SQL of ``sessiongate db install-notify``: ``NOTIFY`` triggers and the revocation table.

Pure text generation from a :class:`~.schema.SchemaMapping` (or a preset name): every identifier
is validated and quoted, nothing is executed here. The listener that hears these notifications
is :class:`~.notify.PostgresListener`.
"""

from __future__ import annotations

from .notify import DEFAULT_CHANNEL
from .schema import SchemaMapping, quote_identifier, resolve_schema

__all__ = [
    "REVOCATION_TABLE",
    "describe_install",
    "install_sql",
    "qualified_table",
    "revocation_table_sql",
]

REVOCATION_TABLE = "sessiongate_revocation"


def qualified_table(schema: str | None, table: str) -> str:
    """``"schema"."table"`` (or ``"table"``), each part validated and quoted."""
    quoted = quote_identifier(table)
    return f"{quote_identifier(schema)}.{quoted}" if schema else quoted


def revocation_table_sql(schema: str | None = None, *, channel: str = DEFAULT_CHANNEL) -> str:
    """The revocation table and its ``NOTIFY`` trigger (idempotent SQL)."""
    quote_identifier(channel)
    table = qualified_table(schema, REVOCATION_TABLE)
    func = qualified_table(schema, "sessiongate_revocation_notify")
    return f"""-- sessiongate: the revocation list (sessiongate revoke / revoke_user / revoke_token)
CREATE TABLE IF NOT EXISTS {table} (
  kind text NOT NULL CHECK (kind IN ('user', 'jti')),
  subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 512),
  revoked_before timestamptz,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, subject),
  CHECK (kind = 'jti' OR revoked_before IS NOT NULL)
);
CREATE OR REPLACE FUNCTION {func}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('{channel}', json_build_object('t', 'unrev', 'k', OLD.kind,
      's', OLD.subject)::text);
    RETURN NULL;
  END IF;
  PERFORM pg_notify('{channel}', json_build_object('t', 'rev', 'k', NEW.kind, 's', NEW.subject,
    'b', floor(extract(epoch FROM NEW.revoked_before) * 1000)::bigint,
    'x', floor(extract(epoch FROM NEW.expires_at) * 1000)::bigint)::text);
  RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS sessiongate_revocation_changed ON {table};
CREATE TRIGGER sessiongate_revocation_changed AFTER INSERT OR UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION {func}();
"""


def install_sql(
    schema: SchemaMapping | str | None,
    *,
    channel: str = DEFAULT_CHANNEL,
    db_schema: str | None = None,
) -> str:
    """The SQL ``sessiongate db install-notify`` prints: ``NOTIFY`` triggers on the session and
    user tables of ``schema`` (a preset name or mapping) and the revocation table. Idempotent
    (``CREATE … IF NOT EXISTS``, ``CREATE OR REPLACE``, ``DROP TRIGGER IF EXISTS``), one
    transaction. Every identifier is validated and quoted. ``schema=None``: the revocation table
    only (an app whose sessions are all JWE / JWT)."""
    if schema is None:
        quote_identifier(channel)
        return f"BEGIN;\n{revocation_table_sql(db_schema, channel=channel)}COMMIT;\n"
    mapping = resolve_schema(schema)
    target_schema = db_schema or mapping.db_schema
    quote_identifier(channel)
    session = qualified_table(target_schema, mapping.session_table)
    user = qualified_table(target_schema, mapping.user_table)
    func = qualified_table(target_schema, "sessiongate_notify_user")
    q = quote_identifier
    token, user_id, expires = (
        q(mapping.session_token),
        q(mapping.session_user_id),
        q(mapping.session_expires),
    )
    return f"""BEGIN;
-- sessiongate: cross-replica invalidation (schema preset {mapping.name})
-- Every process LISTENs on '{channel}'. The payload names a user id, never a session token.
CREATE OR REPLACE FUNCTION {func}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{channel}', json_build_object('t', 'user',
    'id', to_jsonb(OLD) ->> TG_ARGV[0])::text);
  RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS sessiongate_session_deleted ON {session};
CREATE TRIGGER sessiongate_session_deleted AFTER DELETE ON {session}
  FOR EACH ROW EXECUTE FUNCTION {func}('{mapping.session_user_id}');
DROP TRIGGER IF EXISTS sessiongate_session_changed ON {session};
CREATE TRIGGER sessiongate_session_changed AFTER UPDATE OF {expires}, {token}, {user_id}
  ON {session} FOR EACH ROW
  WHEN (OLD.{expires} IS DISTINCT FROM NEW.{expires} OR OLD.{token} IS DISTINCT FROM NEW.{token}
    OR OLD.{user_id} IS DISTINCT FROM NEW.{user_id})
  EXECUTE FUNCTION {func}('{mapping.session_user_id}');
DROP TRIGGER IF EXISTS sessiongate_user_changed ON {user};
CREATE TRIGGER sessiongate_user_changed AFTER UPDATE OR DELETE ON {user}
  FOR EACH ROW EXECUTE FUNCTION {func}('{mapping.user_id}');
{revocation_table_sql(target_schema, channel=channel)}COMMIT;
"""


def describe_install(schema: SchemaMapping | str | None, *, db_schema: str | None = None) -> str:
    """One line saying what :func:`install_sql` touches (for the CLI)."""
    if schema is None:
        return f"table {REVOCATION_TABLE}" + (f" in schema {db_schema}" if db_schema else "")
    mapping = resolve_schema(schema)
    target = db_schema or mapping.db_schema
    where = f" in schema {target}" if target else ""
    return (
        f"triggers on {mapping.session_table} and {mapping.user_table}{where}, "
        f"table {REVOCATION_TABLE}"
    )
