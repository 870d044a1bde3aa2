"""Read one stored timestamp the way the JavaScript ORMs wrote it (pure, per row).

PostgreSQL hands back ``datetime`` objects. SQLite has no date type, so the same Auth.js
``expires`` column holds, depending on who wrote it:

================================================ ==================================================
writer                                           stored value
================================================ ==================================================
Prisma 6 and older (native SQLite connector)     integer **milliseconds** since 1970
Prisma 7 driver adapters (better-sqlite3,        ISO-8601 text ``2026-05-31T12:00:00.000+00:00``;
libSQL), default ``timestampFormat``             integer milliseconds with ``"unixepoch-ms"``
Drizzle ``integer({mode: "timestamp_ms"})``      integer milliseconds (the Auth.js Drizzle schema)
Drizzle ``integer({mode: "timestamp"})``         integer **seconds**
SQLite ``CURRENT_TIMESTAMP``, hand-written rows  text ``2026-05-31 12:00:00`` (UTC, no offset)
TypeORM (``authjs-typeorm``)                     decimal text of milliseconds
================================================ ==================================================

Each row is read on its own, so a table written first by Prisma 6 (integers) and then by
Prisma 7 (text) is read correctly. Text must be ISO-8601 (``T`` or a space between date and
time, optional seconds and fraction, ``Z``/offset optional; no offset means UTC). Integers are
read in the unit the schema mapping names, never guessed: milliseconds for the ``timestamp``
and ``epoch_ms`` formats (what Prisma and the Auth.js Drizzle schema write), seconds for
``epoch_s``. As a guard against a mapping with the wrong unit, an integer on the wrong side of
:data:`UNIT_BOUNDARY` (10^11) is refused instead of read as a date in 1970-1973 or after 5138:
a real expiry in seconds stays below 10^11 until the year 5138, one in milliseconds is above it
from 1973-03-03 on, so the guard never refuses a genuine session row. Anything else (other
text, booleans, NaN, out-of-range numbers, blobs) is refused: the caller answers 503.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Literal

__all__ = ["UNIT_BOUNDARY", "IntegerUnit", "decode_timestamp", "parse_iso_timestamp"]

IntegerUnit = Literal["ms", "s"]

UNIT_BOUNDARY = 100_000_000_000
"""10^11: 1973-03-03T09:46:40Z in milliseconds, the year 5138 in seconds."""

_ISO = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)
_DECIMAL = re.compile(r"-?\d{1,20}(?:\.\d{1,9})?", re.ASCII)


def parse_iso_timestamp(text: str) -> datetime | None:
    """An aware UTC datetime for ISO-8601 text (no offset means UTC), or ``None``."""
    match = _ISO.fullmatch(text.strip())
    if match is None:
        return None
    day, clock, fraction, offset = match.groups()
    micro = ("." + (fraction + "00000")[:6]) if fraction else ""
    if offset == "Z" or offset is None:
        offset = "+00:00"
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock}{micro}{offset}")
    except ValueError:
        return None
    return parsed.astimezone(UTC)


def _from_number(number: float, unit: IntegerUnit) -> datetime | None:
    if not math.isfinite(number):
        return None
    if unit == "ms":
        if number < UNIT_BOUNDARY:
            return None
        seconds = number / 1000.0
    else:
        if number >= UNIT_BOUNDARY:
            return None
        seconds = number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def decode_timestamp(
    value: object, *, unit: IntegerUnit, numeric_text: bool = False
) -> datetime | None:
    """Read one stored timestamp as an aware UTC ``datetime``; ``None`` when it is not one.

    Args:
        value: the column value as the driver returned it.
        unit: what an integer counts since 1970 (see the module docstring).
        numeric_text: also read decimal text as a number (TypeORM stores epoch ms as text).
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _from_number(float(value), unit)
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("ascii")
        except UnicodeDecodeError:
            return None
    if isinstance(value, str):
        parsed = parse_iso_timestamp(value)
        if parsed is not None:
            return parsed
        if numeric_text and _DECIMAL.fullmatch(value.strip()):
            return _from_number(float(value), unit)
    return None
