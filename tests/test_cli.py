from __future__ import annotations

import io
import json
import os
import subprocess
import sys

from sessiongate.cli import main
from sessiongate.testing import mint_authjs_v5, mint_hs256, mint_nextauth_v4

S = "cli-secret-0123456789abcdef"
NOW = 1_800_000_000


def run(argv, stdin=""):
    out = io.StringIO()
    code = main(argv, stdout=out, stdin=io.StringIO(stdin))
    return code, json.loads(out.getvalue())


def test_decode_v5():
    t = mint_authjs_v5({"sub": "u", "name": "Zoë"}, S, now=NOW)
    code, out = run(["decode", t, "--secret", S, "--now", str(NOW)])
    assert code == 0
    assert out["ok"] is True and out["format"] == "authjs-v5"
    assert out["header"]["enc"] == "A256CBC-HS512" and out["claims"]["name"] == "Zoë"


def test_decode_v4_and_jws_and_stdin():
    code, out = run(
        ["decode", "-", "--secret", S, "--now", str(NOW)],
        mint_nextauth_v4({"sub": "u"}, S, now=NOW) + "\n",
    )
    assert (code, out["format"]) == (0, "nextauth-v4")
    code, out = run(
        ["decode", mint_hs256({"sub": "u"}, S, now=NOW), "--secret", S, "--now", str(NOW)]
    )
    assert (code, out["format"], out["header"]) == (0, "jws", {"alg": "HS256", "typ": "JWT"})


def test_decode_failures_have_codes():
    t = mint_authjs_v5({"sub": "u"}, S, now=NOW, max_age=60)
    assert run(["decode", t, "--secret", S, "--now", str(NOW + 100)]) == (
        1,
        {"ok": False, "error": {"code": "expired", "message": "the session has expired"}},
    )
    code, out = run(["decode", t, "--secret", "wrong", "--now", str(NOW)])
    assert (code, out["error"]["code"]) == (1, "unknown_kid")
    code, out = run(
        [
            "decode",
            t,
            "--secret",
            S,
            "--cookie-name",
            "__Secure-authjs.session-token",
            "--now",
            str(NOW),
        ]
    )
    assert (code, out["error"]["code"]) == (1, "unknown_kid")
    code, out = run(["decode", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "--secret", S])
    assert (code, out["error"]["code"]) == (1, "malformed")
    assert "database" in out["error"]["message"]


def test_secret_never_printed_and_env_used():
    t = mint_authjs_v5({"sub": "u"}, S, now=NOW)
    env = {**os.environ, "AUTH_SECRET": S}
    p = subprocess.run(
        [sys.executable, "-m", "sessiongate", "decode", t, "--now", str(NOW), "--compact"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["claims"]["sub"] == "u"
    assert S not in p.stdout + p.stderr
    env.pop("AUTH_SECRET")
    env.pop("NEXTAUTH_SECRET", None)
    p = subprocess.run(
        [sys.executable, "-m", "sessiongate", "decode", t],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert p.returncode == 2 and json.loads(p.stdout)["error"]["code"] == "configuration_error"


def test_demo_runs_and_every_case_behaves():
    out = io.StringIO()
    assert main(["demo", "--offline"], stdout=out, stdin=io.StringIO()) == 0
    text = out.getvalue()
    assert "all cases behaved as expected" in text
    assert text.count("OK    ") == 3
    assert "DENY  401 expired" in text
