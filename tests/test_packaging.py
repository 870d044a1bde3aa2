"""The package as users get it: one version, its metadata, the licence, the wheel, the habits.

Each check reads the real files (``pyproject.toml``, ``LICENSE``, ``CHANGELOG.md``, ``.ci/run``,
``.pre-commit-config.yaml``) or the installed distribution; the wheel is built from a copy of
the checkout with the project's own build backend.
"""

from __future__ import annotations

import email
import email.message
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

import sessiongate
from sessiongate.cli import main

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT: dict[str, Any] = PYPROJECT["project"]
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?$")

MIT_GRANT = (
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this "
    'software and associated documentation files (the "Software"), to deal in the Software '
    "without restriction"
)


def _installed_metadata() -> email.message.Message:
    return importlib.metadata.metadata("sessiongate")  # type: ignore[return-value]


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- one version -------------------------------------------------------------------------------


def test_version_is_defined_once_in_the_package() -> None:
    assert "version" not in PROJECT, "pyproject.toml must not repeat the version"
    assert "version" in PROJECT["dynamic"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "sessiongate.__version__"
    assert VERSION_RE.match(sessiongate.__version__), sessiongate.__version__
    # the build backend reads it statically: a plain string literal, on one line
    init = (ROOT / "src" / "sessiongate" / "__init__.py").read_text(encoding="utf-8")
    assert re.findall(r"^__version__ = \"([^\"]+)\"$", init, re.M) == [sessiongate.__version__]


def test_installed_metadata_carries_that_version() -> None:
    assert importlib.metadata.version("sessiongate") == sessiongate.__version__


def test_cli_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"sessiongate {sessiongate.__version__}\n"


@pytest.mark.parametrize("how", ["console script", "python -m"])
def test_version_from_the_installed_commands(how: str) -> None:
    if how == "console script":
        script = Path(sys.executable).parent / "sessiongate"
        assert script.exists(), f"{script}: the [project.scripts] entry point is not installed"
        command = [str(script), "--version"]
    else:
        command = [sys.executable, "-m", "sessiongate", "--version"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"sessiongate {sessiongate.__version__}\n"


# --- licence and metadata ----------------------------------------------------------------------


def test_license_file_is_the_mit_text_the_metadata_declares() -> None:
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = _one_line((ROOT / "LICENSE").read_text(encoding="utf-8"))
    assert text.startswith("MIT License Copyright (c) ")
    assert MIT_GRANT in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"]), (
        "a licence classifier next to the SPDX expression is rejected by PEP 639 tools"
    )


def test_installed_metadata_declares_mit_and_ships_the_license() -> None:
    meta = _installed_metadata()
    assert meta["License-Expression"] == "MIT"
    assert "LICENSE" in (meta.get_all("License-File") or [])


def test_python_classifiers_cover_every_supported_version_from_the_floor() -> None:
    floor = re.fullmatch(r">=3\.(\d+)", PROJECT["requires-python"])
    assert floor, PROJECT["requires-python"]
    minors = sorted(
        int(m.group(1))
        for c in PROJECT["classifiers"]
        if (m := re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c))
    )
    assert minors, "no Python version classifiers"
    assert minors[0] == int(floor.group(1)), "the lowest classifier must be requires-python's"
    assert minors == list(range(minors[0], minors[-1] + 1)), f"a gap in 3.{minors}"
    assert {11, 12, 13} <= set(minors)


def test_no_project_urls_until_there_is_a_public_home() -> None:
    """A Documentation or Changelog URL must be absolute and reachable; there is none yet.

    When the project gets a public repository, add ``[project.urls]`` and replace this test
    with one that checks every URL is https and points at that repository.
    """
    assert "urls" not in PROJECT
    assert "dynamic" not in PROJECT or "urls" not in PROJECT["dynamic"]


# --- the wheel ---------------------------------------------------------------------------------


