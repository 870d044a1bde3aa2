"""A least-recently-used map bounded by an estimate of the memory its entries hold (no I/O).

The verified-token caches and the gate's memo are keyed by credential strings that a client
chooses: with a plain entry count, one signed-in user re-sending large, freshly re-issued tokens
could make each cache hold thousands of 32 KiB tokens and their claims (hundreds of MiB per
worker). Here a cache of ``slots`` slots has a budget of ``slots * SLOT_BYTES`` bytes; an entry
costs its estimated size, and at least :data:`SLOT_BYTES`. So it never holds more than
``slots`` entries, and large tokens share the same budget: fewer of them fit.

The estimate is :func:`estimated_bytes`: :data:`BYTES_PER_CHAR` per character of the key (the
token, whose parsed claims live next to it) plus a fixed overhead. Measured with
``tracemalloc`` on claims made of strings and numbers (what NextAuth ``jwt`` callbacks emit) the
real footprint is 0.3-1.1x the estimate; arrays of empty objects reach ~3x, and only the app's
own ``jwt`` callback could mint those (``tests/security/test_sec_core_cache_budget.py``). The
gate's memo also keeps the built user, whose role and permission sets can be as large as the
claims, so it counts 10 bytes per character.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["BYTES_PER_CHAR", "ENTRY_OVERHEAD", "SLOT_BYTES", "ByteBudgetLRU", "estimated_bytes"]

SLOT_BYTES = 4096
"""The budget one slot stands for: a cache of ``n`` slots holds at most ``n * SLOT_BYTES``."""
BYTES_PER_CHAR = 6
"""Estimated bytes held per character of the key (the key string plus what was parsed from it)."""
ENTRY_OVERHEAD = 1024
"""Estimated fixed bytes per entry (the record, the claims dict, the LRU links)."""

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def estimated_bytes(key: Hashable, bytes_per_char: int = BYTES_PER_CHAR) -> int:
    """The memory an entry keyed by ``key`` is assumed to hold: its strings' length x
    ``bytes_per_char`` (6) + 1 KiB.

    ``key`` is a string or a tuple of strings and other small values (``(token, cookie_name)``).
    """
    chars = 0
    if type(key) is tuple:  # runs on every insertion: no generator, exact type checks
        for part in key:
            if type(part) is str:
                chars += len(part)
    elif isinstance(key, str):
        chars = len(key)
    return chars * bytes_per_char + ENTRY_OVERHEAD


class ByteBudgetLRU(Generic[K, V]):
    """An LRU with a budget of ``slots * SLOT_BYTES`` estimated bytes.

    ``second_sight=True`` makes :meth:`admit` answer yes only on a key's second miss (TinyLFU's
    "doorkeeper"), and callers ask it before building what they would store: a stream of keys
    seen once (a scan of distinct tokens) then costs the caller a hash, instead of a record, an
    insertion, an eviction and the memory traffic of keeping them; keys that come back are
    stored on their second miss.

    An entry costs ``max(SLOT_BYTES, estimated_bytes(key, bytes_per_char))``; inserting evicts
    the least recently used entries until the new one fits. An entry larger than the whole
    budget is not stored. Thread-safe. ``bytes_per_char`` is higher for caches whose values
    hold more than the parsed claims (the gate's memo also keeps the built user).
    """

    __slots__ = (
        "_door",
        "_entries",
        "_lock",
        "_mask",
        "_used",
        "bytes_per_char",
        "max_bytes",
        "slots",
    )

    def __init__(
        self, slots: int, *, bytes_per_char: int = BYTES_PER_CHAR, second_sight: bool = False
    ) -> None:
        if slots <= 0 or bytes_per_char <= 0:
            raise ValueError("slots and bytes_per_char must be positive")
        self.slots = slots
        self.bytes_per_char = bytes_per_char
        self.max_bytes = slots * SLOT_BYTES
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()
        # The doorkeeper of ``second_sight``: one remembered key hash per cell (a power of two,
        # at least 4 cells per slot: 8 bytes each), so a key is admitted when :meth:`put` sees
        # it again before another key's hash took its cell. Only hashes: it holds no token.
        size = 1 << max(4 * slots - 1, 1).bit_length()
        self._door: array[int] | None = array("q", bytes(8 * size)) if second_sight else None
        self._mask = size - 1

    def get(self, key: K) -> V | None:
        """The value for ``key`` (marking it recently used), or ``None``."""
        # A miss takes no lock: one dict lookup is atomic, and every change holds the lock.
        entry = self._entries.get(key)
        if entry is None:
            return None
        with self._lock:
            if key in self._entries:  # else evicted since the lookup; the value was current then
                self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V, chars: int | None = None) -> None:
        """Store ``value``, evicting the least recently used entries to stay in the budget.

        ``chars``: the characters of the key's strings when the caller knows them (a token's
        length), which spares walking the key; the cost is the same as :func:`estimated_bytes`.
        """
        if chars is None:
            cost = estimated_bytes(key, self.bytes_per_char)
        else:
            cost = chars * self.bytes_per_char + ENTRY_OVERHEAD
        if cost < SLOT_BYTES:
            cost = SLOT_BYTES
        elif cost > self.max_bytes:
            return
        entries = self._entries
        with self._lock:
            if key in entries:
                self._used -= entries.pop(key)[1]
            used = self._used + cost
            limit = self.max_bytes
            while used > limit:
                used -= entries.popitem(last=False)[1][1]
            entries[key] = (value, cost)
            self._used = used

    def admit(self, key: K) -> bool:
        """Whether a missed ``key`` should be stored now (:meth:`put`); always, without
        ``second_sight``. With it, the first miss of a key only remembers its hash and answers
        ``False``; a miss while remembered answers ``True`` (a key seen once is never stored).
        """
        door = self._door
        if door is None:
            return True
        h = hash(key)
        i = h & self._mask
        if door[i] == h:
            return True
        door[i] = h
        return False

    def pop(self, key: K) -> V | None:
        """Remove ``key``; its value or ``None``."""
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is None:
                return None
            self._used -= entry[1]
            return entry[0]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self._used = 0
            if self._door is not None:
                self._door = array("q", bytes(8 * len(self._door)))

    @property
    def estimated_bytes(self) -> int:
        """The sum of the entries' estimated sizes (at most :attr:`max_bytes`)."""
        return self._used

    def __len__(self) -> int:
        return len(self._entries)
