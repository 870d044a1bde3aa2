"""Settings of the example: a DRF API and a Channels consumer behind a Next.js front end.

sessiongate reads the same variables as the Next.js app (AUTH_SECRET, DATABASE_URL,
BETTER_AUTH_SECRET...) from the environment; SESSIONGATE below adds the web options.
"""

from __future__ import annotations

import os

FRONTEND_ORIGIN = os.environ.get("FRONTEND_ORIGIN", "http://localhost:3000")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-example-only")
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "daphne",  # manage.py runserver serves HTTP and WebSockets through Daphne
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "drf_spectacular",
    "channels",
]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "sessiongate.django.SessionGateMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

SESSIONGATE = {
    # AUTH_SECRET, DATABASE_URL... come from the environment, as in the Next.js app
    "TRUSTED_ORIGINS": [FRONTEND_ORIGIN],
    "ROLE_HIERARCHY": {"admin": ["editor"], "editor": ["user"]},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["sessiongate.drf.SessionGateAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "sessiongate.django.SessionGateAnonymousUser",
}
SPECTACULAR_SETTINGS = {"TITLE": "sessiongate example API", "VERSION": "1.0.0"}