def _build_command(out_dir: Path, source: Path) -> list[str]:
    uv = shutil.which("uv")
    if uv is not None:
        return [uv, "build", "--wheel", "--quiet", "--out-dir", str(out_dir), str(source)]
    return [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        str(out_dir),
        str(source),
    ]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """A wheel built from a copy of the checkout (the build writes into its source tree)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    out_dir = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        _build_command(out_dir, source),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    wheels = list(out_dir.glob("sessiongate-*.whl"))
    assert len(wheels) == 1, wheels
    return zipfile.ZipFile(wheels[0])


def test_wheel_metadata_matches_the_single_sources(wheel: zipfile.ZipFile) -> None:
    version = sessiongate.__version__
    assert Path(wheel.filename or "").name == f"sessiongate-{version}-py3-none-any.whl"
    meta = email.message_from_bytes(wheel.read(f"sessiongate-{version}.dist-info/METADATA"))
    assert meta["Name"] == "sessiongate"
    assert meta["Version"] == version
    assert meta["License-Expression"] == "MIT"
    assert meta["Requires-Python"] == PROJECT["requires-python"]
    assert sorted(meta.get_all("Classifier") or []) == sorted(PROJECT["classifiers"])
    assert not meta.get_all("Project-URL")
    entry_points = wheel.read(f"sessiongate-{version}.dist-info/entry_points.txt").decode()
    assert "sessiongate = sessiongate.cli:main" in entry_points


def test_wheel_ships_the_license_the_typing_marker_and_no_tests(wheel: zipfile.ZipFile) -> None:
    version = sessiongate.__version__
    names = wheel.namelist()
    license_text = wheel.read(f"sessiongate-{version}.dist-info/licenses/LICENSE")
    assert license_text == (ROOT / "LICENSE").read_bytes()
    assert "sessiongate/py.typed" in names
    assert "sessiongate/__main__.py" in names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "examples/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


# --- habits ------------------------------------------------------------------------------------


def _pinned(requirement_prefix: str) -> str:
    pins = [r for r in PROJECT["optional-dependencies"]["test"] if r.startswith(requirement_prefix)]
    assert len(pins) == 1, pins
    match = re.fullmatch(re.escape(requirement_prefix) + r"==([\w.]+)", pins[0])
    assert match, f"{pins[0]} must be pinned with =="
    return match.group(1)


def test_lint_tools_are_pinned_and_pre_commit_uses_the_same_versions() -> None:
    ruff = _pinned("ruff")
    _pinned("mypy")
    config = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    hooks = set(re.findall(r"^\s+- id: ([\w-]+)$", config, re.M))
    assert {"ruff-format", "ruff-check", "mypy"} <= hooks
    assert set(re.findall(r"ruff==([\w.]+)", config)) == {ruff}
    # mypy needs the project's dependencies: it must run from the project's venv
    assert re.search(r"entry: \.venv/bin/mypy$", config, re.M)


def test_installed_lint_tools_are_the_pinned_ones() -> None:
    assert importlib.metadata.version("ruff") == _pinned("ruff")
    assert importlib.metadata.version("mypy") == _pinned("mypy")


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "bash scripts/test.sh" in readme
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert "bash scripts/test.sh" in commands, commands


def test_test_command_checks_format_and_types_and_waits_for_apt() -> None:
    script = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert re.search(r"^\s+ruff format --check ", script, re.M)
    assert re.search(r"^\s+ruff check ", script, re.M)
    assert re.search(r"^\s+mypy \|\| fail", script, re.M)
    assert "-o DPkg::Lock::Timeout=" in script


def test_changelog_follows_keep_a_changelog() -> None:
    lines = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# Changelog"
    assert any("Keep a Changelog" in line for line in lines[:6])
    releases = [line for line in lines if line.startswith("## ")]
    assert releases[0] == "## [Unreleased]"
    versions = []
    for heading in releases[1:]:
        match = re.fullmatch(r"## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}", heading)
        assert match, f"release heading {heading!r} is not '## [X.Y.Z] - YYYY-MM-DD'"
        versions.append(tuple(int(p) for p in match.group(1).split(".")))
    assert versions == sorted(versions, reverse=True), "releases must be newest first"
    kinds = {line[4:] for line in lines if line.startswith("### ")}
    assert kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}, kinds
