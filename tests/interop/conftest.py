"""Fixtures for the interop tests: a shared, running JavaScript oracle.

Every test that uses the ``oracle`` fixture is marked ``node`` automatically. The
``node_bin`` fixture (tests/conftest.py) skips such tests on a machine without
Node.js or ``node_modules`` and fails them under ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .oracle import NodeOracle


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "oracle" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.node)


@pytest.fixture(scope="session")
def oracle(node_bin: str) -> Iterator[NodeOracle]:
    """A started :class:`NodeOracle`, shared by the whole test session."""
    node_oracle = NodeOracle(node_bin).start()
    try:
        yield node_oracle
    finally:
        node_oracle.close()
