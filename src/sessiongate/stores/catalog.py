"""Which tables of a database hold sessions, and which mapping reads them (pure; ``db inspect``).

:func:`match_catalog` takes what a database's catalog shows (:class:`Catalog`: tables, their
columns and types, single-column foreign keys) and one stored expiry value per candidate, and
decides; :mod:`.inspect` reads the live database and prints the :class:`Inspection`.

Nothing is guessed silently:

* a **session table** is a table with exactly one column of each role: the token
  (``sessionToken``, ``session_token`` or ``token``), the user id (``userId`` or ``user_id``)
  and the expiry (``expires``, ``expiresAt`` or ``expires_at``): every naming the presets know,
  singular or plural, camelCase or snake_case, found under any table name;
* its **user table** is the one its user-id column references (a foreign key), or, without a
  foreign key (Prisma's ``relationMode = "prisma"``), the table named like it with ``user``
  for ``session`` (``sessions`` -> ``users``); the report says which of the two it was;
* the **expiry format** comes from one stored value when the table has rows (ISO text or a
  native timestamp, integer milliseconds, integer seconds, decimal text of milliseconds), else
  from the column type, with a note saying what was assumed;
* several session tables (two schemas, an old and a new layout) are **ambiguous**: each is
  listed and none is chosen; no session table is **not found**: the tables that look like one
  are listed with the columns they lack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from .schema import PRESETS, ExpiresFormat, SchemaMapping
from .timestamps import UNIT_BOUNDARY, parse_iso_timestamp

__all__ = [
    "Catalog",
    "Found",
    "Inspection",
    "TableInfo",
    "find_candidates",
    "match_catalog",
]

Dialect = Literal["postgresql", "mysql", "sqlite"]

TOKEN_COLUMNS = ("sessionToken", "session_token", "token")
USER_ID_COLUMNS = ("userId", "user_id")
EXPIRES_COLUMNS = ("expires", "expiresAt", "expires_at")
_ROLES = (("token", TOKEN_COLUMNS), ("user id", USER_ID_COLUMNS), ("expiry", EXPIRES_COLUMNS))
_USER_COLUMNS = (
    ("user_name", ("name",)),
    ("user_email", ("email",)),
    ("user_image", ("image",)),
    ("user_email_verified", ("emailVerified", "email_verified")),
)
_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")
_MAX_LISTED_TABLES = 30


@dataclass(frozen=True, slots=True)
class TableInfo:
    """One table (or view) as the catalog describes it.

    Attributes:
        schema: its PostgreSQL schema; ``None`` on SQLite.
        name: the table name, exactly as stored (case matters on PostgreSQL).
        columns: column name -> declared type, lower-cased (``timestamp with time zone``).
        references: column -> ``(schema, table, column)`` it references (single-column
            foreign keys only).
    """

    schema: str | None
    name: str
    columns: Mapping[str, str]
    references: Mapping[str, tuple[str | None, str, str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``"schema"."table"`` (or ``"table"``) for messages."""
        quoted = f'"{self.name}"'
        return quoted if self.schema is None else f'"{self.schema}".{quoted}'


