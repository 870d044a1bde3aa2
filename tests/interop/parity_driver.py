"""Drive tests/interop/db/parity.mjs: better-auth with usePlural or renamed models, Auth.js's
real session route (database strategy, updateAge), Auth.js with a custom JWS ``jwt.encode``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

PARITY = Path(__file__).resolve().parent / "db" / "parity.mjs"


class ParityError(RuntimeError):
    pass


def call(node_bin: str, op: str, **params: Any) -> Any:
    """Run one op in a fresh Node process (JSON on stdin/stdout); ``now`` is epoch ms."""
    proc = subprocess.run(
        [node_bin, str(PARITY)],
        input=json.dumps({"op": op, **params}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin", "NODE_ENV": "test"},
    )
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise ParityError(f"{op}: no answer (exit {proc.returncode}): {proc.stderr[-2000:]}")
    answer = json.loads(lines[-1])
    if not answer["ok"]:
        raise ParityError(f"{op}: {answer['error']}")
    return answer["result"]
