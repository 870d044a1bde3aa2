"""Typed readers of single environment variables (booleans, name lists, choices) and the
secure-cookie decisions :class:`~sessiongate.config.GateConfig` derives from them (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from .betterauth import CookieCacheStrategy, secure_cookies
from .errors import ConfigurationError

__all__ = ["better_auth_secure", "cookie_cache", "flag", "name_list", "secure_only"]


def flag(env: Mapping[str, str], name: str) -> bool | None:
    """A boolean variable: ``None`` when unset or empty."""
    value = (env.get(name) or "").strip().lower()
    if not value:
        return None
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be true or false")


def name_list(env: Mapping[str, str], name: str) -> tuple[str, ...] | None:
    """A comma-separated list: ``None`` when unset or empty."""
    names = tuple(n.strip() for n in (env.get(name) or "").split(",") if n.strip())
    return names or None


_COOKIE_CACHES: tuple[CookieCacheStrategy, ...] = ("compact", "jwt", "jwe")


def cookie_cache(env: Mapping[str, str]) -> CookieCacheStrategy | None:
    """``SESSIONGATE_BETTER_AUTH_COOKIE_CACHE``: ``None`` when unset, else the strategy."""
    value = (env.get("SESSIONGATE_BETTER_AUTH_COOKIE_CACHE") or "").strip()
    if not value:
        return None
    for strategy in _COOKIE_CACHES:
        if value == strategy:
            return strategy
    raise ConfigurationError(
        "SESSIONGATE_BETTER_AUTH_COOKIE_CACHE must be compact, jwt or jwe (Better Auth's "
        "session.cookieCache.strategy)"
    )


def better_auth_secure(env: Mapping[str, str], base_url: str | None) -> bool | None:
    """Whether the Better Auth app writes ``__Secure-`` cookies (``None``: unknown)."""
    explicit = flag(env, "SESSIONGATE_BETTER_AUTH_SECURE_COOKIES")
    if explicit is not None or base_url:
        return secure_cookies(base_url, use_secure_cookies=explicit)
    return True if env.get("NODE_ENV") == "production" else None


def secure_only(env: Mapping[str, str], better_auth_url: str | None) -> bool:
    """Secure-only mode: explicit, else on when every base URL set is ``https://``."""
    explicit = flag(env, "SESSIONGATE_SECURE_ONLY")
    if explicit is not None:
        return explicit
    urls = [u for u in (env.get("AUTH_URL"), env.get("NEXTAUTH_URL"), better_auth_url) if u]
    return bool(urls) and all(u.strip().lower().startswith("https://") for u in urls)
