"""The sync test server as a WSGI app, for ``gunicorn -k gthread sg_socketio_wsgi:app``."""

from __future__ import annotations

import socketio
from sg_socketio_apps import build_sync_server

app = socketio.WSGIApp(build_sync_server())
