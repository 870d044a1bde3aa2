"""Gate configuration from explicit values and from the environment the Next.js app uses.

One reader of ``AUTH_SECRET``, ``AUTH_SECRET_1..3``, ``NEXTAUTH_SECRET``, ``BETTER_AUTH_SECRETS``,
``BETTER_AUTH_SECRET``, ``BETTER_AUTH_URL`` (and Better Auth's other base-URL variables),
``AUTH_URL`` / ``NEXTAUTH_URL``, ``NODE_ENV``, ``DATABASE_URL``, ``JWT_SECRET`` and the
``SESSIONGATE_*`` variables, shared by
``sessiongate serve`` and :meth:`SessionGate.from_env`. Building stores opens no connection
(they connect on first use).

HS256 Bearer JWTs are verified only with a secret of their own (``SESSIONGATE_JWT_SECRET``, else
``JWT_SECRET``), never with the session secret: an app that signs password-reset links or invites
as HS256 JWTs with ``AUTH_SECRET`` would otherwise hand out API credentials. A JWT secret that
*is* a session secret is refused unless an audience or issuer is required.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ._envvars import better_auth_secure, cookie_cache, flag, name_list, secure_only
from ._secrets import better_auth_secrets_from_env, refuse_development_secret
from .authjs import AuthJSToken, secrets_from_env
from .ba_detect import BetterAuthPlugins, PluginSwitches, detect_presence_sync
from .betterauth import (
    BETTER_AUTH_BASE_URL_ENV,
    CookieCacheStrategy,
    base_url_from_env,
)
from .errors import ConfigurationError
from .jws import BearerJWT
from .types import Authenticator

__all__ = [
    "CSRF_MODES",
    "CSRFMode",
    "GateConfig",
    "SidecarOptions",
    "better_auth_plugins",
    "build_authenticators",
    "parse_csrf_mode",
]

_DEFAULT_JWKS_ALGORITHMS = ("EdDSA", "RS256", "ES256")

CSRFMode = Literal["auto", "strict", "off"]
"""How the sidecar checks ``Origin``/``Referer`` of cookie sessions (:mod:`sessiongate.sidecar`):
``"auto"`` when the proxy forwards the original method, ``"strict"`` also refuses cookie requests
whose method it was not told, ``"off"`` never checks (the upstream must)."""
CSRF_MODES: tuple[CSRFMode, ...] = ("auto", "strict", "off")


def parse_csrf_mode(value: str) -> CSRFMode:
    """``value`` as a :data:`CSRFMode`; :class:`ConfigurationError` for anything else."""
    for mode in CSRF_MODES:
        if value == mode:
            return mode
    raise ConfigurationError(f"the CSRF mode must be one of {', '.join(CSRF_MODES)}, not {value!r}")


def _redacted(values: Sequence[str]) -> str:
    return f"<{len(values)} redacted>" if values else "[]"


@dataclass(frozen=True, slots=True)
class GateConfig:
    """What a gate verifies, from explicit values (CLI flags) and the environment (flags win).

    Used by ``sessiongate serve`` and :meth:`SessionGate.from_env`; it reads the same variables
    the Next.js app uses.

    Attributes:
        secrets: Auth.js / NextAuth secrets, current first (``AUTH_SECRET_3..1``,
            ``AUTH_SECRET``, ``NEXTAUTH_SECRET``).
        jwt_secrets: secrets for HS256 Bearer JWTs (``SESSIONGATE_JWT_SECRET``, else
            ``JWT_SECRET``). Without one, HS* Bearer JWTs are not accepted at all: they are never
            keyed with ``secrets``.
        jwt_algorithms: pinned HS* algorithms.
        jwt_issuer / jwt_audience: required ``iss`` / ``aud`` of HS* Bearer JWTs
            (``SESSIONGATE_JWT_ISSUER``, ``SESSIONGATE_JWT_AUDIENCE``).
        database_url / schema: Auth.js database sessions (``DATABASE_URL``,
            ``SESSIONGATE_SCHEMA``; schema preset default ``authjs-prisma``).
        better_auth_secrets / better_auth_schema: Better Auth signed cookies, looked up in
            ``database_url`` with this preset. Current first, resolved as Better Auth does
            (``BETTER_AUTH_SECRETS`` versions, then ``BETTER_AUTH_SECRET``, else ``AUTH_SECRET``
            when the app is a Better Auth one): the current one verifies cookies, all decrypt
            the JWE cookie cache. Its development default only with ``development``.
        better_auth_cookie_prefix: ``advanced.cookiePrefix``
            (``SESSIONGATE_BETTER_AUTH_COOKIE_PREFIX``, default ``better-auth``).
        better_auth_secure_cookies: whether the app writes ``__Secure-`` cookies: from its base
            URL (``BETTER_AUTH_URL``, ...) as Better Auth decides, else ``True`` under
            ``NODE_ENV=production``, else ``None`` (both names, ``__Secure-`` first);
            ``SESSIONGATE_BETTER_AUTH_SECURE_COOKIES`` (``useSecureCookies``) overrides.
        secure_only: read only ``__Secure-`` / ``__Host-`` cookies (``SESSIONGATE_SECURE_ONLY``;
            by default on when every base URL set, ``AUTH_URL``, ``NEXTAUTH_URL``,
            ``BETTER_AUTH_URL``..., is ``https://``).
        development: ``SESSIONGATE_DEVELOPMENT``: the app runs in development (allows Better
            Auth's built-in development secret).
        jwks_url / issuer / audience / jwks_algorithms: asymmetric Bearer JWTs
            (``SESSIONGATE_JWKS_URL``, ``SESSIONGATE_JWKS_ISSUER``, ``SESSIONGATE_JWKS_AUDIENCE``).
        jwt_public_key: a file with the public key(s) of JWTs signed with a key pair (PEM, JWK
            or JWK set; ``SESSIONGATE_JWT_PUBLIC_KEY``): session cookies written by a custom
            Auth.js ``jwt.encode`` and Bearer tokens, pinned to ``jwks_algorithms``, with the
            optional ``jwt_issuer`` / ``jwt_audience``.
        allow_http_jwks: accept an ``http://`` JWKS URL (loopback development only).
        redis_url: ``REDIS_URL``: Better Auth sessions in Redis (``secondaryStorage``, key
            prefix ``SESSIONGATE_REDIS_PREFIX``, default ``better-auth:``), the Redis
            invalidation channel and revocation list (:mod:`sessiongate.replicas`).
        authjs_cookie_names: the complete list of Auth.js session cookie names, for an app
            that sets ``cookies.sessionToken.name`` (``SESSIONGATE_AUTHJS_COOKIE_NAMES``, comma
            separated); ``None``: the standard names. Auth.js cookies and database sessions.
        better_auth_cookie_cache: ``session.cookieCache.strategy`` of an app that enables the
            cookie cache (``SESSIONGATE_BETTER_AUTH_COOKIE_CACHE``: ``compact``, ``jwt`` or
            ``jwe``): a valid ``session_data`` cookie then proves the session without a
            lookup, as in Better Auth; one older than 60 s is confirmed by the store.
        plugins: which Better Auth plugins to detect and enforce in ``database_url``
            (``SESSIONGATE_BA_ADMIN`` / ``_ORGANIZATION`` / ``_API_KEY``: ``auto``, ``on``,
            ``off``; ``SESSIONGATE_API_KEY_HEADER``; see :mod:`sessiongate.ba_detect`).
    """

    secrets: tuple[str, ...] = ()
    jwt_secrets: tuple[str, ...] = ()
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    database_url: str | None = field(default=None, repr=False)
    schema: str = "authjs-prisma"
    better_auth_secrets: tuple[str, ...] = ()
    better_auth_schema: str = "better-auth"
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    jwks_algorithms: tuple[str, ...] = _DEFAULT_JWKS_ALGORITHMS
    allow_http_jwks: bool = False
    jwt_public_key: str | None = None
    redis_url: str | None = field(default=None, repr=False)
    redis_prefix: str = "better-auth:"
    better_auth_cookie_prefix: str = "better-auth"
    better_auth_secure_cookies: bool | None = None
    secure_only: bool = False
    development: bool = False
    authjs_cookie_names: tuple[str, ...] | None = None
    better_auth_cookie_cache: CookieCacheStrategy | None = None
    plugins: PluginSwitches = field(default_factory=PluginSwitches)

    def __repr__(self) -> str:
        return (
            f"GateConfig(secrets={_redacted(self.secrets)}, "
            f"jwt_secrets={_redacted(self.jwt_secrets)}, "
            f"database={'yes' if self.database_url else 'no'}, schema={self.schema!r}, "
            f"better_auth_secrets={_redacted(self.better_auth_secrets)}, "
            f"jwks_url={self.jwks_url!r})"
        )

    @classmethod
    def from_sources(
        cls,
        *,
        secrets: Sequence[str] = (),
        jwt_secrets: Sequence[str] = (),
        jwt_issuer: str | None = None,
        jwt_audience: str | None = None,
        database_url: str | None = None,
        schema: str | None = None,
        better_auth_secrets: Sequence[str] = (),
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        jwks_algorithms: Sequence[str] = (),
        allow_http_jwks: bool = False,
        jwt_public_key: str | None = None,
        redis_url: str | None = None,
        plugins: PluginSwitches | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> GateConfig:
        """Merge explicit values (flags) over the environment the Next.js app uses."""
        env = os.environ if environ is None else environ
        jwt_env = env.get("SESSIONGATE_JWT_SECRET") or env.get("JWT_SECRET")
        development = flag(env, "SESSIONGATE_DEVELOPMENT") or False
        chosen_schema = schema or env.get("SESSIONGATE_SCHEMA") or ""
        # a Better Auth app: its own variables or schema (BASE_URL, NUXT_PUBLIC_AUTH_URL and
        # AUTH_SECRET are read by Better Auth but set by other apps too)
        better_app = bool(
            better_auth_secrets
            or env.get("BETTER_AUTH_SECRETS")
            or env.get("BETTER_AUTH_SECRET")
            or any(env.get(n) for n in BETTER_AUTH_BASE_URL_ENV if "BETTER_AUTH_URL" in n)
            or chosen_schema.startswith("better-auth")
        )
        base_url = base_url_from_env(env) if better_app else None
        better_env = (
            better_auth_secrets_from_env(env, development=development)
            if better_app and not better_auth_secrets
            else ()
        )
        return cls(
            secrets=tuple(secrets) or tuple(secrets_from_env(env)),
            jwt_secrets=tuple(jwt_secrets) or ((jwt_env,) if jwt_env else ()),
            jwt_issuer=jwt_issuer or env.get("SESSIONGATE_JWT_ISSUER") or None,
            jwt_audience=jwt_audience or env.get("SESSIONGATE_JWT_AUDIENCE") or None,
            database_url=database_url or env.get("DATABASE_URL") or None,
            schema=schema or env.get("SESSIONGATE_SCHEMA") or "authjs-prisma",
            better_auth_secrets=refuse_development_secret(
                tuple(better_auth_secrets) or better_env, development=development
            ),
            jwks_url=jwks_url or env.get("SESSIONGATE_JWKS_URL") or None,
            issuer=issuer or env.get("SESSIONGATE_JWKS_ISSUER") or None,
            audience=audience or env.get("SESSIONGATE_JWKS_AUDIENCE") or None,
            jwks_algorithms=tuple(jwks_algorithms) or _DEFAULT_JWKS_ALGORITHMS,
            allow_http_jwks=allow_http_jwks,
            jwt_public_key=jwt_public_key or env.get("SESSIONGATE_JWT_PUBLIC_KEY") or None,
            redis_url=redis_url or env.get("REDIS_URL") or None,
            redis_prefix=env.get("SESSIONGATE_REDIS_PREFIX", "better-auth:"),
            better_auth_cookie_prefix=env.get("SESSIONGATE_BETTER_AUTH_COOKIE_PREFIX")
            or "better-auth",
            better_auth_secure_cookies=better_auth_secure(env, base_url),
            secure_only=secure_only(env, base_url),
            development=development,
            authjs_cookie_names=name_list(env, "SESSIONGATE_AUTHJS_COOKIE_NAMES"),
            better_auth_cookie_cache=cookie_cache(env),
            plugins=plugins or PluginSwitches.from_sources(environ=env),
        )

    def describe(self) -> list[str]:
        """One line per configured authenticator, safe to print (no secret, no password)."""
        lines: list[str] = []
        if self.secrets:
            lines.append(
                f"Auth.js v5 / NextAuth v4 cookies and JWE Bearer ({len(self.secrets)} secret(s))"
            )
        if self.jwt_secrets:
            checks = [f"iss {self.jwt_issuer!r}"] if self.jwt_issuer else []
            checks += [f"aud {self.jwt_audience!r}"] if self.jwt_audience else []
            lines.append(
                f"{'/'.join(self.jwt_algorithms)} Bearer JWTs ({len(self.jwt_secrets)} secret(s), "
                f"{', '.join(checks) if checks else 'no iss/aud check'})"
            )
        if self.database_url:
            lines.append(f"Auth.js database sessions (schema {self.schema})")
        if self.better_auth_secrets and self.redis_url:
            lines.append(f"Better Auth signed cookies (Redis, key prefix {self.redis_prefix!r})")
        elif self.better_auth_secrets and self.database_url:
            lines.append(f"Better Auth signed cookies (schema {self.better_auth_schema})")
        if self.jwks_url:
            lines.append(
                f"JWKS Bearer JWTs ({', '.join(self.jwks_algorithms)}) from {self.jwks_url}"
            )
        if self.jwt_public_key:
            lines.append(
                f"JWT cookies and Bearer ({', '.join(self.jwks_algorithms)}) signed with the key "
                f"in {self.jwt_public_key}"
            )
        return lines


def build_authenticators(config: GateConfig, *, flags: bool = True) -> list[Authenticator]:
    """The authenticators a :class:`GateConfig` describes, in the gate's order.

    ``SessionGate(*build_authenticators(config), **options)`` is the gate;
    :meth:`SessionGate.from_env` does exactly that. Raises :class:`ConfigurationError` when the
    configuration describes nothing or something inconsistent; ``flags=False`` (a library
    call) names only the environment variables, not the CLI flags.
    """
    authenticators: list[Authenticator] = []
    if config.secrets:
        authenticators.append(
            AuthJSToken(list(config.secrets), cookie_names=config.authjs_cookie_names)
        )
    if config.jwt_secrets:
        shared = set(config.jwt_secrets) & {*config.secrets, *config.better_auth_secrets}
        if shared and config.jwt_issuer is None and config.jwt_audience is None:
            raise ConfigurationError(
                "the HS256 Bearer secret is also a session secret: every JWT the app signs with "
                "it (password-reset links, invites) would be an API credential. Use a dedicated "
                "SESSIONGATE_JWT_SECRET, or require an audience or issuer that those JWTs lack "
                "(SESSIONGATE_JWT_AUDIENCE / _ISSUER, --jwt-audience / --jwt-issuer)"
            )
        authenticators.append(
            BearerJWT(
                list(config.jwt_secrets),
                algorithms=config.jwt_algorithms,
                issuer=config.jwt_issuer,
                audience=config.jwt_audience,
            )
        )
    if config.jwt_public_key:
        from .jwks import StaticKeyJWT, StaticKeys

        authenticators.append(
            StaticKeyJWT(
                StaticKeys(path=config.jwt_public_key),
                algorithms=config.jwks_algorithms,
                issuer=config.jwt_issuer,
                audience=config.jwt_audience,
            )
        )
    if config.better_auth_secrets and not (config.database_url or config.redis_url):
        raise ConfigurationError(
            "Better Auth sessions live in the database: pass --database-url (or DATABASE_URL), "
            "or REDIS_URL for secondaryStorage"
        )
    if config.database_url:
        from .sessions import DatabaseSession
        from .stores import open_store

        if config.schema.startswith("better-auth"):
            if not config.better_auth_secrets:
                raise ConfigurationError(
                    f"schema {config.schema!r} is Better Auth's: pass --better-auth-secret "
                    "(or BETTER_AUTH_SECRET)"
                )
        else:
            authenticators.append(
                DatabaseSession(
                    open_store(config.database_url, schema=config.schema),
                    cookie_names=config.authjs_cookie_names,
                )
            )
        if config.better_auth_secrets and not config.redis_url:
            schema = (
                config.schema
                if config.schema.startswith("better-auth")
                else config.better_auth_schema
            )
            authenticators.append(_better_auth_session(config, config.database_url, schema))
    if config.better_auth_secrets and config.redis_url:
        from .sessions import BetterAuthSession
        from .stores.redis import RedisStore
        from .stores.redis_layouts import BetterAuthRedisLayout

        layout = BetterAuthRedisLayout(prefix=config.redis_prefix)
        authenticators.append(
            BetterAuthSession(
                secret=list(config.better_auth_secrets),
                store=RedisStore(config.redis_url, layout=layout),
                cookie_prefix=config.better_auth_cookie_prefix,
                secure_cookies=config.better_auth_secure_cookies,
                cookie_cache=config.better_auth_cookie_cache,
            )
        )
    if config.jwks_url:
        from .jwks import JWKSBearer

        if config.issuer is None or config.audience is None:
            raise ConfigurationError(
                "a JWKS verifier needs --issuer and --audience (SESSIONGATE_JWKS_ISSUER / "
                "SESSIONGATE_JWKS_AUDIENCE): without them a token minted for another app passes"
            )
        authenticators.append(
            JWKSBearer(
                config.jwks_url,
                algorithms=config.jwks_algorithms,
                issuer=config.issuer,
                audience=config.audience,
                allow_http=config.allow_http_jwks,
            )
        )
    if not authenticators and not flags:
        raise ConfigurationError(
            "nothing to verify: none of the environment variables AUTH_SECRET, NEXTAUTH_SECRET, "
            "SESSIONGATE_JWT_SECRET, DATABASE_URL, SESSIONGATE_JWKS_URL or "
            "SESSIONGATE_JWT_PUBLIC_KEY is set (or pass environ= with them)"
        )
    if not authenticators:
        raise ConfigurationError(
            "nothing to verify: set AUTH_SECRET / NEXTAUTH_SECRET (or pass --secret), "
            "SESSIONGATE_JWT_SECRET (--jwt-secret), DATABASE_URL (--database-url), "
            "SESSIONGATE_JWKS_URL (--jwks-url) or SESSIONGATE_JWT_PUBLIC_KEY (--jwt-public-key)"
        )
    return authenticators


# what build_authenticators detected, per Better Auth authenticator it built (read by
# better_auth_plugins; weak: it goes with the authenticator)
_DETECTED: weakref.WeakKeyDictionary[Authenticator, BetterAuthPlugins] = weakref.WeakKeyDictionary()


def _better_auth_session(config: GateConfig, url: str, schema: str) -> Authenticator:
    """The Better Auth database authenticator, with the plugins detected now (one catalog
    read): the plugin columns found are read, bans enforced when the admin plugin is."""
    from ._sync import default_loop
    from .sessions import BetterAuthSession
    from .stores import open_store

    secret = list(config.better_auth_secrets)
    store = open_store(url, schema=schema)
    prefix, secure = config.better_auth_cookie_prefix, config.better_auth_secure_cookies
    if config.plugins.all_off:
        return BetterAuthSession(
            secret=secret,
            store=store,
            cookie_prefix=prefix,
            secure_cookies=secure,
            cookie_cache=config.better_auth_cookie_cache,
        )
    try:
        found = detect_presence_sync(store)
    finally:
        default_loop().run(store.aclose(), timeout=10.0)  # the probe's pool, not reused
    enforced = config.plugins.apply(found)
    columns = found.columns
    mapping = getattr(store, "schema", None)
    if columns is not None and mapping is not None:
        switches = columns.as_switches()
        switches["admin"] = enforced.admin
        mapping = mapping.with_better_auth_columns(**switches)
    auth = BetterAuthSession(
        secret=secret,
        store=open_store(url, schema=mapping if mapping is not None else schema),
        admin=True if enforced.admin else (False if config.plugins.admin == "off" else None),
        cookie_prefix=prefix,
        secure_cookies=secure,
        cookie_cache=config.better_auth_cookie_cache,
    )
    assert auth.store is not None  # built with a store
    _DETECTED[auth] = BetterAuthPlugins.build(auth.store.store, found, config.plugins)
    return auth


def better_auth_plugins(
    config: GateConfig, authenticators: Sequence[Authenticator]
) -> BetterAuthPlugins | None:
    """What :func:`build_authenticators` detected of the Better Auth plugins in the session
    database and left enforced (:class:`~sessiongate.ba_detect.BetterAuthPlugins`); ``None``
    without a Better Auth database authenticator or with every plugin ``off``. Detection
    happens once, at start: an unreadable catalog raises
    :class:`~sessiongate.errors.ProviderUnavailableError` there (no half-configured start)."""
    for auth in authenticators:
        found = _DETECTED.get(auth)
        if found is not None:
            return found
    return None


_CSRF_LINES = {
    "auto": "auto (Origin/Referer of cookie writes checked when the proxy forwards "
    "X-Original-Method or X-Forwarded-Method; otherwise the upstream must check)",
    "strict": "strict (cookie requests without X-Original-Method / X-Forwarded-Method refused)",
    "off": "off (the upstream must check Origin/Referer of cookie-authenticated writes itself)",
}


@dataclass(frozen=True, slots=True)
class SidecarOptions:
    """The sidecar's CSRF settings, from ``serve`` flags over the environment (flags win).

    Attributes:
        csrf_mode: ``SESSIONGATE_CSRF``: ``auto`` (default), ``strict`` or ``off``
            (see :data:`CSRFMode`).
        trusted_origins: ``SESSIONGATE_TRUSTED_ORIGINS`` (comma- or space-separated): origins
            allowed to send cookie-authenticated writes besides the request's own, e.g.
            ``https://app.example.com`` or ``https://*.example.com``.
    """

    csrf_mode: CSRFMode = "auto"
    trusted_origins: tuple[str, ...] = ()

    def describe(self) -> str:
        """The banner's ``csrf:`` line."""
        return _CSRF_LINES[self.csrf_mode]

    @classmethod
    def from_sources(
        cls,
        *,
        csrf_mode: str | None = None,
        trusted_origins: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
    ) -> SidecarOptions:
        """Merge explicit values (flags) over ``SESSIONGATE_CSRF`` / ``_TRUSTED_ORIGINS``."""
        env = os.environ if environ is None else environ
        origins = tuple(trusted_origins) or tuple(
            env.get("SESSIONGATE_TRUSTED_ORIGINS", "").replace(",", " ").split()
        )
        return cls(
            csrf_mode=parse_csrf_mode(csrf_mode or env.get("SESSIONGATE_CSRF") or "auto"),
            trusted_origins=origins,
        )
