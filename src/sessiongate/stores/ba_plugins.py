"""The Better Auth plugin tables: their names, the read-only queries on them, plugin detection.

One SQL builder used by every store (PostgreSQL ``$n``, SQLite ``?``, MySQL ``%s`` with
backticks), one way to run a query on a store (:func:`fetch` / :func:`fetch_sync`: the store's
own pool, deadline and fault handling, so an outage is a 503 here as for a session lookup), and
the pure reading of what comes back. Tables and columns as better-auth 1.7.25 and
``@better-auth/api-key`` 1.7.5 create them (``getMigrations``):

* organization plugin: ``member`` (``organizationId``, ``userId``, ``role``: one role or several
  separated by commas), ``organization`` (``name``, ``slug``), and with
  ``dynamicAccessControl`` ``organizationRole`` (``organizationId``, ``role``, ``permission``:
  JSON text of ``{resource: [actions]}``);
* API keys: ``apikey`` (``key``: base64url of SHA-256 of the key, ``referenceId``: the owning
  user **or** organization id, ``configId``, ``enabled``, ``expiresAt``, ``permissions``: JSON
  text, ``remaining``, ``refillAmount``);
* admin plugin: ``user.banned``, ``user.banReason``, ``user.banExpires``,
  ``session.impersonatedBy``.

Names follow the session mapping of the store: a plural session table (``sessions``) means
``usePlural`` (``members``, ``apikeys``...), a ``user_id`` session column means the snake_case
Drizzle schema (``organization_id``...). Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ConfigurationError, ProviderUnavailableError
from .better_auth_names import _snake
from .plugin_columns import PluginColumns, detect_plugin_columns
from .schema import SchemaMapping, quote_identifier

__all__ = [
    "Dialect",
    "PluginNames",
    "PluginPresence",
    "Query",
    "dialect_of",
    "fetch",
    "fetch_sync",
    "presence_from_columns",
]

Dialect = Literal["postgres", "sqlite", "mysql"]


def dialect_of(store: Any) -> Dialect:
    """The SQL dialect of a store (its class name; no driver is imported here)."""
    name = type(store).__name__
    if name == "PostgresStore":
        return "postgres"
    if name == "SQLiteStore":
        return "sqlite"
    if name == "MySQLStore":
        return "mysql"
    raise ConfigurationError(
        f"{name} cannot answer Better Auth plugin lookups (PostgreSQL, SQLite or MySQL store)"
    )


@dataclass(frozen=True, slots=True)
class PluginNames:
    """Table and column names of the plugin tables, and the queries on them.

    Args:
        mapping: the session mapping of the store (its ``db_schema``, user table and columns).
        use_plural / columns: Better Auth's ``usePlural`` and the Drizzle generator's snake
            case; ``None`` reads them off ``mapping`` (see the module docstring).
        member_table / organization_role_table / apikey_table / organization_table: the
            plugins' ``schema.<model>.modelName`` when the app renames them.
    """

    mapping: SchemaMapping
    use_plural: bool | None = None
    columns: Literal["camel", "snake"] | None = None
    member_table: str = "member"
    organization_role_table: str = "organizationRole"
    apikey_table: str = "apikey"
    organization_table: str = "organization"

    def __post_init__(self) -> None:
        if self.use_plural is None:
            plural = self.mapping.session_table.lower().endswith("s")
            object.__setattr__(self, "use_plural", plural)
        if self.columns is None:
            snake = self.mapping.session_user_id == "user_id"
            object.__setattr__(self, "columns", "snake" if snake else "camel")
        if self.columns not in ("camel", "snake"):
            raise ConfigurationError("columns must be 'camel' or 'snake'")

    def column(self, field: str) -> str:
        """A plugin field's column (``organizationId`` or ``organization_id``)."""
        return _snake(field) if self.columns == "snake" else field

    def table(self, model: str) -> str:
        """A plugin model's table name, unqualified (``member``, ``members``...)."""
        name = model + ("s" if self.use_plural else "")
        return _snake(name) if self.columns == "snake" else name

    def _qualified(self, model: str) -> str:
        quoted = quote_identifier(self.table(model))
        schema = self.mapping.db_schema
        return quoted if schema is None else quote_identifier(schema) + "." + quoted

    # ------------------------------------------------------------------------- queries

    def member_sql(self, dialect: Dialect, *, with_roles: bool) -> Query:
        """The member's role for (organization id, user id); with ``with_roles`` the same round
        trip also returns the organization's ``organizationRole`` rows. Rows are
        ``(kind, role, permission)`` with kind ``m`` (member) or ``r`` (dynamic role)."""
        q, c = quote_identifier, self.column
        member = (
            f"SELECT 'm', m.{q(c('role'))}, NULL FROM {self._qualified(self.member_table)} AS m "  # noqa: S608
            f"WHERE m.{q(c('organizationId'))} = {{1}} AND m.{q(c('userId'))} = {{2}}"
        )
        sql = member
        if with_roles:
            table = self._qualified(self.organization_role_table)
            sql = (
                f"{member} UNION ALL SELECT 'r', r.{q(c('role'))}, r.{q(c('permission'))} "  # noqa: S608
                f"FROM {table} AS r WHERE r.{q(c('organizationId'))} = {{1}}"
            )
        return _dialect(sql, dialect)

    def apikey_sql(self, dialect: Dialect, references: Literal["user", "organization"]) -> Query:
        """One round trip for a hashed key: the key's row and its owner's row (a user row in
        the store mapping's column order, or the organization's id, name and slug)."""
        q, c, m = quote_identifier, self.column, self.mapping
        key_columns = (
            "id",
            "configId",
            "referenceId",
            "enabled",
            "expiresAt",
            "permissions",
            "remaining",
            "refillAmount",
        )
        cols = [f"k.{q(c(name))}" for name in key_columns]
        if references == "user":
            owner = [m.user_id, *self.user_columns()]
            cols += [f"o.{q(name)}" for name in owner]
            join = f"{_qualified(m, m.user_table)} AS o ON o.{q(m.user_id)}"
        else:
            cols += [f"o.{q(name)}" for name in ("id", "name", "slug")]
            join = f"{self._qualified(self.organization_table)} AS o ON o.{q('id')}"
        sql = (
            f"SELECT {', '.join(cols)} FROM {self._qualified(self.apikey_table)} AS k "  # noqa: S608
            f"LEFT JOIN {join} = k.{q(c('referenceId'))} WHERE k.{q(c('key'))} = {{1}} LIMIT 1"
        )
        return _dialect(sql, dialect)

    def user_columns(self) -> list[str]:
        """The user columns after the id, in the order ``SchemaMapping.record_from_row`` reads
        them (profile columns, then the extra ones)."""
        m = self.mapping
        profile = (m.user_name, m.user_email, m.user_image, m.user_email_verified)
        return [col for col in profile if col is not None] + [
            col for _, col in m.extra_user_columns
        ]

    def catalog_sql(self, dialect: Dialect) -> Query:
        """``(table, column)`` of the user, session and plugin tables (for detection)."""
        tables = [
            self.mapping.user_table,
            self.mapping.session_table,
            self.table(self.member_table),
            self.table(self.organization_role_table),
            self.table(self.apikey_table),
        ]
        for name in tables:
            quote_identifier(name)  # validated: the names below are literals
        listed = ", ".join("'" + name + "'" for name in tables)
        schema = self.mapping.db_schema
        if dialect == "sqlite":
            return Query(
                "SELECT m.name, p.name FROM sqlite_master AS m, pragma_table_info(m.name) AS p "  # noqa: S608
                f"WHERE m.type IN ('table', 'view') AND m.name IN ({listed})",
                (),
            )
        if dialect == "postgres":
            where = "current_schema()" if schema is None else "'" + schema + "'"
        else:
            where = "DATABASE()" if schema is None else "'" + schema + "'"
        if schema is not None:
            quote_identifier(schema)
        return Query(
            "SELECT table_name, column_name FROM information_schema.columns "  # noqa: S608
            f"WHERE table_schema = {where} AND table_name IN ({listed})",
            (),
        )

    def presence(self, columns: Iterable[tuple[Any, Any]]) -> PluginPresence:
        """:func:`presence_from_columns` with these names."""
        return presence_from_columns(self, columns)


