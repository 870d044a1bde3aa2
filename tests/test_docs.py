"""Every code block of the documentation runs here, and the error table matches the code.

Conventions (docs/contributing-docs.md explains them to writers):

* every fenced ``python`` block runs, in page order, in one namespace per page, so a later block
  can use what an earlier one defined; top-level ``await`` is allowed;
* hidden code goes in an HTML comment, which the site does not show:
  ``<!-- doc-test: setup ... -->`` right before a block runs first (secrets, minted tokens, a
  database), ``<!-- doc-test: check ... -->`` right after a block runs afterwards (assertions on
  what the block built: requests through a test client, say; ``_printed`` holds what the block
  printed); a setup can register callables in ``_cleanups``, run when the page ends, pass or fail;
* ``<!-- doc-test: compile-only REASON -->`` before a python block only compiles it: for pure
  configuration fragments that need a server or a framework that is not there;
* ``console`` blocks are transcripts: each ``$ command`` runs in bash and its output must match
  the lines under it (``…`` matches anything); ``bash`` blocks run and must exit 0. Shell blocks
  see the page namespace's upper-case string variables as environment variables, and
  ``<!-- doc-test: skip-run REASON -->`` (installs, servers) limits a block to ``bash -n``;
* a ``--8<-- "path"`` line inside a block is replaced by that repository file, as the site's
  snippets extension does.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import json
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest

import sessiongate
from sessiongate.errors import SessionGateError

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

PYTHON_LANGS = {"python", "py"}
SHELL_LANGS = {"bash", "sh", "shell", "console"}
# other fences (text, json, nginx, yaml, js, toml) are shown, not run; json must still parse
DIRECTIVES_BEFORE = {"setup", "compile-only", "skip-run"}
SHELL_TIMEOUT = 120

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)[^`]*$")
_DIRECTIVE = re.compile(r"^[ \t]*<!--[ \t]*doc-test:[ \t]*(?P<kind>[\w-]+)(?P<rest>.*)$")
_SNIPPET = re.compile(r'^[ \t]*-{1,}8<-{1,}[ \t]+"(?P<path>[^"]+)"[ \t]*$')


@dataclass
class Directive:
    kind: str
    argument: str
    body: str
    line: int  # 1-based line of the body's first line in the page


@dataclass
class Block:
    page: Path
    name: str  # the page's path as shown in messages and tracebacks
    lang: str
    line: int  # 1-based line of the first code line
    code: str
    before: list[Directive] = field(default_factory=list)
    after: list[Directive] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.name}:{self.line}"

    def has(self, kind: str) -> bool:
        return any(d.kind == kind for d in self.before)


def _inline_snippets(code: str, root: Path) -> str:
    def repl(line: str) -> str:
        m = _SNIPPET.match(line)
        if m is None:
            return line
        path = root / m["path"]
        assert path.is_file(), f"snippet file {m['path']} does not exist"
        return path.read_text(encoding="utf-8").rstrip("\n")

    return "\n".join(repl(line) for line in code.split("\n"))


def parse_page(page: Path, root: Path = ROOT) -> list[Block]:
    """The fenced blocks of a page with the doc-test directives that belong to them."""
    name = str(page.relative_to(root))
    lines = page.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    pending: list[Directive] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = _DIRECTIVE.match(line)
        if directive is not None:
            rest = directive["rest"]
            body: list[str] = []
            start = i + 2
            if "-->" in rest:
                rest = rest[: rest.index("-->")]
            else:
                i += 1
                while i < len(lines) and "-->" not in lines[i]:
                    body.append(lines[i])
                    i += 1
                assert i < len(lines), f"{page}:{start - 1}: unterminated doc-test comment"
                tail = lines[i][: lines[i].index("-->")]
                if tail.strip():
                    body.append(tail)
            d = Directive(directive["kind"], rest.strip(), textwrap.dedent("\n".join(body)), start)
            if d.kind == "check":
                assert blocks, f"{page}:{start - 1}: a check comment must follow a code block"
                blocks[-1].after.append(d)
            elif d.kind in DIRECTIVES_BEFORE:
                pending.append(d)
            else:
                raise AssertionError(f"{page}:{start - 1}: unknown doc-test directive {d.kind!r}")
            i += 1
            continue
        fence = _FENCE.match(line)
        if fence is not None:
            indent, marker = fence["indent"], fence["fence"]
            code_lines: list[str] = []
            first = i + 2
            i += 1
            while i < len(lines):
                closing = lines[i].strip()
                if closing.startswith(marker[0] * len(marker)) and not closing.strip(marker[0]):
                    break
                code_lines.append(lines[i][len(indent) :] if lines[i].startswith(indent) else "")
                i += 1
            assert i < len(lines), f"{page}:{first - 1}: unterminated code fence"
            blocks.append(
                Block(page, name, fence["lang"].lower(), first, "\n".join(code_lines), pending)
            )
            pending = []
            i += 1
            continue
        if line.strip() and pending:
            raise AssertionError(
                f"{page}:{i + 1}: a doc-test comment must come right before a code block"
            )
        i += 1
    assert not pending, f"{page}: doc-test comment at the end of the page belongs to no block"
    return blocks


def doc_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


# ----------------------------------------------------------------------------- running blocks


def _compile(source: str, filename: str, first_line: int) -> Any:
    # pad so that tracebacks point at the right line of the markdown page
    padded = "\n" * (first_line - 1) + source
    return compile(
        padded, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )


def _run_python(
    source: str, filename: str, first_line: int, ns: dict[str, Any], loop: asyncio.AbstractEventLoop
) -> None:
    code = _compile(source, filename, first_line)
    if code.co_flags & inspect.CO_COROUTINE:
        loop.run_until_complete(eval(code, ns))
    else:
        exec(code, ns)


_ENV_DROP = re.compile(
    r"^(AUTH_SECRET(_\d)?|NEXTAUTH_\w+|BETTER_AUTH_\w+|DATABASE_URL|SESSIONGATE_(?!TEST_)\w+)$"
)


def shell_env(ns: dict[str, Any]) -> dict[str, str]:
    """The inherited environment without auth settings, plus the page's upper-case strings."""
    env = {k: v for k, v in os.environ.items() if not _ENV_DROP.match(k)}
    env.update({k: v for k, v in ns.items() if k.isupper() and isinstance(v, str)})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "100"
    return env


