"""Structured audit logs: one JSON line per verdict, for log shippers.

A line looks like this (one line, keys always present and in this order)::

    {"time":"2026-11-30T21:04:05.123Z","request_id":"4bf92f35","outcome":"ok","status":200,
     "credential":"cookie","authenticator":"authjs","user_id":"user-1","latency_ms":0.041}

* ``time``: when the verdict was given, UTC, milliseconds;
* ``request_id``: the request's ``X-Request-Id`` passed through when it is 1-128 characters of
  ``A-Z a-z 0-9 - _ . : / + = @``, else ``null`` (a client-chosen value is never written
  verbatim if it could break the line or carry a token-sized payload);
* ``outcome`` / ``status``: ``"ok"`` and 200, or the error code and its status;
* ``credential`` / ``authenticator``: as in :mod:`sessiongate.observe`;
* ``user_id``: the verified user's id on success, else ``null``;
* ``latency_ms``: time spent deciding.

Never a token, a cookie, a secret or any other header value. Lines are ASCII (``json.dumps``
escapes everything else), so a user id cannot forge a second line.

:func:`audit_line` is the pure formatter; :class:`AuditLog` writes lines to a file or to
standard output with one ``write(2)`` per line, which keeps the lines of several worker
processes whole: a file is opened with ``O_APPEND`` and a line is at most 4,096 bytes
(``PIPE_BUF``: atomic on a pipe too; a longer user id is written as ``null`` with
``"user_id_truncated": true`` rather than split).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

__all__ = ["MAX_LINE_BYTES", "AuditLog", "audit_line", "request_id_from"]

MAX_LINE_BYTES = 4096
"""The longest line written: ``PIPE_BUF`` on Linux, so a write to a pipe is never interleaved."""

_REQUEST_ID = re.compile(rb"[A-Za-z0-9\-_.:/+=@]{1,128}\Z")


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The ``X-Request-Id`` to log, or ``None`` when absent, repeated or not a plain id."""
    found: bytes | None = None
    for name, value in headers:
        if name.lower() == b"x-request-id":
            if found is not None:
                return None  # two ids: which one is the proxy's?
            found = value.strip()
    if found is None or not _REQUEST_ID.match(found):
        return None
    return found.decode("ascii")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def audit_line(
    *,
    when: float,
    request_id: str | None,
    outcome: str,
    status: int,
    credential: str,
    authenticator: str,
    user_id: str | None,
    latency_s: float,
) -> bytes:
    """One audit line (ASCII JSON, ending in ``\\n``, at most :data:`MAX_LINE_BYTES`)."""
    record: dict[str, object] = {
        "time": _iso(when),
        "request_id": request_id,
        "outcome": outcome,
        "status": status,
        "credential": credential,
        "authenticator": authenticator,
        "user_id": user_id,
        "latency_ms": round(latency_s * 1000, 3),
    }
    line = json.dumps(record, separators=(",", ":"), ensure_ascii=True) + "\n"
    if len(line) > MAX_LINE_BYTES:
        record["user_id"] = None
        record["user_id_truncated"] = True
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=True) + "\n"
    return line.encode("ascii")


class AuditLog:
    """Append audit lines to ``target``: a file path, or ``"-"`` for standard output.

    The file is opened lazily by the process that writes first (each worker has its own
    descriptor) with ``O_APPEND``; :meth:`close` closes it. A failed or short write is counted
    in :attr:`errors` and never fails the request. ``clock`` gives the UNIX time of a line.
    """

    def __init__(self, target: str, *, clock: Callable[[], float] = time.time) -> None:
        if not target:
            raise ValueError("the audit log target must be a path or '-'")
        self.target = target
        self._clock = clock
        self._fd: int | None = None
        self._pid = 0
        self.errors = 0

    def __repr__(self) -> str:
        return f"AuditLog({self.target!r})"

    def _descriptor(self) -> int:
        pid = os.getpid()
        if self._fd is None or self._pid != pid:
            if self.target == "-":
                self._fd = 1
            else:
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
                self._fd = os.open(self.target, flags, 0o640)
            self._pid = pid
        return self._fd

    def record(
        self,
        *,
        request_id: str | None,
        outcome: str,
        status: int,
        credential: str,
        authenticator: str,
        user_id: str | None,
        latency_s: float,
    ) -> None:
        """Write one line for a verdict."""
        line = audit_line(
            when=self._clock(),
            request_id=request_id,
            outcome=outcome,
            status=status,
            credential=credential,
            authenticator=authenticator,
            user_id=user_id,
            latency_s=latency_s,
        )
        try:
            written = os.write(self._descriptor(), line)
        except OSError:
            written = -1
        if written != len(line):  # a full disk, a closed pipe: never the request's problem
            self.errors += 1

    def close(self) -> None:
        """Close the file (standard output is left open)."""
        fd, self._fd = self._fd, None
        if fd is not None and fd != 1 and self._pid == os.getpid():
            os.close(fd)