def _qualified(mapping: SchemaMapping, table: str) -> str:
    quoted = quote_identifier(table)
    if mapping.db_schema is None:
        return quoted
    return quote_identifier(mapping.db_schema) + "." + quoted


@dataclass(frozen=True, slots=True)
class Query:
    """A query for one dialect and the order its parameters are bound in."""

    sql: str
    order: tuple[int, ...]

    def bind(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """The driver's parameters for the logical ``args`` (1-based ``{n}`` in the text)."""
        return tuple(args[i] for i in self.order)


def _dialect(sql: str, dialect: Dialect) -> Query:
    if dialect == "postgres":
        return Query(sql.replace("{1}", "$1").replace("{2}", "$2"), (0, 1)[: sql.count("{2}") + 1])
    if dialect == "sqlite":
        return Query(sql.replace("{1}", "?1").replace("{2}", "?2"), (0, 1)[: sql.count("{2}") + 1])
    if dialect == "mysql":
        # every double quote is an identifier quote (quote_identifier admits none inside a
        # name); MySQL's %s placeholders are positional: a repeated one is bound again
        order = tuple(int(part[0]) - 1 for part in sql.split("{")[1:])
        text = sql.replace('"', "`").replace("{1}", "%s").replace("{2}", "%s")
        return Query(text, order)
    raise ConfigurationError(f"unknown SQL dialect {dialect!r}")


@dataclass(frozen=True, slots=True)
class PluginPresence:
    """Which Better Auth plugins a database shows (tables and columns, never data).

    Attributes:
        admin: the admin plugin's columns (``user.role``, ``banned``, ``banReason``,
            ``banExpires``, ``session.impersonatedBy``).
        impersonation: the session table has ``impersonatedBy``.
        organization: a ``member`` table with ``organizationId``, ``userId``, ``role``.
        organization_roles: an ``organizationRole`` table (dynamic access control).
        api_key: an ``apikey`` table with ``key`` and ``referenceId``.
    """

    admin: bool = False
    impersonation: bool = False
    organization: bool = False
    organization_roles: bool = False
    api_key: bool = False
    teams: bool = field(default=False, compare=False)
    """The session table has ``activeTeamId`` (``organization({ teams })`` only)."""
    columns: PluginColumns | None = field(default=None, compare=False, repr=False)
    """The user/session plugin columns found (for ``with_better_auth_columns``)."""

    def describe(self) -> str:
        """One banner line: ``admin (bans, impersonation), organization, api-key``."""
        found = []
        if self.admin:
            found.append("admin (bans" + (", impersonation)" if self.impersonation else ")"))
        if self.organization:
            found.append("organization" + (" (dynamic roles)" if self.organization_roles else ""))
        if self.api_key:
            found.append("api-key")
        return ", ".join(found) if found else "none"


def presence_from_columns(names: PluginNames, columns: Iterable[tuple[Any, Any]]) -> PluginPresence:
    """Which plugins the ``(table, column)`` pairs of :meth:`PluginNames.catalog_sql` show."""
    seen: dict[str, set[str]] = {}
    for table, column in columns:
        seen.setdefault(str(table), set()).add(str(column))
    c = names.column
    user = seen.get(names.mapping.user_table, set())
    session = seen.get(names.mapping.session_table, set())
    member = seen.get(names.table(names.member_table), set())
    roles = seen.get(names.table(names.organization_role_table), set())
    keys = seen.get(names.table(names.apikey_table), set())
    # the user/session plugin columns: one rule, plugin_columns.detect_plugin_columns
    found = detect_plugin_columns(session, user, snake=names.columns == "snake")
    return PluginPresence(
        admin=found.admin,
        impersonation=c("impersonatedBy") in session,
        teams=c("activeTeamId") in session,
        columns=found,
        organization={c("organizationId"), c("userId"), c("role")} <= member,
        organization_roles={c("organizationId"), c("role"), c("permission")} <= roles,
        api_key={c("key"), c("referenceId")} <= keys,
    )


# ------------------------------------------------------------------------------- running


async def fetch(store: Any, query: Query, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Run ``query`` (built for ``store``'s dialect) on the store: its pool, its deadline, its
    faults (:class:`ProviderUnavailableError`)."""
    runner = getattr(store, "fetch", None)
    if runner is None:
        raise ProviderUnavailableError("the session store cannot run plugin lookups")
    rows: list[tuple[Any, ...]] = await runner(query.sql, *query.bind(args))
    return rows


def fetch_sync(store: Any, query: Query, args: tuple[Any, ...], loop: Any) -> list[tuple[Any, ...]]:
    """Blocking :func:`fetch`: in the calling thread for SQLite, else on ``loop`` (a
    :class:`~sessiongate._sync.BackgroundLoop`) with twice the store's deadline."""
    runner = getattr(store, "fetch_sync", None)
    if runner is not None:
        rows: list[tuple[Any, ...]] = runner(query.sql, *query.bind(args))
        return rows
    timeout = float(getattr(store, "timeout", 5.0)) * 2 + 1.0
    result: list[tuple[Any, ...]] = loop.run(fetch(store, query, args), timeout=timeout)
    return result
