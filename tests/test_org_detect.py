"""Start-up plugin detection: ``SessionGate.from_env`` and ``sessiongate serve`` (SQLite)."""

from __future__ import annotations

import io
import sqlite3
from urllib.parse import quote

import pytest

from ba_plugin_db import KEY_PLAIN, make_db
from sessiongate import SessionGate
from sessiongate.betterauth import sign_cookie_value
from sessiongate.cli import main as cli_main
from sessiongate.errors import ConfigurationError, SessionGateError

SECRET = "detect-better-auth-secret-0123456789"


def with_session(path, *, banned: bool) -> str:
    """A live session of u-ada (banned or not); the signed cookie header."""
    conn = sqlite3.connect(path)
    conn.execute(
        'INSERT INTO "session" (id, token, userId, expiresAt) VALUES (?, ?, ?, ?)',
        ("s1", "tok-ada-0123456789", "u-ada", "2999-01-01T00:00:00.000Z"),
    )
    conn.execute('UPDATE "user" SET banned = ? WHERE id = ?', (1 if banned else 0, "u-ada"))
    conn.commit()
    conn.close()
    value = quote(sign_cookie_value("tok-ada-0123456789", SECRET), safe="")
    return f"better-auth.session_token={value}"


def env_for(path, **extra: str) -> dict[str, str]:
    return {
        "BETTER_AUTH_SECRET": SECRET,
        "DATABASE_URL": f"sqlite:///{path}",
        "SESSIONGATE_SCHEMA": "better-auth",
        **extra,
    }


def test_from_env_detects_the_plugins_and_refuses_a_banned_user(tmp_path):
    path = make_db(tmp_path / "ba.db")
    cookie = with_session(path, banned=True)
    gate = SessionGate.from_env(env_for(path))
    plugins = gate.better_auth_plugins
    assert plugins is not None
    assert plugins.enforced.admin and plugins.enforced.organization and plugins.enforced.api_key
    with pytest.raises(SessionGateError) as refused:
        gate.authenticate_sync({"cookie": cookie})
    assert refused.value.code == "banned"
    # the API keys of a banned owner are refused too (u-ada owns KEY_PLAIN)
    with pytest.raises(SessionGateError) as keyed:
        plugins.api_keys.authenticate_sync({"x-api-key": KEY_PLAIN})
    assert keyed.value.code == "banned"


def test_admin_off_reads_no_ban(tmp_path):
    path = make_db(tmp_path / "ba.db")
    cookie = with_session(path, banned=True)
    gate = SessionGate.from_env(env_for(path, SESSIONGATE_BA_ADMIN="off"))
    assert gate.better_auth_plugins.found.admin and not gate.better_auth_plugins.enforced.admin
    assert gate.authenticate_sync({"cookie": cookie}).user.id == "u-ada"


def test_a_user_not_banned_passes_with_the_plugin_columns_read(tmp_path):
    path = make_db(tmp_path / "ba.db")
    cookie = with_session(path, banned=False)
    user = SessionGate.from_env(env_for(path)).authenticate_sync({"cookie": cookie}).user
    assert user.id == "u-ada" and user.source == "better-auth"


def test_pinned_plugin_missing_refuses_to_start(tmp_path):
    path = make_db(tmp_path / "plain.db", plugins=False)
    with pytest.raises(ConfigurationError, match="SESSIONGATE_BA_API_KEY=on"):
        SessionGate.from_env(env_for(path, SESSIONGATE_BA_API_KEY="on"))
    plain = SessionGate.from_env(env_for(path))
    assert plain.better_auth_plugins is not None
    assert plain.better_auth_plugins.enforced.describe() == "none"


def test_every_plugin_off_detects_nothing(tmp_path):
    path = make_db(tmp_path / "ba.db")
    off = {f"SESSIONGATE_BA_{n}": "off" for n in ("ADMIN", "ORGANIZATION", "API_KEY")}
    assert SessionGate.from_env(env_for(path, **off)).better_auth_plugins is None


def test_serve_banner_says_what_was_detected_and_verify_accepts_api_keys(tmp_path, monkeypatch):
    from starlette.testclient import TestClient

    import sessiongate.sidecar.serve as serving
    from sessiongate.sidecar.serve.app import build_app

    specs = []
    monkeypatch.setattr(serving, "run", lambda options, spec: specs.append(spec) or 0)
    for name in ("AUTH_SECRET", "NEXTAUTH_SECRET", "JWT_SECRET", "SESSIONGATE_JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env_for(make_db(tmp_path / "ba.db")).items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    assert cli_main(["serve", "--ba-organization", "off"], stdout=out) == 0
    banner = out.getvalue()
    assert "Better Auth plugins enforced: admin (bans, impersonation), api-key" in banner
    assert "found: admin (bans, impersonation), organization (dynamic roles), api-key" in banner
    app = build_app(specs[0])  # what each worker builds
    assert app.verify.api_keys is not None and app.verify.organizations is None
    with TestClient(app) as client:
        ok = client.get("/verify", headers={"x-api-key": KEY_PLAIN})
        assert ok.status_code == 200 and ok.headers["x-auth-source"] == "api-key"
        bad = client.get("/verify", headers={"x-api-key": "z" * 64})  # no such key
        assert bad.status_code == 401, bad.text
