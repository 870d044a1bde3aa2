"""Prometheus metrics for verdicts, caches and dependencies (``sessiongate[metrics]`` extra).

==========================================================  =========  ==========================
metric                                                      type       labels
==========================================================  =========  ==========================
``sessiongate_decisions_total``                             counter    ``outcome``,
                                                                       ``credential``,
                                                                       ``authenticator``
``sessiongate_decision_duration_seconds``                   histogram  (none)
``sessiongate_cache_lookups_total``                         counter    ``cache``, ``result``
                                                                       (``hit``/``miss``)
``sessiongate_cache_backend_errors_total``                  counter    ``cache``
``sessiongate_dependency_up``                               gauge      ``dependency``, ``kind``
``sessiongate_keyset_fetches_total``                        counter    ``keyset``
``sessiongate_keyset_failing``                              gauge      ``keyset``
``sessiongate_revocation_listener_up``                      gauge      ``listener``
==========================================================  =========  ==========================

Label values come from small fixed sets (:mod:`sessiongate.observe`): never a user id, a token
or a secret. ``sessiongate_dependency_up`` reports the latest readiness check (``/readyz``) of
each store and key set: 1 up, 0 down. Store errors are ``sessiongate_cache_backend_errors_total``
(lookups that failed in the database), key-set errors ``sessiongate_keyset_failing`` (the newest
JWKS fetch failed) next to ``sessiongate_keyset_fetches_total``. When tokens are revocable
(:mod:`sessiongate.replicas`), ``sessiongate_revocation_listener_up`` is 1 while the revocation
list's listener (``postgresql`` or ``redis``) is connected and the list is loaded, else 0 (its
tokens then answer 503 once the list is stale).

**Cheap on the request path.** A verdict is counted in memory by
:class:`~sessiongate.observe.DecisionStats` (0.5 µs); caches keep plain integer counters. The
numbers become Prometheus metrics only when scraped. Measured on this project's benchmark
machine (branch ``prod``'s run, 2026-11-30), prometheus-client's own multiprocess mode cost
~3 µs per request for a labelled counter and a histogram (a memory-mapped file write each),
about as much as the whole memoised ``/verify`` path did then.

**Correct across worker processes.** With a ``directory``, each process writes its cumulative
counters to its own file there (:class:`SnapshotFiles`: every second from the sidecar, and on
each scrape and at shutdown) and a scrape sums the files of every process, including those that
have exited, so totals never go backwards when a worker is replaced. A worker killed with
``SIGKILL`` loses at most its last second of counts; the other workers' counts lag by at most
the flush interval. ``sessiongate serve`` creates a private directory, gives it to its workers
and removes it on exit.

In your own app, register a :class:`SessionGateCollector` with prometheus-client's registry and
pass the same :class:`~sessiongate.observe.DecisionStats` to whatever reports verdicts.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from .observe import CacheStats, DecisionStats, cache_stats_of
from .readiness import Readiness, ReadinessProbe, unwrapped

__all__ = [
    "SessionGateCollector",
    "SnapshotFiles",
    "keyset_stats_of",
    "listener_states_of",
    "merge_snapshots",
    "metric_families",
    "snapshot",
]

Snapshot = dict[str, Any]

# ------------------------------------------------------------------------------ pure part


def snapshot(
    stats: DecisionStats,
    caches: Iterable[CacheStats] = (),
    readiness: Readiness | None = None,
    keysets: Iterable[tuple[str, int, bool]] = (),
    listeners: Iterable[tuple[str, bool]] = (),
    *,
    now: float = 0.0,
) -> Snapshot:
    """One process's cumulative counters (and latest states) as a JSON-ready dict.

    ``keysets`` are ``(name, fetch attempts, failing)`` of the JWKS key sets, ``listeners``
    ``(name, up)`` of the revocation listeners; ``now`` (UNIX time) orders the states of
    several processes.
    """
    snap = stats.snapshot()
    return {
        "bounds": list(stats.bounds),
        "decisions": [[*key, count] for key, count in sorted(snap.counts.items())],
        "buckets": list(snap.buckets),
        "latency_sum": snap.latency_sum,
        "caches": [[c.name, c.hits, c.misses, c.errors] for c in caches],
        "dependencies": (
            [[c.name, c.kind, c.ok, readiness.checked_at] for c in readiness.checks]
            if readiness is not None
            else []
        ),
        "keysets": [[name, fetches, failing, now] for name, fetches, failing in keysets],
        "listeners": [[name, up, now] for name, up in listeners],
    }


def merge_snapshots(snapshots: Iterable[Mapping[str, Any]]) -> Snapshot:
    """The sum of several processes' snapshots (the latest state of each dependency).

    Snapshots with other histogram bounds than the first one are skipped (a process of another
    version): their buckets cannot be added.
    """
    decisions: dict[tuple[str, str, str], int] = {}
    caches: dict[str, list[int]] = {}
    dependencies: dict[str, tuple[str, bool, float]] = {}
    keysets: dict[str, tuple[int, bool, float]] = {}
    listeners: dict[str, tuple[bool, float]] = {}
    bounds: list[float] | None = None
    buckets: list[int] = []
    latency_sum = 0.0
    for snap in snapshots:
        if bounds is None:
            bounds = list(snap["bounds"])
            buckets = [0] * (len(bounds) + 1)
        elif list(snap["bounds"]) != bounds:
            continue
        for outcome, credential, authenticator, count in snap["decisions"]:
            key = (str(outcome), str(credential), str(authenticator))
            decisions[key] = decisions.get(key, 0) + int(count)
        for i, count in enumerate(snap["buckets"]):
            buckets[i] += int(count)
        latency_sum += float(snap["latency_sum"])
        for name, hits, misses, errors in snap["caches"]:
            total = caches.setdefault(str(name), [0, 0, 0])
            total[0] += int(hits)
            total[1] += int(misses)
            total[2] += int(errors)
        for name, kind, ok, checked_at in snap["dependencies"]:
            known = dependencies.get(str(name))
            if known is None or float(checked_at) >= known[2]:
                dependencies[str(name)] = (str(kind), bool(ok), float(checked_at))
        for name, fetches, failing, at in snap.get("keysets", ()):
            fetched, state, when = keysets.get(str(name), (0, False, -1.0))
            if float(at) >= when:
                state, when = bool(failing), float(at)
            keysets[str(name)] = (fetched + int(fetches), state, when)
        for name, up, at in snap.get("listeners", ()):
            newest = listeners.get(str(name))
            if newest is None or float(at) >= newest[1]:
                listeners[str(name)] = (bool(up), float(at))
    return {
        "bounds": bounds or [],
        "decisions": [[*key, count] for key, count in sorted(decisions.items())],
        "buckets": buckets,
        "latency_sum": latency_sum,
        "caches": [[name, *values] for name, values in sorted(caches.items())],
        "dependencies": [
            [name, kind, ok, at] for name, (kind, ok, at) in sorted(dependencies.items())
        ],
        "keysets": [[name, *values] for name, values in sorted(keysets.items())],
        "listeners": [[name, *values] for name, values in sorted(listeners.items())],
    }


def _le(bound: float) -> str:
    return repr(float(bound))


def metric_families(merged: Mapping[str, Any]) -> list[Metric]:
    """The Prometheus metric families of a (merged) snapshot."""
    decisions = CounterMetricFamily(
        "sessiongate_decisions",
        "Verdicts by outcome (ok or the error code), credential kind and authenticator.",
        labels=("outcome", "credential", "authenticator"),
    )
    for outcome, credential, authenticator, count in merged["decisions"]:
        decisions.add_metric((outcome, credential, authenticator), count)
    bounds: Sequence[float] = merged["bounds"]
    cumulative: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip([*map(_le, bounds), "+Inf"], merged["buckets"], strict=False):
        running += count
        cumulative.append((bound, running))
    duration = HistogramMetricFamily(
        "sessiongate_decision_duration_seconds",
        "Time spent deciding a verdict, in seconds.",
        buckets=cumulative or [("+Inf", 0)],
        sum_value=merged["latency_sum"],
    )
    lookups = CounterMetricFamily(
        "sessiongate_cache_lookups",
        "Cache lookups by cache and result (hit or miss).",
        labels=("cache", "result"),
    )
    errors = CounterMetricFamily(
        "sessiongate_cache_backend_errors",
        "Lookups that failed in the store behind a cache (database outages).",
        labels=("cache",),
    )
    for name, hits, misses, failed in merged["caches"]:
        lookups.add_metric((name, "hit"), hits)
        lookups.add_metric((name, "miss"), misses)
        errors.add_metric((name,), failed)
    up = GaugeMetricFamily(
        "sessiongate_dependency_up",
        "1 when the latest readiness check reached the store or key set, else 0.",
        labels=("dependency", "kind"),
    )
    for name, kind, ok, _ in merged["dependencies"]:
        up.add_metric((name, kind), 1.0 if ok else 0.0)
    fetches = CounterMetricFamily(
        "sessiongate_keyset_fetches",
        "JWKS fetch attempts (successful or not) by key set.",
        labels=("keyset",),
    )
    failing = GaugeMetricFamily(
        "sessiongate_keyset_failing",
        "1 when the newest fetch of the key set failed (cached keys are served meanwhile).",
        labels=("keyset",),
    )
    for name, count, state, _ in merged.get("keysets", ()):
        fetches.add_metric((name,), count)
        failing.add_metric((name,), 1.0 if state else 0.0)
    listening = GaugeMetricFamily(
        "sessiongate_revocation_listener_up",
        "1 while the revocation list's listener is connected and the list loaded, else 0.",
        labels=("listener",),
    )
    for name, state, _ in merged.get("listeners", ()):
        listening.add_metric((name,), 1.0 if state else 0.0)
    return [decisions, duration, lookups, errors, up, fetches, failing, listening]


def keyset_stats_of(objects: Iterable[object]) -> list[tuple[str, int, bool]]:
    """``(name, fetch attempts, failing)`` of the JWKS key sets behind ``objects`` (an
    authenticator with a ``jwks`` key source that counts its fetches, also behind a
    revocation wrapper)."""
    out: list[tuple[str, int, bool]] = []
    seen: set[int] = set()
    for obj in objects:
        auth = unwrapped(obj)
        keys = getattr(auth, "jwks", None)
        fetches = getattr(keys, "fetch_count", None)
        if keys is None or not isinstance(fetches, int) or id(keys) in seen:
            continue
        seen.add(id(keys))
        base = str(getattr(obj, "name", "jwks"))
        name = base if len(seen) == 1 else f"{base}-{len(seen)}"
        out.append((name, fetches, bool(getattr(keys, "failing", False))))
    return out


def listener_states_of(objects: Iterable[object]) -> list[tuple[str, bool]]:
    """``(name, up)`` of the revocation lists behind ``objects`` (authenticators wrapped by
    :func:`~sessiongate.revocation.revocable`): up while the list's listener is connected and
    the list is loaded; named after the listener's kind (``postgresql``, ``redis``)."""
    out: list[tuple[str, bool]] = []
    seen: set[int] = set()
    for obj in objects:
        mirror = getattr(obj, "mirror", None)
        if mirror is None or id(mirror) in seen or not hasattr(mirror, "loaded"):
            continue
        seen.add(id(mirror))
        listener = getattr(mirror, "listener", None)
        name = str(getattr(listener, "kind", None) or "revocation").lower()
        connected = listener is None or bool(getattr(listener, "connected", False))
        out.append((name, connected and bool(mirror.loaded)))
    return out


