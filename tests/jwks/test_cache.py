"""sessiongate.jwks.cache: the key-set cache's decisions, driven by hand (no HTTP, no sleeping)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sessiongate.errors import ConfigurationError, ProviderUnavailableError, UnknownKidError
from sessiongate.jwks import parse_jwk_set
from sessiongate.jwks.cache import CachePolicy, KeyCache

from .helpers import P256_KEY, RSA_KEY, RSA_KEY_2, jwk, jwks_body

OLD = parse_jwk_set(jwks_body(jwk(RSA_KEY, "k1"), jwk(RSA_KEY_2, "k2")))
NEW = parse_jwk_set(jwks_body(jwk(RSA_KEY_2, "k2")))
OTHER = parse_jwk_set(jwks_body(jwk(P256_KEY, "k3")))
POLICY = CachePolicy()  # 600 s TTL, 30 s refetch interval, 5 s retry, 3600 s stale


def fetched(cache: KeyCache, keyset, now: float, ttl: float = 600) -> None:
    cache.record_success(cache.begin(), now, keyset, ttl, now)


def test_policy_defaults_and_validation():
    assert (
        CachePolicy(
            cache_ttl=timedelta(minutes=10),
            min_cache_ttl=60,
            max_cache_ttl=3600,
            min_refetch_interval=30,
            retry_interval=5,
            max_stale=3600,
        )
        == CachePolicy()
    )
    good = {
        "cache_ttl": 600,
        "min_cache_ttl": 60,
        "max_cache_ttl": 3600,
        "min_refetch_interval": 30,
        "retry_interval": 5,
        "max_stale": 3600,
    }
    for name, bad in [
        ("cache_ttl", 0),
        ("cache_ttl", float("nan")),
        ("max_stale", -1),
        ("retry_interval", float("inf")),
        ("min_cache_ttl", 7200),
    ]:
        with pytest.raises(ConfigurationError):
            CachePolicy(**{**good, name: bad})


@pytest.mark.parametrize(
    ("max_age", "ttl"), [(None, 600), (120, 120), (5, 60), (0, 60), (10**9, 3600)]
)
def test_ttl_is_the_servers_max_age_within_bounds(max_age, ttl):
    assert POLICY.ttl(max_age) == ttl


def test_empty_cache_fetches_and_without_keys_is_503():
    cache = KeyCache(POLICY)
    assert cache.lookup("k1", 0) is None
    assert cache.plan("k1", 0) == (0, True)
    with pytest.raises(ProviderUnavailableError):
        cache.serve("k1", 0)
    assert cache.record_failure(cache.begin(), 0, 0) is False  # nothing cached
    assert cache.plan("k1", 1) == (1, False)  # retry_interval not over
    assert cache.plan("k1", 5) == (1, True)


def test_fresh_keys_are_served_without_fetching():
    cache = KeyCache(POLICY)
    fetched(cache, OLD, 0)
    assert [k.kid for k in cache.lookup("k1", 599) or ()] == ["k1"]
    assert cache.lookup(None, 0) == OLD.keys
    assert cache.plan("k1", 599) == (1, False)
    assert cache.lookup("k1", 600) is None  # expired
    assert cache.plan("k1", 600) == (1, True)


def test_unknown_kid_refetch_is_rate_limited_and_401_when_the_endpoint_is_healthy():
    cache = KeyCache(POLICY)
    fetched(cache, OLD, 0)
    assert cache.plan("k9", 29) == (1, False)
    assert cache.plan("k9", 30) == (1, True)
    with pytest.raises(UnknownKidError):
        cache.serve("k9", 29)


def test_failed_fetch_never_empties_the_cache_and_makes_unknown_kids_503():
    cache = KeyCache(POLICY)
    fetched(cache, OLD, 0)
    assert cache.record_failure(cache.begin(), 700, 700) is True
    assert cache.kids == ("k1", "k2")
    assert [k.kid for k in cache.serve("k1", 700)] == ["k1"]  # stale, within max_stale
    with pytest.raises(ProviderUnavailableError):  # cannot tell a new key from a made-up one
        cache.serve("k9", 700)
    assert cache.stale_usable("k1", 600 + 3599)
    assert not cache.stale_usable("k1", 600 + 3600)
    with pytest.raises(ProviderUnavailableError):  # past max_stale
        cache.serve("k1", 600 + 3600)
    assert cache.kids == ("k1", "k2")  # still kept, ready for when the endpoint is back


def test_version_changes_only_with_the_usable_keys():
    cache = KeyCache(POLICY)
    fetched(cache, OLD, 0)
    assert cache.version == 1
    fetched(cache, parse_jwk_set(jwks_body(jwk(RSA_KEY, "k1"), jwk(RSA_KEY_2, "k2"))), 700)
    assert cache.version == 1
    fetched(cache, NEW, 1400)
    assert cache.version == 2
    assert cache.fetch_count == 3


def test_results_apply_in_fetch_start_order():
    cache = KeyCache(POLICY)
    fetched(cache, OLD, 0)
    older, newer = cache.begin(), cache.begin()
    assert cache.record_success(newer, 700, NEW, 600, 701) is True
    assert cache.record_success(older, 700, OLD, 600, 702) is False  # late and superseded
    assert cache.kids == ("k2",)
    assert cache.record_failure(older, 700, 703) is True
    with pytest.raises(UnknownKidError):  # an older fetch's failure is not an outage
        cache.serve("k1", 703)
    assert cache.fetch_count == 4


def test_success_of_an_older_fetch_does_not_hide_a_newer_failure():
    cache = KeyCache(POLICY)
    fetched(cache, OLD, 0)
    older, newer = cache.begin(), cache.begin()
    cache.record_failure(newer, 700, 701)
    assert cache.record_success(older, 700, OTHER, 600, 702) is True
    with pytest.raises(ProviderUnavailableError):  # the newest attempt failed
        cache.serve("k1", 702)
    assert [k.kid for k in cache.serve("k3", 702)] == ["k3"]


def test_check_again_sees_a_fetch_that_finished_meanwhile():
    cache = KeyCache(POLICY)
    generation, due = cache.plan("k1", 0)
    assert due
    fetched(cache, OLD, 0)  # another caller fetched while we waited for the lock
    assert not cache.still_needed(generation, "k1", 0)
    assert cache.still_needed(cache.plan("k9", 30)[0], "k9", 30)
