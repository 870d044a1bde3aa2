"""The DRF API: who am I, the posts an editor may write, the OpenAPI schema."""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sessiongate.drf import HasRole


class Me(APIView):
    def get(self, request: Request) -> Response:
        user = request.user
        return Response({"id": user.pk, "email": user.email, "roles": sorted(user.groups)})


class Posts(APIView):
    permission_classes: ClassVar[list[Any]] = [IsAuthenticated & HasRole("editor")]

    def post(self, request: Request) -> Response:
        return Response({"created_by": request.user.pk}, status=201)
