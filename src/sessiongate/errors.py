"""The error hierarchy.

Every error carries a stable machine ``code`` and the HTTP ``status_code`` an adapter should
answer with. Messages are safe to show to a client: they never contain a token, a cookie value
or a secret (hostile input tests assert this).

Two roots, as in PyJWT:

* :class:`AuthenticationError` (401): the credential presented is missing or bad.
* :class:`AuthorizationError` (403): the user is known but not allowed.
* :class:`ProviderUnavailableError` (503): *our* side could not decide (database or JWKS down).
  Never turned into a 401, so an outage does not log users out.
* :class:`ConfigurationError`: the library was set up wrongly; raised at construction time
  (:class:`MissingExtraError` when an optional dependency is not installed).
"""

from __future__ import annotations

__all__ = [
    "AlgorithmNotAllowedError",
    "AuthenticationError",
    "AuthorizationError",
    "BannedUserError",
    "ConfigurationError",
    "DecryptionFailedError",
    "ExpiredTokenError",
    "ImpersonatedSessionError",
    "InvalidClaimError",
    "InvalidSignatureError",
    "MalformedTokenError",
    "MissingCredentialsError",
    "MissingExtraError",
    "NotASessionError",
    "NotYetValidError",
    "ProviderUnavailableError",
    "SessionGateError",
    "SessionNotFoundError",
    "SessionNotFreshError",
    "SessionRevokedError",
    "TokenTooLargeError",
    "UnknownKidError",
]


class SessionGateError(Exception):
    """Base class of every error raised by sessiongate."""

    code: str = "error"
    status_code: int = 500
    default_message: str = "authentication error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def to_dict(self) -> dict[str, str]:
        """The JSON body adapters send: ``{"error": code, "message": ...}``."""
        return {"error": self.code, "message": self.message}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


# --------------------------------------------------------------------------------------------
# 401: the credential is missing or bad


class AuthenticationError(SessionGateError):
    """The request carries no usable credential (HTTP 401)."""

    code = "invalid_token"
    status_code = 401
    default_message = "the credential is not valid"


class MissingCredentialsError(AuthenticationError):
    """No session cookie and no ``Authorization`` header were found."""

    code = "missing_credentials"
    default_message = "no session cookie or bearer token was sent"


class MalformedTokenError(AuthenticationError):
    """The token is not of the expected shape (segments, base64url, JSON, header fields)."""

    code = "malformed"
    default_message = "the token is malformed"


class TokenTooLargeError(MalformedTokenError):
    """The token or cookie header exceeds the configured size cap (checked before any crypto)."""

    code = "token_too_large"
    default_message = "the token is larger than allowed"


class AlgorithmNotAllowedError(MalformedTokenError):
    """The token's ``alg``/``enc`` is not on this verifier's allow-list."""

    code = "algorithm_not_allowed"
    default_message = "the token's algorithm is not allowed"


class DecryptionFailedError(AuthenticationError):
    """A JWE did not decrypt: wrong secret, wrong salt (cookie name) or tampered data."""

    code = "decryption_failed"
    default_message = "the token could not be decrypted with the configured secret(s)"


class InvalidSignatureError(AuthenticationError):
    """A JWS or signed cookie failed signature verification."""

    code = "invalid_signature"
    default_message = "the token signature is not valid"


class UnknownKidError(AuthenticationError):
    """The token names a ``kid`` that matches none of the configured secrets or keys."""

    code = "unknown_kid"
    default_message = "the token's key id matches none of the configured keys"


class ExpiredTokenError(AuthenticationError):
    """``exp`` (or a session's expiry) is in the past, beyond the leeway."""

    code = "expired"
    default_message = "the session has expired"


class NotYetValidError(AuthenticationError):
    """``nbf`` is in the future, beyond the leeway."""

    code = "not_yet_valid"
    default_message = "the token is not valid yet"


class InvalidClaimError(AuthenticationError):
    """A claim is missing, of the wrong type, or does not match (``iss``, ``aud``, ``exp``...)."""

    code = "invalid_claim"
    default_message = "a token claim is not valid"


class NotASessionError(InvalidClaimError):
    """The token decrypts but is not a session: an OAuth check value (``state``, PKCE
    ``code_verifier``, ``nonce``) that NextAuth / Auth.js seal with the same secret."""

    code = "not_a_session"
    default_message = "the token is an OAuth check value (state, PKCE or nonce), not a session"


class SessionNotFoundError(AuthenticationError):
    """A database session token matches no session row."""

    code = "session_not_found"
    default_message = "the session does not exist"


class SessionRevokedError(AuthenticationError):
    """The token was revoked: its ``jti``, or every token of its user issued before a time
    (:mod:`sessiongate.revocation`)."""

    code = "revoked"
    default_message = "the session was revoked"


class BannedUserError(AuthenticationError):
    """The user is banned by Better Auth's admin plugin (``banned`` and no past ``banExpires``).

    401, not 403: a ban ends every session of the user, like a revocation. Better Auth refuses
    only new sessions of a banned user (``BANNED_USER`` at sign-in); the sessions it already has
    are treated here as no longer valid, so clients sign in again and get Better Auth's message.
    """

    code = "banned"
    default_message = "the user is banned"


# --------------------------------------------------------------------------------------------
# 403: known user, not allowed


class AuthorizationError(SessionGateError):
    """The user is authenticated but lacks a required role or permission (HTTP 403)."""

    code = "insufficient_scope"
    status_code = 403
    default_message = "the user lacks a required role or permission"


class SessionNotFreshError(AuthorizationError):
    """The route needs a fresh session (Better Auth's ``freshAge``): created too long ago."""

    code = "session_not_fresh"
    default_message = "the session is not fresh enough: sign in again"


class ImpersonatedSessionError(AuthorizationError):
    """The route refuses sessions an admin opened by impersonation (``impersonatedBy``)."""

    code = "impersonated_session"
    default_message = "this action is not allowed in an impersonated session"


# --------------------------------------------------------------------------------------------
# 503: we could not decide


class ProviderUnavailableError(SessionGateError):
    """A session database or JWKS endpoint could not be reached in time (HTTP 503).

    This is *not* an authentication failure: adapters must not clear sessions or answer 401.
    """

    code = "provider_unavailable"
    status_code = 503
    default_message = "the session provider is unavailable"


# --------------------------------------------------------------------------------------------
# configuration


class ConfigurationError(SessionGateError, ValueError):
    """sessiongate was configured wrongly. Raised at construction time, not per request."""

    code = "configuration_error"
    status_code = 500
    default_message = "sessiongate is misconfigured"


class MissingExtraError(ConfigurationError, ImportError):
    """An optional dependency is not installed (also an ``ImportError``).

    The message is one line that names the feature and the ``pip install 'sessiongate[extra]'``
    command that installs what it needs (see :mod:`sessiongate._extras`).
    """

    default_message = "an optional dependency is not installed"
