"""Fixtures for the store tests: a throwaway PostgreSQL schema per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from .pg import execute


@pytest.fixture
def pg_schema(postgres_dsn: str) -> Iterator[str]:
    name = "sg_" + uuid.uuid4().hex[:12]
    execute(postgres_dsn, f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        execute(postgres_dsn, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
