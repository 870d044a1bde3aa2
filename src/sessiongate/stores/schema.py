"""Which tables and columns hold sessions: presets for what the JS side creates, and custom maps.

SQL is built only from validated identifiers, each quoted (``"userId"``); the token is always a
bind parameter. One query joins the session row with its user row.

Presets (SPEC sections 4.3 and 5.4):

============================ ================== ======================================= ============
preset                       tables             session columns: token, user id, expiry expiry
============================ ================== ======================================= ============
``authjs-prisma``            Session/User       sessionToken, userId, expires           timestamp(3)
``authjs-prisma-v4``         Session/User       sessionToken, userId, expires (+ id)    timestamp(3)
``authjs-prisma-snake``      sessions/users     session_token, user_id, expires         timestamp(3)
``authjs-pg``                sessions/users     sessionToken, userId (serial), expires  timestamptz
``authjs-supabase``          next_auth.sessions sessionToken, userId (uuid), expires    timestamptz
``authjs-drizzle``           session/user       sessionToken, userId, expires           timestamp
``authjs-typeorm``           sessions/users     sessionToken, userId, expires           epoch ms
``better-auth``              session/user       token, userId, expiresAt                timestamptz
``better-auth-snake``        session/user       token, user_id, expires_at              timestamp
``better-auth-plural``       sessions/users     token, userId, expiresAt                timestamptz
``better-auth-plural-snake`` sessions/users     token, user_id, expires_at              timestamp
============================ ================== ======================================= ============

The plural Better Auth presets are what ``usePlural: true`` gives (Kysely, Prisma and Drizzle
adapters); renamed models and fields (``session: { modelName, fields }``) are translated by
:meth:`SchemaMapping.for_better_auth`. Any other layout is a :class:`SchemaMapping` written by
hand, or printed by ``sessiongate db inspect`` from the live database (:mod:`.inspect`).

Naive timestamps (Prisma's ``timestamp(3)``, Drizzle's ``timestamp``) hold UTC wall time and are
read as UTC. On SQLite the same presets read each row as the ORM wrote it (ISO-8601 text from
Prisma 7, integer milliseconds from Prisma's native connector and Drizzle's ``timestamp_ms``; see
:mod:`.timestamps`); Drizzle's seconds mode needs ``expires_format="epoch_s"``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from ..errors import ConfigurationError, ProviderUnavailableError
from .base import SessionRecord
from .better_auth_names import better_auth_names
from .columns import _jsonable as _jsonable  # re-exported: redis_layouts reads it here
from .columns import claim_values
from .plugin_columns import plugin_column_pairs
from .timestamps import decode_timestamp

__all__ = ["PRESETS", "ExpiresFormat", "SchemaMapping", "quote_identifier", "resolve_schema"]

ExpiresFormat = Literal["timestamp", "epoch_ms", "epoch_s"]
"""How the expiry column is stored (every format also reads native timestamps and ISO text):