@dataclass(frozen=True, slots=True)
class Catalog:
    """What the database showed: its tables, and where the search looked.

    Attributes:
        dialect: ``postgresql`` or ``sqlite``.
        tables: every table and view searched.
        default_schema: the schema unqualified names resolve to (PostgreSQL's
            ``current_schema()``): a mapping for a table there needs no ``db_schema``.
        url_schema: the schema the database URL names (Prisma's ``?schema=``): the store
            takes it from the URL, so the mapping leaves ``db_schema`` unset for it too.
        searched: a description of where the search looked, for messages.
    """

    dialect: Dialect
    tables: tuple[TableInfo, ...]
    default_schema: str | None = None
    url_schema: str | None = None
    searched: str = ""

    def table(self, schema: str | None, name: str) -> TableInfo | None:
        """The table with this schema and name, if it was searched."""
        for table in self.tables:
            if table.schema == schema and table.name == name:
                return table
        return None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A session table and its user table, before the expiry format is known."""

    session: TableInfo
    user: TableInfo
    token: str
    user_id: str
    expires: str
    referenced_id: str
    linked_by: Literal["foreign key", "name"]


@dataclass(frozen=True, slots=True)
class Found:
    """One session table and the mapping that reads it.

    Attributes:
        mapping: the mapping (a preset's, or a custom one).
        preset: the preset name when one reads exactly these tables the same way.
        session_table / user_table: where they were found, for messages.
        notes: what was assumed or is worth knowing (each one sentence).
    """

    mapping: SchemaMapping
    preset: str | None
    session_table: str
    user_table: str
    notes: tuple[str, ...] = ()

    def python(self) -> str:
        """Ready-to-paste Python for this mapping."""
        if self.preset is not None:
            return f'schema = "{self.preset}"'
        return (
            "from sessiongate.stores import SchemaMapping\n\nschema = " + self.mapping.as_python()
        )


@dataclass(frozen=True, slots=True)
class Inspection:
    """The outcome of one inspection.

    Attributes:
        found: every session table found with its mapping (exactly one when :attr:`ok`).
        missing: one sentence per table that looks like a session table but is not one, naming
            what it lacks.
        catalog: what was searched.
    """

    found: tuple[Found, ...]
    missing: tuple[str, ...]
    catalog: Catalog

    @property
    def ok(self) -> bool:
        """Exactly one mapping: nothing to choose."""
        return len(self.found) == 1

    @property
    def exit_code(self) -> int:
        """0 for one mapping, 1 for none or several."""
        return 0 if self.ok else 1

    def render(self) -> str:
        """The report ``sessiongate db inspect`` prints."""
        catalog = self.catalog
        lines = [f"sessiongate db inspect: {catalog.dialect}, {catalog.searched}"]
        if self.ok:
            found = self.found[0]
            lines.append(_describe(found))
            if found.preset is not None:
                lines += [
                    f"preset: {found.preset}",
                    f"  SESSIONGATE_SCHEMA={found.preset}   (serve --schema {found.preset}; "
                    f'Python: schema="{found.preset}")',
                ]
            else:
                lines += ["no preset reads these tables; paste this mapping:", ""]
                lines += ["  " + line if line else "" for line in found.python().splitlines()]
                lines.append("")
            lines += [f"note: {note}" for note in found.notes]
            return "\n".join(lines) + "\n"
        if self.found:
            lines.append(
                f"ambiguous: {len(self.found)} session tables found; none is chosen. Pick one "
                "with --db-schema or --session-table:"
            )
            for found in self.found:
                lines.append(
                    f"  - {found.session_table} with {found.user_table}: "
                    + (f"preset {found.preset}" if found.preset else "a custom SchemaMapping")
                )
            return "\n".join(lines) + "\n"
        lines.append(f"not found: no session table in {catalog.searched}.")
        lines += [f"  - {sentence}" for sentence in self.missing]
        names = [t.label for t in catalog.tables]
        if names:
            shown = ", ".join(names[:_MAX_LISTED_TABLES])
            more = len(names) - _MAX_LISTED_TABLES
            lines.append(f"tables seen: {shown}" + (f" (and {more} more)" if more > 0 else ""))
        else:
            lines.append("tables seen: none (does this role have access to them?)")
        lines.append(
            "A session table has a token column (sessionToken, session_token or token), a "
            "user id column (userId or user_id) and an expiry column (expires, expiresAt or "
            "expires_at); for other names write a SchemaMapping by hand."
        )
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict[str, Any]:
        """The report as JSON (``--json``)."""
        return {
            "ok": self.ok,
            "dialect": self.catalog.dialect,
            "searched": self.catalog.searched,
            "found": [
                {
                    "preset": f.preset,
                    "session_table": f.session_table,
                    "user_table": f.user_table,
                    "python": f.python(),
                    "notes": list(f.notes),
                }
                for f in self.found
            ],
            "missing": list(self.missing),
        }


def _describe(found: Found) -> str:
    m = found.mapping
    return (
        f"found: session table {found.session_table} ({m.session_token}, "
        f"{m.session_user_id}, {m.session_expires}) with user table {found.user_table} "
        f"({m.user_id})"
    )


# ---------------------------------------------------------------------------------- matching


def _one_of(table: TableInfo, names: Sequence[str]) -> tuple[str | None, list[str]]:
    present = [n for n in names if n in table.columns]
    return (present[0] if len(present) == 1 else None), present


def _partner_name(name: str) -> str | None:
    """``sessions`` -> ``users``, ``Session`` -> ``User``, ``auth_session`` -> ``auth_user``."""
    for session, user in (("session", "user"), ("Session", "User"), ("SESSION", "USER")):
        at = name.rfind(session)
        if at >= 0:
            return name[:at] + user + name[at + len(session) :]
    return None


def _looks_like_session_table(table: TableInfo) -> bool:
    """Named like one, or holding a token and a user id (worth saying what else it lacks)."""
    if "session" in table.name.lower():
        return True
    return all(any(c in table.columns for c in names) for _, names in _ROLES[:2])


def find_candidates(catalog: Catalog) -> tuple[list[Candidate], list[str]]:
    """The session tables of ``catalog`` with their user tables, and the near misses."""
    candidates: list[Candidate] = []
    missing: list[str] = []
    for table in catalog.tables:
        picked: dict[str, str] = {}
        problems: list[str] = []
        for role, names in _ROLES:
            column, present = _one_of(table, names)
            if column is not None:
                picked[role] = column
            elif present:
                problems.append(f"several {role} columns ({', '.join(present)})")
            else:
                problems.append(f"no {role} column ({', '.join(names)})")
        if problems:
            if _looks_like_session_table(table):
                has = ", ".join(picked.values()) if picked else "none of them"
                missing.append(f"{table.label}: {'; '.join(problems)}; it has {has}")
            continue
        user_id_column = picked["user id"]
        reference = table.references.get(user_id_column)
        if reference is not None:
            user = catalog.table(reference[0], reference[1])
            if user is None:
                missing.append(
                    f"{table.label}: {user_id_column} references "
                    f'"{reference[1]}", a table this inspection cannot read'
                )
                continue
            referenced, linked_by = reference[2], "foreign key"
        else:
            partner = _partner_name(table.name)
            user = None if partner is None else catalog.table(table.schema, partner)
            if user is None:
                named = f'"{partner}"' if partner else "like it"
                missing.append(
                    f"{table.label}: no foreign key on {user_id_column} and no user table "
                    f"named {named}"
                )
                continue
            referenced, linked_by = "id", "name"
        if referenced not in user.columns:
            missing.append(f"{user.label}: no {referenced} column for {table.label}")
            continue
        candidates.append(
            Candidate(
                table,
                user,
                picked["token"],
                user_id_column,
                picked["expiry"],
                referenced,
                linked_by,  # type: ignore[arg-type]
            )
        )
    return candidates, missing


_TIMESTAMP_TYPES = re.compile(r"timestamp|datetime|date|time")
_INTEGER_TYPES = re.compile(r"int|numeric|decimal|real|double|float")


def expires_format(
    column_type: str, sample: object, dialect: Dialect
) -> tuple[ExpiresFormat, str | None]:
    """The expiry format for a column of ``column_type`` holding ``sample`` (``None``: no rows),
    and a note when it had to be assumed."""
    if isinstance(sample, bool):
        sample = None
    if isinstance(sample, (datetime, date)):
        return "timestamp", None
    if isinstance(sample, (int, float)):
        return ("timestamp", None) if sample >= UNIT_BOUNDARY else ("epoch_s", None)
    if isinstance(sample, (bytes, bytearray)):
        sample = bytes(sample).decode("ascii", "replace")
    if isinstance(sample, str):
        text = sample.strip()
        if re.fullmatch(r"-?\d{1,20}(?:\.\d{1,9})?", text):
            return ("epoch_ms", None) if float(text) >= UNIT_BOUNDARY else ("epoch_s", None)
        if parse_iso_timestamp(text) is not None:
            return "timestamp", None
        return "timestamp", f"the expiry column holds text sessiongate cannot read: {text[:40]!r}"
    # no rows: the column type decides
    if dialect != "sqlite" and _TIMESTAMP_TYPES.search(column_type):
        return "timestamp", None
    if _INTEGER_TYPES.search(column_type):
        return "timestamp", (
            "the session table is empty and its expiry column is a number: milliseconds "
            "assumed (Drizzle's timestamp_ms, Prisma); if the app stores seconds (Drizzle "
            'mode "timestamp") use expires_format="epoch_s"'
        )
    if dialect != "sqlite":
        return "epoch_ms", (
            f"the session table is empty and its expiry column is {column_type}: epoch "
            "milliseconds as text assumed (TypeORM); ISO-8601 text reads as well"
        )
    return "timestamp", (
        "the session table is empty: the expiry is read as ISO-8601 text or integer "
        'milliseconds; if the app stores seconds use expires_format="epoch_s"'
    )


def _db_schema(catalog: Catalog, table: TableInfo) -> str | None:
    if table.schema is None or table.schema in (catalog.default_schema, catalog.url_schema):
        return None
    return table.schema


def _preset_for(mapping: SchemaMapping, session: TableInfo) -> str | None:
    names = [name for name, preset in PRESETS.items() if mapping.same_tables(preset)]
    if {"authjs-prisma", "authjs-prisma-v4"} <= set(names):
        # the same query reads both; the v4-era schema is the one with an id column
        names.remove("authjs-prisma" if "id" in session.columns else "authjs-prisma-v4")
    return names[0] if names else None


def conclude(
    catalog: Catalog, candidate: Candidate, sample: object, *, label: str | None = None
) -> Found:
    """The mapping for one candidate, given one stored expiry value (``None``: no rows)."""
    session, user = candidate.session, candidate.user
    fmt, note = expires_format(session.columns[candidate.expires], sample, catalog.dialect)
    notes = [note] if note else []
    user_columns: dict[str, str | None] = {}
    for argument, names in _USER_COLUMNS:
        column, present = _one_of(user, names)
        if column is None and present:
            column = present[0]
            notes.append(f"{user.label} has {' and '.join(present)}; {column} is read")
        user_columns[argument] = column
    absent = [names[0] for argument, names in _USER_COLUMNS if user_columns[argument] is None]
    if absent:
        notes.append(f"{user.label} has no {', '.join(absent)} column: not read")
    if candidate.linked_by == "name":
        notes.append(
            f"{user.label} was chosen by its name: {session.label} has no foreign key on "
            f"{candidate.user_id}"
        )
    if user.schema != session.schema:
        notes.append(f"the user table is in another schema ({user.schema}) than the sessions")
    mapping = SchemaMapping(
        session_table=session.name,
        user_table=user.name,
        session_token=candidate.token,
        session_user_id=candidate.user_id,
        session_expires=candidate.expires,
        user_id=candidate.referenced_id,
        user_name=user_columns["user_name"],
        user_email=user_columns["user_email"],
        user_image=user_columns["user_image"],
        user_email_verified=user_columns["user_email_verified"],
        expires_format=fmt,
        db_schema=_db_schema(catalog, session),
        name=label or "inspected",
    )
    preset = _preset_for(mapping, session) if user.schema == session.schema else None
    if preset is not None:
        mapping = PRESETS[preset]
    return Found(mapping, preset, session.label, user.label, tuple(notes))


def match_catalog(
    catalog: Catalog,
    samples: Mapping[tuple[str | None, str], object],
    *,
    session_table: str | None = None,
) -> Inspection:
    """Pure: the inspection of ``catalog``, with one stored expiry value per session table.

    ``samples`` maps ``(schema, table)`` of each candidate session table to one non-null value
    of its expiry column (absent or ``None``: the table has no rows). ``session_table`` keeps
    only the session tables of that name.
    """
    candidates, missing = find_candidates(catalog)
    if session_table is not None:
        candidates = [c for c in candidates if c.session.name == session_table]
        if not candidates:
            missing.insert(0, f'no session table named "{session_table}" was found')
    found = tuple(
        conclude(catalog, c, samples.get((c.session.schema, c.session.name))) for c in candidates
    )
    return Inspection(found, tuple(missing), catalog)
