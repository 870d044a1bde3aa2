"""A WebSocket consumer: greets the signed-in user and echoes what it is sent."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class Chat(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        user = self.scope["user"]  # set by SessionGateAuthMiddleware
        await self.accept()
        await self.send_json({"hello": user.get_username()})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_json({"from": self.scope["user"].pk, "text": content.get("text")})
