"""How a column value read from a session or user row becomes a claim value (pure).

Claims are JSON-ready: datetimes become ISO-8601 UTC text, bytes hex, UUIDs and decimals text.
Date fields of Better Auth's plugins (``createdAt``, ``updatedAt``, ``banExpires``) are read as
timestamps whatever the ORM stored (native, ISO text, integer milliseconds); JSON text in the
columns the mapping names is parsed (SQLite has no JSON type).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from ..errors import ProviderUnavailableError
from .timestamps import decode_timestamp

__all__ = ["TIMESTAMP_FIELDS", "claim_values", "timestamp_or_value"]

TIMESTAMP_FIELDS = frozenset({"createdAt", "updatedAt", "banExpires"})


def timestamp_or_value(value: Any) -> Any:
    """A date column as the ORM wrote it, as a ``datetime``; a value that is no date is kept
    as it is, for the rule that reads it to judge (a ban whose end is no date stays in force)."""
    parsed = decode_timestamp(value, unit="ms", numeric_text=False)
    return value if parsed is None else parsed


def claim_values(
    pairs: Sequence[tuple[str, str]],
    row: Sequence[Any],
    index: int,
    json_columns: Collection[str] = (),
) -> dict[str, Any]:
    """``{claim: value}`` for the (claim, column) ``pairs`` read from ``row[index:]``, nulls
    left out. Text that should hold JSON and does not raises
    :class:`~sessiongate.errors.ProviderUnavailableError` (a schema mismatch, not a bad
    credential)."""
    found: dict[str, Any] = {}
    for offset, (claim, _) in enumerate(pairs):
        value = row[index + offset]
        if value is None:
            continue
        if claim in TIMESTAMP_FIELDS:
            value = timestamp_or_value(value)
        elif claim in json_columns and isinstance(value, (str, bytes)):
            try:
                value = json.loads(value)
            except ValueError:
                raise ProviderUnavailableError(
                    f"the user column for {claim!r} does not hold JSON"
                ) from None
        found[claim] = _jsonable(value)
    return found


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)  # UUID, Decimal...
