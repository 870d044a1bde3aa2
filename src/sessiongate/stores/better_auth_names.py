"""How Better Auth names its tables and columns: ``usePlural``, ``modelName``, ``fields`` (pure).

better-auth 1.7 (``@better-auth/core`` ``db/adapter/get-model-name.mjs``, ``get-field-name.mjs``):
a model's table is its ``modelName`` (default ``user``, ``session``...), with an ``s`` appended
when the adapter has ``usePlural: true``, custom names included; a field's column is its
``fieldName`` from ``fields`` (default the logical name). Better Auth's Drizzle generator
(``@better-auth/cli generate`` without ``camelCase: true``) then snake-cases both
(``convertToSnakeCase``). :meth:`~sessiongate.stores.schema.SchemaMapping.for_better_auth` turns
the result into a mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal, TypedDict

from ..errors import ConfigurationError

__all__ = ["BetterAuthNames", "better_auth_names"]


class BetterAuthNames(TypedDict):
    """The names :class:`~sessiongate.stores.schema.SchemaMapping` takes."""

    session_table: str
    user_table: str
    session_token: str
    session_user_id: str
    session_expires: str
    user_id: str
    user_name: str
    user_email: str
    user_image: str
    user_email_verified: str


_BA_SESSION_FIELDS = frozenset({"token", "userId", "expiresAt"})
_BA_USER_FIELDS = frozenset({"name", "email", "image", "emailVerified"})
# the fields of Better Auth's core models that sessiongate does not read but a config may rename
_BA_OTHER_FIELDS = {
    "session": frozenset({"id", "createdAt", "updatedAt", "ipAddress", "userAgent"}),
    "user": frozenset({"id", "createdAt", "updatedAt"}),
}


def _snake(name: str) -> str:
    """``expiresAt`` -> ``expires_at``, ``APIKey`` -> ``api_key``: ``convertToSnakeCase`` of
    Better Auth's Drizzle generator (``@better-auth/cli``), which names tables and columns."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _better_auth_fields(
    given: Mapping[str, str] | None, read: frozenset[str], model: str
) -> Mapping[str, str]:
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise ConfigurationError(f"{model}_fields must be a mapping of field name to column")
    known = read | _BA_OTHER_FIELDS[model]
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigurationError(
            f"{model}_fields names fields the {model} model does not have: {unknown} "
            f"(known: {sorted(known)})"
        )
    return {k: v for k, v in given.items() if k in read}


def better_auth_names(
    *,
    use_plural: bool,
    session_model: str,
    user_model: str,
    session_fields: Mapping[str, str] | None,
    user_fields: Mapping[str, str] | None,
    columns: Literal["camel", "snake"],
) -> BetterAuthNames:
    """The table and column names of the session and user models, as
    :class:`~sessiongate.stores.schema.SchemaMapping` arguments."""
    if columns not in ("camel", "snake"):
        raise ConfigurationError("columns must be 'camel' or 'snake'")
    plural = "s" if use_plural else ""
    session = _better_auth_fields(session_fields, _BA_SESSION_FIELDS, "session")
    user = _better_auth_fields(user_fields, _BA_USER_FIELDS, "user")

    def name(written: str) -> str:
        return _snake(written) if columns == "snake" else written

    return {
        "session_table": name(session_model + plural),
        "user_table": name(user_model + plural),
        "session_token": name(session.get("token", "token")),
        "session_user_id": name(session.get("userId", "userId")),
        "session_expires": name(session.get("expiresAt", "expiresAt")),
        "user_id": "id",
        "user_name": name(user.get("name", "name")),
        "user_email": name(user.get("email", "email")),
        "user_image": name(user.get("image", "image")),
        "user_email_verified": name(user.get("emailVerified", "emailVerified")),
    }
