"""Fixtures for the JWKS tests: a respx router (no network) and a hand-driven clock."""

from __future__ import annotations

import pytest
import respx

from .helpers import Clock


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False) as r:
        yield r


@pytest.fixture
def clock() -> Clock:
    return Clock()
