"""benchmarks/bench_drf.py runs, checks every contender's answer, and reports the ratios.

Timings are never asserted (they depend on the machine); only structure and correctness.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_drf_quick_json():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_drf.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    groups = {g["key"]: g["results"] for g in report["groups"]}
    assert set(groups["drf"]) == {"noauth", "sessiongate", "drf_token"}
    assert set(groups["drf_nocache"]) == {"noauth", "sessiongate_nocache"}
    for results in groups.values():
        assert results["noauth"]["throughput_vs_noauth"] == 1.0
        for row in results.values():
            assert row["requests_per_s"] > 0
