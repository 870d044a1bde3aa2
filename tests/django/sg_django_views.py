"""Views of the test project: plain Django (sync and async), DRF and Ninja."""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpRequest, JsonResponse
from django.views import View
from drf_spectacular.views import SpectacularAPIView
from ninja import NinjaAPI
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from sg_django_orgs import org_admins, org_inviters

from sessiongate.django import (
    LoginRequiredMixin,
    PermissionRequiredMixin,
    RoleRequiredMixin,
    login_required,
    permission_required,
    role_required,
)
from sessiongate.drf import HasAnyRole, HasPermission, HasRole
from sessiongate.guards import require_roles
from sessiongate.ninja import AsyncSessionGateAuth, SessionGateAuth, install_error_handlers


def describe(user: Any) -> dict[str, Any]:
    error = getattr(user, "error", None)
    return {
        "authenticated": user.is_authenticated,
        "anonymous": user.is_anonymous,
        "id": user.pk,
        "username": user.get_username(),
        "groups": sorted(user.groups),
        "credential": getattr(user, "credential", None),
        "error": error.code if error is not None else None,
    }


# ------------------------------------------------------------------ plain Django


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request.user))


def untouched(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


async def awhoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(await request.auser()))  # type: ignore[attr-defined]


@login_required
def me(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request.user))


@login_required
async def ame(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request.user))


@role_required("editor")
def editor(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request.user))


@role_required("admin", "auditor", mode="any")
async def aadmin(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request.user))


@permission_required("posts:write")
def write(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"written_by": request.user.pk})


@permission_required("posts:write", raise_exception=True)
def write_or_denied(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"written_by": request.user.pk})


def guarded_by_helper(request: HttpRequest) -> JsonResponse:
    require_roles(request.user, ["admin"])
    return JsonResponse({"ok": True})


def has_perm_view(request: HttpRequest) -> JsonResponse:
    user: Any = request.user
    return JsonResponse(
        {
            "posts:write": user.has_perm("posts:write"),
            "both": user.has_perms(["posts:write", "posts:delete"]),
            "module": user.has_module_perms("posts"),
        }
    )


def local(request: HttpRequest) -> JsonResponse:
    row = request.user.local_user  # type: ignore[union-attr]
    return JsonResponse({"local": None if row is None else [row.pk, row.get_username()]})


async def alocal(request: HttpRequest) -> JsonResponse:
    user = await request.auser()  # type: ignore[attr-defined]
    row = await user.alocal_user()
    return JsonResponse({"local": None if row is None else [row.pk, row.get_username()]})


class Dashboard(LoginRequiredMixin, View):
    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(describe(request.user))

    def post(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"posted_by": request.user.pk})


class AsyncAdmin(RoleRequiredMixin, View):
    required_roles = ("admin",)

    async def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(describe(request.user))


class Publisher(PermissionRequiredMixin, View):
    required_permissions = ("posts:write", "posts:publish")
    permissions_mode = "any"
    raise_exception = True

    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"ok": True})


# ------------------------------------------------------------------ DRF


class ApiMe(APIView):
    def get(self, request: Request) -> Response:
        return Response({**describe(request.user), "auth": request.auth.authenticator})

    def post(self, request: Request) -> Response:
        return Response({"posted_by": request.user.pk})


class ApiOpen(APIView):
    permission_classes: ClassVar[list[Any]] = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response(describe(request.user) if request.user.is_authenticated else {"anon": 1})


class ApiEditor(APIView):
    permission_classes: ClassVar[list[Any]] = [HasRole("editor")]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class ApiEither(APIView):
    permission_classes: ClassVar[list[Any]] = [HasRole("admin") | HasPermission("posts:write")]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class ApiAnyRole(APIView):
    permission_classes: ClassVar[list[Any]] = [HasAnyRole("auditor", "editor")]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


schema_view = SpectacularAPIView.as_view()

# ------------------------------------------------------------------ Ninja

ninja_api = NinjaAPI(urls_namespace="ninja", auth=SessionGateAuth())
install_error_handlers(ninja_api)


@ninja_api.get("/me")
def ninja_me(request: HttpRequest) -> dict[str, Any]:
    return describe(request.auth)  # type: ignore[attr-defined]


@ninja_api.post("/me")
def ninja_post(request: HttpRequest) -> dict[str, Any]:
    return {"posted_by": request.auth.pk}  # type: ignore[attr-defined]


@ninja_api.get("/editor", auth=SessionGateAuth(roles=["editor"]))
def ninja_editor(request: HttpRequest) -> dict[str, Any]:
    return {"ok": True}


@ninja_api.get("/ame", auth=AsyncSessionGateAuth())
async def ninja_ame(request: HttpRequest) -> dict[str, Any]:
    return describe(request.auth)  # type: ignore[attr-defined]


plain_ninja_api = NinjaAPI(urls_namespace="plain-ninja", auth=SessionGateAuth(roles=["admin"]))


@plain_ninja_api.get("/admin")
def plain_admin(request: HttpRequest) -> dict[str, Any]:
    return {"ok": True}


# ------------------------------------------------------------------ Ninja organization guards

org_ninja_api = NinjaAPI(urls_namespace="org-ninja", auth=SessionGateAuth(org=org_admins))
install_error_handlers(org_ninja_api)


def describe_membership(request: HttpRequest) -> dict[str, Any]:
    membership = request.membership  # type: ignore[attr-defined]
    return {"org": membership.organization_id, "roles": list(membership.roles)}


@org_ninja_api.get("/orgs/{org_id}/settings")
def ninja_org_settings(request: HttpRequest, org_id: str) -> dict[str, Any]:
    return describe_membership(request)


@org_ninja_api.get("/orgs/{org_id}/asettings", auth=AsyncSessionGateAuth(org=org_admins))
async def ninja_org_asettings(request: HttpRequest, org_id: str) -> dict[str, Any]:
    return describe_membership(request)


@org_ninja_api.post("/invite", auth=SessionGateAuth(org=org_inviters))
def ninja_org_invite(request: HttpRequest) -> dict[str, Any]:
    return describe_membership(request)


plain_org_ninja_api = NinjaAPI(urls_namespace="plain-org-ninja")


@plain_org_ninja_api.get("/orgs/{org_id}/settings", auth=SessionGateAuth(org=org_admins))
def plain_ninja_org_settings(request: HttpRequest, org_id: str) -> dict[str, Any]:
    return describe_membership(request)
