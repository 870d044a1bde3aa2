"""Plural and renamed tables: the new presets and SchemaMapping.for_better_auth (pure)."""

from __future__ import annotations

import pytest

from sessiongate.errors import ConfigurationError
from sessiongate.stores import PRESETS, SchemaMapping, resolve_schema


@pytest.mark.parametrize(
    ("preset", "tables", "columns"),
    [
        ("better-auth-plural", ('"sessions"', '"users"'), ('"token"', '"userId"', '"expiresAt"')),
        (
            "better-auth-plural-snake",
            ('"sessions"', '"users"'),
            ('"token"', '"user_id"', '"expires_at"'),
        ),
        ("authjs-supabase", ('"next_auth"."sessions"', '"next_auth"."users"'), None),
    ],
)
def test_plural_and_supabase_presets_name_their_tables(preset, tables, columns):
    sql = resolve_schema(preset).select_sql("$1")
    assert f"FROM {tables[0]} AS s JOIN {tables[1]} AS u" in sql
    if columns is not None:
        token, user_id, expires = columns
        assert f"WHERE s.{token} = $1" in sql
        assert f"= s.{user_id} " in sql
        assert f"s.{expires}," in sql


def test_plural_snake_preset_reads_snake_email_verified():
    assert 'u."email_verified"' in PRESETS["better-auth-plural-snake"].select_sql("?")


def test_for_better_auth_defaults_are_the_better_auth_preset():
    assert SchemaMapping.for_better_auth().same_tables(PRESETS["better-auth"])


def test_use_plural_appends_s_as_better_auth_does():
    plural = SchemaMapping.for_better_auth(use_plural=True)
    assert plural.same_tables(PRESETS["better-auth-plural"])
    # getModelName: a custom modelName gets the "s" too
    custom = SchemaMapping.for_better_auth(use_plural=True, session_model="auth_session")
    assert (custom.session_table, custom.user_table) == ("auth_sessions", "users")


def test_drizzle_generator_columns_are_snake_cased_tables_too():
    snake = SchemaMapping.for_better_auth(columns="snake")
    assert snake.same_tables(PRESETS["better-auth-snake"])
    plural = SchemaMapping.for_better_auth(columns="snake", use_plural=True)
    assert plural.same_tables(PRESETS["better-auth-plural-snake"])
    renamed = SchemaMapping.for_better_auth(
        columns="snake",
        session_model="authSession",
        session_fields={"expiresAt": "validUntil"},
        user_fields={"emailVerified": "mailOK"},
    )
    assert renamed.session_table == "auth_session"
    assert renamed.session_expires == "valid_until"
    assert renamed.user_email_verified == "mail_ok"


def test_model_and_field_renames_become_the_mapping():
    mapping = SchemaMapping.for_better_auth(
        session_model="auth_session",
        user_model="member",
        session_fields={"token": "session_key", "userId": "owner", "expiresAt": "valid_until"},
        user_fields={"email": "email_address", "image": "avatar"},
        db_schema="auth",
    )
    sql = mapping.select_sql("$1")
    assert sql == (
        'SELECT s."session_key", s."valid_until", u."id", u."name", u."email_address", '
        'u."avatar", u."emailVerified" FROM "auth"."auth_session" AS s JOIN "auth"."member" '
        'AS u ON u."id" = s."owner" WHERE s."session_key" = $1 LIMIT 1'
    )


def test_renames_of_fields_sessiongate_does_not_read_are_accepted():
    mapping = SchemaMapping.for_better_auth(session_fields={"ipAddress": "ip"})
    assert mapping.same_tables(PRESETS["better-auth"])


@pytest.mark.parametrize(
    "options",
    [
        {"session_fields": {"expires": "x"}},  # Auth.js's name, not Better Auth's
        {"user_fields": {"role": "x"}},  # an additional field: with_extra, not fields
        {"session_fields": ["token"]},
        {"columns": "kebab"},
        {"session_fields": {"token": 'x"; DROP TABLE session; --'}},
    ],
)
def test_for_better_auth_refuses_what_better_auth_refuses(options):
    with pytest.raises(ConfigurationError):
        SchemaMapping.for_better_auth(**options)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_as_python_is_ready_to_paste(name):
    mapping = PRESETS[name].with_extra(
        {"role": "role", "perms": "permissions"}, json_columns=["perms"]
    )
    rebuilt = eval(mapping.as_python(), {"SchemaMapping": SchemaMapping})
    assert rebuilt.same_tables(mapping)
    assert rebuilt.select_sql("$1") == mapping.select_sql("$1")


def test_as_python_names_only_what_differs_from_the_defaults():
    code = PRESETS["better-auth-plural"].as_python()
    assert code == (
        "SchemaMapping(\n"
        "    session_table='sessions',\n"
        "    user_table='users',\n"
        "    session_token='token',\n"
        "    session_user_id='userId',\n"
        "    session_expires='expiresAt',\n"
        ")"
    )


def test_same_tables_ignores_the_label_only():
    preset = PRESETS["authjs-pg"]
    assert SchemaMapping.for_better_auth().same_tables(PRESETS["better-auth"])
    assert not preset.same_tables(PRESETS["authjs-typeorm"])  # expires_format differs
    assert not preset.same_tables(PRESETS["authjs-supabase"])  # db_schema differs


def test_the_cli_help_names_every_preset():
    from sessiongate.cli import build_parser

    subcommands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command in ("decode", "doctor", "serve"):
        (schema,) = [a for a in subcommands[command]._actions if a.dest == "schema"]
        for name in PRESETS:
            assert name in schema.help.replace(",", " ").split(), (command, name)
