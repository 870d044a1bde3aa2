from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sessiongate.errors import ConfigurationError, ProviderUnavailableError
from sessiongate.stores import PRESETS, SchemaMapping, quote_identifier, resolve_schema


def test_quote_identifier_keeps_case_and_reserved_words():
    assert quote_identifier("sessionToken") == '"sessionToken"'
    assert quote_identifier("user") == '"user"'


@pytest.mark.parametrize(
    "evil",
    [
        'x"; DROP TABLE users; --',
        "a b",
        "a.b",
        "1abc",
        "",
        "a" * 64,
        "naïve",
        "tok'en",
        "x\x00",
    ],
)
def test_sql_injection_via_identifier_rejected(evil):
    with pytest.raises(ConfigurationError):
        quote_identifier(evil)
    with pytest.raises(ConfigurationError):
        SchemaMapping(
            session_table=evil,
            user_table="User",
            session_token="sessionToken",
            session_user_id="userId",
            session_expires="expires",
        )


def test_prisma_preset_sql_is_one_join_with_a_bind_parameter():
    sql = PRESETS["authjs-prisma"].select_sql("$1")
    assert sql == (
        'SELECT s."sessionToken", s."expires", u."id", u."name", u."email", u."image", '
        'u."emailVerified" FROM "Session" AS s JOIN "User" AS u ON u."id" = s."userId" '
        'WHERE s."sessionToken" = $1 LIMIT 1'
    )
    assert PRESETS["authjs-prisma"].select_sql("?").endswith("= ? LIMIT 1")


@pytest.mark.parametrize(
    ("preset", "session_table", "user_table", "token_col", "expires_col"),
    [
        ("authjs-prisma", '"Session"', '"User"', '"sessionToken"', '"expires"'),
        ("authjs-prisma-v4", '"Session"', '"User"', '"sessionToken"', '"expires"'),
        ("authjs-pg", '"sessions"', '"users"', '"sessionToken"', '"expires"'),
        ("authjs-drizzle", '"session"', '"user"', '"sessionToken"', '"expires"'),
        ("authjs-typeorm", '"sessions"', '"users"', '"sessionToken"', '"expires"'),
        ("better-auth", '"session"', '"user"', '"token"', '"expiresAt"'),
        ("better-auth-snake", '"session"', '"user"', '"token"', '"expires_at"'),
    ],
)
def test_presets_name_the_tables_the_js_side_creates(
    preset, session_table, user_table, token_col, expires_col
):
    sql = resolve_schema(preset).select_sql("$1")
    assert f"FROM {session_table} AS s JOIN {user_table} AS u" in sql
    assert f"WHERE s.{token_col} = $1" in sql
    assert f"s.{expires_col}" in sql


def test_snake_presets_use_snake_columns():
    sql = resolve_schema("better-auth-snake").select_sql("$1")
    assert 'ON u."id" = s."user_id"' in sql
    assert 'u."email_verified"' in sql


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ConfigurationError, match="authjs-prisma"):
        resolve_schema("authjs-mongo")


def test_db_schema_qualifies_tables():
    from dataclasses import replace

    sql = replace(PRESETS["better-auth"], db_schema="auth").select_sql("$1")
    assert 'FROM "auth"."session" AS s JOIN "auth"."user" AS u' in sql


def test_extra_columns_and_reserved_claim_names():
    mapping = PRESETS["authjs-prisma"].with_extra({"role": "role", "permissions": "perms"})
    assert 'u."role", u."perms" FROM' in mapping.select_sql("$1")
    for reserved in ("sub", "session", "email"):
        with pytest.raises(ConfigurationError):
            PRESETS["authjs-prisma"].with_extra([reserved])
    with pytest.raises(ConfigurationError):
        PRESETS["authjs-prisma"].with_extra(["role"], json_columns=["permissions"])
    with pytest.raises(ConfigurationError):
        PRESETS["authjs-prisma"].with_extra("role")  # a bare string is a mistake


