"""HTTP goes to Django (SessionGateMiddleware, DRF); WebSockets to Channels, where
SessionGateAuthMiddleware refuses unauthenticated and cross-site handshakes."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from django.core.asgi import get_asgi_application

django_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from project.consumers import Chat  # noqa: E402
from sessiongate.channels import SessionGateAuthMiddleware  # noqa: E402
from sessiongate.guards import Requirement  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_app,
        "websocket": SessionGateAuthMiddleware(
            URLRouter([path("ws/chat", Chat.as_asgi())]),
            require=Requirement(),  # signed-in users only: others are refused at the handshake
        ),
    }
)
