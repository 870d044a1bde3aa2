"""Fixtures: the async server (uvicorn, in a thread) and the sync server (gunicorn)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sg_socketio_apps import build_async_server
from sg_socketio_servers import serve_asgi, serve_wsgi


@pytest.fixture(scope="module")
def async_url() -> Iterator[str]:
    with serve_asgi(build_async_server()) as url:
        yield url


@pytest.fixture(scope="module")
def sync_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home: Path = tmp_path_factory.mktemp("gunicorn")
    with serve_wsgi("sg_socketio_wsgi:app", home) as url:
        yield url


@pytest.fixture(params=["async", "sync"])
def server_url(request: pytest.FixtureRequest) -> str:
    """Each test runs against the AsyncServer (ASGI) and the Server (WSGI)."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url
