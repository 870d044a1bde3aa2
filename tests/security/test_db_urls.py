"""Database URLs: sessiongate must open exactly the database the JavaScript app uses, read-only,
and refuse at start-up a URL it cannot read (issue #11, point 1)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sg_security_helpers import V5, VALID_DB_TOKEN, make_prisma_db

from sessiongate import SessionGate
from sessiongate.errors import ConfigurationError
from sessiongate.sessions import DatabaseSession
from sessiongate.stores import open_store


def authenticate(url: str, token: str = VALID_DB_TOKEN) -> str:
    auth = DatabaseSession(open_store(url, schema="authjs-prisma"), cache_ttl=0)
    gate = SessionGate(auth)

    async def main() -> str:
        try:
            return (await gate.authenticate({"cookie": f"{V5}={token}"})).user.id
        finally:
            await auth.aclose()

    return asyncio.run(main())


def test_relative_sqlite_url_is_not_redirected_to_a_database_at_the_filesystem_root(
    tmp_path, monkeypatch
):
    # `sqlite:///app.db` is ./app.db for SQLAlchemy and everyone else; reading /app.db instead
    # would trust whatever session table sits at the filesystem root
    monkeypatch.chdir(tmp_path)
    make_prisma_db(tmp_path / "app.db")
    assert authenticate("sqlite:///app.db") == "u1"
    assert authenticate(f"sqlite:///{tmp_path / 'app.db'}") == "u1"  # four slashes: absolute


def test_prisma_file_url_never_creates_or_writes_the_session_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError) as info:
        open_store("file:./dev.db", schema="authjs-prisma")
    assert str(tmp_path / "dev.db") in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no empty database was created

    make_prisma_db(tmp_path / "dev.db")
    store = open_store("file:./dev.db", schema="authjs-prisma")
    conn = store._connection()  # type: ignore[attr-defined]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute('DELETE FROM "Session"')
    asyncio.run(store.aclose())
    assert authenticate("file:./dev.db") == "u1"


@pytest.mark.parametrize(
    "url",
    [
        "sqlserver://db.internal:1433;database=app;user=app;password=hunter2",
        "mongodb://app:hunter2@db.internal:27017/app",
        "mongodb+srv://app:hunter2@cluster0.example.net/app",
    ],
)
def test_unsupported_database_url_is_refused_at_start_up_not_read_as_a_sqlite_path(
    tmp_path, monkeypatch, url
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError) as info:
        open_store(url, schema="authjs-prisma")
    message = str(info.value)
    assert "postgresql://" in message and "file:" in message
    assert "hunter2" not in message
    assert list(tmp_path.rglob("*")) == []
