"""Better Auth on PostgreSQL: the real library signs a user up; sessiongate verifies its cookie.

better-auth 1.7.25 with a ``pg`` Pool runs its own migrations, ``signUpEmail`` returns the
signed ``better-auth.session_token`` cookie and (bearer plugin) the ``set-auth-token`` header.
sessiongate must accept exactly those, and reject them after sign-out or expiry.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import replace
from http.cookies import SimpleCookie

import pytest

from sessiongate.betterauth import sign_cookie_value
from sessiongate.errors import (
    ExpiredTokenError,
    InvalidSignatureError,
    SessionGateError,
    SessionNotFoundError,
)
from sessiongate.gate import SessionGate
from sessiongate.sessions import BetterAuthSession
from sessiongate.stores import PRESETS
from sessiongate.stores.postgres import PostgresStore

from .db_driver import call, execute, temp_schema

pytestmark = [pytest.mark.node, pytest.mark.postgres]

SECRET = "interop-better-auth-secret-0123456789"


@pytest.fixture
def schema(postgres_dsn, node_bin):
    with temp_schema(postgres_dsn) as name:
        yield name


@pytest.fixture
def signed_up(postgres_dsn, node_bin, schema):
    result = call(
        node_bin,
        "ba.signup",
        dsn=postgres_dsn,
        schema=schema,
        secret=SECRET,
        email="ada@example.com",
        password="correct horse battery staple",
        name="Ada",
    )
    assert result["status"] == 200
    jar = SimpleCookie()
    for header in result["setCookie"]:
        jar.load(header)
    result["cookie"] = jar["better-auth.session_token"].value  # as sent: percent-encoded
    return result


def make(dsn, schema, **options):
    store = PostgresStore(dsn, schema=replace(PRESETS["better-auth"], db_schema=schema))
    auth = BetterAuthSession(store=store, cache_ttl=0, negative_cache_ttl=0, **options)
    return SessionGate(auth), auth


def test_signup_cookie_and_bearer_header_verify(postgres_dsn, node_bin, schema, signed_up):
    cookie, auth_token = signed_up["cookie"], signed_up["setAuthToken"]
    assert "%2F" in cookie or "%2B" in cookie or "%3D" in cookie  # encodeURIComponent'd
    # our signer reproduces better-call's signature byte for byte
    assert sign_cookie_value(signed_up["token"], SECRET) == auth_token
    gate, auth = make(postgres_dsn, schema, secret=SECRET)

    async def main():
        try:
            by_cookie = await gate.authenticate({"cookie": f"better-auth.session_token={cookie}"})
            by_bearer = await gate.authenticate({"authorization": f"Bearer {auth_token}"})
            for result in (by_cookie, by_bearer):
                assert result.user.id == signed_up["userId"]
                assert result.user.email == "ada@example.com"
                assert result.user.name == "Ada"
                assert result.user.source == "better-auth"
            assert by_cookie.credential == "cookie" and by_bearer.credential == "bearer"
            # the JS side agrees the session is valid
            js = call(
                node_bin,
                "ba.getSession",
                dsn=postgres_dsn,
                schema=schema,
                secret=SECRET,
                headers={"cookie": f"better-auth.session_token={cookie}"},
            )
            assert js["userId"] == signed_up["userId"]
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_rotated_secret_list_refuses_old_cookies_as_better_auth_does(
    postgres_dsn, schema, signed_up
):
    # better-auth 1.7.25 verifies signed cookies with its current secret only (ctx.secret)
    gate, auth = make(postgres_dsn, schema, secret=["a-brand-new-secret-0123456789abcdef", SECRET])

    async def main():
        try:
            with pytest.raises(SessionGateError) as err:
                await gate.authenticate(
                    {"cookie": f"better-auth.session_token={signed_up['cookie']}"}
                )
            assert err.value.code == "invalid_signature"
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_wrong_secret_and_forgery_rejected(postgres_dsn, schema, signed_up):
    gate, auth = make(postgres_dsn, schema, secret="not-the-secret-0123456789abcdefgh")

    async def main():
        try:
            with pytest.raises(InvalidSignatureError):
                await gate.authenticate(
                    {"cookie": f"better-auth.session_token={signed_up['cookie']}"}
                )
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_sign_out_and_expiry_rejected(postgres_dsn, node_bin, schema, signed_up):
    gate, auth = make(postgres_dsn, schema, secret=SECRET)
    header = {"cookie": f"better-auth.session_token={signed_up['cookie']}"}

    async def main():
        try:
            assert (await gate.authenticate(header)).user
            await asyncio.to_thread(
                execute,
                postgres_dsn,
                f'UPDATE "{schema}".session SET "expiresAt" = now() - interval \'1 second\'',
            )
            with pytest.raises(ExpiredTokenError):
                await gate.authenticate(header)
            js = call(
                node_bin,
                "ba.getSession",
                dsn=postgres_dsn,
                schema=schema,
                secret=SECRET,
                headers=header,
            )
            assert js["userId"] is None  # Better Auth agrees (and deletes the row)
            with pytest.raises(SessionNotFoundError):
                await gate.authenticate(header)
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_sign_out_deletes_the_session(postgres_dsn, node_bin, schema, signed_up):
    gate, auth = make(postgres_dsn, schema, secret=SECRET)
    header = {"cookie": f"better-auth.session_token={signed_up['cookie']}"}
    res = call(
        node_bin, "ba.signOut", dsn=postgres_dsn, schema=schema, secret=SECRET, headers=header
    )
    assert res["status"] == 200

    async def main():
        try:
            with pytest.raises(SessionNotFoundError):
                await gate.authenticate(header)
        finally:
            await auth.aclose()

    asyncio.run(main())


def test_bearer_base64url_signature_what_better_auth_does(
    postgres_dsn, node_bin, schema, signed_up
):
    """SPEC 5.7 says base64url bearer signatures are accepted. Record what the JS really does."""
    token, sig = signed_up["setAuthToken"].split(".")
    url_sig = base64.urlsafe_b64encode(binascii.a2b_base64(sig)).decode().rstrip("=")
    js = call(
        node_bin,
        "ba.getSession",
        dsn=postgres_dsn,
        schema=schema,
        secret=SECRET,
        headers={"authorization": f"Bearer {token}.{url_sig}"},
    )
    gate, auth = make(postgres_dsn, schema, secret=SECRET)

    async def main():
        try:
            user = (await gate.authenticate({"authorization": f"Bearer {token}.{url_sig}"})).user
            assert user.id == signed_up["userId"]  # sessiongate follows SPEC 5.7
        finally:
            await auth.aclose()

    asyncio.run(main())
    # The plugin's HMAC check passes, but the injected cookie then fails better-call's
    # 44-character/"="-suffix rule, so Better Auth itself finds no session.
    assert js["userId"] is None
