"""``python -m sessiongate``: the ``sessiongate`` command line (see :mod:`sessiongate.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
