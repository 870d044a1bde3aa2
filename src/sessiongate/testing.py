"""Helpers for your own test suites: mint the cookies and tokens your Next.js app would, and
put them in a test client's cookie jar the way that client expects.

    from sessiongate.testing import mint_authjs_v5, set_flask_session_cookie

    token = mint_authjs_v5({"sub": "user-1", "role": "admin"}, secret="test-secret")
    set_flask_session_cookie(client, token)          # Flask's app.test_client()
    client.get("/me")

Use the helper of your client rather than a hand-set ``Cookie`` header: Werkzeug 3's Flask test
client drops a ``Cookie`` header given per request (its jar wins), and httpx (Starlette's and
FastAPI's ``TestClient``) deprecates per-request cookies. :func:`set_flask_session_cookie`,
:func:`set_starlette_session_cookie` and :func:`set_django_session_cookie` all chunk a large
token like the JS ``SessionStore`` and drop the earlier chunks of the same cookie.

Tokens are byte-for-byte what ``@auth/core`` / ``next-auth@4`` / ``jsonwebtoken`` produce (the
interop suite checks that the real JS decoders accept them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .authjs import AuthJSToken
from .cookies import AUTHJS_COOKIE, BETTER_AUTH_COOKIE, DEFAULT_MAX_CHUNKS
from .jwe import A256CBC_HS512
from .jws import BearerJWT

__all__ = [
    "AUTHJS_CHUNK_SIZE",
    "NEXTAUTH_CHUNK_SIZE",
    "chunk_cookie",
    "cookie_header",
    "mint_authjs_v5",
    "mint_hs256",
    "mint_nextauth_v4",
    "set_django_session_cookie",
    "set_flask_session_cookie",
    "set_starlette_session_cookie",
]

AUTHJS_CHUNK_SIZE = 4096 - 160
"""Characters per chunk in ``@auth/core``'s ``SessionStore``."""
NEXTAUTH_CHUNK_SIZE = 4096 - 163
"""Characters per chunk in ``next-auth@4``'s ``SessionStore``."""


def mint_authjs_v5(
    claims: Mapping[str, Any],
    secret: str | bytes | Sequence[str | bytes],
    *,
    cookie_name: str = AUTHJS_COOKIE,
    enc: str = A256CBC_HS512,
    max_age: float = 30 * 24 * 3600,
    now: float | None = None,
) -> str:
    """An Auth.js v5 session token for ``cookie_name`` (the salt), under the first secret."""
    return AuthJSToken(secret, cookie_names=[cookie_name], cache_size=0).encode(
        claims, cookie_name=cookie_name, enc=enc, max_age=max_age, now=now
    )


def mint_nextauth_v4(
    claims: Mapping[str, Any],
    secret: str | bytes,
    *,
    max_age: float = 30 * 24 * 3600,
    now: float | None = None,
) -> str:
    """A NextAuth v4 session token (A256GCM, no kid)."""
    return AuthJSToken(secret, cache_size=0).encode(
        claims, generation="nextauth-v4", max_age=max_age, now=now
    )


def mint_hs256(
    claims: Mapping[str, Any],
    secret: str | bytes,
    *,
    algorithm: str = "HS256",
    expires_in: float | None = 3600,
    now: float | None = None,
) -> str:
    """A ``jsonwebtoken``-style HS* JWT (``{"alg":..,"typ":"JWT"}``, ``iat``, ``exp``)."""
    return BearerJWT(secret, algorithms=[algorithm], cache_size=0).encode(
        claims, expires_in=expires_in, now=now
    )


def chunk_cookie(
    token: str, cookie_name: str, chunk_size: int = AUTHJS_CHUNK_SIZE
) -> dict[str, str]:
    """Split ``token`` into cookies the way the JS ``SessionStore`` does.

    Returns ``{cookie_name: token}`` when it fits, else ``{name.0: ..., name.1: ...}``.
    """
    if len(token) <= chunk_size:
        return {cookie_name: token}
    return {
        f"{cookie_name}.{i}": token[start : start + chunk_size]
        for i, start in enumerate(range(0, len(token), chunk_size))
    }


def cookie_header(
    token: str, cookie_name: str = AUTHJS_COOKIE, *, chunk_size: int = AUTHJS_CHUNK_SIZE
) -> str:
    """A ``Cookie`` header value carrying ``token`` (chunked when large)."""
    return "; ".join(f"{k}={v}" for k, v in chunk_cookie(token, cookie_name, chunk_size).items())


def better_auth_cookie_name(prefix: str = "better-auth", *, secure: bool = False) -> str:
    """The Better Auth session cookie name for ``prefix``."""
    name = BETTER_AUTH_COOKIE if prefix == "better-auth" else f"{prefix}.session_token"
    return ("__Secure-" + name) if secure else name


def set_django_session_cookie(
    client: Any,
    token: str,
    cookie_name: str = AUTHJS_COOKIE,
    *,
    chunk_size: int = AUTHJS_CHUNK_SIZE,
) -> None:
    """Put ``token`` in the cookie jar of Django's test ``Client`` / ``AsyncClient`` (or DRF's
    ``APIClient``), chunked when large, replacing any earlier chunks of ``cookie_name``.

    Every later request of ``client`` then carries the session, as a browser would::

        set_django_session_cookie(client, mint_authjs_v5({"sub": "u1"}, secret))
        client.get("/me")
    """
    jar = client.cookies
    stale = [name for name in jar if name == cookie_name or name.startswith(cookie_name + ".")]
    for name in stale:
        del jar[name]
    for name, value in chunk_cookie(token, cookie_name, chunk_size).items():
        jar[name] = value


def _chunk_names(cookie_name: str) -> list[str]:
    """``cookie_name`` and every chunk name the JS ``SessionStore`` could have written."""
    return [cookie_name, *(f"{cookie_name}.{i}" for i in range(DEFAULT_MAX_CHUNKS))]


def set_flask_session_cookie(
    client: Any,
    token: str,
    cookie_name: str = AUTHJS_COOKIE,
    *,
    chunk_size: int = AUTHJS_CHUNK_SIZE,
    domain: str = "localhost",
) -> None:
    """Put ``token`` in the cookie jar of Flask's ``app.test_client()`` (a Werkzeug
    ``Client``), chunked when large, replacing any earlier chunks of ``cookie_name``.

    ``domain`` is the server name the client talks to (Werkzeug's default ``localhost``)::

        set_flask_session_cookie(client, mint_authjs_v5({"sub": "u1"}, secret))
        client.get("/me")
    """
    for name in _chunk_names(cookie_name):
        client.delete_cookie(name, domain=domain)
    for name, value in chunk_cookie(token, cookie_name, chunk_size).items():
        client.set_cookie(name, value, domain=domain)


def set_starlette_session_cookie(
    client: Any,
    token: str,
    cookie_name: str = AUTHJS_COOKIE,
    *,
    chunk_size: int = AUTHJS_CHUNK_SIZE,
) -> None:
    """Put ``token`` in the cookie jar of Starlette's or FastAPI's ``TestClient`` (any httpx
    client), chunked when large, replacing any earlier chunks of ``cookie_name``::

        set_starlette_session_cookie(client, mint_authjs_v5({"sub": "u1"}, secret))
        client.get("/me")
    """
    jar = client.cookies
    names = set(_chunk_names(cookie_name))
    stale = {name for name in jar if name in names}
    for name in stale:
        jar.delete(name)
    for name, value in chunk_cookie(token, cookie_name, chunk_size).items():
        jar.set(name, value)
