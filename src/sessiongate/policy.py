"""The web layer's one policy: validated options and a framework-free :func:`decide`.

Every adapter (ASGI middleware, Starlette backend and ``requires``, FastAPI, WSGI, Flask, the
sidecar) does the same three things:

1. extract :class:`RequestFacts` from its request (method, scheme, host, ``Origin``,
   ``Referer``, WebSocket or not, whether a credential was sent);
2. authenticate with the gate, which gives an *outcome*: an
   :class:`~sessiongate.gate.AuthResult` or the :class:`~sessiongate.errors.SessionGateError`
   it raised;
3. call :func:`decide` with the outcome, the facts and its :class:`WebPolicy`, then render the
   :class:`Decision` (continue with ``decision.user``, or send ``decision.response`` / close a
   WebSocket with ``decision.close_code``).

So CSRF, the WebSocket Origin check, outage handling, role checks, statuses,
``WWW-Authenticate`` and close codes are decided here, once, with no I/O and no framework.

A layer that finds another layer's :class:`Verdict` on the request (the FastAPI dependency
after the middleware, the Flask extension after the WSGI middleware) reuses its outcome, so a
token is verified once, but always decides again under its *own* policy: a verdict made under a
weaker policy (``csrf=False``, more trusted origins, ``SessionGateBackend``) is never trusted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, TypedDict

from .errors import (
    ConfigurationError,
    MissingCredentialsError,
    ProviderUnavailableError,
    SessionGateError,
)
from .gate import SessionGate
from .guards import Requirement, RoleHierarchy
from .origins import CSRFError, OriginPolicy, is_unsafe_method
from .responses import ErrorRenderer, ErrorResponse, default_renderer, websocket_close_code
from .types import AuthResult
from .user import AnonymousUser

__all__ = [
    "UNKNOWN_METHOD",
    "Decision",
    "Outcome",
    "RequestFacts",
    "UnknownMethod",
    "Verdict",
    "WebOptions",
    "WebPolicy",
    "build_policy",
    "decide",
    "refuse",
]

Outcome = AuthResult | SessionGateError
"""What the gate said: the authenticated result, or the error it raised."""

_URL_CREDENTIAL_REFUSED = "a token in the URL is not accepted here"

UNKNOWN_METHOD = ""
""":attr:`RequestFacts.method` when the original method is not known (the sidecar behind a proxy
that did not forward it); :attr:`WebPolicy.unknown_method` says what CSRF does then."""
UnknownMethod = Literal["check", "allow", "refuse"]
_UNKNOWN_METHODS: tuple[UnknownMethod, ...] = ("check", "allow", "refuse")


@dataclass(frozen=True, slots=True)
class WebPolicy:
    """Every option of the web adapters, validated once.

    Share one instance between layers (``SessionGateMiddleware(app, gate=gate, policy=p)``,
    ``SessionGateAuth(gate, policy=p)``) so they decide alike.

    Attributes:
        csrf: check ``Origin`` (else ``Referer``) on cookie-authenticated unsafe methods
            (anything but GET, HEAD, OPTIONS, TRACE): 403 ``csrf_failed`` when foreign.
        websocket_origin_check: check ``Origin`` on cookie-authenticated WebSocket handshakes
            (cross-site WebSocket hijacking).
        trusted_origins: origins allowed besides the request's own, e.g. the Next.js front end
            ``"https://app.example.com"``; ``"https://*.example.com"`` allows any subdomain.
            Normalised (lower case, default port dropped) and sorted.
        trust_forwarded: take the request's host and scheme from ``X-Forwarded-Host`` /
            ``X-Forwarded-Proto`` (only behind a proxy that sets them).
        unknown_method: with ``csrf``, a cookie-authenticated request whose method is
            :data:`UNKNOWN_METHOD`: ``"check"`` it as a write (default), ``"allow"`` it
            unchecked (the sidecar's ``csrf_mode="auto"``: the upstream checks) or ``"refuse"``
            it (403 ``csrf_failed``; the sidecar's ``"strict"``).
        allow_query_token: accept ``?access_token=`` on WebSocket handshakes (off: URLs end up
            in logs).
        query_param: the query parameter name for that token.
        role_hierarchy: ``RoleHierarchy`` or a plain mapping (converted); expands roles for
            every role and scope check.
        block_on_outage: refuse with 503 in the middleware when the provider is down (default).
            With ``False`` the request continues anonymous and protected routes answer 503.
        retry_after: seconds for ``Retry-After`` on 503 responses.
        realm: optional ``realm`` in ``WWW-Authenticate``.
        error_renderer: ``(error, credential_sent) -> ErrorResponse`` replacing the standard
            responses (see :mod:`sessiongate.responses`).
    """

    csrf: bool = True
    unknown_method: UnknownMethod = "check"
    websocket_origin_check: bool = True
    trusted_origins: Iterable[str] = ()
    trust_forwarded: bool = False
    allow_query_token: bool = False
    query_param: str = "access_token"
    role_hierarchy: RoleHierarchy | Mapping[str, Iterable[str]] | None = None
    block_on_outage: bool = True
    retry_after: int | None = None
    realm: str | None = None
    error_renderer: ErrorRenderer | None = None
    origins: OriginPolicy = field(init=False, repr=False, compare=False)
    """The origin matcher built from ``trusted_origins`` and ``trust_forwarded``."""
    render: ErrorRenderer = field(init=False, repr=False, compare=False)
    """``(error, credential_sent) -> ErrorResponse``: ``error_renderer`` or the standard one."""
    hierarchy: RoleHierarchy | None = field(init=False, repr=False, compare=False)
    """``role_hierarchy`` as the :class:`RoleHierarchy` it was converted to."""

    def __post_init__(self) -> None:
        for name in (
            "csrf",
            "websocket_origin_check",
            "trust_forwarded",
            "allow_query_token",
            "block_on_outage",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(f"{name} must be True or False")
        if self.unknown_method not in _UNKNOWN_METHODS:
            raise ConfigurationError("unknown_method must be one of check, allow, refuse")
        if not isinstance(self.query_param, str) or not self.query_param:
            raise ConfigurationError("query_param must be a non-empty string")
        if self.retry_after is not None and (
            isinstance(self.retry_after, bool)
            or not isinstance(self.retry_after, int)
            or self.retry_after < 0
        ):
            raise ConfigurationError("retry_after must be a whole number of seconds (>= 0)")
        if self.realm is not None and not isinstance(self.realm, str):
            raise ConfigurationError("realm must be a string")
        if self.error_renderer is not None and not callable(self.error_renderer):
            raise ConfigurationError("error_renderer must be callable")
        hierarchy = self.role_hierarchy
        if hierarchy is not None and not isinstance(hierarchy, RoleHierarchy):
            if not isinstance(hierarchy, Mapping):
                raise ConfigurationError("role_hierarchy must be a RoleHierarchy or a mapping")
            hierarchy = RoleHierarchy(hierarchy)
            object.__setattr__(self, "role_hierarchy", hierarchy)
        object.__setattr__(self, "hierarchy", hierarchy)
        origins = OriginPolicy(self.trusted_origins, trust_forwarded=self.trust_forwarded)
        object.__setattr__(self, "trusted_origins", origins.trusted)
        object.__setattr__(self, "origins", origins)
        object.__setattr__(
            self,
            "render",
            default_renderer(self.error_renderer, realm=self.realm, retry_after=self.retry_after),
        )


class WebOptions(TypedDict, total=False):
    """The keyword options adapters accept instead of ``policy=`` (see :class:`WebPolicy`).

    For type checkers only: it mirrors :class:`WebPolicy`'s fields (a test keeps them equal).
    """

    csrf: bool
    unknown_method: UnknownMethod
    websocket_origin_check: bool
    trusted_origins: Iterable[str]
    trust_forwarded: bool
    allow_query_token: bool
    query_param: str
    role_hierarchy: RoleHierarchy | Mapping[str, Iterable[str]] | None
    block_on_outage: bool
    retry_after: int | None
    realm: str | None
    error_renderer: ErrorRenderer | None


_OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(WebPolicy) if f.init)


def build_policy(policy: WebPolicy | None, options: Mapping[str, Any]) -> WebPolicy:
    """The policy of an adapter given ``policy=`` and/or individual keyword options.

    ``options`` override the matching fields of ``policy`` (or of the defaults). Unknown names
    are a :class:`ConfigurationError`, at construction time.
    """
    if policy is not None and not isinstance(policy, WebPolicy):
        raise ConfigurationError("policy must be a WebPolicy")
    unknown = sorted(name for name in options if name not in _OPTION_NAMES)
    if unknown:
        raise ConfigurationError(f"unknown web option(s): {', '.join(unknown)}")
    if policy is None:
        return WebPolicy(**options)
    return dataclasses.replace(policy, **options) if options else policy


class RequestFacts(NamedTuple):
    """What :func:`decide` needs to know about a request, as plain values.

    Immutable, and cheap to build once per request (a named tuple).

    Attributes:
        method: the HTTP method (for the sidecar: the *original* request's method, or
            :data:`UNKNOWN_METHOD` when the proxy did not forward it).
        scheme: ``http``/``https`` (``ws``/``wss`` are treated alike).
        host: the ``Host`` header.
        origin, referer: the ``Origin`` and ``Referer`` headers, when present.
        forwarded_host, forwarded_proto: ``X-Forwarded-Host`` / ``-Proto`` (used only with
            ``trust_forwarded``).
        websocket: whether this is a WebSocket handshake.
        credential_sent: whether the request carried any credential (cookie, ``Authorization``
            or a WebSocket token); a 401 then says ``error="invalid_token"`` (RFC 6750).
        query_token: the bearer token was taken from the URL query string (``?access_token=``,
            WebSocket handshakes with ``allow_query_token``); a policy without
            ``allow_query_token`` refuses it.
    """

    method: str = "GET"
    scheme: str = "http"
    host: str | None = None
    origin: str | None = None
    referer: str | None = None
    forwarded_host: str | None = None
    forwarded_proto: str | None = None
    websocket: bool = False
    credential_sent: bool = False
    query_token: bool = False


class Decision(NamedTuple):
    """What to do with a request (immutable).

    Attributes:
        user: the :class:`~sessiongate.user.User`, or an
            :class:`~sessiongate.user.AnonymousUser` carrying why it is anonymous.
        error: why the request is refused; ``None`` when it may continue.
        response: status, headers (``WWW-Authenticate``, ``Retry-After``...) and JSON body of
            the refusal.
        close_code: for a refused WebSocket handshake on a server without the denial-response
            extension: 1008, or 1013 for an outage (never 1000).
        credential: ``"cookie"`` or ``"bearer"`` when authenticated.
        authenticator: the name of the authenticator that proved the session.
    """

    user: Any
    error: SessionGateError | None = None
    response: ErrorResponse | None = None
    close_code: int | None = None
    credential: str | None = None
    authenticator: str | None = None

    @property
    def allowed(self) -> bool:
        """Whether the request may continue."""
        return self.error is None

    @property
    def status(self) -> int:
        """200 when allowed, else the refusal's status (401, 403, 503...)."""
        return 200 if self.response is None else self.response.status


class Verdict(NamedTuple):
    """One request's authentication, left on the request for the layers after the first.

    ``policy`` is the policy the first layer decided under; later layers reuse ``outcome`` and
    ``facts`` (no second verification) but decide again under their own policy.
    """

    gate: SessionGate
    outcome: Outcome
    facts: RequestFacts
    policy: WebPolicy

    @property
    def user(self) -> Any:
        """The authenticated user, or an ``AnonymousUser`` carrying the error."""
        outcome = self.outcome
        if isinstance(outcome, SessionGateError):
            return AnonymousUser(error=outcome)
        return outcome.user


def refuse(
    error: SessionGateError, facts: RequestFacts, policy: WebPolicy, user: Any = None
) -> Decision:
    """The refusal of a request with ``error``, rendered by ``policy``."""
    return Decision(
        AnonymousUser(error=error) if user is None else user,
        error,
        policy.render(error, facts.credential_sent),
        websocket_close_code(error) if facts.websocket else None,
    )


def _origin_error(facts: RequestFacts, policy: WebPolicy) -> CSRFError | None:
    """The CSRF / WebSocket Origin refusal of a cookie-authenticated request, if any."""
    if facts.websocket:
        if not policy.websocket_origin_check:
            return None
    elif not policy.csrf:
        return None
    elif facts.method == UNKNOWN_METHOD and policy.unknown_method != "check":
        if policy.unknown_method == "allow":
            return None
        return CSRFError(
            "the original request method is unknown: the proxy must forward it "
            "(X-Original-Method or X-Forwarded-Method)"
        )
    elif not is_unsafe_method(facts.method):
        return None
    try:
        policy.origins.check(
            origin=facts.origin,
            referer=None if facts.websocket else facts.referer,
            scheme=facts.scheme,
            host=facts.host,
            forwarded_host=facts.forwarded_host,
            forwarded_proto=facts.forwarded_proto,
            allow_referer=not facts.websocket,
        )
    except CSRFError as err:
        return err
    return None


def decide(
    outcome: Outcome,
    facts: RequestFacts,
    policy: WebPolicy,
    *,
    require: Requirement | Iterable[Requirement] | None = None,
) -> Decision:
    """Judge one request.

    Args:
        outcome: the gate's :class:`~sessiongate.gate.AuthResult`, or the error it raised.
        facts: the request, as :class:`RequestFacts`.
        policy: the :class:`WebPolicy` to apply.
        require: ``None`` for a pass-through layer (a middleware: anonymous requests continue,
            carrying the reason); a :class:`~sessiongate.guards.Requirement` (or several, all
            of which must hold) for a protected route. ``Requirement()`` only demands a user.

    Order: a refused credential (401, 503) or an outage (503, in a pass-through layer only when
    ``block_on_outage``), a bearer token from the URL that the policy does not allow (401), then
    the origin checks for cookie credentials (403 ``csrf_failed``), then the requirements (403
    ``insufficient_scope``).
    """
    if isinstance(outcome, SessionGateError):
        anonymous = AnonymousUser(error=outcome)
        if require is None and not (
            policy.block_on_outage and isinstance(outcome, ProviderUnavailableError)
        ):
            return Decision(anonymous)
        return refuse(outcome, facts, policy, anonymous)
    user = outcome.user
    if facts.query_token and outcome.credential == "bearer" and not policy.allow_query_token:
        # an earlier layer took the token from the URL; this policy does not accept that
        return refuse(MissingCredentialsError(_URL_CREDENTIAL_REFUSED), facts, policy)
    if outcome.credential == "cookie" and (facts.websocket or is_unsafe_method(facts.method)):
        csrf = _origin_error(facts, policy)
        if csrf is not None:
            return refuse(csrf, facts, policy, user)
    if require is not None:
        requirements = (require,) if isinstance(require, Requirement) else require
        for requirement in requirements:
            unmet = requirement.unmet(user, policy.hierarchy)
            if unmet is not None:
                return refuse(unmet, facts, policy, user)
    return Decision(user, None, None, None, outcome.credential, outcome.authenticator)
