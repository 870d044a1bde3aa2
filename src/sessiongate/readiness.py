"""Readiness: can this process verify sessions right now? (``/readyz``)

Liveness (``/healthz``) says the process answers; readiness says its dependencies answer too.
:class:`ReadinessProbe` finds them in a gate's authenticators and asks each one directly:

* a **session store** (database sessions, Better Auth): one lookup of a token no session has,
  on the store itself, not through its cache (a cached "not found" would hide an outage);
* a **JWKS key set**: the keys the verifier would use (fresh or still-usable stale keys answer
  from memory; otherwise a fetch, rate-limited by the client's own retry interval).

A dependency that raises :class:`~sessiongate.errors.ProviderUnavailableError`, fails otherwise
or does not answer within ``timeout`` is down, and the process is not ready. Results are kept
for ``min_interval`` seconds and concurrent calls share one round of checks, so a flood of
``/readyz`` requests cannot become a flood of database queries. A gate with only token
authenticators has nothing to check and is always ready.

The answer names each dependency (the authenticator's name) and, when down, the error code:
never a DSN, a URL with credentials or a message from the database.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from .errors import SessionGateError

__all__ = [
    "PROBE_TOKEN",
    "DependencyCheck",
    "Readiness",
    "ReadinessProbe",
    "dependency_checks",
    "unwrapped",
]

PROBE_TOKEN = "sessiongate-readiness-probe"  # noqa: S105 (not a secret: a token no one has)
"""The session token a store is asked for: no session has it (it is not a UUID or a random
token), so the answer is "not found" when the store works."""

Check = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class DependencyCheck:
    """The state of one dependency: ``name``, ``kind`` (``"store"`` or ``"keyset"``), whether it
    answered (``ok``) and, when not, a short ``error`` code."""

    name: str
    kind: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Readiness:
    """The verdict: ready when every dependency answered; ``checked_at`` is UNIX time."""

    checks: tuple[DependencyCheck, ...]
    checked_at: float

    @property
    def ready(self) -> bool:
        """Every dependency answered."""
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, object]:
        """The ``/readyz`` JSON body."""
        return {
            "status": "ready" if self.ready else "unavailable",
            "checks": [
                {"name": c.name, "kind": c.kind, "status": "up" if c.ok else "down"}
                | ({"error": c.error} if c.error else {})
                for c in self.checks
            ],
        }


def unwrapped(auth: object) -> object:
    """The authenticator behind wrappers that keep it as ``inner`` (revocation checks)."""
    seen = 0
    while hasattr(auth, "inner") and seen < 8:
        auth, seen = auth.inner, seen + 1
    return auth


def dependency_checks(authenticators: Iterable[object]) -> list[tuple[str, str, Check]]:
    """``(name, kind, check)`` for every store and key set behind ``authenticators``."""
    from .stores.cache import CachedStore

    out: list[tuple[str, str, Check]] = []
    seen: dict[str, int] = {}
    for wrapped in authenticators:
        auth = unwrapped(wrapped)
        store = getattr(auth, "store", None)
        get_keys = getattr(getattr(auth, "jwks", None), "get_signing_keys", None)
        check: Check
        if isinstance(store, CachedStore):
            # the store itself, not its cache: a cached "not found" would hide an outage
            kind, check = "store", functools.partial(store.store.load, PROBE_TOKEN)
        elif callable(get_keys):  # a JWKSClient, StaticKeys
            kind, check = "keyset", functools.partial(get_keys, None)
        else:
            continue
        name = str(getattr(wrapped, "name", type(auth).__name__))
        seen[name] = seen.get(name, 0) + 1
        out.append((name if seen[name] == 1 else f"{name}-{seen[name]}", kind, check))
    return out


class ReadinessProbe:
    """Check the stores and key sets of a gate's authenticators (see the module docs).

    Args:
        authenticators: usually ``gate.authenticators``.
        timeout: seconds one round of checks may take; a dependency still silent is down.
        min_interval: seconds a result is reused before the dependencies are asked again.
        clock: monotonic clock, for ``min_interval`` (injectable for tests).
        wall_clock: UNIX time, stamped on each result (metrics order the results of several
            processes by it).
    """

    def __init__(
        self,
        authenticators: Iterable[object],
        *,
        timeout: float = 2.0,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if timeout <= 0 or min_interval < 0:
            raise ValueError("timeout must be positive and min_interval >= 0")
        self._checks = dependency_checks(authenticators)
        self.timeout = timeout
        self.min_interval = min_interval
        self.clock = clock
        self.wall_clock = wall_clock
        self._last: Readiness | None = None
        self._last_at = 0.0
        self._running: asyncio.Future[Readiness] | None = None

    def __repr__(self) -> str:
        return f"ReadinessProbe({[name for name, _, _ in self._checks]})"

    @property
    def dependencies(self) -> list[tuple[str, str]]:
        """``(name, kind)`` of every dependency checked."""
        return [(name, kind) for name, kind, _ in self._checks]

    @property
    def last(self) -> Readiness | None:
        """The latest result, if any."""
        return self._last

    async def check(self) -> Readiness:
        """The current readiness (a recent result, or one shared round of checks)."""
        last = self._last
        if last is not None and self.clock() - self._last_at < self.min_interval:
            return last
        running = self._running
        if running is not None and not running.done():
            return await asyncio.shield(running)
        future: asyncio.Future[Readiness] = asyncio.get_running_loop().create_future()
        self._running = future
        try:
            result = await self._run()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: there may be no other waiter
            raise
        finally:
            self._running = None
        self._last, self._last_at = result, self.clock()
        future.set_result(result)
        return result

    async def _run(self) -> Readiness:
        results = await asyncio.gather(*(self._one(check) for _, _, check in self._checks))
        checks = tuple(
            DependencyCheck(name, kind, error is None, error)
            for (name, kind, _), error in zip(self._checks, results, strict=True)
        )
        return Readiness(checks, self.wall_clock())

    async def _one(self, check: Check) -> str | None:
        """``None`` when the dependency answered, else a short error code."""
        try:
            async with asyncio.timeout(self.timeout):
                await check()
        except SessionGateError as err:
            return err.code
        except TimeoutError:
            return "timeout"
        except Exception as err:  # a probe never raises: the dependency is down
            return type(err).__name__
        return None
