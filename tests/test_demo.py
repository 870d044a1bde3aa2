"""``sessiongate demo --once`` end to end in a subprocess: server up, every curl line checked."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from sessiongate.demo import run_live_demo


def test_demo_once_subprocess_reports_success():
    p = subprocess.run(
        [sys.executable, "-m", "sessiongate", "demo", "--once"],
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "all requests behaved as expected" in out
    assert out.count("✔ checked: 200") == 3
    assert "✔ checked: 403 insufficient_scope" in out
    assert "✔ checked: 401 expired" in out
    assert "✘" not in out
    curls = [line for line in out.splitlines() if line.startswith("curl ")]
    assert len(curls) == 5
    assert all(re.search(r"http://127\.0\.0\.1:\d+/(me|admin)", c) for c in curls)
    assert "\033[" not in out  # no colour without a terminal
    assert "Traceback" not in p.stderr


def test_demo_default_without_tty_is_once():
    p = subprocess.run(
        [sys.executable, "-m", "sessiongate", "demo"],
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "the server has stopped (--once)" in p.stdout


def test_demo_serve_answers_the_printed_curl_lines():
    seen: dict[str, int] = {}

    def wait(base: str) -> None:
        # while "serving", the printed lines work against the live server
        seen["healthy"] = httpx.get(base + "/me").status_code

    out = io.StringIO()
    t = threading.Thread(
        target=lambda: seen.setdefault("rc", run_live_demo(out, serve=True, wait=wait))
    )
    t.start()
    t.join(timeout=60)
    assert not t.is_alive()
    assert seen["rc"] == 0
    assert seen["healthy"] == 401  # no credentials: the server is up and refusing
    assert "Ctrl-C to stop" in out.getvalue()


def _demo_dirs(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("sessiongate-demo-*"))


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_demo_serve_stops_and_cleans_up_on_sigterm_as_on_ctrl_c(tmp_path, how):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sessiongate", "demo", "--serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("serving on"):
                break
        assert any(line.startswith("serving on") for line in lines), "".join(lines)
        assert len(_demo_dirs(tmp_path)) == 1  # the demo's database lives there
        proc.send_signal(how)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopping" in out
    assert "Traceback" not in err
    assert _demo_dirs(tmp_path) == []
