"""Django settings for the sessiongate Django, DRF, Ninja and Channels tests."""

from __future__ import annotations

SECRET = "django-test-secret-0123456789abcdef0123456789"
JWT_SECRET = "django-test-jwt-secret-abcdef0123456789abcdef"
FRONT = "https://app.example.com"

SECRET_KEY = "django-insecure-sessiongate-tests"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", "app.example.com"]
USE_TZ = True
ROOT_URLCONF = "sg_django_urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "channels",
]
MIDDLEWARE = ["sessiongate.django.SessionGateMiddleware"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

# every variable SessionGate.from_env reads that the test environment might carry is masked
SESSIONGATE = {
    "AUTH_SECRET": SECRET,
    "NEXTAUTH_SECRET": None,
    "SESSIONGATE_JWT_SECRET": JWT_SECRET,
    "JWT_SECRET": None,
    "DATABASE_URL": None,
    "BETTER_AUTH_SECRET": None,
    "SESSIONGATE_JWKS_URL": None,
    "TRUSTED_ORIGINS": [FRONT],
    "ROLE_HIERARCHY": {"admin": ["editor"], "editor": ["user"]},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["sessiongate.drf.SessionGateAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {"TITLE": "sessiongate tests", "VERSION": "1"}