* ``timestamp``: a DateTime column as Prisma and Drizzle write it: a native timestamp, ISO-8601
  text, or an integer of **milliseconds** (Prisma's native SQLite connector, Prisma 7's
  ``timestampFormat: "unixepoch-ms"``, Drizzle's ``mode: "timestamp_ms"``);
* ``epoch_ms``: the same, and decimal text of milliseconds too (TypeORM);
* ``epoch_s``: integers (or decimal text) are **seconds** (Drizzle's ``mode: "timestamp"``).
"""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")
_MAX_IDENT = 63  # PostgreSQL's NAMEDATALEN - 1
_STANDARD_CLAIMS = frozenset({"sub", "id", "email", "name", "image", "emailVerified", "session"})


def quote_identifier(name: str) -> str:
    """Validate an SQL identifier and return it double-quoted.

    Only ``[A-Za-z_][A-Za-z0-9_$]*`` up to 63 characters is accepted, so no identifier can
    carry a quote, a dot or whitespace; quoting keeps case (``"sessionToken"``) and lets
    reserved words (``"user"``) through.
    """
    if not isinstance(name, str) or len(name) > _MAX_IDENT or not _IDENT.match(name):
        raise ConfigurationError(f"not a valid SQL identifier: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def _extra_pairs(value: Mapping[str, str] | Sequence[str]) -> tuple[tuple[str, str], ...]:
    if isinstance(value, str):
        raise ConfigurationError("extra_user_columns must be a list of names or a mapping")
    if isinstance(value, Mapping):
        pairs = tuple((str(k), str(v)) for k, v in value.items())
    else:
        pairs = tuple(
            (str(c[0]), str(c[1])) if isinstance(c, tuple) and len(c) == 2 else (str(c), str(c))
            for c in value
        )
    for _claim, column in pairs:
        quote_identifier(column)
    return pairs


@dataclass(frozen=True, slots=True)
class SchemaMapping:
    """Table and column names of the session and user tables.

    Args:
        session_table / user_table: table names (quoted as given: case matters).
        db_schema: optional PostgreSQL schema (``public``...; on MySQL the database); otherwise
            the search path (MySQL: the URL's database) decides.
        session_token / session_user_id / session_expires: session columns.
        user_id / user_name / user_email / user_image / user_email_verified: user columns;
            ``None`` for a column the table does not have.
        expires_format: see :data:`ExpiresFormat`.
        extra_user_columns: more user columns to load into the claims, as a list of column
            names or a ``{claim_name: column}`` mapping (``{"role": "role",
            "permissions": "perms"}``). PostgreSQL arrays arrive as lists, ``json``/``jsonb``
            as parsed values.
        json_columns: claim names whose *text* values are JSON to parse (SQLite has no JSON
            type; a ``permissions`` column there usually holds ``'["a","b"]'``).
        extra_session_columns: session columns for the ``session`` claim, as ``{field:
            column}`` or a list of names (:meth:`with_better_auth_columns` fills them in).
        name: a label for messages (the preset name).
    """

    session_table: str
    user_table: str
    session_token: str
    session_user_id: str
    session_expires: str
    user_id: str = "id"
    user_name: str | None = "name"
    user_email: str | None = "email"
    user_image: str | None = "image"
    user_email_verified: str | None = "emailVerified"
    expires_format: ExpiresFormat = "timestamp"
    db_schema: str | None = None
    extra_user_columns: tuple[tuple[str, str], ...] = ()
    json_columns: frozenset[str] = frozenset()
    extra_session_columns: tuple[tuple[str, str], ...] = ()
    name: str = "custom"
    _select: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "extra_user_columns",
            _extra_pairs(self.extra_user_columns),  # type: ignore[arg-type]
        )
        object.__setattr__(self, "json_columns", frozenset(self.json_columns))
        object.__setattr__(
            self,
            "extra_session_columns",
            _extra_pairs(self.extra_session_columns),  # type: ignore[arg-type]
        )
        session_names = [claim for claim, _ in self.extra_session_columns]
        if len(set(session_names)) != len(session_names) or not all(session_names):
            raise ConfigurationError("extra session column names must be non-empty and unique")
        if "expires" in session_names:
            raise ConfigurationError("'expires' is the session expiry, not an extra column")
        if self.expires_format not in ("timestamp", "epoch_ms", "epoch_s"):
            raise ConfigurationError(f"unknown expires_format {self.expires_format!r}")
        seen: set[str] = set()
        for claim, _column in self.extra_user_columns:
            if not claim or claim in _STANDARD_CLAIMS or claim in seen:
                raise ConfigurationError(
                    f"extra user column claim name {claim!r} is empty, repeated or reserved"
                )
            seen.add(claim)
        unknown_json = self.json_columns - seen
        if unknown_json:
            raise ConfigurationError(
                f"json_columns names claims that are not extra columns: {sorted(unknown_json)}"
            )
        object.__setattr__(self, "_select", self._build_select())

    # ------------------------------------------------------------------------------ SQL

    def _table(self, table: str) -> str:
        quoted = quote_identifier(table)
        if self.db_schema is not None:
            return quote_identifier(self.db_schema) + "." + quoted
        return quoted

    def _user_columns(self) -> list[tuple[str, str]]:
        cols: list[tuple[str, str]] = []
        for claim, column in (
            ("name", self.user_name),
            ("email", self.user_email),
            ("image", self.user_image),
            ("emailVerified", self.user_email_verified),
        ):
            if column is not None:
                cols.append((claim, column))
        return cols

    def _build_select(self) -> str:
        q = quote_identifier
        columns = [
            f"s.{q(self.session_token)}",
            f"s.{q(self.session_expires)}",
            f"u.{q(self.user_id)}",
        ]
        columns += [f"u.{q(col)}" for _, col in self._user_columns()]
        columns += [f"u.{q(col)}" for _, col in self.extra_user_columns]
        columns += [f"s.{q(col)}" for _, col in self.extra_session_columns]
        # every identifier went through quote_identifier; the token is a bind parameter
        return (
            f"SELECT {', '.join(columns)} "  # noqa: S608
            f"FROM {self._table(self.session_table)} AS s "
            f"JOIN {self._table(self.user_table)} AS u "
            f"ON u.{q(self.user_id)} = s.{q(self.session_user_id)} "
            f"WHERE s.{q(self.session_token)} = {{param}} LIMIT 1"
        )

    def select_sql(self, placeholder: str, *, dialect: Literal["ansi", "mysql"] = "ansi") -> str:
        """The one lookup query, with ``placeholder`` (``$1``, ``?`` or ``%s``) for the token.

        ``dialect="mysql"`` quotes identifiers with backticks (```userId```), which MySQL and
        MariaDB read whatever the session's ``sql_mode``: double quotes name identifiers
        there only under ``ANSI_QUOTES``.
        """
        if placeholder not in ("$1", "?", "%s"):
            raise ConfigurationError("placeholder must be '$1', '?' or '%s'")
        sql = self._select
        if dialect == "mysql":
            # the only double quotes in the query are identifier quotes: quote_identifier
            # admits no quote character inside a name, and the query has no string literal
            sql = sql.replace('"', "`")
        elif dialect != "ansi":
            raise ConfigurationError("dialect must be 'ansi' or 'mysql'")
        return sql.replace("{param}", placeholder)

    def expiry_sql(self, placeholder: str, *, for_update: bool = False) -> str:
        """The stored expiry of one session, as the driver returns it (for the opt-in touch,
        :mod:`.touch`); ``for_update`` locks the row until the transaction ends (PostgreSQL)."""
        if placeholder not in ("$1", "?"):
            raise ConfigurationError("placeholder must be '$1' or '?'")
        q = quote_identifier
        # every identifier went through quote_identifier; the token is a bind parameter
        return (
            f"SELECT {q(self.session_expires)} FROM {self._table(self.session_table)} "  # noqa: S608
            f"WHERE {q(self.session_token)} = {placeholder}" + (" FOR UPDATE" if for_update else "")
        )

    def update_expiry_sql(self, placeholders: tuple[str, str]) -> str:
        """``UPDATE`` of one session's expiry: ``placeholders`` are (token, new expiry), e.g.
        ``("$1", "$2")`` or ``("?", "?")`` with the expiry bound first for SQLite's order."""
        token, expires = placeholders
        if {token, expires} - {"$1", "$2", "?"}:
            raise ConfigurationError("placeholders must be '$1'/'$2' or '?'")
        q = quote_identifier
        return (
            f"UPDATE {self._table(self.session_table)} "  # noqa: S608 - quoted identifiers
            f"SET {q(self.session_expires)} = {expires} WHERE {q(self.session_token)} = {token}"
        )

    # ------------------------------------------------------------------------------ rows

    def record_from_row(self, row: Sequence[Any]) -> SessionRecord:
        """Turn a result row (in :meth:`select_sql` column order) into a :class:`SessionRecord`.

        A value the schema cannot explain (unreadable expiry, no user id) raises
        :class:`ProviderUnavailableError`: it is a schema mismatch on our side, not a bad
        credential, so it must not log the user out.
        """
        token, raw_expires, raw_user_id = row[0], row[1], row[2]
        expires = self.parse_expires(raw_expires)
        if raw_user_id is None or isinstance(raw_user_id, bool):
            raise ProviderUnavailableError("the session's user row has no id")
        user: dict[str, Any] = {}
        index = 3
        for claim, _ in self._user_columns():
            value = row[index]
            index += 1
            if value is not None:
                user[claim] = _jsonable(value)
        extra = claim_values(self.extra_user_columns, row, index, self.json_columns)
        index += len(self.extra_user_columns)
        session = claim_values(self.extra_session_columns, row, index, self.json_columns)
        return SessionRecord(
            session_token=str(token),
            user_id=str(raw_user_id),
            expires=expires,
            user=MappingProxyType(user),
            extra=MappingProxyType(extra),
            session=MappingProxyType(session),
        )

    def parse_expires(self, value: Any) -> datetime:
        """Read the expiry column as an aware UTC datetime, row by row (see :mod:`.timestamps`).

        A value that is not a timestamp in this mapping's format raises
        :class:`ProviderUnavailableError` (503): it is a mismatch between the mapping and the
        data, not a bad credential.
        """
        fmt = self.expires_format
        parsed = decode_timestamp(
            value, unit="s" if fmt == "epoch_s" else "ms", numeric_text=fmt != "timestamp"
        )
        if parsed is not None:
            return parsed
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            unit = "seconds" if fmt == "epoch_s" else "milliseconds"
            other = "epoch_ms" if fmt == "epoch_s" else "epoch_s"
            raise ProviderUnavailableError(
                f"the session expiry column holds a number that is not a date in {unit} "
                f"(schema {self.name!r}; if the JS side stores {other.replace('epoch_', '')} "
                f"use expires_format={other!r})"
            )
        raise ProviderUnavailableError(
            f"the session expiry column holds a {type(value).__name__} that is not a "
            f"timestamp (schema {self.name!r}: ISO-8601 text or an integer in "
            f"{'seconds' if fmt == 'epoch_s' else 'milliseconds'} expected)"
        )

    # ------------------------------------------------------------------------------ variants

    def with_extra(
        self,
        columns: Mapping[str, str] | Sequence[str],
        *,
        json_columns: Sequence[str] = (),
    ) -> SchemaMapping:
        """A copy that also loads these user columns (``preset.with_extra(["role"])``)."""
        pairs = self.extra_user_columns + _extra_pairs(columns)
        return replace(
            self,
            extra_user_columns=pairs,
            json_columns=self.json_columns | frozenset(json_columns),
        )

    def with_better_auth_columns(
        self,
        *,
        session: bool = True,
        admin: bool = False,
        two_factor: bool = False,
        organization: bool = False,
        teams: bool = False,
    ) -> SchemaMapping:
        """A copy that also reads the columns Better Auth's plugins add (only ask for columns
        the tables have: a missing one makes every lookup a 503); see
        :func:`.plugin_columns.plugin_column_pairs` for which, and
        :func:`.plugin_columns.detect_plugin_columns` to find out which exist."""
        user, session_pairs = plugin_column_pairs(
            snake=self.session_expires == "expires_at",
            have_user={claim for claim, _ in self.extra_user_columns},
            have_session={claim for claim, _ in self.extra_session_columns},
            session=session,
            admin=admin,
            two_factor=two_factor,
            organization=organization,
            teams=teams,
        )
        return replace(
            self,
            extra_user_columns=self.extra_user_columns + user,
            extra_session_columns=self.extra_session_columns + session_pairs,
        )

    @classmethod
    def for_better_auth(
        cls,
        *,
        use_plural: bool = False,
        session_model: str = "session",
        user_model: str = "user",
        session_fields: Mapping[str, str] | None = None,
        user_fields: Mapping[str, str] | None = None,
        columns: Literal["camel", "snake"] = "camel",
        db_schema: str | None = None,
    ) -> SchemaMapping:
        """The mapping for a Better Auth configuration, read as better-auth 1.7 reads it.

        Args:
            use_plural: the adapter's ``usePlural`` (Kysely, Prisma, Drizzle): an ``s`` is
                appended to every table name, the custom ones included.
            session_model / user_model: ``session.modelName`` / ``user.modelName``.
            session_fields / user_fields: ``session.fields`` / ``user.fields``, logical name
                to column (``{"expiresAt": "expires_at", "userId": "owner_id"}``). Logical
                names are ``token``, ``userId``, ``expiresAt``; ``name``, ``email``,
                ``image``, ``emailVerified``.
            columns: ``"snake"`` for a schema made by Better Auth's Drizzle generator
                (``@better-auth/cli generate`` without ``camelCase: true``), which snake-cases
                every table and (renamed) field name (``expiresAt`` -> ``expires_at``).
            db_schema: the PostgreSQL schema (or MySQL database) of the tables.

        The naming rules are :func:`.better_auth_names.better_auth_names`'s. A field name that
        is not one Better Auth has raises :class:`ConfigurationError` (better-auth refuses it
        too: ``Field … not found in model …``).
        """
        names = better_auth_names(
            use_plural=use_plural,
            session_model=session_model,
            user_model=user_model,
            session_fields=session_fields,
            user_fields=user_fields,
            columns=columns,
        )
        return cls(**names, db_schema=db_schema, name="better-auth (custom)")

    def same_tables(self, other: SchemaMapping) -> bool:
        """Whether both read the same tables and columns the same way (labels aside)."""
        return replace(self, name=other.name) == other

    def as_python(self) -> str:
        """Ready-to-paste Python that builds this mapping: ``SchemaMapping(...)`` with every
        argument that differs from the default (what ``sessiongate db inspect`` prints)."""
        arguments: list[str] = []
        for item in fields(self):
            if not item.init or item.name == "name":
                continue
            value = getattr(self, item.name)
            default = item.default
            if item.name in ("session_table", "user_table") or value != default:
                if item.name == "json_columns":
                    value = sorted(value)
                arguments.append(f"    {item.name}={value!r},")
        return "SchemaMapping(\n" + "\n".join(arguments) + "\n)"

    @classmethod
    def preset(cls, name: str) -> SchemaMapping:
        """The mapping for a preset name (see the module docstring)."""
        try:
            return PRESETS[name]
        except KeyError:
            raise ConfigurationError(
                f"unknown schema preset {name!r}; known: {', '.join(sorted(PRESETS))}"
            ) from None


def _authjs(session_table: str, user_table: str, name: str, **options: Any) -> SchemaMapping:
    return SchemaMapping(
        session_table=session_table,
        user_table=user_table,
        session_token="sessionToken",  # noqa: S106 - a column name
        session_user_id="userId",
        session_expires="expires",
        name=name,
        **options,
    )


def _better_auth(name: str, *, plural: bool, snake: bool) -> SchemaMapping:
    # Better Auth's own naming rules (better_auth_names), default models and fields
    mapping = SchemaMapping.for_better_auth(
        use_plural=plural, columns="snake" if snake else "camel"
    )
    return replace(mapping, name=name)


PRESETS: Mapping[str, SchemaMapping] = MappingProxyType(
    {
        "authjs-prisma": _authjs("Session", "User", "authjs-prisma"),
        "authjs-prisma-v4": _authjs("Session", "User", "authjs-prisma-v4"),
        "authjs-prisma-snake": SchemaMapping(
            session_table="sessions",
            user_table="users",
            session_token="session_token",  # noqa: S106 - a column name
            session_user_id="user_id",
            session_expires="expires",
            user_email_verified="email_verified",
            name="authjs-prisma-snake",
        ),
        "authjs-pg": _authjs("sessions", "users", "authjs-pg"),
        "authjs-supabase": _authjs("sessions", "users", "authjs-supabase", db_schema="next_auth"),
        "authjs-drizzle": _authjs("session", "user", "authjs-drizzle"),
        "authjs-typeorm": _authjs("sessions", "users", "authjs-typeorm", expires_format="epoch_ms"),
        "better-auth": _better_auth("better-auth", plural=False, snake=False),
        "better-auth-snake": _better_auth("better-auth-snake", plural=False, snake=True),
        "better-auth-plural": _better_auth("better-auth-plural", plural=True, snake=False),
        "better-auth-plural-snake": _better_auth(
            "better-auth-plural-snake", plural=True, snake=True
        ),
    }
)


def resolve_schema(schema: SchemaMapping | str) -> SchemaMapping:
    """Accept a :class:`SchemaMapping` or a preset name."""
    if isinstance(schema, SchemaMapping):
        return schema
    if isinstance(schema, str):
        return SchemaMapping.preset(schema)
    raise ConfigurationError("schema must be a SchemaMapping or a preset name")
