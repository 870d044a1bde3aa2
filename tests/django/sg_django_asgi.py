"""The ASGI application of the test project: Django for HTTP, Channels consumers behind
SessionGateAuthMiddleware for WebSockets (served by Daphne in test_django_channels.py)."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sg_django_settings")

from django.core.asgi import get_asgi_application

django_app = get_asgi_application()  # sets Django up before the consumers are imported

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402
from sg_django_orgs import org_admins, org_inviters  # noqa: E402

from sessiongate.channels import OrgRequiredMiddleware, SessionGateAuthMiddleware  # noqa: E402
from sessiongate.guards import Requirement  # noqa: E402
from sessiongate.organizations import OrgGuard  # noqa: E402


class WhoAmI(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Accepts everyone and says who they are; echoes what it receives."""

    async def connect(self) -> None:
        await self.accept()
        user = self.scope["user"]
        error = getattr(user, "error", None)
        await self.send_json(
            {
                "id": user.pk,
                "authenticated": user.is_authenticated,
                "error": None if error is None else error.code,
                "subprotocols": self.scope.get("subprotocols"),
            }
        )

    async def receive_json(self, content: object, **kwargs: object) -> None:
        await self.send_json({"echo": content, "from": self.scope["user"].pk})


class OrgMember(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Accepts and says which organization membership the handshake proved."""

    async def connect(self) -> None:
        await self.accept()
        membership = self.scope["membership"]
        await self.send_json(
            {
                "id": self.scope["user"].pk,
                "org": membership.organization_id,
                "roles": list(membership.roles),
            }
        )


def org_route(guard: OrgGuard) -> SessionGateAuthMiddleware:
    return SessionGateAuthMiddleware(OrgRequiredMiddleware(OrgMember.as_asgi(), guard))


application = ProtocolTypeRouter(
    {
        "http": django_app,
        "websocket": URLRouter(
            [
                path("ws/open", SessionGateAuthMiddleware(WhoAmI.as_asgi())),
                path(
                    "ws/members",
                    SessionGateAuthMiddleware(WhoAmI.as_asgi(), require=Requirement()),
                ),
                path("ws/orgs/<org_id>/", org_route(org_admins)),
                path("ws/invite", org_route(org_inviters)),
                path(
                    "ws/unguarded-org/<org_id>/",
                    OrgRequiredMiddleware(WhoAmI.as_asgi(), org_admins),
                ),
                path(
                    "ws/validated",
                    AllowedHostsOriginValidator(SessionGateAuthMiddleware(WhoAmI.as_asgi())),
                ),
            ]
        ),
    }
)
