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
:class:`~sessiongate.wsgi.SessionGateWSGIMiddleware` with the same gate). Failures are answered
as JSON ``{"error": code, "message": ...}`` with 401 (+ ``WWW-Authenticate``), 403 or 503. The
CSRF policy of :mod:`sessiongate.origins` applies to cookie-authenticated writes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar

from flask import Flask, Response, current_app, request
from werkzeug.local import LocalProxy

from .errors import ConfigurationError, SessionGateError
from .gate import SessionGate
from .guards import Mode, Requirement, RoleHierarchy
from .responses import ErrorRenderer, default_renderer
from .user import AnonymousUser
from .wsgi import ENVIRON_USER, WSGISettings, resolve_environ

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
        csrf, trusted_origins, trust_forwarded: CSRF policy for cookie-authenticated writes.
        role_hierarchy: used by :func:`roles_required`.
        block_on_outage: answer 503 before the view when the provider is down (default).
        retry_after, realm, error_renderer: response options.
    """

    def __init__(
        self,
        app: Flask | None = None,
        gate: SessionGate | None = None,
        *,
        csrf: bool = True,
        trusted_origins: Iterable[str] = (),
        trust_forwarded: bool = False,
        role_hierarchy: RoleHierarchy | Mapping[str, Iterable[str]] | None = None,
        block_on_outage: bool = True,
        retry_after: int | None = None,
        realm: str | None = None,
        error_renderer: ErrorRenderer | None = None,
    ) -> None:
        if gate is None:
            raise ConfigurationError("SessionGateFlask needs a gate")
        self.settings = WSGISettings.build(
            gate,
            csrf=csrf,
            trusted_origins=trusted_origins,
            trust_forwarded=trust_forwarded,
            role_hierarchy=role_hierarchy,
            block_on_outage=block_on_outage,
        )
        self.render: ErrorRenderer = default_renderer(
            error_renderer, realm=realm, retry_after=retry_after
        )
        if app is not None:
            self.init_app(app)

    @property
    def hierarchy(self) -> RoleHierarchy | None:
        """The role hierarchy used by :func:`roles_required`."""
        return self.settings.hierarchy

    def __repr__(self) -> str:
        return f"SessionGateFlask(gate={self.settings.gate!r})"

    def init_app(self, app: Flask) -> None:
        """Register the before-request hook and the JSON error handler on ``app``."""
        app.extensions[_EXTENSION] = self
        app.before_request(self._before_request)
        app.register_error_handler(SessionGateError, self._handle_error)

    def _before_request(self) -> None:
        resolution = resolve_environ(request.environ, self.settings)
        if resolution.reject is not None:
            raise resolution.reject

    def _handle_error(self, error: SessionGateError) -> Response:
        state = request.environ.get("sessiongate.state")
        sent = bool(getattr(state, "credential_sent", False))
        rendered = self.render(error, sent)
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


def _guarded(requirement: Requirement | None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            ext = _extension()
            req = requirement or Requirement()
            if req.roles and req.hierarchy is None and ext.hierarchy is not None:
                req = Requirement(
                    req.roles, req.permissions, req.roles_mode, req.permissions_mode, ext.hierarchy
                )
            req.check(_get_user())
            return view(*args, **kwargs)

        return wrapper

    return decorator


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    """Require an authenticated user (401 with the precise reason otherwise)."""
    return _guarded(None)(view)


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
