from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from sessiongate.errors import ConfigurationError, ProviderUnavailableError
from sessiongate.stores import CachedStore

from .helpers import NOW, NOW_TS, FakeStore, record


class Clock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_single_flight_one_query_for_concurrent_lookups():
    fake = FakeStore({"tok": record()}, delay=0.05)
    cache = CachedStore(fake, ttl=5)

    async def main():
        return await asyncio.gather(*(cache.load("tok") for _ in range(50)))

    results = asyncio.run(main())
    assert fake.calls == 1
    assert all(r is results[0] for r in results)


def test_single_flight_even_with_cache_disabled():
    fake = FakeStore({"tok": record()}, delay=0.05)
    cache = CachedStore(fake, ttl=0, negative_ttl=0)

    async def main():
        await asyncio.gather(*(cache.load("tok") for _ in range(20)))
        await cache.load("tok")

    asyncio.run(main())
    assert fake.calls == 2  # one shared query, then no caching at all


def test_hits_expire_after_ttl():
    timer = Clock()
    fake = FakeStore({"tok": record()})
    cache = CachedStore(fake, ttl=5, monotonic=timer)

    async def main():
        await cache.load("tok")
        timer.t = 4.9
        await cache.load("tok")
        assert fake.calls == 1
        timer.t = 5.1
        await cache.load("tok")
        assert fake.calls == 2

    asyncio.run(main())


def test_negative_cache_is_short_and_separate():
    timer = Clock()
    fake = FakeStore({})
    cache = CachedStore(fake, ttl=60, negative_ttl=2, monotonic=timer)

    async def main():
        assert await cache.load("nope") is None
        assert await cache.load("nope") is None
        assert fake.calls == 1
        fake.records["nope"] = record("nope")  # the JS side signs someone in with that token
        timer.t = 2.5
        assert await cache.load("nope") is not None
        assert fake.calls == 2

    asyncio.run(main())


def test_errors_are_shared_but_never_cached():
    fake = FakeStore({"tok": record()}, delay=0.02)
    fake.fail = True
    cache = CachedStore(fake, ttl=5)

    async def main():
        results = await asyncio.gather(
            *(cache.load("tok") for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, ProviderUnavailableError) for r in results)
        assert fake.calls == 1
        fake.fail = False
        assert await cache.load("tok") is not None
        assert fake.calls == 2

    asyncio.run(main())


def test_cancelled_leader_does_not_cancel_followers_silently():
    fake = FakeStore({"tok": record()}, delay=0.2)
    cache = CachedStore(fake, ttl=5)

    async def main():
        leader = asyncio.ensure_future(cache.load("tok"))
        await asyncio.sleep(0.01)
        follower = asyncio.ensure_future(cache.load("tok"))
        await asyncio.sleep(0.01)
        leader.cancel()
        with pytest.raises(ProviderUnavailableError):
            await follower
        assert await cache.load("tok") is not None  # the next request queries again

    asyncio.run(main())


def test_expired_records_are_cached_too():
    fake = FakeStore({"tok": record(expires=NOW - timedelta(seconds=1))})
    cache = CachedStore(fake, ttl=60)

    async def main():
        first = await cache.load("tok")
        assert first is not None and first.is_expired(NOW_TS)
        assert await cache.load("tok") is first

    asyncio.run(main())
    assert fake.calls == 1


def test_cache_is_bounded():
    fake = FakeStore({f"t{i}": record(f"t{i}") for i in range(100)})
    cache = CachedStore(fake, ttl=60, maxsize=10)

    async def main():
        for i in range(100):
            await cache.load(f"t{i}")

    asyncio.run(main())
    assert cache._hits is not None and len(cache._hits) == 10


def test_invalidate():
    fake = FakeStore({"tok": record()})
    cache = CachedStore(fake, ttl=60)

    async def main():
        await cache.load("tok")
        cache.invalidate("tok")
        await cache.load("tok")
        cache.invalidate()
        await cache.load("tok")

    asyncio.run(main())
    assert fake.calls == 3


@pytest.mark.parametrize("kwargs", [{"ttl": -1}, {"negative_ttl": float("nan")}, {"maxsize": 0}])
def test_bad_config(kwargs):
    with pytest.raises(ConfigurationError):
        CachedStore(FakeStore(), **kwargs)
