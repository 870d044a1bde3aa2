"""sessiongate: trust the sessions your Next.js front end issued, from Python.

Verifies NextAuth.js v4 / Auth.js v5 JWE session cookies, Bearer JWTs and database sessions
(Auth.js adapters, Better Auth), and attaches a typed :class:`User` to each request.

    from sessiongate import SessionGate, AuthJSToken, BearerJWT

    gate = SessionGate(AuthJSToken(secret=AUTH_SECRET), BearerJWT(secret=JWT_SECRET))
    user = gate.authenticate_sync({"cookie": request_cookie_header}).user

The names below are the public surface; less-used ones live in their modules
(:mod:`sessiongate.errors` for every error class, :mod:`sessiongate.types` for the
authenticator protocols, :mod:`sessiongate.stores` for the store building blocks...). The
classes that do I/O are loaded on first use, so ``import sessiongate`` imports no database
driver, HTTP client, web framework or event loop.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .authjs import AuthJSToken
from .claims import ClaimRules
from .cookies import AUTHJS_COOKIE_NAMES, BETTER_AUTH_COOKIE_NAMES
from .errors import (
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    ProviderUnavailableError,
    SessionGateError,
)
from .gate import SessionGate
from .guards import Requirement, RoleHierarchy
from .jws import BearerJWT
from .types import AuthResult
from .user import AnonymousUser, ClaimMapping, User

if TYPE_CHECKING:
    from .jwks import JWKSBearer, JWKSClient
    from .sessions import BetterAuthSession, DatabaseSession
    from .stores import open_store
    from .stores.postgres import PostgresStore
    from .stores.sqlite import SQLiteStore

__version__ = "0.1.0"

__all__ = [
    # the engine
    "SessionGate",
    "AuthResult",
    # token formats
    "AuthJSToken",
    "BearerJWT",
    "JWKSBearer",
    "JWKSClient",
    "ClaimRules",
    "AUTHJS_COOKIE_NAMES",
    "BETTER_AUTH_COOKIE_NAMES",
    # database sessions and their stores
    "DatabaseSession",
    "BetterAuthSession",
    "SQLiteStore",
    "PostgresStore",
    "open_store",
    # users and guards
    "User",
    "AnonymousUser",
    "ClaimMapping",
    "Requirement",
    "RoleHierarchy",
    # errors: the roots (every class is in sessiongate.errors)
    "SessionGateError",
    "AuthenticationError",
    "AuthorizationError",
    "ProviderUnavailableError",
    "ConfigurationError",
    "__version__",
]

# name -> module (relative to this package) of the classes loaded on first use
_LAZY = {
    "DatabaseSession": "sessions",
    "BetterAuthSession": "sessions",
    "open_store": "stores",
    "SQLiteStore": "stores.sqlite",
    "PostgresStore": "stores.postgres",
    "JWKSBearer": "jwks",
    "JWKSClient": "jwks",
}


def __getattr__(name: str) -> Any:
    """Load the I/O classes on first use (``sqlite3``, ``asyncpg``, ``httpx``, PyJWT, asyncio).

    A missing optional dependency raises a :class:`ConfigurationError` (also an
    ``ImportError``) whose message is the one ``pip install 'sessiongate[...]'`` line to run.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
