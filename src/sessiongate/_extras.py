"""Optional dependencies: which extra installs what, and the one-line message when it is missing.

``pip install sessiongate`` brings only ``cryptography`` and ``cachetools``; every integration
that needs more names its extra. A module that imports an optional package does it like this,
so a missing package is one actionable line, never a bare ``ModuleNotFoundError``::

    try:
        import httpx
    except ModuleNotFoundError as err:
        raise missing_extra(err, "jwks") from None

Only the packages the extra provides are translated: a ``ModuleNotFoundError`` for anything else
(a bug, a broken install) is raised unchanged.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from .errors import MissingExtraError

__all__ = ["EXTRAS", "install_hint", "missing_extra", "require"]

EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "postgres": ("PostgreSQL session stores (PostgresStore)", ("asyncpg",)),
    "mysql": ("MySQL and MariaDB session stores (MySQLStore)", ("asyncmy",)),
    "redis": ("Redis and Valkey session stores, listeners and revocation (RedisStore)", ("redis",)),
    "jwks": ("JWKS verification (JWKSBearer, JWKSClient)", ("httpx", "jwt")),
    "starlette": ("the ASGI middleware (sessiongate.asgi)", ("starlette",)),
    "fastapi": ("the FastAPI integration (sessiongate.fastapi)", ("fastapi", "starlette")),
    "flask": ("the Flask integration (sessiongate.flask)", ("flask", "werkzeug")),
    "django": ("the Django integration (sessiongate.django)", ("django", "asgiref")),
    "drf": (
        "the Django REST framework integration (sessiongate.drf)",
        ("rest_framework", "django"),
    ),
    "ninja": ("the Django Ninja integration (sessiongate.ninja)", ("ninja", "django")),
    "socketio": ("the python-socketio helper (sessiongate.socketio)", ("socketio", "engineio")),
    "litestar": ("the Litestar integration (sessiongate.litestar)", ("litestar", "starlette")),
    "serve": ("sessiongate serve", ("granian", "uvicorn", "starlette")),
    "metrics": ("Prometheus metrics (sessiongate.metrics)", ("prometheus_client",)),
    "demo": ("sessiongate demo", ("uvicorn", "starlette", "httpx")),
}
"""extra -> (the feature it enables, the top-level modules it installs)."""

_DISTRIBUTIONS = {
    "jwt": "PyJWT",
    "rest_framework": "djangorestframework",
    "ninja": "django-ninja",
    "socketio": "python-socketio",
    "engineio": "python-engineio",
    "prometheus_client": "prometheus-client",
}


def install_hint(extra: str) -> str:
    """``pip install 'sessiongate[extra]'``."""
    return f"pip install 'sessiongate[{extra}]'"


def missing_extra(err: ModuleNotFoundError, extra: str) -> ImportError:
    """The error to raise for ``err``: a one-line :class:`MissingExtraError` when the missing
    module is one ``extra`` installs, else ``err`` itself (a bug must not pass as a hint)."""
    feature, modules = EXTRAS[extra]
    missing = (err.name or "").partition(".")[0]
    if missing not in modules:
        return err
    package = _DISTRIBUTIONS.get(missing, missing)
    error = MissingExtraError(
        f"{feature} needs {package}, which is not installed: {install_hint(extra)}"
    )
    error.name = err.name
    return error


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` (from ``extra``) or raise the one-line :class:`MissingExtraError`."""
    try:
        return import_module(module)
    except ModuleNotFoundError as err:
        raise missing_extra(err, extra) from None
