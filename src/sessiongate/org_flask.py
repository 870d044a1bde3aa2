"""Organization guards on Flask (:mod:`sessiongate.organizations` decides).

.. code-block:: python

    orgs = OrgDirectory(store)

    @app.post("/orgs/<org_id>/members")
    @org_required(require_org_permission({"member": ["create"]},
                                         org=org_from_path("org_id"), directory=orgs))
    def add_member(org_id): ...

Needs :class:`~sessiongate.flask.SessionGateFlask` on the app: the user is its
``current_user``, refusals are raised as :class:`~sessiongate.errors.SessionGateError` and
rendered by the extension (401, 403, 503 on a database outage). The :class:`Membership` is
left in ``flask.g.membership``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from ._extras import missing_extra

try:
    from flask import g, request
except ModuleNotFoundError as err:
    raise missing_extra(err, "flask") from None

from .errors import ConfigurationError
from .flask import current_user
from .guards import AUTHENTICATED
from .organizations import OrgGuard

__all__ = ["org_required"]

P = ParamSpec("P")
R = TypeVar("R")


def org_required(guard: OrgGuard) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the view only when the user's membership in the organization the request names
    (a view argument, a header, or the active one) satisfies ``guard``."""
    if not isinstance(guard, OrgGuard):
        raise ConfigurationError("org_required needs an OrgGuard (require_org_role...)")

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            user = current_user._get_current_object()
            AUTHENTICATED.check(user)
            headers = {k.lower(): v for k, v in request.headers.items()}
            g.membership = guard.check_sync(user, request.view_args or {}, headers)
            return view(*args, **kwargs)

        return wrapper

    return decorator
