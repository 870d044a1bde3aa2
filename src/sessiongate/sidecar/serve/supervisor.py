"""A pre-fork supervisor: N worker processes on one listening socket, kept alive, drained on stop.

Used for the uvicorn server (granian brings its own process manager). The supervisor binds
nothing and serves nothing itself: it forks ``workers`` children that each run ``target()``
(a server on the inherited socket), and then

* **replaces a worker that dies** (crash, ``SIGKILL``, out of memory) with a new one; a worker
  that dies within ``min_uptime`` seconds of its start counts as a fast failure, and after
  ``max_fast_failures`` in a row the supervisor gives up (exit status 1) instead of looping;
* on ``SIGTERM`` or ``SIGINT`` **drains**: each worker gets ``SIGTERM`` (the server stops
  accepting, finishes its in-flight requests and runs the ASGI shutdown), and a worker still
  running after ``graceful_timeout`` seconds is killed.

Workers are forked, not spawned: they inherit the socket and the already validated
configuration without any of it passing through a command line.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType

__all__ = ["Supervisor"]

logger = logging.getLogger("sessiongate")

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _child(target: Callable[[], object]) -> None:
    """The worker's entry: default signal handling (the server installs its own), then run."""
    signal.set_wakeup_fd(-1)
    for sig in (*_STOP_SIGNALS, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    target()


class Supervisor:
    """Keep ``workers`` processes running ``target`` (see the module docs).

    Args:
        target: what a worker runs; it returns when the worker has stopped.
        workers: how many worker processes.
        graceful_timeout: seconds a worker has to stop after ``SIGTERM``.
        min_uptime: a worker that dies sooner than this after its start failed fast.
        max_fast_failures: fast failures in a row after which the supervisor gives up.
    """

    def __init__(
        self,
        target: Callable[[], object],
        *,
        workers: int,
        graceful_timeout: float,
        min_uptime: float = 2.0,
        max_fast_failures: int = 5,
    ) -> None:
        if workers < 1 or graceful_timeout <= 0:
            raise ValueError("workers must be >= 1 and graceful_timeout positive")
        self.target = target
        self.workers = workers
        self.graceful_timeout = graceful_timeout
        self.min_uptime = min_uptime
        self.max_fast_failures = max_fast_failures
        self._context = multiprocessing.get_context("fork")
        self._procs: dict[int, tuple[BaseProcess, float]] = {}
        self._stopping = False
        self.replaced = 0
        """How many workers were replaced after dying."""

    def _start(self, index: int) -> None:
        proc = self._context.Process(
            target=_child, args=(self.target,), name=f"sessiongate-worker-{index + 1}"
        )
        proc.start()
        self._procs[index] = (proc, time.monotonic())

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def run(self) -> int:
        """Start the workers and supervise them until a stop signal; the exit status."""
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _STOP_SIGNALS}
        old_wakeup = signal.set_wakeup_fd(write_fd)
        status = 0
        try:
            for index in range(self.workers):
                self._start(index)
            fast_failures = 0
            while not self._stopping:
                sentinels = [proc.sentinel for proc, _ in self._procs.values()]
                multiprocessing.connection.wait([*sentinels, read_fd], timeout=1.0)
                with contextlib.suppress(BlockingIOError):
                    os.read(read_fd, 512)
                for index, (proc, started) in list(self._procs.items()):
                    if self._stopping or proc.is_alive():
                        continue
                    proc.join()
                    lived = time.monotonic() - started
                    fast_failures = fast_failures + 1 if lived < self.min_uptime else 0
                    logger.warning(
                        "worker %d (pid %s) exited with status %s after %.1f s; starting another",
                        index + 1,
                        proc.pid,
                        proc.exitcode,
                        lived,
                    )
                    if fast_failures >= self.max_fast_failures:
                        logger.error("workers keep failing at start-up: stopping")
                        self._stopping, status = True, 1
                        break
                    time.sleep(min(0.2 * fast_failures, 2.0))  # no busy loop on a bad start
                    self._start(index)
                    self.replaced += 1
        finally:
            self._stop_all()
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(read_fd)
            os.close(write_fd)
        return status

    def _stop_all(self) -> None:
        """``SIGTERM`` every worker, wait up to ``graceful_timeout``, then kill the rest."""
        procs = [proc for proc, _ in self._procs.values()]
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.graceful_timeout
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
        for proc in procs:
            if proc.is_alive():
                logger.warning("worker pid %s did not stop in time: killing it", proc.pid)
                proc.kill()
                proc.join()
        self._procs.clear()
