"""Optional dependencies: a missing extra is one ``pip install 'sessiongate[...]'`` line.

Each case runs in a fresh interpreter where the package is made unimportable by putting ``None``
in ``sys.modules`` (what ``import`` then refuses with ``ModuleNotFoundError``), as on a machine
where the extra was never installed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sessiongate._extras import EXTRAS, install_hint, missing_extra
from sessiongate.errors import ConfigurationError, MissingExtraError


def run(code: str, *, hide: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    prelude = f"import sys\nfor _m in {list(hide)!r}:\n    sys.modules[_m] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def error_of(code: str, *, hide: tuple[str, ...]) -> dict[str, object]:
    """What ``code`` raised, as ``{"type", "message", "import_error", "config_error"}``."""
    wrapped = (
        "import json\ntry:\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
        + "except Exception as err:\n"
        "    from sessiongate.errors import ConfigurationError\n"
        "    print(json.dumps({'type': type(err).__name__, 'message': str(err),\n"
        "        'import_error': isinstance(err, ImportError),\n"
        "        'config_error': isinstance(err, ConfigurationError)}))\n"
        "else:\n"
        "    print(json.dumps(None))\n"
    )
    out = run(wrapped, hide=hide)
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout)
    return result


CASES = [
    ("from sessiongate import PostgresStore", ("asyncpg",), "postgres"),
    (
        "from sessiongate.stores import open_store\n"
        "open_store('postgresql://u@localhost/db', schema='authjs-prisma')",
        ("asyncpg",),
        "postgres",
    ),
    ("from sessiongate.stores import MySQLStore", ("asyncmy",), "mysql"),
    (
        "from sessiongate.stores import open_store\n"
        "open_store('mysql://u@localhost/db', schema='authjs-prisma')",
        ("asyncmy",),
        "mysql",
    ),
    ("from sessiongate import JWKSBearer", ("httpx",), "jwks"),
    ("from sessiongate import JWKSClient", ("jwt",), "jwks"),
    ("import sessiongate.jwks", ("jwt", "httpx"), "jwks"),
    ("import sessiongate.asgi", ("starlette",), "starlette"),
    ("import sessiongate.fastapi", ("fastapi",), "fastapi"),
    ("import sessiongate.flask", ("flask",), "flask"),
    ("import sessiongate.django", ("django",), "django"),
    ("import sessiongate.drf", ("rest_framework",), "drf"),
    ("import sessiongate.ninja", ("ninja",), "ninja"),
    (
        "from sessiongate.config import GateConfig, build_authenticators\n"
        "build_authenticators(GateConfig(jwks_url='https://idp.example/jwks', issuer='i', "
        "audience='a'))",
        ("httpx",),
        "jwks",
    ),
]


@pytest.mark.parametrize(("code", "hide", "extra"), CASES, ids=[c[0][:40] for c in CASES])
def test_a_missing_extra_is_one_pip_install_line(code, hide, extra):
    error = error_of(code, hide=hide)
    assert error is not None, "the import should have failed"
    assert error["type"] == "MissingExtraError"
    assert error["import_error"] and error["config_error"]
    message = str(error["message"])
    assert "\n" not in message
    assert message.endswith(f"pip install 'sessiongate[{extra}]'")
    assert "which is not installed" in message


def test_a_flask_only_install_needs_neither_asyncpg_nor_starlette_nor_httpx():
    # sessiongate[flask]: the core, the WSGI layer, SQLite sessions, from_env
    code = (
        "import sessiongate, sessiongate.flask, sessiongate.wsgi, sessiongate.policy\n"
        "from sessiongate import SessionGate, DatabaseSession, SQLiteStore\n"
        "from sessiongate.testing import cookie_header, mint_authjs_v5\n"
        "gate = SessionGate.from_env({'AUTH_SECRET': 's' * 32})\n"
        "user = gate.authenticate_sync({'cookie': cookie_header(mint_authjs_v5("
        "{'sub': 'u1'}, 's' * 32))}).user\n"
        "print(user.id)\n"
    )
    out = run(code, hide=("asyncpg", "starlette", "fastapi", "httpx", "jwt", "uvicorn"))
    assert (out.returncode, out.stdout, out.stderr) == (0, "u1\n", "")


@pytest.mark.parametrize(
    ("argv", "hide", "extra"),
    [
        (["serve"], ("granian",), "serve"),
        (["serve", "--server", "uvicorn"], ("uvicorn",), "serve"),
        (["serve", "--metrics"], ("prometheus_client",), "metrics"),
        (["demo", "--once"], ("starlette",), "demo"),
        (["demo", "--once"], ("httpx",), "demo"),
        (
            ["serve", "--jwks-url", "https://idp.example/jwks", "--issuer", "i", "--audience", "a"],
            ("httpx",),
            "jwks",
        ),
        (
            ["decode", "opaque-session-token", "--database-url", "postgresql://u@localhost/db"],
            ("asyncpg",),
            "postgres",
        ),
    ],
)
def test_the_cli_prints_one_line_for_a_missing_extra_never_a_traceback(argv, hide, extra):
    code = f"from sessiongate.cli import main\nsys.exit(main({argv!r}))"
    out = run(code, hide=hide)
    text = out.stdout + out.stderr
    assert "Traceback" not in text
    assert out.returncode in (1, 2)
    assert f"pip install 'sessiongate[{extra}]'" in text
    line = next(line for line in text.splitlines() if "pip install" in line)
    assert "which is not installed" in line


def test_an_unrelated_missing_module_is_not_dressed_up_as_an_extra():
    err = ModuleNotFoundError("No module named 'yaml'", name="yaml")
    assert missing_extra(err, "jwks") is err
    hint = missing_extra(ModuleNotFoundError("x", name="jwt.algorithms"), "jwks")
    assert isinstance(hint, MissingExtraError) and isinstance(hint, ConfigurationError)
    assert str(hint) == (
        "JWKS verification (JWKSBearer, JWKSClient) needs PyJWT, which is not installed: "
        "pip install 'sessiongate[jwks]'"
    )


def test_every_extra_named_in_a_message_exists_in_pyproject():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads(
        (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    )
    project = pyproject["project"]
    extras = project["optional-dependencies"]
    assert set(EXTRAS) | {"asgi", "all"} <= set(extras)
    assert [d.split(">")[0] for d in project["dependencies"]] == ["cryptography", "cachetools"]
    everything = " ".join(extras["all"])
    for name in ("asyncpg", "httpx", "pyjwt", "starlette", "fastapi", "flask", "uvicorn"):
        assert name in everything
    assert extras["asgi"] == extras["starlette"]
    assert install_hint("flask") == "pip install 'sessiongate[flask]'"
