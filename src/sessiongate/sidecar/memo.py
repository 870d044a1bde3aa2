"""The sidecar's memo of rendered 200 answers, for ``/verify`` requests that repeat (no I/O).

On a repeated token the gate answers from its own memo in a few microseconds, but rendering the
answer (``X-User-*`` headers, the JSON body) and reading the request facts cost several times
more: in the run of branch ``prod`` (2026-11-30), without this memo the sidecar served ~57 % of
what a no-op ASGI app serves on the same server; with it 74 % (one worker) to 93 % (two)
(``benchmarks/bench_sidecar.py``, ``docs/production.md#figures``).

**The same request.** A key is the method, scheme, path, query string and, byte for byte, every
header the verdict reads (:data:`VERDICT_HEADERS`: the credentials, the requirement headers and
everything the CSRF check reads, defined next to the code that reads them in
:mod:`sessiongate.sidecar.request`), sorted by name: clients order headers freely, and only the
order of the values of one name matters, which a stable sort keeps. Headers that change nothing
(``User-Agent``, ``X-Request-Id``...) are left out, so they do not defeat the memo. A request is
not memoised at all when it carries no ``Cookie`` and no ``Authorization`` (the gate memoises
no verdict without a credential), when a header name is a spelling of a verdict header other
than the lower-case one ASGI servers send, when it carries any other ``X-Require-*`` header
(the full path refuses it) or when its headers are over the size cap (the full path answers
431).

**Only what the gate memoised, only while its re-check passes.** The gate keeps a verdict in
its memo only when no database or JWKS lookup took part in it, and re-checks a memoised verdict
on every hit (expiry, and revocation when tokens are revocable, :mod:`sessiongate.revocation`).
An answer is kept only when
:meth:`SessionGate.memo_check <sessiongate.gate.SessionGate.memo_check>` confirms that the
gate's memo holds the very result it was rendered from (a token, never a database session), and
replayed only while the re-check that call returns passes: the gate's own re-check, run before
every replay, also after the gate's memo let the entry go (nothing else can change a stateless
verdict). So a revoked or expired token is never replayed, and the rule stays in one place, the
gate; the memo saves reading the credentials and the facts, deciding and rendering.

**Until the token expires.** An answer is replayed only while the clock is before the user's
``expires_at`` (the token's ``exp``, without the leeway): afterwards the full path decides
again. Users without ``expires_at`` are never memoised.

**Bounded by entries and bytes.** Keys and answers are partly client-chosen (a long
``X-Original-URL``, an Envoy path), so besides ``maxsize`` entries the memo holds at most
``maxsize`` x 4 KiB of them, least recently used out first, and never a request whose verdict
inputs exceed :data:`MAX_KEY_BYTES`. It is used from one event loop (one per worker process) and
is not thread-safe.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError
from .headers import Rendered
from .request import REQUIRE_PREFIX, VERDICT_HEADERS

__all__ = [
    "ENTRY_OVERHEAD",
    "IGNORED_HEADERS",
    "MAX_KEY_BYTES",
    "SLOT_BYTES",
    "VERDICT_HEADERS",
    "MemoKey",
    "Rendered",
    "ResponseMemo",
]

IGNORED_HEADERS = frozenset(
    {
        b"accept",
        b"accept-encoding",
        b"accept-language",
        b"connection",
        b"content-length",
        b"content-type",
        b"forwarded",
        b"traceparent",
        b"tracestate",
        b"user-agent",
        b"via",
        b"x-forwarded-for",
        b"x-forwarded-port",
        b"x-forwarded-uri",
        b"x-real-ip",
        b"x-request-id",
    }
)
"""Frequent headers the verdict never reads, skipped without a closer look (any other name is
lower-cased and compared with the verdict headers)."""


MemoKey = tuple[Any, ...]
_header_name = operator.itemgetter(0)
_CREDENTIAL_HEADERS = frozenset({b"cookie", b"authorization"})


@dataclass(slots=True)
class _Entry:
    rendered: Rendered
    still_valid: Callable[[float], bool]
    valid_until: float
    cost: int


SLOT_BYTES = 4096
"""The memory one entry of ``maxsize`` stands for: the memo holds at most ``maxsize`` entries
and ``maxsize * SLOT_BYTES`` bytes of keys and answers (plus :data:`ENTRY_OVERHEAD` each)."""
ENTRY_OVERHEAD = 1024
"""Estimated bytes of the objects around one entry (dict slot, key tuple, records)."""
MAX_KEY_BYTES = 16 * 1024
"""A request whose verdict headers, path and query are larger is never memoised (the gate's
own memo stops at 8 KiB of credentials, so such a request could never be replayed anyway)."""


def _key_bytes(key: MemoKey) -> int:
    total = 0
    for part in key:
        if isinstance(part, tuple):
            total += len(part[0]) + len(part[1])
        elif part is not None:
            total += len(part)
    return total


class ResponseMemo:
    """Rendered 200 answers keyed by the verdict-relevant facts of a request.

    Args:
        maxsize: most entries kept (least recently used first out); 0 disables the memo.
            The entries also share a budget of ``maxsize`` x 4 KiB (:data:`SLOT_BYTES`): keys
            and answers are client-influenced, so large ones leave room for fewer.
        max_header_bytes: the sidecar's cap on the request headers; a larger request is never
            looked up (the full path answers 431).

    ``hits`` and ``misses`` count lookups of memoisable requests.
    """

    __slots__ = ("_entries", "_used", "hits", "max_bytes", "max_header_bytes", "maxsize", "misses")

    def __init__(self, maxsize: int, *, max_header_bytes: int) -> None:
        if maxsize < 0 or max_header_bytes <= 0:
            raise ConfigurationError("maxsize must be >= 0 and max_header_bytes positive")
        self.maxsize = maxsize
        self.max_bytes = maxsize * SLOT_BYTES
        self.max_header_bytes = max_header_bytes
        self._entries: OrderedDict[MemoKey, _Entry] = OrderedDict()
        self._used = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def estimated_bytes(self) -> int:
        """The bytes the entries are estimated to hold (at most ``maxsize`` x 4 KiB)."""
        return self._used

    def key(self, scope: MutableMapping[str, Any]) -> MemoKey | None:
        """The memo key of an ASGI ``http`` scope, or ``None`` when it must take the full path."""
        if not self.maxsize:
            return None
        size = 0
        credential = False
        found: list[tuple[bytes, bytes]] = []
        headers: Iterable[tuple[bytes, bytes]] = scope["headers"]
        for header in headers:
            name = header[0]
            size += len(name) + len(header[1])
            if name in VERDICT_HEADERS:
                found.append(header)
                credential = credential or name in _CREDENTIAL_HEADERS
            elif name not in IGNORED_HEADERS:
                lower = name.lower()
                if lower in VERDICT_HEADERS or lower.startswith(REQUIRE_PREFIX):
                    return None  # another spelling, or a header the full path refuses
        if not credential or size > self.max_header_bytes:
            return None
        # clients and proxies order headers freely; the verdict depends on the order of the
        # values of one name only (joined cookies, the last Host), which a stable sort keeps
        if len(found) > 1:
            found.sort(key=_header_name)
        return (scope["method"], scope.get("scheme"), scope["path"], scope["query_string"], *found)

    def replay(self, key: MemoKey, now: float) -> Rendered | None:
        """The answer memoised for ``key`` while ``now`` is before its expiry and the gate's
        re-check still passes (see the module docs); else ``None``, and the answer is dropped."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        if now >= entry.valid_until or not entry.still_valid(now):
            self.misses += 1
            self._used -= entry.cost
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.rendered

    def offer(
        self,
        key: MemoKey,
        still_valid: Callable[[float], bool] | None,
        rendered: Rendered,
        expires_at: float | None,
    ) -> None:
        """Keep ``rendered``, the answer to ``key``, while ``still_valid(now)`` holds and ``now``
        is before ``expires_at``: ``still_valid`` is what
        :meth:`~sessiongate.gate.SessionGate.memo_check` returned for the result it was rendered
        from (``None``: the gate did not memoise it, nothing is kept)."""
        if still_valid is None or expires_at is None:
            return
        cost = _key_bytes(key)
        if cost > MAX_KEY_BYTES:
            return
        cost += ENTRY_OVERHEAD + rendered.size
        entries = self._entries
        old = entries.pop(key, None)
        if old is not None:
            self._used -= old.cost
        entries[key] = _Entry(rendered, still_valid, float(expires_at), cost)
        self._used += cost
        self._evict(keep=key)

    def _evict(self, keep: MemoKey) -> None:
        """Drop the least recently used entries until the count and the bytes fit."""
        entries = self._entries
        while (len(entries) > self.maxsize or self._used > self.max_bytes) and len(entries) > 1:
            oldest = next(iter(entries))
            if oldest == keep:
                break
            self._used -= entries.pop(oldest).cost
        if self._used > self.max_bytes and len(entries) == 1:  # one entry larger than it all
            self._used -= entries.pop(keep).cost

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self._used = 0
