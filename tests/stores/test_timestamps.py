"""Per-row timestamp decoding (stores/timestamps.py) and the expiry formats of the mappings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from sessiongate.errors import ProviderUnavailableError
from sessiongate.stores import PRESETS
from sessiongate.stores.timestamps import UNIT_BOUNDARY, decode_timestamp

NOON = datetime(2026, 5, 31, 12, 0, 0, tzinfo=UTC)
NOON_MS = int(NOON.timestamp() * 1000)
NOON_S = int(NOON.timestamp())


@pytest.mark.parametrize(
    "value",
    [
        "2026-05-31T12:00:00.000+00:00",  # Prisma 7 driver adapters (default iso8601)
        "2026-05-31T12:00:00.000Z",  # Date.toISOString()
        "2026-05-31T12:00:00Z",
        "2026-05-31 12:00:00",  # SQLite CURRENT_TIMESTAMP (UTC, no offset)
        "2026-05-31 12:00:00.000",
        "2026-05-31T12:00:00",
        "2026-05-31T12:00",
        "2026-05-31T14:00:00+02:00",
        "2026-05-31T14:00:00+0200",
        "2026-05-31T07:00:00-05",
        "2026-05-31T12:00:00.000000000Z",  # nanoseconds are truncated to microseconds
        " 2026-05-31T12:00:00Z ",
        NOON_MS,  # Prisma native connector, Drizzle timestamp_ms, unixepoch-ms
        float(NOON_MS),
        NOON,
        NOON.replace(tzinfo=None),  # naive = UTC wall time
        NOON.astimezone(timezone(timedelta(hours=9))),
        b"2026-05-31T12:00:00Z",
    ],
)
def test_every_form_the_js_side_writes_reads_as_the_same_instant(value):
    assert decode_timestamp(value, unit="ms") == NOON


def test_seconds_unit_for_drizzle_timestamp_mode():
    assert decode_timestamp(NOON_S, unit="s") == NOON
    assert decode_timestamp("2026-05-31T12:00:00Z", unit="s") == NOON  # text is never a number


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        "",
        "yesterday",
        "2026-05-31",  # a date is not an instant
        "31/05/2026 12:00",
        "2026-05-31t12:00:00z",
        "2026-13-31T12:00:00Z",
        "2026-05-31T25:00:00Z",
        "20260531T120000Z",
        str(NOON_MS),  # decimal text only with numeric_text (TypeORM)
        float("nan"),
        float("inf"),
        -1,
        0,
        b"\xff",
        [NOON_MS],
        {"expires": NOON_MS},
        10**30,
    ],
)
def test_anything_else_is_refused(value):
    assert decode_timestamp(value, unit="ms") is None


def test_unit_boundary_refuses_a_seconds_value_read_as_milliseconds_and_back():
    # 1e11 ms is 1973-03-03; 1e11 s is the year 5138
    assert datetime.fromtimestamp(UNIT_BOUNDARY / 1000, UTC).year == 1973
    assert decode_timestamp(NOON_S, unit="ms") is None  # would be January 1970
    assert decode_timestamp(NOON_MS, unit="s") is None  # would be the year 58000
    assert decode_timestamp(UNIT_BOUNDARY, unit="ms") is not None
    assert decode_timestamp(UNIT_BOUNDARY - 1, unit="s") is not None
    assert datetime.fromtimestamp(UNIT_BOUNDARY - 1, UTC).year == 5138


def test_numeric_text_is_read_only_when_asked():
    assert decode_timestamp(str(NOON_MS), unit="ms", numeric_text=True) == NOON
    assert decode_timestamp(f"{NOON_S}", unit="s", numeric_text=True) == NOON
    assert decode_timestamp("1e12", unit="ms", numeric_text=True) is None


# ---------------------------------------------------------------------- through the mappings


def test_default_prisma_preset_reads_ms_integers_and_iso_text_row_by_row():
    mapping = PRESETS["authjs-prisma"]
    assert mapping.parse_expires(NOON_MS) == NOON  # Prisma 6 native connector row
    assert mapping.parse_expires("2026-05-31T12:00:00.000+00:00") == NOON  # Prisma 7 row


def test_drizzle_presets():
    assert PRESETS["authjs-drizzle"].parse_expires(NOON_MS) == NOON  # timestamp_ms
    seconds = replace(PRESETS["authjs-drizzle"], expires_format="epoch_s")
    assert seconds.parse_expires(NOON_S) == NOON


def test_seconds_in_a_milliseconds_mapping_is_503_with_a_hint():
    with pytest.raises(ProviderUnavailableError) as info:
        PRESETS["authjs-drizzle"].parse_expires(NOON_S)
    assert "epoch_s" in info.value.message
    assert str(NOON_S) not in info.value.message
    seconds = replace(PRESETS["authjs-drizzle"], expires_format="epoch_s")
    with pytest.raises(ProviderUnavailableError, match="epoch_ms"):
        seconds.parse_expires(NOON_MS)