# ------------------------------------------------------------------------------ I/O part


class SnapshotFiles:
    """One JSON file of counters per process in ``directory``.

    A process writes only its own file (``<pid>-<random>.json``, replaced atomically), so a
    reader never sees half a file, and a new process never takes over an old one's totals even
    if it gets the same pid.
    """

    def __init__(self, directory: str) -> None:
        if not os.path.isdir(directory):
            raise ValueError(f"the metrics directory {directory!r} does not exist")
        self.directory = directory
        self._pid = 0
        self._path = ""

    def _own_path(self) -> str:
        pid = os.getpid()
        if pid != self._pid:  # first write, or a forked child
            self._pid = pid
            self._path = os.path.join(self.directory, f"{pid}-{secrets.token_hex(4)}.json")
        return self._path

    def write(self, snap: Snapshot) -> None:
        """Replace this process's file with ``snap``."""
        path = self._own_path()
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(snap, f, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def read_all(self) -> list[Snapshot]:
        """Every process's latest snapshot (unreadable files are skipped)."""
        out: list[Snapshot] = []
        for name in sorted(os.listdir(self.directory)):
            if name.startswith(".") or not name.endswith(".json"):
                continue
            try:
                with open(os.path.join(self.directory, name), encoding="utf-8") as f:
                    out.append(json.load(f))
            except (OSError, ValueError):
                continue
        return out


class SessionGateCollector:
    """A prometheus-client collector of sessiongate's verdicts, caches and dependencies.

    Args:
        stats: the :class:`~sessiongate.observe.DecisionStats` verdicts are counted in.
        sources: objects whose caches report (:func:`~sessiongate.observe.cache_stats_of`):
            the gate, its authenticators, the sidecar app.
        directory: the directory shared by the worker processes (see the module docs);
            ``None`` for a single process.
        readiness: a :class:`~sessiongate.readiness.ReadinessProbe` whose latest result is
            reported as ``sessiongate_dependency_up``.

    Register it (``REGISTRY.register(collector)``) to serve it with prometheus-client, or call
    :meth:`render` for a ``/metrics`` body.
    """

    def __init__(
        self,
        stats: DecisionStats,
        sources: Iterable[object] = (),
        *,
        directory: str | None = None,
        readiness: ReadinessProbe | None = None,
    ) -> None:
        self.stats = stats
        self.sources = list(sources)
        self.files = SnapshotFiles(directory) if directory is not None else None
        self.readiness = readiness
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)

    def __repr__(self) -> str:
        where = self.files.directory if self.files is not None else "this process"
        return f"SessionGateCollector({where!r})"

    def own_snapshot(self) -> Snapshot:
        """This process's counters."""
        last = self.readiness.last if self.readiness is not None else None
        return snapshot(
            self.stats,
            cache_stats_of(self.sources),
            last,
            keyset_stats_of(self.sources),
            listener_states_of(self.sources),
            now=time.time(),
        )

    def flush(self) -> None:
        """Write this process's counters to the shared directory (no-op without one)."""
        if self.files is not None:
            self.files.write(self.own_snapshot())

    def merged(self) -> Snapshot:
        """The counters of every process (this one's freshly written first)."""
        if self.files is None:
            return merge_snapshots([self.own_snapshot()])
        self.flush()
        return merge_snapshots(self.files.read_all())

    def collect(self) -> Iterator[Metric]:
        """prometheus-client's collector protocol."""
        yield from metric_families(self.merged())

    def render(self) -> tuple[bytes, str]:
        """The ``/metrics`` body and content type."""
        return generate_latest(self._registry), CONTENT_TYPE_LATEST
