"""The bounded cache of verified tokens shared by the token formats (no I/O).

A hit skips parsing and crypto; the caller still re-checks ``exp``/``nbf`` on every hit, so a
cached token never outlives its expiry. Thread-safe (WSGI servers call from many threads).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from cachetools import LRUCache

from .claims import ClaimRules
from .errors import ConfigurationError
from .gate import CredentialKind, Verified

__all__ = ["DecodedToken", "TokenCache"]


@dataclass(slots=True)
class DecodedToken:
    """A verified token: read-only claims, its header, which format matched, exp/nbf."""

    claims: Mapping[str, Any]
    header: Mapping[str, Any]
    source: str
    exp: float | None
    nbf: float | None
    salt: str | None = None
    _verified: dict[str, Verified] | None = field(default=None, repr=False)

    def as_verified(self, credential: CredentialKind, rules: ClaimRules | None = None) -> Verified:
        """The gate-facing result; kept so the gate can memoise the user built from it.

        With ``rules``, the result carries a ``recheck`` of ``exp``/``nbf`` (stateless token).
        """
        memo = self._verified
        if memo is None:
            memo = self._verified = {}
        v = memo.get(credential)
        if v is None:
            recheck = None if rules is None else partial(rules.check_time, self.exp, self.nbf)
            v = Verified(self.claims, self.source, credential, self.exp, recheck=recheck)
            memo[credential] = v
        return v


class TokenCache:
    """LRU of ``key -> DecodedToken``; ``maxsize=0`` disables it."""

    __slots__ = ("_cache", "_lock", "enabled")

    def __init__(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ConfigurationError("cache_size must be >= 0")
        self._cache: LRUCache[Hashable, DecodedToken] | None = (
            LRUCache(maxsize=maxsize) if maxsize else None
        )
        self._lock = threading.Lock()
        self.enabled = self._cache is not None

    def get(self, key: Hashable) -> DecodedToken | None:
        cache = self._cache
        if cache is None:
            return None
        with self._lock:
            try:
                return cache[key]
            except KeyError:
                return None

    def put(self, key: Hashable, value: DecodedToken) -> None:
        if self._cache is not None:
            with self._lock:
                self._cache[key] = value

    def __len__(self) -> int:
        return 0 if self._cache is None else len(self._cache)
