#!/usr/bin/env bash
# Build the documentation site (MkDocs + Material + mkdocstrings), always in strict mode:
# a broken link, a missing anchor, a page left out of the nav, a missing snippet file or an
# unresolved API reference fails the build.
#
#   bash scripts/docs.sh [--strict]          build into build/docs-site (exit 1 on any warning)
#   bash scripts/docs.sh --site-dir DIR      build into DIR
#   bash scripts/docs.sh --serve             live preview on http://127.0.0.1:8000
#
# Uses the project's .venv (created when missing) and installs the `docs` extra into it when
# MkDocs is not there yet. The code blocks in docs/ are run by tests/test_docs.py (pytest).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1

say() { echo "==> $*"; }
fail() { echo "==> FAILED: $*" >&2; exit 1; }

SITE_DIR="build/docs-site"
SERVE=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --strict) ;;  # always strict; accepted so callers can say so
        --serve) SERVE=1 ;;
        --site-dir)
            [[ $# -ge 2 ]] || fail "--site-dir needs a directory"
            SITE_DIR="$2"
            shift
            ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) fail "unknown argument: $1 (see --help)" ;;
    esac
    shift
done

VENV="$ROOT/.venv"
PY="$VENV/bin/python"
if [[ ! -x "$PY" ]]; then
    BASE_PY=""
    for candidate in python3.11 python3 python3.12 python3.13 python; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            BASE_PY="$candidate"
            break
        fi
    done
    [[ -n "$BASE_PY" ]] || fail "Python >= 3.11 not found"
    say "creating venv (.venv)"
    "$BASE_PY" -m venv "$VENV" || fail "python -m venv failed"
fi
if ! "$PY" -c 'import mkdocs, material, mkdocstrings, mkdocstrings_handlers.python, sessiongate' \
    2>/dev/null; then
    say "pip install -e '.[docs]'"
    PIP_LOG="$(mktemp "${TMPDIR:-/tmp}/sessiongate-docs-pip.XXXXXX")"
    if ! "$PY" -m pip install --quiet -e '.[docs]' >"$PIP_LOG" 2>&1; then
        cat "$PIP_LOG" >&2
        rm -f "$PIP_LOG"
        fail "pip install -e '.[docs]' failed"
    fi
    rm -f "$PIP_LOG"
fi

# Material >= 9.7 prints an end-of-life notice about itself on every build; it is not a warning
# about this site.
export NO_MKDOCS_2_WARNING=1
if [[ "$SERVE" == 1 ]]; then
    say "mkdocs serve on http://127.0.0.1:8000"
    exec "$PY" -m mkdocs serve --strict --dev-addr 127.0.0.1:8000
fi
say "mkdocs build --strict (site in $SITE_DIR)"
"$PY" -m mkdocs build --strict --clean --site-dir "$SITE_DIR" || fail "mkdocs build --strict"
say "docs built: $SITE_DIR/index.html"
