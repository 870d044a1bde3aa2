"""Which columns Better Auth's plugins add, how they are named, and which a database has (pure).

Names as better-auth 1.7.25 writes them: camelCase, or snake_case for the ``*-snake`` layouts
(Better Auth's Drizzle generator). The columns, per switch of
:meth:`.schema.SchemaMapping.with_better_auth_columns`:

=============== ===================================================== =======================
switch          user columns                                          session columns
=============== ===================================================== =======================
``session``     —                                                     ``createdAt``,
                                                                      ``updatedAt``,
                                                                      ``ipAddress``,
                                                                      ``userAgent`` (core)
``admin``       ``role``, ``banned``, ``banReason``, ``banExpires``   ``impersonatedBy``
``two_factor``  ``twoFactorEnabled``                                  —
``organization`` —                                                    ``activeOrganizationId``
``teams``       —                                                     ``activeTeamId``
                (``organization({ teams: { enabled: true } })``)
=============== ===================================================== =======================
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from ..baplugins import ADMIN_USER_FIELDS, SESSION_FIELDS, TWO_FACTOR_USER_FIELDS

__all__ = [
    "PluginColumns",
    "detect_plugin_columns",
    "plugin_column_pairs",
]

_CORE_SESSION = SESSION_FIELDS[:4]
_ORG_SESSION = ("activeOrganizationId",)
_TEAM_SESSION = ("activeTeamId",)

Pairs = tuple[tuple[str, str], ...]


def snake_case(name: str) -> str:
    """``banExpires`` -> ``ban_expires`` (Better Auth's Drizzle generator's rule)."""
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def plugin_column_pairs(
    *,
    snake: bool,
    have_user: Collection[str] = (),
    have_session: Collection[str] = (),
    session: bool = True,
    admin: bool = False,
    two_factor: bool = False,
    organization: bool = False,
    teams: bool = False,
) -> tuple[Pairs, Pairs]:
    """``(user (field, column) pairs, session pairs)`` for the switches, leaving out the
    fields in ``have_user`` / ``have_session`` (already read)."""
    column = snake_case if snake else str
    user_fields = (ADMIN_USER_FIELDS if admin else ()) + (
        TWO_FACTOR_USER_FIELDS if two_factor else ()
    )
    session_fields = (
        (_CORE_SESSION if session else ())
        + (("impersonatedBy",) if admin else ())
        + (_ORG_SESSION if organization else ())
        + (_TEAM_SESSION if teams else ())
    )
    return (
        tuple((f, column(f)) for f in user_fields if f not in have_user),
        tuple((f, column(f)) for f in session_fields if f not in have_session),
    )


@dataclass(frozen=True, slots=True)
class PluginColumns:
    """Which plugins' columns a database has (see :func:`detect_plugin_columns`)."""

    session: bool
    admin: bool
    two_factor: bool
    organization: bool
    teams: bool = False

    def as_switches(self) -> dict[str, bool]:
        """Keyword arguments for :meth:`.schema.SchemaMapping.with_better_auth_columns`."""
        return {
            "session": self.session,
            "admin": self.admin,
            "two_factor": self.two_factor,
            "organization": self.organization,
            "teams": self.teams,
        }


def detect_plugin_columns(
    session_columns: Collection[str], user_columns: Collection[str], *, snake: bool
) -> PluginColumns:
    """Which switches the tables can serve, from their column names (a catalog read).

    A plugin counts as present only when **every** column it adds is there: the admin plugin
    needs ``role``, ``banned``, ``banReason``, ``banExpires`` and ``session.impersonatedBy``.
    """
    column = snake_case if snake else str
    session_set, user_set = set(session_columns), set(user_columns)

    def has(fields: tuple[str, ...], table: set[str]) -> bool:
        return all(column(f) in table for f in fields)

    return PluginColumns(
        session=has(_CORE_SESSION, session_set),
        admin=has(ADMIN_USER_FIELDS, user_set) and has(("impersonatedBy",), session_set),
        two_factor=has(TWO_FACTOR_USER_FIELDS, user_set),
        organization=has(_ORG_SESSION, session_set),
        teams=has(_TEAM_SESSION, session_set),
    )
