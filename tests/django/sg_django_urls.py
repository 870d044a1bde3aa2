from __future__ import annotations

import sg_django_views as views
from django.urls import path

urlpatterns = [
    path("dj/whoami", views.whoami),
    path("dj/awhoami", views.awhoami),
    path("dj/untouched", views.untouched),
    path("dj/me", views.me),
    path("dj/ame", views.ame),
    path("dj/editor", views.editor),
    path("dj/aadmin", views.aadmin),
    path("dj/write", views.write),
    path("dj/write-or-denied", views.write_or_denied),
    path("dj/helper", views.guarded_by_helper),
    path("dj/perms", views.has_perm_view),
    path("dj/local", views.local),
    path("dj/alocal", views.alocal),
    path("dj/dashboard", views.Dashboard.as_view()),
    path("dj/async-admin", views.AsyncAdmin.as_view()),
    path("dj/publisher", views.Publisher.as_view()),
    path("api/me", views.ApiMe.as_view()),
    path("api/open", views.ApiOpen.as_view()),
    path("api/editor", views.ApiEditor.as_view()),
    path("api/either", views.ApiEither.as_view()),
    path("api/any-role", views.ApiAnyRole.as_view()),
    path("api/schema", views.schema_view),
    path("ninja/", views.ninja_api.urls),
    path("plain-ninja/", views.plain_ninja_api.urls),
    path("org-ninja/", views.org_ninja_api.urls),
    path("plain-org-ninja/", views.plain_org_ninja_api.urls),
]
