"""A small, dependency-free micro-benchmark timer (``time.perf_counter_ns``).

How one contender is measured:

1. **calibrate** the number of calls per round so one round lasts about ``round_s`` seconds
   (doubling, then scaling);
2. **warm up** for about ``warmup_s`` seconds (fills caches, JIT-free CPython still benefits from
   warm branch predictors, allocator pools and specialised bytecode);
3. time ``rounds`` rounds; each round is one tight ``for`` loop over ``itertools.repeat`` (the
   ``timeit`` idiom) with the cyclic GC disabled, divided by the number of calls.

Rounds of the contenders of one group are **interleaved** (round ``r`` of every contender, then
round ``r + 1``, with the order rotated each round), so slow drift on a shared machine hits all
contenders alike. The median per-call time is the headline number; the minimum is the
least-disturbed run.
"""

from __future__ import annotations

import gc
import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["Measurement", "Timer", "bench_sync", "measure_group", "pct"]

_perf = time.perf_counter_ns


def _run(fn: Callable[[], object], loops: int, clock: Callable[[], int] = _perf) -> int:
    """Nanoseconds for ``loops`` calls of ``fn`` (GC disabled, as ``timeit`` does)."""
    it = itertools.repeat(None, loops)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = clock()
        for _ in it:
            fn()
        return clock() - t0
    finally:
        if gc_was_enabled:
            gc.enable()


@dataclass(frozen=True, slots=True)
class Timer:
    """Timing budget: rounds per contender, target length of one round, warm-up length.

    ``clock`` times the rounds: wall time by default; ``time.thread_time_ns`` (CPU time of this
    thread) leaves out the time a shared, oversubscribed machine makes the process wait.
    """

    rounds: int = 21
    round_s: float = 0.1
    warmup_s: float = 0.2
    clock: Callable[[], int] = _perf

    def calibrate(self, fn: Callable[[], object]) -> int:
        """Calls per round so that one round lasts about ``round_s``."""
        target = self.round_s * 1e9
        loops = 1
        while True:
            elapsed = _run(fn, loops, self.clock)
            if elapsed >= target / 4 or loops >= 1 << 30:
                break
            loops *= 2
        return max(1, round(loops * target / max(elapsed, 1)))

    def warm_up(self, fn: Callable[[], object], loops: int) -> None:
        deadline = _perf() + int(self.warmup_s * 1e9)
        while _perf() < deadline:
            _run(fn, max(1, loops // 4))


@dataclass(slots=True)
class Measurement:
    """Per-call nanoseconds of each round of one contender."""

    name: str
    loops: int
    samples_ns: list[float] = field(default_factory=list)

    @property
    def median_ns(self) -> float:
        return statistics.median(self.samples_ns)

    @property
    def min_ns(self) -> float:
        return min(self.samples_ns)

    @property
    def stdev_pct(self) -> float:
        """Relative standard deviation of the rounds, in percent (a noise indicator)."""
        if len(self.samples_ns) < 2:
            return 0.0
        return 100.0 * statistics.stdev(self.samples_ns) / statistics.mean(self.samples_ns)


def measure_group(
    contenders: Sequence[tuple[str, Callable[[], object]]], timer: Timer
) -> list[Measurement]:
    """Measure the contenders of one comparison, rounds interleaved (see module doc)."""
    results: list[Measurement] = []
    for name, fn in contenders:
        loops = timer.calibrate(fn)
        timer.warm_up(fn, loops)
        results.append(Measurement(name, loops))
    fns = [fn for _, fn in contenders]
    n = len(fns)
    for r in range(timer.rounds):
        for k in range(n):
            i = (k + r) % n
            m = results[i]
            m.samples_ns.append(_run(fns[i], m.loops, timer.clock) / m.loops)
    return results


def pct(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_sync(fn: Callable[[], object], seconds: float = 1.0) -> float:
    """Median ns per call of ``fn`` over 7 rounds of about ``seconds`` / 7 each."""
    loops = 1000
    while True:
        t0 = time.perf_counter_ns()
        for _ in range(loops):
            fn()
        if time.perf_counter_ns() - t0 > seconds * 1e9 / 7:
            break
        loops *= 2
    rounds = []
    for _ in range(7):
        t0 = time.perf_counter_ns()
        for _ in range(loops):
            fn()
        rounds.append((time.perf_counter_ns() - t0) / loops)
    return statistics.median(rounds)
