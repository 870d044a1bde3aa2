"""Plural and renamed Better Auth tables, created and written by the real better-auth 1.7.25.

``usePlural: true`` (its Kysely adapter) and ``session``/``user`` ``modelName`` + ``fields``
renames: better-auth's own migrations create the tables, ``signUpEmail`` writes the session.
``sessiongate db inspect`` must name the preset (plural), print a mapping that works (renamed
tables), or refuse and say what it cannot find (renamed columns); the mapping from
``SchemaMapping.for_better_auth`` with the same options as the JS config must read the session.
"""

from __future__ import annotations

import asyncio
import io
import textwrap
import time
from http.cookies import SimpleCookie
from typing import Any

import pytest

from sessiongate.cli import main
from sessiongate.cookies import RequestCredentials
from sessiongate.sessions import BetterAuthSession
from sessiongate.stores import PRESETS, SchemaMapping
from sessiongate.stores.inspect import inspect_database
from sessiongate.stores.postgres import PostgresStore

from .db_driver import temp_schema
from .parity_driver import call

pytestmark = [pytest.mark.node, pytest.mark.postgres]

SECRET = "parity-better-auth-secret-0123456789abcdef"

RENAMED_MODELS = {
    "session": {
        "modelName": "auth_session",
        "fields": {"token": "session_key", "userId": "owner_id", "expiresAt": "valid_until"},
    },
    "user": {"modelName": "member", "fields": {"email": "email_address"}},
}


@pytest.fixture
def schema(postgres_dsn, node_bin):
    with temp_schema(postgres_dsn) as name:
        yield name


def sign_up(node_bin: str, dsn: str, schema: str, **options: Any) -> tuple[str, str]:
    result = call(
        node_bin,
        "ba.signup",
        dsn=dsn,
        schema=schema,
        secret=SECRET,
        email="ada@example.com",
        name="Ada",
        **options,
    )
    assert result["status"] == 200, result
    jar = SimpleCookie()
    for header in result["setCookie"]:
        jar.load(header)
    cookie = jar["better-auth.session_token"].value
    # the JS side reads its own tables back: the configuration works there
    assert (
        call(
            node_bin,
            "ba.getSession",
            dsn=dsn,
            schema=schema,
            secret=SECRET,
            headers={"cookie": f"better-auth.session_token={cookie}"},
            **options,
        )["userId"]
        == result["userId"]
    )
    return cookie, result["userId"]


def verify(url: str, mapping: SchemaMapping, cookie: str) -> str:
    auth = BetterAuthSession(
        secret=SECRET, store=PostgresStore(url, schema=mapping), cache_ttl=0, negative_cache_ttl=0
    )

    async def main_() -> str:
        try:
            verified = await auth.authenticate(
                RequestCredentials(cookies={"better-auth.session_token": cookie}), time.time()
            )
            assert verified is not None
            return str(verified.claims["sub"])
        finally:
            await auth.aclose()

    return asyncio.run(main_())


def test_use_plural_tables_are_the_plural_preset(postgres_dsn, node_bin, schema):
    cookie, user_id = sign_up(node_bin, postgres_dsn, schema, usePlural=True)
    url = f"{postgres_dsn}?schema={schema}"
    result = inspect_database(url)
    assert result.ok, result.render()
    assert result.found[0].preset == "better-auth-plural"
    assert SchemaMapping.for_better_auth(use_plural=True).same_tables(PRESETS["better-auth-plural"])
    assert verify(url, PRESETS["better-auth-plural"], cookie) == user_id


def test_renamed_models_are_found_by_their_foreign_key_and_the_printed_mapping_works(
    postgres_dsn, node_bin, schema
):
    models = {"session": {"modelName": "auth_session"}, "user": {"modelName": "member"}}
    cookie, user_id = sign_up(node_bin, postgres_dsn, schema, models=models)
    url = f"{postgres_dsn}?schema={schema}"
    out = io.StringIO()
    assert main(["db", "inspect", "--database-url", url], stdout=out) == 0
    report = out.getvalue()
    assert "no preset reads these tables; paste this mapping:" in report
    pasted_code = report.split("paste this mapping:\n", 1)[1].split("\nnote:", 1)[0]
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(pasted_code), namespace)  # what a user pastes
    pasted = namespace["schema"]
    expected = SchemaMapping.for_better_auth(session_model="auth_session", user_model="member")
    assert pasted.same_tables(expected)
    assert verify(url, pasted, cookie) == user_id


def test_renamed_fields_are_refused_by_inspect_and_read_through_for_better_auth(
    postgres_dsn, node_bin, schema
):
    cookie, user_id = sign_up(node_bin, postgres_dsn, schema, models=RENAMED_MODELS)
    url = f"{postgres_dsn}?schema={schema}"
    out = io.StringIO()
    assert main(["db", "inspect", "--database-url", url], stdout=out) == 1
    report = out.getvalue()
    assert f'not found: no session table in schema "{schema}".' in report
    assert '"auth_session": no token column (sessionToken, session_token, token)' in report
    assert "no expiry column" in report
    mapping = SchemaMapping.for_better_auth(
        session_model="auth_session",
        user_model="member",
        session_fields=RENAMED_MODELS["session"]["fields"],
        user_fields=RENAMED_MODELS["user"]["fields"],
    )
    assert verify(url, mapping, cookie) == user_id
