"""The soak's short form (benchmarks/soak.py, ~15 s on loopback): the sidecar and a FastAPI app
with SQLite database sessions under a mix of valid, expired and garbage credentials. Asserts
zero unexpected statuses and bounded memory growth; no timing asserts (shared CI machines)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_soak_short_form_no_unexpected_status_and_flat_memory(tmp_path):
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "soak.py"),
            "--duration",
            "6",
            "--concurrency",
            "16",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert out.exists(), proc.stderr[-2000:]
    report = json.loads(out.read_text())
    results = {r["target"]: r for r in report["results"]}
    assert set(results) == {"sidecar", "fastapi"}
    for target, r in results.items():
        assert r["requests"] > 0, target
        assert r["unexpected"] == 0, (target, r["unexpected_examples"])
        assert r["client_errors"] == 0, target
        assert set(r["statuses"]) <= {"200", "401"}, (target, r["statuses"])
        assert r["statuses"].get("200", 0) > 0 and r["statuses"].get("401", 0) > 0, target
        assert r["rss_growth_after_warmup_mb"] < 64, (target, r)
    assert proc.returncode == 0, proc.stdout[-2000:]
