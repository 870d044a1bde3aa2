"""Flask integration: :class:`SessionGateFlask`, ``current_user`` and route decorators.

.. code-block:: python

    app = Flask(__name__)
    SessionGateFlask(app, SessionGate.from_env())

    @app.get("/me")
    @login_required
    def me():
        return {"id": current_user.id}

    @app.delete("/posts/<int:pid>")
    @roles_required("admin", "moderator", mode="any")
    def delete_post(pid): ...

Each request is authenticated once, before the view (or reused from
:class:`~sessiongate.wsgi.SessionGateWSGIMiddleware` with the same gate, and then judged again
under the extension's own policy). Failures are answered as JSON ``{"error": code, "message":
...}`` with 401 (+ ``WWW-Authenticate``), 403 or 503. The CSRF policy applies to
cookie-authenticated writes (see :mod:`sessiongate.policy`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, Unpack

from ._extras import missing_extra

try:
    from flask import Flask, Response, current_app, request
    from werkzeug.local import LocalProxy
except ModuleNotFoundError as err:
    raise missing_extra(err, "flask") from None

from .errors import ConfigurationError, SessionGateError
from .gate import SessionGate
from .guards import AUTHENTICATED, Mode, Requirement, RoleHierarchy
from .policy import Verdict, WebOptions, WebPolicy, build_policy, decide
from .responses import ErrorResponse
from .user import AnonymousUser
from .wsgi import ENVIRON_USER, ENVIRON_VERDICT, authenticate_environ, environ_facts

__all__ = [
    "SessionGateFlask",
    "current_user",
    "login_required",
    "permissions_required",
    "roles_required",
]

P = ParamSpec("P")
R = TypeVar("R")
_EXTENSION = "sessiongate"


class SessionGateFlask:
    """The Flask extension.

    Args:
        app: the Flask app (or call :meth:`init_app` later).
        gate: the :class:`~sessiongate.gate.SessionGate`.
        policy: a :class:`~sessiongate.policy.WebPolicy` (share it with a
            :class:`~sessiongate.wsgi.SessionGateWSGIMiddleware`, if any); or its options one
            by one as keywords (``csrf``, ``trusted_origins``, ``trust_forwarded``,
            ``role_hierarchy`` for :func:`roles_required`, ``block_on_outage``,
            ``retry_after``, ``realm``, ``error_renderer``), which also override ``policy``'s.
    """

    def __init__(
        self,
        app: Flask | None = None,
        gate: SessionGate | None = None,
        *,
        policy: WebPolicy | None = None,
        **options: Unpack[WebOptions],
    ) -> None:
        if not isinstance(gate, SessionGate):
            raise ConfigurationError("SessionGateFlask needs a gate")
        self.gate = gate
        self.policy = build_policy(policy, options)
        if app is not None:
            self.init_app(app)

    @property
    def hierarchy(self) -> RoleHierarchy | None:
        """The role hierarchy used by :func:`roles_required`."""
        return self.policy.hierarchy

    def __repr__(self) -> str:
        return f"SessionGateFlask(gate={self.gate!r})"

    def init_app(self, app: Flask) -> None:
        """Register the before-request hook and the JSON error handler on ``app``."""
        app.extensions[_EXTENSION] = self
        app.before_request(self._before_request)
        app.register_error_handler(SessionGateError, self._handle_error)

    def _before_request(self) -> Response | None:
        # a WSGI middleware's verdict is reused (no second verification) but judged again
        # under this extension's policy: a csrf=False middleware never lowers it
        verdict = authenticate_environ(request.environ, self.gate, self.policy)
        decision = decide(verdict.outcome, verdict.facts, self.policy)
        if decision.response is None:
            return None
        return _flask_response(decision.response)

    def _handle_error(self, error: SessionGateError) -> Response:
        verdict = request.environ.get(ENVIRON_VERDICT)
        facts = verdict.facts if isinstance(verdict, Verdict) else environ_facts(request.environ)
        return _flask_response(self.policy.render(error, facts.credential_sent))


def _flask_response(rendered: ErrorResponse) -> Response:
    return Response(rendered.body, status=rendered.status, headers=list(rendered.headers))


def _extension() -> SessionGateFlask:
    ext = current_app.extensions.get(_EXTENSION)
    if not isinstance(ext, SessionGateFlask):
        raise ConfigurationError("SessionGateFlask is not initialised on this app")
    return ext


def _get_user() -> Any:
    user = request.environ.get(ENVIRON_USER)
    if user is None:
        return AnonymousUser(error=ConfigurationError("SessionGateFlask is not initialised"))
    return user


current_user: Any = LocalProxy(_get_user)
"""The request's user: a ``User`` or an ``AnonymousUser`` (``is_authenticated`` is ``False``)."""


def _guarded(requirement: Requirement) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            error = requirement.unmet(_get_user(), _extension().policy.hierarchy)
            if error is not None:
                raise error
            return view(*args, **kwargs)

        return wrapper

    return decorator


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    """Require an authenticated user (401 with the precise reason otherwise)."""
    return _guarded(AUTHENTICATED)(view)


def roles_required(*roles: str, mode: Mode = "all") -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Require the roles (``mode="any"``: one of them), through the extension's hierarchy."""
    if not roles:
        raise ConfigurationError("roles_required needs at least one role")
    return _guarded(Requirement(roles=roles, roles_mode=mode))


def permissions_required(
    *permissions: str, mode: Mode = "all"
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Require the permissions (``mode="any"``: one of them)."""
    if not permissions:
        raise ConfigurationError("permissions_required needs at least one permission")
    return _guarded(Requirement(permissions=permissions, permissions_mode=mode))


def requirement_required(requirement: Requirement) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Require a :class:`~sessiongate.guards.Requirement` (fresh session, no impersonation,
    access-control statements...)."""
    if not isinstance(requirement, Requirement):
        raise ConfigurationError("requirement_required takes a sessiongate.guards.Requirement")
    return _guarded(requirement)
