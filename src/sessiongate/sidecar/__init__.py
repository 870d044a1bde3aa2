"""The sidecar verifier behind ``sessiongate serve``: a pure ASGI application.

Non-Python services (Express, Go, Rails) and edge proxies (nginx ``auth_request``, Traefik
ForwardAuth, Envoy HTTP ``ext_authz``) forward a request's ``Cookie`` and ``Authorization``
headers to ``/verify`` and get the verdict back:

========  ======================================================================================
status    meaning
========  ======================================================================================
200       verified: the user in ``X-User-*`` response headers and as JSON
400       a malformed or unsupported requirement (``invalid_request``)
401       missing or bad credential (``WWW-Authenticate``; body ``{"error", "message"}``)
403       a required role/permission is missing (``insufficient_scope``), or a cookie-authenticated
          write from a foreign origin (``csrf_failed``)
431       the request headers are larger than allowed (checked before anything is parsed)
503       a session database or JWKS endpoint is down: an outage is never turned into a 401
========  ======================================================================================

Routes:

* ``/verify`` (any method; ``/verify/<anything>`` too, for Envoy's ``path_prefix``);
* ``/healthz``: liveness (``{"status": "ok"}``);
* ``/readyz``: readiness, 503 while a session store or JWKS key set is down
  (:mod:`sessiongate.readiness`);
* ``/metrics``: Prometheus metrics, when a ``metrics`` endpoint is given
  (:mod:`sessiongate.metrics`).

A request that repeats one the gate answered from its memo is answered from the rendered
``200`` it got then, while the gate's re-check of that verdict passes
(:mod:`sessiongate.sidecar.memo`); a refusal is rendered once per distinct error
(:mod:`sessiongate.sidecar.refusals`); an ``observer`` and an ``audit_log`` are told about every
verdict (:mod:`sessiongate.observe`, :mod:`sessiongate.audit`).

Modules: :mod:`.app` (the ASGI app, routes, lifespan, options), :mod:`.verify` (the
``/verify`` endpoint), :mod:`.request` (request facts and the requirement grammar),
:mod:`.headers` (the ``X-User-*`` headers and bodies), :mod:`.memo` (the response memo),
:mod:`.refusals` (refusals rendered once), :mod:`.serve` (``sessiongate serve``: workers,
servers). Allow/deny, CSRF, outage handling, statuses and ``WWW-Authenticate`` are decided by
:func:`sessiongate.policy.decide`, as for every other adapter.

Requirements (set by the proxy; a client can only make them stricter)
-------------------------------------------------------------------------
``X-Require-Role`` and ``X-Require-Permission`` headers, and under ``/verify`` exactly the
``role`` and ``permission`` query parameters, share one grammar: a value is a comma-separated
list of *clauses* that must **all** hold; inside a clause, ``|`` separates alternatives of which
**one** is enough::

    X-Require-Role: admin,billing              admin and billing
    X-Require-Role: admin|billing              admin or billing
    X-Require-Role: staff, admin|billing       staff, and admin or billing
    /verify?role=admin|billing&permission=posts:write

Every header line, every query value and both sources together are clauses of one AND. A comma
is also how HTTP joins repeated header lines, so whatever a client manages to add (a second
``X-Require-Role``, a value a proxy appends to its own) only adds clauses: it can make the
check stricter, never looser. There is no mode switch to flip: ``X-Require-Mode`` and every
other ``X-Require-*`` header, a ``mode`` or any other query parameter, and names starting with
``any:`` or ``all:`` are refused with 400, so a typo in a proxy configuration fails closed
instead of requiring nothing. Under ``/verify/<path>`` the query string belongs to the original
request and is ignored.

CSRF for cookie sessions
------------------------
An nginx ``auth_request`` subrequest is a GET whatever the browser sent, so the original method
comes from ``X-Original-Method`` (nginx: ``proxy_set_header X-Original-Method $request_method``)
and ``X-Forwarded-Method`` (Traefik ForwardAuth sets it), plus the sidecar's own request method
when it is neither GET nor HEAD (Envoy ``ext_authz`` and direct callers keep the original one).
Every value counts: if any is unsafe (anything but GET, HEAD, OPTIONS, TRACE), the request is a
write, so a client-added method header can only switch the check on. A request with several
``Origin`` (or, without ``Origin``, several ``Referer``) headers has no usable origin: a
cookie-authenticated write is refused.

A cookie-authenticated write must carry an ``Origin`` (else a ``Referer``) that is the original
request's own origin or one of ``trusted_origins``; otherwise 403 ``csrf_failed``. The own
origin is taken from the last ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` values (the proxy must
set them; nginx: ``$scheme`` / ``$http_host``), else from the scheme and host of
``X-Original-URL``, else from the sidecar's own scheme and ``Host`` (right for Envoy, which keeps
the original ``Host``). Bearer-authenticated requests are exempt (a cross-site page cannot make
a browser send an ``Authorization`` header).

``csrf_mode="auto"`` (the default) checks whenever the method is known; when it is not (a GET with
neither method header) the sidecar cannot tell a write from a read and does not check, so the
upstream must check ``Origin`` itself. ``csrf_mode="strict"`` refuses such cookie requests instead
(403 ``csrf_failed``), so a proxy that forgets to forward the method fails closed.
``csrf_mode="off"`` never checks.

Response headers of a 200
-------------------------
``X-User-Id``, ``X-User-Email``, ``X-User-Name``, ``X-User-Role``, ``X-User-Roles`` and
``X-User-Permissions`` (comma-separated, sorted), ``X-Auth-Source`` (``authjs-v5``,
``nextauth-v4``, ``jws``, ``database``, ``better-auth``, ``jwks``) and ``X-Auth-Credential``
(``cookie`` or ``bearer``). Values are claims, so they are untrusted text: every character
outside printable ASCII, and ``%`` itself (and ``,`` inside list items), is percent-encoded as
UTF-8, so a value can never break or inject a header; decode with ``decodeURIComponent`` /
``urllib.parse.unquote``. A 200 always carries ``X-User-Id``: a user whose id is empty or longer
than ``max_value_bytes`` after encoding is refused (401 ``invalid_claim``). Any other value
longer than that is left out of the headers (it is still in the JSON body), so an absent header
means the user has no such field or it was too long to pass on.

Nothing the client sent is echoed: no token, cookie value or secret appears in a response or a
log line.
"""

from __future__ import annotations

from .app import (
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_RESPONSE_MEMO_SIZE,
    MetricsEndpoint,
    SidecarApp,
    sidecar_policy,
)
from .headers import encode_header_value, user_headers

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_RESPONSE_MEMO_SIZE",
    "MetricsEndpoint",
    "SidecarApp",
    "encode_header_value",
    "sidecar_policy",
    "user_headers",
]