def test_naive_timestamps_are_utc():
    mapping = PRESETS["authjs-prisma"]
    naive = datetime(2026, 1, 2, 3, 4, 5, 678000)
    assert mapping.parse_expires(naive) == naive.replace(tzinfo=UTC)
    assert mapping.parse_expires("2026-01-02 03:04:05.678") == naive.replace(tzinfo=UTC)
    assert mapping.parse_expires("2026-01-02T03:04:05.678Z") == naive.replace(tzinfo=UTC)
    plus2 = timezone(timedelta(hours=2))
    aware = datetime(2026, 1, 2, 5, 4, 5, 678000, tzinfo=plus2)
    assert mapping.parse_expires(aware).timestamp() == naive.replace(tzinfo=UTC).timestamp()


def test_typeorm_expiry_is_epoch_milliseconds_text():
    mapping = PRESETS["authjs-typeorm"]
    assert mapping.parse_expires("1767323045678") == datetime(
        2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC
    )
    assert mapping.parse_expires(1767323045678).year == 2026


@pytest.mark.parametrize("bad", [None, "yesterday", "", True, "nan", float("inf"), b"\xff"])
def test_unreadable_expiry_is_a_503_not_a_401(bad):
    for preset in ("authjs-prisma", "authjs-typeorm"):
        with pytest.raises(ProviderUnavailableError):
            PRESETS[preset].parse_expires(bad)


def test_record_from_row_shapes_user_and_extra():
    mapping = PRESETS["authjs-pg"].with_extra(["role", "permissions"], json_columns=["permissions"])
    row = (
        "tok",
        datetime(2030, 1, 1, tzinfo=UTC),
        42,
        "Ada",
        "ada@example.com",
        None,
        datetime(2025, 1, 1, tzinfo=UTC),
        "admin",
        '["a","b"]',
    )
    rec = mapping.record_from_row(row)
    assert rec.user_id == "42"
    assert dict(rec.user) == {
        "name": "Ada",
        "email": "ada@example.com",
        "emailVerified": "2025-01-01T00:00:00Z",
    }
    assert dict(rec.extra) == {"role": "admin", "permissions": ["a", "b"]}
    assert "tok" not in repr(rec)


def test_json_column_with_garbage_is_503():
    mapping = PRESETS["authjs-pg"].with_extra(["permissions"], json_columns=["permissions"])
    row = ("tok", datetime(2030, 1, 1, tzinfo=UTC), 1, None, None, None, None, "[not json")
    with pytest.raises(ProviderUnavailableError):
        mapping.record_from_row(row)


@pytest.mark.parametrize(
    ("preset", "tables", "session_columns", "verified_column"),
    [
        ("better-auth", ("session", "user"), ("token", "userId", "expiresAt"), "emailVerified"),
        (
            "better-auth-snake",
            ("session", "user"),
            ("token", "user_id", "expires_at"),
            "email_verified",
        ),
        (
            "better-auth-plural",
            ("sessions", "users"),
            ("token", "userId", "expiresAt"),
            "emailVerified",
        ),
        (
            "better-auth-plural-snake",
            ("sessions", "users"),
            ("token", "user_id", "expires_at"),
            "email_verified",
        ),
    ],
)
def test_better_auth_presets_name_the_tables_better_auth_writes(
    preset: str,
    tables: tuple[str, str],
    session_columns: tuple[str, str, str],
    verified_column: str,
) -> None:
    """The presets are built by Better Auth's naming rules; these are the literal names."""
    mapping = PRESETS[preset]
    assert (mapping.session_table, mapping.user_table) == tables
    assert (mapping.session_token, mapping.session_user_id, mapping.session_expires) == (
        session_columns
    )
    assert (mapping.user_id, mapping.user_name, mapping.user_email, mapping.user_image) == (
        "id",
        "name",
        "email",
        "image",
    )
    assert mapping.user_email_verified == verified_column
    assert mapping.name == preset and mapping.db_schema is None
    assert mapping.expires_format == "timestamp"
