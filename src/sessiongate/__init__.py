"""sessiongate: trust the sessions your Next.js front end issued, from Python.

Verifies NextAuth.js v4 / Auth.js v5 JWE session cookies, Bearer JWTs and database sessions
(Auth.js adapters, Better Auth), and attaches a typed :class:`User` to each request.

    from sessiongate import SessionGate, AuthJSToken, BearerJWT

    gate = SessionGate(AuthJSToken(secret=AUTH_SECRET), BearerJWT(secret=JWT_SECRET))
    user = gate.authenticate_sync({"cookie": request_cookie_header})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .authjs import AuthJSToken, secrets_from_env
from .betterauth import BetterAuthSession, sign_cookie_value, verify_signed_cookie
from .claims import ClaimRules
from .cookies import RequestCredentials, parse_cookie_header
from .dbsession import DatabaseSession
from .errors import (
    AlgorithmNotAllowedError,
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    DecryptionFailedError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidSignatureError,
    MalformedTokenError,
    MissingCredentialsError,
    NotYetValidError,
    ProviderUnavailableError,
    SessionGateError,
    SessionNotFoundError,
    TokenTooLargeError,
    UnknownKidError,
)
from .gate import AsyncAuthenticator, Authenticator, AuthResult, SessionGate, Verified
from .jws import BearerJWT
from .stores import (
    CachedStore,
    SchemaMapping,
    SessionRecord,
    SessionStore,
    SQLiteStore,
    open_store,
)
from .user import AnonymousUser, ClaimMapping, User

if TYPE_CHECKING:
    from .jwks import JWKSBearer, JWKSClient

__version__ = "0.1.0"

__all__ = [
    # the engine
    "SessionGate",
    "AuthResult",
    "Authenticator",
    "AsyncAuthenticator",
    "Verified",
    # token formats
    "AuthJSToken",
    "BearerJWT",
    "JWKSBearer",
    "JWKSClient",
    "ClaimRules",
    "secrets_from_env",
    # database sessions
    "DatabaseSession",
    "BetterAuthSession",
    "SessionStore",
    "SessionRecord",
    "SchemaMapping",
    "CachedStore",
    "SQLiteStore",
    "PostgresStore",
    "open_store",
    "sign_cookie_value",
    "verify_signed_cookie",
    # users
    "User",
    "AnonymousUser",
    "ClaimMapping",
    # extraction
    "RequestCredentials",
    "parse_cookie_header",
    # errors
    "SessionGateError",
    "AuthenticationError",
    "AuthorizationError",
    "ProviderUnavailableError",
    "ConfigurationError",
    "MissingCredentialsError",
    "MalformedTokenError",
    "TokenTooLargeError",
    "AlgorithmNotAllowedError",
    "DecryptionFailedError",
    "InvalidSignatureError",
    "UnknownKidError",
    "ExpiredTokenError",
    "NotYetValidError",
    "InvalidClaimError",
    "SessionNotFoundError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """I/O classes load lazily: ``import sessiongate`` loads neither asyncpg nor httpx/PyJWT."""
    if name == "PostgresStore":
        from .stores.postgres import PostgresStore

        return PostgresStore
    if name in ("JWKSBearer", "JWKSClient"):
        from . import jwks

        return getattr(jwks, name)
    raise AttributeError(f"module 'sessiongate' has no attribute {name!r}")
