"""Python client for the JavaScript interop oracle (``oracle.mjs``).

The oracle is a long-lived ``node`` process that runs the real NextAuth.js v4,
Auth.js v5 (``@auth/core``), ``jsonwebtoken`` and ``jose`` code and answers JSON
line requests. :class:`NodeOracle` starts it, sends one request at a time (a lock
makes it safe to share between threads) and turns ``ok: false`` answers into
:class:`OracleError`.

Example::

    with NodeOracle() as oracle:
        token = oracle.call("v4.encode", token={"sub": "1"}, secret="s3cret")
        claims = oracle.call("v4.decode", token=token, secret="s3cret")
"""

from __future__ import annotations

import base64
import collections
import itertools
import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

INTEROP_DIR = Path(__file__).resolve().parent
DEFAULT_TIMEOUT = 30.0
_STDERR_LINES_KEPT = 200


class OracleError(Exception):
    """The oracle answered ``ok: false``, timed out, or the process died.

    ``name`` is the JavaScript error's ``name`` (e.g. ``JWTExpired``,
    ``TokenExpiredError``, ``BadRequest``) and ``code`` its ``code`` when it has
    one (e.g. ``ERR_JWT_EXPIRED``). ``stderr`` holds the oracle's recent stderr.
    """

    def __init__(
        self,
        message: str,
        *,
        op: str | None = None,
        name: str | None = None,
        code: str | None = None,
        stderr: str = "",
    ) -> None:
        self.op = op
        self.message = message
        self.name = name
        self.code = code
        self.stderr = stderr
        label = f"{op}: " if op else ""
        kind = f"{name}" + (f" [{code}]" if code else "") + ": " if name else ""
        super().__init__(f"{label}{kind}{message}")


class OracleTimeout(OracleError):
    """A request got no answer within its timeout."""


def secret_bytes(raw: bytes) -> dict[str, str]:
    """Wrap raw key material for an oracle ``secret`` param (``{"$bytes": b64url}``)."""
    return {"$bytes": base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")}


class NodeOracle:
    """A running ``node oracle.mjs`` process.

    :param node: the ``node`` executable.
    :param cwd: directory holding ``oracle.mjs`` and ``node_modules``.
    :param timeout: default seconds to wait for each answer.
    """

    def __init__(
        self,
        node: str = "node",
        *,
        cwd: Path | str = INTEROP_DIR,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.node = node
        self.cwd = Path(cwd)
        self.timeout = timeout
        self.versions: dict[str, str] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES_KEPT)
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> NodeOracle:
        """Start the process and wait until it answers (``meta.versions``)."""
        if self._proc is not None:
            return self
        self._proc = subprocess.Popen(
            [self.node, "oracle.mjs"],
            cwd=self.cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        assert self._proc.stdout is not None
        assert self._proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._pump_answers, args=(self._proc.stdout,), daemon=True),
            threading.Thread(target=self._pump_stderr, args=(self._proc.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.versions = self.call("meta.versions")
        return self

    def _pump_answers(self, stream: IO[str]) -> None:
        for line in stream:
            self._answers.put(line.rstrip("\n"))
        self._answers.put(None)  # EOF: the process has gone away

    def _pump_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self._stderr.append(line.rstrip("\n"))

    def close(self, timeout: float = 5.0) -> None:
        """Close stdin (the oracle exits after pending requests) and reap it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=1.0)

    def __enter__(self) -> NodeOracle:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def stderr_tail(self) -> str:
        """The most recent stderr lines of the oracle (library logs, crashes)."""
        return "\n".join(self._stderr)

    # -- requests ----------------------------------------------------------
    def call(self, op: str, /, **params: Any) -> Any:
        """Run ``op`` with ``params`` and return its result (default timeout)."""
        return self.request(op, params)

    def request(self, op: str, params: dict[str, Any], timeout: float | None = None) -> Any:
        """Run ``op``; raise :class:`OracleError` on ``ok: false`` or failure."""
        with self._lock:
            proc = self._proc
            if proc is None or proc.stdin is None:
                raise OracleError("oracle is not running", op=op)
            request_id = next(self._ids)
            line = json.dumps({"id": request_id, "op": op, "params": params})
            try:
                proc.stdin.write(line + "\n")
                proc.stdin.flush()
            except OSError as exc:
                raise OracleError(
                    f"cannot write to oracle: {exc}", op=op, stderr=self.stderr_tail
                ) from exc
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
            while True:
                remaining = deadline - time.monotonic()
                try:
                    raw = self._answers.get(timeout=max(remaining, 0.0))
                except queue.Empty:
                    raise OracleTimeout(
                        f"no answer within {self.timeout if timeout is None else timeout}s",
                        op=op,
                        stderr=self.stderr_tail,
                    ) from None
                if raw is None:
                    self._answers.put(None)  # keep reporting EOF to later calls
                    raise OracleError(
                        f"oracle exited (code {proc.poll()}); stderr:\n{self.stderr_tail}",
                        op=op,
                        stderr=self.stderr_tail,
                    )
                try:
                    answer = json.loads(raw)
                except json.JSONDecodeError:
                    raise OracleError(
                        f"protocol violation, non-JSON line on stdout: {raw[:200]!r}",
                        op=op,
                        stderr=self.stderr_tail,
                    ) from None
                if answer.get("id") != request_id:
                    continue  # a late answer to an earlier, timed-out request
                if answer.get("ok"):
                    return answer.get("result")
                raise OracleError(
                    str(answer.get("error")),
                    op=op,
                    name=answer.get("errorName"),
                    code=answer.get("errorCode"),
                    stderr=self.stderr_tail,
                )
