"""The Redis key layouts of Better Auth and the Auth.js adapters (pure: no server)."""

from __future__ import annotations

import json

import pytest

from sessiongate.errors import ConfigurationError, ProviderUnavailableError
from sessiongate.stores.redis_layouts import (
    AuthJSRedisLayout,
    BetterAuthRedisLayout,
    is_revoked_by_mark,
    resolve_layout,
)

CREATED = "2026-05-01T12:00:00.000Z"
CREATED_MS = 1777636800000


def ba_value(**session: object) -> str:
    base = {
        "id": "s1",
        "token": "tok",
        "userId": "u1",
        "createdAt": CREATED,
        "updatedAt": CREATED,
        "expiresAt": "2026-05-08T12:00:00.000Z",
    }
    base.update(session)
    user = {"id": "u1", "name": "Ada", "email": "a@x.io", "emailVerified": False, "role": "admin"}
    return json.dumps({"session": base, "user": user})


def test_better_auth_keys_follow_the_redis_storage_prefix() -> None:
    layout = BetterAuthRedisLayout()
    assert layout.session_key("abc") == "better-auth:abc"
    assert layout.revoked_key("u1") == "better-auth:revoked-sessions-before-u1"
    assert BetterAuthRedisLayout(prefix="").session_key("abc") == "abc"


def test_better_auth_record_keeps_standard_fields_and_opted_in_extras() -> None:
    layout = BetterAuthRedisLayout(extra_user_fields=("role",))
    user_id, stored = layout.parse_session(ba_value())
    record = layout.record("tok", stored, None)
    assert user_id == "u1"
    assert record is not None
    assert record.user_id == "u1"
    assert dict(record.user) == {"name": "Ada", "email": "a@x.io", "emailVerified": False}
    assert dict(record.extra) == {"role": "admin"}
    assert record.expires.isoformat() == "2026-05-08T12:00:00+00:00"


@pytest.mark.parametrize(
    ("mark", "revoked"),
    [
        (None, False),  # Number(null) = 0
        (b"", False),  # Number("") = 0
        (b"abc", False),  # NaN revokes nothing
        (str(CREATED_MS).encode(), False),  # createdAt < mark is strict
        (str(CREATED_MS + 1).encode(), True),
        (str(CREATED_MS - 1), False),
    ],
)
def test_revoked_sessions_before_mark_is_compared_like_better_auth(
    mark: bytes | str | None, revoked: bool
) -> None:
    assert is_revoked_by_mark(CREATED, mark) is revoked
    layout = BetterAuthRedisLayout()
    _, stored = layout.parse_session(ba_value())
    assert (layout.record("tok", stored, mark) is None) is revoked


def test_invalid_created_at_is_never_revoked_like_an_invalid_js_date() -> None:
    assert is_revoked_by_mark("not a date", b"99999999999999") is False
    assert is_revoked_by_mark(None, b"99999999999999") is False


@pytest.mark.parametrize(
    "value",
    [b"not json", b"[1,2]", json.dumps({"session": {}, "user": None}).encode(), b"x" * 300_000],
)
def test_unreadable_better_auth_values_are_an_outage_not_a_verdict(value: bytes) -> None:
    with pytest.raises(ProviderUnavailableError):
        BetterAuthRedisLayout().parse_session(value)


def test_session_without_readable_expiry_is_an_outage() -> None:
    layout = BetterAuthRedisLayout()
    _, stored = layout.parse_session(ba_value(expiresAt="soon"))
    with pytest.raises(ProviderUnavailableError):
        layout.record("tok", stored, None)


def test_better_auth_classify_keys() -> None:
    layout = BetterAuthRedisLayout()
    assert layout.classify("better-auth:Abc123") == ("token", "Abc123")
    assert layout.classify("better-auth:revoked-sessions-before-u1") == ("user", "u1")
    assert layout.classify("better-auth:active-sessions-u1") is None
    assert layout.classify("better-auth:verification:x") is None
    assert layout.classify("other:Abc") is None
    assert layout.watch_patterns() == ("better-auth:*",)


def test_authjs_layout_joins_session_and_user() -> None:
    layout = AuthJSRedisLayout(base_prefix="app:")
    assert layout.session_key("t1") == "app:user:session:t1"
    assert layout.user_key("u1") == "app:user:u1"
    session = json.dumps({"sessionToken": "t1", "userId": "u1", "expires": CREATED})
    user = json.dumps({"id": "u1", "email": "a@x.io", "emailVerified": None, "name": "Ada"})
    user_id, parsed = layout.parse_session(session)
    assert user_id == "u1"
    record = layout.record("t1", parsed, user)
    assert record is not None
    assert dict(record.user) == {"email": "a@x.io", "name": "Ada"}
    assert record.expires_at == CREATED_MS / 1000
    assert layout.record("t1", parsed, None) is None  # the adapter answers null without a user


def test_authjs_user_of_another_id_is_refused() -> None:
    layout = AuthJSRedisLayout()
    _, parsed = layout.parse_session(json.dumps({"userId": "u1", "expires": CREATED}))
    with pytest.raises(ProviderUnavailableError):
        layout.record("t", parsed, json.dumps({"id": "u2"}))


def test_authjs_classify_keys() -> None:
    layout = AuthJSRedisLayout()
    assert layout.classify("user:session:t1") == ("token", "t1")
    assert layout.classify("user:session:by-user-id:u1") is None
    assert layout.classify("user:u1") == ("user", "u1")
    assert layout.classify("user:email:a@x.io") is None
    assert layout.classify("user:account:github:1") is None
    assert layout.classify("user:token:x:y") is None


def test_layout_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        resolve_layout("mongo")
    with pytest.raises(ConfigurationError):
        BetterAuthRedisLayout(prefix="a*")
    with pytest.raises(ConfigurationError):
        BetterAuthRedisLayout(extra_user_fields=("sub",))
    with pytest.raises(ConfigurationError):
        AuthJSRedisLayout(session_prefix="")
    assert resolve_layout("authjs") == AuthJSRedisLayout()