def transcript(code: str) -> Iterator[tuple[str, str]]:
    """``(command, expected output)`` pairs of a console block (``\\`` continues a command)."""
    command: list[str] | None = None
    output: list[str] = []
    continuing = False
    for line in code.split("\n"):
        if continuing and command is not None:
            command.append(line)
            continuing = line.endswith("\\")
            continue
        if line.startswith("$ "):
            if command is not None:
                yield "\n".join(command), "\n".join(output)
            command, output = [line[2:]], []
            continuing = line.endswith("\\")
        elif command is not None:
            output.append(line)
    if command is not None:
        yield "\n".join(command), "\n".join(output)


def output_matches(expected: str, actual: str) -> bool:
    """Line-trimmed comparison where ``…`` in the expected text matches any text."""

    def norm(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))

    pattern = ".*?".join(re.escape(part) for part in norm(expected).split("…"))
    return re.fullmatch(pattern, norm(actual), flags=re.DOTALL) is not None


def _bash(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail\n{command}"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=SHELL_TIMEOUT,
        check=False,
    )


def _run_shell(block: Block, code: str, ns: dict[str, Any], cwd: Path) -> None:
    commands = [c for c, _ in transcript(code)] if block.lang == "console" else [code]
    syntax = subprocess.run(
        ["bash", "-n"], input="\n".join(commands), capture_output=True, text=True, check=False
    )
    assert syntax.returncode == 0, f"{block.where}: bash syntax error: {syntax.stderr}"
    if block.has("skip-run"):
        return
    env = shell_env(ns)
    if block.lang == "console":
        for command, expected in transcript(code):
            done = _bash(command, env, cwd)
            actual = done.stdout + done.stderr
            assert output_matches(expected, actual), (
                f"{block.where}: `$ {command}` printed (exit {done.returncode}):\n{actual}\n"
                f"but the page shows:\n{expected}"
            )
    else:
        done = _bash(code, env, cwd)
        assert done.returncode == 0, (
            f"{block.where}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        )


def run_page(page: Path, cwd: Path, root: Path = ROOT) -> int:
    """Run every block of ``page``; returns how many blocks ran or compiled."""
    cleanups: list[Any] = []
    ns: dict[str, Any] = {"__name__": f"docs_{page.stem.replace('-', '_')}", "_cleanups": cleanups}
    loop = asyncio.new_event_loop()
    count = 0
    # every gate a page builds with from_env may start cross-replica listeners (a database
    # named in an example is not there: they would retry it after the run): stop them all
    import sessiongate.replicas as replicas

    started: list[Any] = []
    original = replicas.replicated

    def recorded(*args: Any, **kwargs: Any) -> Any:
        setup = original(*args, **kwargs)
        started.append(setup)
        return setup

    replicas.replicated = recorded  # type: ignore[assignment]
    cleanups.append(lambda: setattr(replicas, "replicated", original))
    cleanups.append(lambda: [listener.close() for s in started for listener in s.listeners])
    try:
        for block in parse_page(page, root):
            filename = block.name
            code = _inline_snippets(block.code, root)
            if block.lang in PYTHON_LANGS:
                for d in block.before:
                    assert d.kind in {"setup", "compile-only"}, (
                        f"{block.where}: {d.kind} is for shell blocks"
                    )
                if block.has("compile-only"):
                    assert all(d.argument for d in block.before if d.kind == "compile-only"), (
                        f"{block.where}: compile-only needs a reason"
                    )
                    _compile(code, filename, block.line)
                    count += 1
                    continue
                for d in block.before:
                    _run_python(d.body, filename, d.line, ns, loop)
                printed = io.StringIO()
                with contextlib.redirect_stdout(printed):
                    _run_python(code, filename, block.line, ns, loop)
                ns["_printed"] = printed.getvalue()
                for d in block.after:
                    _run_python(d.body, filename, d.line, ns, loop)
                count += 1
            elif block.lang in SHELL_LANGS:
                for d in block.before:
                    if d.kind == "setup":
                        _run_python(d.body, filename, d.line, ns, loop)
                    elif d.kind == "skip-run":
                        assert d.argument, f"{block.where}: skip-run needs a reason"
                    else:
                        raise AssertionError(f"{block.where}: {d.kind} is for python blocks")
                _run_shell(block, code, ns, cwd)
                for d in block.after:
                    _run_python(d.body, filename, d.line, ns, loop)
                count += 1
            elif block.lang == "json":
                json.loads(code)
            else:
                assert not block.before and not block.after, (
                    f"{block.where}: doc-test comments on a {block.lang or 'text'} block: no effect"
                )
        closer = ns.get("gate")
        if closer is not None and hasattr(closer, "aclose"):
            loop.run_until_complete(closer.aclose())
    finally:
        for cleanup in reversed(cleanups):
            cleanup()
        loop.close()
    return count


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_code_blocks_of_page_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    run_page(page, tmp_path)


def test_the_guides_have_code_that_runs():
    """Guard against a parser that silently finds nothing."""
    python = [b for p in doc_pages() for b in parse_page(p) if b.lang in PYTHON_LANGS]
    executed = [b for b in python if not b.has("compile-only")]
    assert len(executed) >= 30, len(executed)
    for guide in (DOCS / "guides").glob("*.md"):
        assert any(b.page == guide for b in executed), f"{guide.name} runs no python block"


# ------------------------------------------------------------------------ the runner itself


def test_a_broken_block_fails_the_page(tmp_path: Path):
    page = tmp_path / "broken.md"
    page.write_text(
        "# x\n\n<!-- doc-test: setup\nSECRET = 's'\n-->\n```python\nassert SECRET == 's'\n"
        "x = 1 / 0\n```\n",
        encoding="utf-8",
    )
    with pytest.raises(ZeroDivisionError) as err:
        run_page_at(page, tmp_path)
    assert err.traceback[-1].lineno + 1 == 8  # the markdown line of `x = 1 / 0`


def test_a_failing_check_fails_the_page(tmp_path: Path):
    page = tmp_path / "check.md"
    page.write_text(
        "```python\nvalue = 2\n```\n<!-- doc-test: check\nassert value == 3\n-->\n",
        encoding="utf-8",
    )
    with pytest.raises(AssertionError):
        run_page_at(page, tmp_path)


def test_a_console_transcript_must_match(tmp_path: Path):
    page = tmp_path / "console.md"
    page.write_text("```console\n$ echo hello world\nhello …\n```\n", encoding="utf-8")
    assert run_page_at(page, tmp_path) == 1
    page.write_text("```console\n$ echo hello world\ngoodbye …\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="printed"):
        run_page_at(page, tmp_path)


def test_a_failing_bash_block_fails_unless_marked_skip_run(tmp_path: Path):
    page = tmp_path / "bash.md"
    page.write_text("```bash\nexit 3\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="exit 3"):
        run_page_at(page, tmp_path)
    page.write_text("<!-- doc-test: skip-run needs a server -->\n```bash\nexit 3\n```\n")
    assert run_page_at(page, tmp_path) == 1
    page.write_text("<!-- doc-test: skip-run syntax is still checked -->\n```bash\nif then\n```\n")
    with pytest.raises(AssertionError, match="syntax"):
        run_page_at(page, tmp_path)


def test_a_dangling_directive_is_an_error(tmp_path: Path):
    page = tmp_path / "dangling.md"
    page.write_text("<!-- doc-test: setup\nx = 1\n-->\nsome text\n```python\nx\n```\n")
    with pytest.raises(AssertionError, match="right before"):
        parse_page(page, tmp_path)


def test_top_level_await_runs(tmp_path: Path):
    page = tmp_path / "await.md"
    page.write_text(
        "```python\nimport asyncio\nawait asyncio.sleep(0)\ndone = True\n```\n"
        "<!-- doc-test: check\nassert done\n-->\n",
        encoding="utf-8",
    )
    assert run_page_at(page, tmp_path) == 1


def run_page_at(page: Path, cwd: Path) -> int:
    """``run_page`` for a page outside docs/ (the runner's own tests)."""
    return run_page(page, cwd, root=page.parent)


# ----------------------------------------------------------------- the error table is the code


def _error_classes() -> dict[str, type[SessionGateError]]:
    for info in pkgutil.walk_packages(sessiongate.__path__, "sessiongate."):
        if info.name != "sessiongate.__main__":
            import_module(info.name)
    found: dict[str, type[SessionGateError]] = {}
    todo: list[type[SessionGateError]] = [SessionGateError]
    while todo:
        cls = todo.pop()
        if not cls.__name__.startswith("_") and cls.__module__.startswith("sessiongate"):
            found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


def _error_table() -> dict[str, tuple[str, int]]:
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    start = text.index("<!-- error-table:start -->")
    end = text.index("<!-- error-table:end -->")
    rows: dict[str, tuple[str, int]] = {}
    for line in text[start:end].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        code, cls, status = cells[0].strip("`"), cells[1].strip("`"), cells[2]
        assert cls not in rows, f"{cls} appears twice in docs/errors.md"
        rows[cls] = (code, int(re.match(r"\d+", status)[0]))  # type: ignore[index]
    return rows


def test_error_table_in_docs_matches_the_error_classes():
    classes = _error_classes()
    table = _error_table()
    assert set(table) == set(classes), (
        f"docs/errors.md lacks {sorted(set(classes) - set(table))}, "
        f"has unknown {sorted(set(table) - set(classes))}"
    )
    for name, cls in classes.items():
        assert table[name] == (cls.code, cls.status_code), (
            f"docs/errors.md says {name} is {table[name]}, the code says "
            f"{(cls.code, cls.status_code)}"
        )


# ---------------------------------------------------------------------------- the site itself


def test_every_page_is_in_the_nav():
    """mkdocs --strict also fails on this; checked here too so pytest alone catches it."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:", 1)[1]
    listed = set(re.findall(r":\s*([\w./-]+\.md)\s*$", nav, flags=re.MULTILINE))
    pages = {str(p.relative_to(DOCS)) for p in doc_pages()}
    assert pages == listed, (sorted(pages - listed), sorted(listed - pages))


def test_docs_extra_lists_the_site_builders():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    docs = re.search(r"^docs = \[(.*?)\]", text, flags=re.MULTILINE | re.DOTALL)
    assert docs is not None, "pyproject.toml has no `docs` extra"
    names = {re.split(r"[<>=\[]", x)[0] for x in re.findall(r'"([^"]+)"', docs[1])}
    assert {"mkdocs", "mkdocs-material", "mkdocstrings", "mkdocstrings-python"} <= names


def test_preset_table_lists_every_schema_preset():
    from sessiongate.stores import PRESETS

    text = (DOCS / "guides" / "database-sessions.md").read_text(encoding="utf-8")
    table = text.split("## Presets", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([\w-]+)` \|", table, flags=re.MULTILINE)
    assert sorted(listed) == sorted(PRESETS), (sorted(listed), sorted(PRESETS))
