"""The README's code blocks run, with the conventions of tests/test_docs.py (the README is not a
page of the docs site, so that suite does not collect it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_docs import ROOT, parse_page, run_page

README = ROOT / "README.md"


def test_readme_code_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUTH_SECRET", raising=False)
    assert run_page(README, tmp_path) >= 2


def test_readme_shows_one_fastapi_and_one_flask_example() -> None:
    python = [b.code for b in parse_page(README) if b.lang == "python"]
    assert len(python) == 2
    assert "from fastapi import" in python[0] and "trusted_origins" in python[0]
    assert "from flask import" in python[1]


def test_readme_keeps_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "bash scripts/demo.sh" in text and "bash scripts/test.sh" in text
