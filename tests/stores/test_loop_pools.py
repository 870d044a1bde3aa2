"""LoopPools: one pool per event loop, each closed on the loop that owns it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from sessiongate._sync import BackgroundLoop
from sessiongate.errors import ProviderUnavailableError
from sessiongate.stores.loop_pools import LoopPools


class FakePool:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.closed_on: str | None = None
        self.terminated = False


def make(close_delay: float = 0.0) -> tuple[LoopPools, list[FakePool]]:
    made: list[FakePool] = []

    async def create() -> Any:
        pool = FakePool()
        made.append(pool)
        return pool

    async def close(pool: Any) -> None:
        assert asyncio.get_running_loop() is pool.loop  # a driver's pool is closed on its loop
        await asyncio.sleep(close_delay)
        pool.closed_on = threading.current_thread().name

    def terminate(pool: Any) -> None:
        pool.terminated = True

    return LoopPools(create, close, terminate, timeout=0.5), made


def test_one_pool_per_loop_closed_on_its_own_loop_then_refused() -> None:
    pools, made = make()
    background = BackgroundLoop(name="pools-test-loop")
    try:
        theirs = background.run(pools.get(), timeout=5)
        assert background.run(pools.get(), timeout=5) is theirs  # the same loop: the same pool

        async def on_app_loop() -> None:
            ours = await pools.get()
            assert ours is not theirs and await pools.get() is ours
            assert pools.current() is ours
            await pools.aclose()
            with pytest.raises(ProviderUnavailableError):
                await pools.get()

        asyncio.run(on_app_loop())
        assert [p.closed_on for p in made] == ["pools-test-loop", "MainThread"]
        assert not any(p.terminated for p in made)
    finally:
        background.close()


def test_a_close_that_hangs_is_terminated_and_a_closed_loop_is_skipped() -> None:
    pools, made = make(close_delay=5.0)

    async def first() -> None:
        await pools.get()

    asyncio.run(first())  # this loop is closed now: its pool went with it

    async def second() -> None:
        await pools.get()
        await pools.aclose()

    asyncio.run(second())
    assert [p.terminated for p in made] == [False, True]
    assert [p.closed_on for p in made] == [None, None]
    assert pools.current() is None
