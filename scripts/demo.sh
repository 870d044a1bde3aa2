#!/usr/bin/env bash
# The README's main-job command: set up a virtualenv with sessiongate and run its demo on
# embedded defaults (a generated secret; no external services). Extra arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
py=python3.11
command -v "$py" >/dev/null 2>&1 || py=python3
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv" >&2
  "$py" -m venv .venv
fi
if ! .venv/bin/python -c "import sessiongate, uvicorn" >/dev/null 2>&1; then
  echo "==> installing sessiongate into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[fastapi,serve]' >/dev/null
fi
exec .venv/bin/sessiongate demo "$@"
