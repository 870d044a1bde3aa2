from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from project.views import Me, Posts

urlpatterns = [
    path("api/me", Me.as_view()),
    path("api/posts", Posts.as_view()),
    path("api/schema", SpectacularAPIView.as_view()),
]
