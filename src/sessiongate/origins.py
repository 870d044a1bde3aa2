"""Origin checks: CSRF for cookie-authenticated writes and cross-site WebSocket hijacking.

Framework-free; the ASGI, WSGI, FastAPI and Flask adapters all call :class:`OriginPolicy`.

Why: a session cookie is sent by the browser on cross-site requests too (``SameSite=Lax`` still
allows top-level POST navigations in some browsers and never covers WebSocket handshakes from
same-site subdomains). So when a request is authenticated **by a cookie**:

* an unsafe HTTP method (anything but GET, HEAD, OPTIONS, TRACE) must come from an allowed
  origin, read from ``Origin`` or, when absent, from ``Referer``; a request with neither is
  refused;
* a WebSocket handshake must carry an allowed ``Origin``.

"Allowed" means same-origin with the request (scheme + host + port from the ``Host`` header, or
the last ``X-Forwarded-Host`` / ``X-Forwarded-Proto`` values when ``trust_forwarded=True``) or
listed in ``trusted_origins``. ``Bearer``-authenticated requests are exempt: a cross-site page
cannot make the browser attach an ``Authorization`` header.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from .errors import AuthorizationError, ConfigurationError

__all__ = ["SAFE_METHODS", "CSRFError", "OriginPolicy", "is_unsafe_method", "normalize_origin"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
"""Methods exempt from the CSRF check; every other method (POST, PUT, PATCH, DELETE, and
anything unusual such as PROPFIND) is checked: fail closed."""
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
_WEB_SCHEME = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


class CSRFError(AuthorizationError):
    """A cookie-authenticated write or WebSocket handshake came from a foreign origin (403)."""

    code = "csrf_failed"
    default_message = "the request origin is not allowed for cookie-authenticated requests"


def _scheme_and_authority(value: str) -> str:
    """``value`` without its path, query and fragment (they never change an origin).

    ``urlsplit`` keeps its last 128 inputs in a process-wide cache: a ``Referer`` whose query
    carries a token (``?access_token=``) must not be one of them. The authority ends at the
    first ``/``, ``?`` or ``#`` after ``://``, exactly where ``urlsplit`` ends it.
    """
    start = value.find("://")
    if start < 0:
        return value
    start += 3
    end = len(value)
    for stop in "/?#":
        found = value.find(stop, start)
        if 0 <= found < end:
            end = found
    return value[:end]


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]`` lower-cased with the default port dropped; ``None`` if invalid.

    Accepts an ``Origin`` value or any absolute URL (a ``Referer``); ``ws``/``wss`` become
    ``http``/``https``. ``"null"`` (opaque origins) is invalid.
    """
    value = value.strip()
    if not value or value == "null":
        return None
    value = _scheme_and_authority(value)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = _WEB_SCHEME.get(parts.scheme.lower())
    host = parts.hostname
    if scheme is None or not host or parts.username is not None or parts.password is not None:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and str(port) != _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def is_unsafe_method(method: str) -> bool:
    """Whether ``method`` needs the CSRF check (anything but GET, HEAD, OPTIONS, TRACE)."""
    return method.upper() not in SAFE_METHODS


def _last(value: str | None) -> str | None:
    if not value:
        return None
    last = value.rsplit(",", 1)[-1].strip()
    return last or None


class OriginPolicy:
    """Decide whether a request's origin may use a cookie session.

    Args:
        trusted_origins: extra origins allowed besides the request's own, e.g.
            ``["https://app.example.com"]``; ``"https://*.example.com"`` allows any subdomain
            (not the apex). Paths are not allowed.
        trust_forwarded: read the host and scheme from ``X-Forwarded-Host`` and
            ``X-Forwarded-Proto`` (last value: the one your proxy appended). Only enable behind
            a proxy that sets them.
        same_origin: allow the request's own origin (default ``True``).
    """

    __slots__ = ("_exact", "_suffixes", "same_origin", "trust_forwarded")

    def __init__(
        self,
        trusted_origins: Iterable[str] = (),
        *,
        trust_forwarded: bool = False,
        same_origin: bool = True,
    ) -> None:
        if isinstance(trusted_origins, str):
            trusted_origins = (trusted_origins,)
        exact: set[str] = set()
        suffixes: set[tuple[str, str]] = set()
        for raw in trusted_origins:
            if not isinstance(raw, str):
                raise ConfigurationError("trusted_origins must be strings")
            wildcard = "://*." in raw
            probe = raw.replace("://*.", "://wildcard.", 1) if wildcard else raw
            parts = urlsplit(probe.strip())
            if parts.path not in ("", "/") or parts.query or parts.fragment:
                raise ConfigurationError(
                    f"trusted origin {raw!r} must be scheme://host[:port], without a path"
                )
            normal = normalize_origin(probe)
            if normal is None or parts.scheme.lower() not in ("http", "https"):
                raise ConfigurationError(f"trusted origin {raw!r} is not an http(s) origin")
            if wildcard:
                scheme, rest = normal.split("://", 1)
                suffixes.add((scheme, rest[len("wildcard") :]))  # ".example.com[:port]"
            else:
                exact.add(normal)
        self._exact = frozenset(exact)
        self._suffixes = frozenset(suffixes)
        self.trust_forwarded = trust_forwarded
        self.same_origin = same_origin

    @property
    def trusted(self) -> tuple[str, ...]:
        """The trusted origins, normalised and sorted (wildcards as ``https://*.example.com``)."""
        return tuple(sorted(self._exact) + sorted(f"{s}://*{r}" for s, r in self._suffixes))

    def __repr__(self) -> str:
        return f"OriginPolicy({list(self.trusted)!r}, trust_forwarded={self.trust_forwarded})"

    def own_origin(
        self,
        *,
        scheme: str,
        host: str | None,
        forwarded_host: str | None = None,
        forwarded_proto: str | None = None,
    ) -> str | None:
        """The request's own origin, from its scheme and ``Host`` (or forwarded headers)."""
        if self.trust_forwarded:
            host = _last(forwarded_host) or host
            scheme = _last(forwarded_proto) or scheme
        if not host:
            return None
        return normalize_origin(f"{scheme.lower()}://{host.strip()}")

    def is_trusted(self, origin: str, own: str | None) -> bool:
        """Whether an already normalised ``origin`` is the request's own or a trusted one."""
        if self.same_origin and own is not None and origin == own:
            return True
        if origin in self._exact:
            return True
        scheme, _, rest = origin.partition("://")
        return any(scheme == s and rest.endswith(suffix) for s, suffix in self._suffixes)

    def check(
        self,
        *,
        origin: str | None,
        referer: str | None,
        scheme: str,
        host: str | None,
        forwarded_host: str | None = None,
        forwarded_proto: str | None = None,
        allow_referer: bool = True,
    ) -> None:
        """Raise :class:`CSRFError` unless ``Origin`` (else ``Referer``) is allowed.

        A request with neither header, an opaque ``Origin: null``, or an unparsable value is
        refused: fail closed.
        """
        own = self.own_origin(
            scheme=scheme,
            host=host,
            forwarded_host=forwarded_host,
            forwarded_proto=forwarded_proto,
        )
        if origin is not None:
            claimed = normalize_origin(origin)
        elif referer is not None and allow_referer:
            claimed = normalize_origin(referer)
        else:
            raise CSRFError("the request has no Origin or Referer header")
        if claimed is None:
            raise CSRFError("the request origin is opaque or malformed")
        if not self.is_trusted(claimed, own):
            raise CSRFError()
