"""API keys of @better-auth/api-key (sessiongate.apikeys) on a SQLite database."""

from __future__ import annotations

import asyncio
import base64
import hashlib

import pytest

from ba_plugin_db import (
    KEY_DISABLED,
    KEY_EXHAUSTED,
    KEY_EXPIRED,
    KEY_ORG,
    KEY_ORPHAN,
    KEY_PERMS,
    KEY_PLAIN,
    NOW,
    make_db,
)
from sessiongate.apikeys import (
    ApiKeyDisabledError,
    ApiKeyExpiredError,
    ApiKeyRecord,
    ApiKeyUsageExceededError,
    ApiKeyVerifier,
    InvalidApiKeyError,
    api_key_allows,
    api_key_user_allows,
    hash_api_key,
    judge_api_key,
)
from sessiongate.errors import ConfigurationError, ProviderUnavailableError
from sessiongate.stores.sqlite import SQLiteStore

T = NOW.timestamp()


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(make_db(tmp_path / "ba.db"), schema="better-auth")
    yield s
    asyncio.run(s.aclose())


def test_hash_is_the_plugins_default_key_hasher():
    # defaultKeyHasher: base64url(sha256(key)) without padding
    digest = hashlib.sha256(b"abc").digest()
    assert hash_api_key("abc") == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert "=" not in hash_api_key("x" * 64)


def test_valid_key_yields_an_api_key_user_with_the_owner_row(store):
    keys = ApiKeyVerifier(store, cache_ttl=0)
    result = keys.authenticate_sync({"x-api-key": KEY_PLAIN}, now=T)
    assert result is not None
    assert result.user.id == "u-ada" and result.user.email == "ada@x.org"
    assert result.user.source == "api-key" and result.authenticator == "api-key"
    assert result.user.claims["apiKey"]["id"] == "k1"
    assert keys.authenticate_sync({"other": "x"}, now=T) is None


@pytest.mark.parametrize(
    ("key", "error"),
    [
        (KEY_DISABLED, ApiKeyDisabledError),
        (KEY_EXPIRED, ApiKeyExpiredError),
        (KEY_EXHAUSTED, ApiKeyUsageExceededError),
        (KEY_ORPHAN, InvalidApiKeyError),
        ("n" * 64, InvalidApiKeyError),
        ("short", InvalidApiKeyError),
    ],
)
def test_refusals_follow_validate_api_key(store, key, error):
    keys = ApiKeyVerifier(store, cache_ttl=0, negative_cache_ttl=0)
    with pytest.raises(error):
        keys.authenticate_sync({"x-api-key": key}, now=T)
    with pytest.raises(error):
        asyncio.run(keys.authenticate({"x-api-key": key}, now=T))


def test_usage_exceeded_is_429():
    assert ApiKeyUsageExceededError().status_code == 429
    assert InvalidApiKeyError().status_code == 401


def test_expiry_is_strictly_after_expires_at(store):
    keys = ApiKeyVerifier(store, cache_ttl=0)
    record = keys.lookup_sync(KEY_EXPIRED)
    assert record is not None and record.expires_at == T - 1
    assert judge_api_key(record, T - 1) is None  # Date.now() > expiresAt, not >=
    assert isinstance(judge_api_key(record, T - 0.999), ApiKeyExpiredError)


def test_permissions_are_checked_with_the_keys_statements(store):
    keys = ApiKeyVerifier(store, cache_ttl=0)
    result = keys.authenticate_sync({"X-Api-Key": KEY_PERMS}, now=T)
    assert result.user.id == "u-admin"
    assert api_key_user_allows(result.user, {"project": ["read"]})
    assert not api_key_user_allows(result.user, {"project": ["write"]})
    plain = keys.authenticate_sync({"x-api-key": KEY_PLAIN}, now=T).user
    assert not api_key_user_allows(plain, {"project": ["read"]})  # no statements: nothing
    record = keys.lookup_sync(KEY_PERMS)
    assert judge_api_key(record, T, permissions={"project": ["read"]}) is None
    assert isinstance(
        judge_api_key(record, T, permissions={"project": ["write"]}), InvalidApiKeyError
    )
    assert not api_key_allows(None, {"project": ["read"]})


def test_other_configuration_keys_are_unknown():
    record = ApiKeyRecord("k", "billing", "u", True, None, None, None, None, {"sub": "u"})
    assert isinstance(judge_api_key(record, T), InvalidApiKeyError)
    assert judge_api_key(record, T, config_id="billing") is None
    default = ApiKeyRecord("k", None, "u", None, None, None, None, None, {"sub": "u"})
    assert judge_api_key(default, T, config_id="default") is None  # null enabled: not refused


def test_organization_owned_key_is_an_organization_principal(store):
    keys = ApiKeyVerifier(store, references="organization", cache_ttl=0)
    user = keys.authenticate_sync({"x-api-key": KEY_ORG}, now=T).user
    assert user.id == "org-1" and user.name == "Acme"
    assert user.claims["principal"] == "organization"
    with pytest.raises(InvalidApiKeyError):  # a user-owned key names no organization
        keys.authenticate_sync({"x-api-key": KEY_PLAIN}, now=T)


def test_header_name_is_configurable(store):
    keys = ApiKeyVerifier(store, header=["authorization-key", "x-api-key"], cache_ttl=0)
    assert keys.authenticate_sync({"Authorization-Key": KEY_PLAIN}, now=T).user.id == "u-ada"
    pairs = [(b"x-api-key", KEY_PLAIN.encode())]
    assert keys.authenticate_sync(pairs, now=T).user.id == "u-ada"


def test_disabled_hashing_looks_the_key_up_in_clear(store, tmp_path):
    import sqlite3

    conn = sqlite3.connect(store.path)
    conn.execute("UPDATE apikey SET key = ? WHERE id = 'k1'", (KEY_PLAIN,))
    conn.commit()
    conn.close()
    hashed = ApiKeyVerifier(store, cache_ttl=0, negative_cache_ttl=0)
    clear = ApiKeyVerifier(store, cache_ttl=0, disable_key_hashing=True)
    with pytest.raises(InvalidApiKeyError):
        hashed.authenticate_sync({"x-api-key": KEY_PLAIN}, now=T)
    assert clear.authenticate_sync({"x-api-key": KEY_PLAIN}, now=T).user.id == "u-ada"


def test_cache_keeps_hits_and_misses_then_asks_again(store):
    now = [0.0]
    keys = ApiKeyVerifier(store, cache_ttl=5, negative_cache_ttl=2, clock=lambda: now[0])
    assert keys.authenticate_sync({"x-api-key": KEY_PLAIN}, now=T).user.id == "u-ada"
    with pytest.raises(InvalidApiKeyError):
        keys.authenticate_sync({"x-api-key": "n" * 64}, now=T)
    asyncio.run(store.aclose())
    assert keys.authenticate_sync({"x-api-key": KEY_PLAIN}, now=T).user.id == "u-ada"
    with pytest.raises(InvalidApiKeyError):
        keys.authenticate_sync({"x-api-key": "n" * 64}, now=T)
    now[0] = 3.0
    with pytest.raises(ProviderUnavailableError):  # the miss expired: the store is asked
        keys.authenticate_sync({"x-api-key": "n" * 64}, now=T)


def test_configuration_is_validated(store):
    with pytest.raises(ConfigurationError):
        ApiKeyVerifier(store, references="team")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        ApiKeyVerifier(store, header=[])
    with pytest.raises(ConfigurationError):
        ApiKeyVerifier(store, min_key_length=0)
    with pytest.raises(ConfigurationError):
        ApiKeyVerifier(object())
