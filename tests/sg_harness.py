"""The test harness's side of ``scripts/test.sh``: which services a pytest-xdist worker uses.

Kept out of ``conftest.py`` so tests can import it (``tests/fuzz`` has a ``conftest`` of its own).
"""

from __future__ import annotations

from collections.abc import Mapping


def worker_environment(environ: Mapping[str, str], worker: str) -> dict[str, str | None]:
    """The changes that give pytest-xdist worker ``worker`` (``gw1``) its own services.

    ``scripts/test.sh`` starts one instance of each service per worker and exports instance K's
    variables as ``NAME__GWK`` (``SESSIONGATE_TEST_DATABASE_URL__GW1``). For each such ``NAME``,
    the worker's own value replaces ``NAME``; a worker with no instance of its own gets none
    (``None``: unset), since a shared one could be stopped under its feet by another worker's
    fault test. Variables without per-worker values are left alone.
    """
    names = {
        name.partition("__GW")[0]
        for name in environ
        if name.startswith("SESSIONGATE_TEST_") and "__GW" in name
    }
    return {name: environ.get(f"{name}__{worker.upper()}") for name in names}
