"""Optional mapping of a verified session to a row of a local Django user model.

For teams that keep local profiles next to the Next.js users::

    SESSIONGATE = {
        ...,
        "LOCAL_USER": {"FIELD": "email", "CLAIM": "email"},   # read-only lookup
        # "LOCAL_USER": {"FIELD": "external_id", "CREATE": True},   # create on first sight
    }

``request.user.local_user`` (sync) or ``await request.user.alocal_user()`` (async) is then the
row whose ``FIELD`` equals the session's ``CLAIM`` (``id`` by default: the user id; ``email``,
``name`` or any claim name). The lookup is read-only unless ``CREATE`` is ``True``: then a
missing row is created on first sight with only that field set (and an unusable password when
the model has passwords, so the row never logs in by password). ``MODEL`` defaults to
``AUTH_USER_MODEL``. The row is looked up when first asked for, once per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, models, transaction

from ..errors import ConfigurationError

__all__ = ["LocalUserMapping"]

_KEYS = frozenset({"MODEL", "FIELD", "CLAIM", "CREATE"})
_USER_FIELDS = frozenset({"id", "email", "name", "image"})


@dataclass(frozen=True, slots=True)
class LocalUserMapping:
    """Which local row belongs to a session user.

    Attributes:
        model: ``"app_label.ModelName"`` (default ``AUTH_USER_MODEL``).
        field: the model field holding the value (``"email"``, ``"external_id"``...).
        claim: where the value comes from: ``id``, ``email``, ``name``, ``image`` (the user's
            fields) or any other claim name.
        create: create the row when missing (off: a read-only lookup, ``None`` when missing).
    """

    field: str
    claim: str = "id"
    model: str | None = None
    create: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not self.field:
            raise ConfigurationError("LOCAL_USER needs FIELD: the model field to look up")
        if not isinstance(self.claim, str) or not self.claim:
            raise ConfigurationError("LOCAL_USER['CLAIM'] must be a claim name")
        if self.model is not None and (not isinstance(self.model, str) or "." not in self.model):
            raise ConfigurationError("LOCAL_USER['MODEL'] must be 'app_label.ModelName'")
        if not isinstance(self.create, bool):
            raise ConfigurationError("LOCAL_USER['CREATE'] must be True or False")

    @classmethod
    def from_setting(cls, raw: object) -> LocalUserMapping:
        """Validate ``settings.SESSIONGATE["LOCAL_USER"]``."""
        if not isinstance(raw, Mapping):
            raise ConfigurationError("settings.SESSIONGATE['LOCAL_USER'] must be a dict")
        unknown = sorted(str(k) for k in raw if k not in _KEYS)
        if unknown:
            raise ConfigurationError(f"unknown LOCAL_USER key(s): {', '.join(unknown)}")
        return cls(
            field=raw.get("FIELD", ""),
            claim=raw.get("CLAIM", "id"),
            model=raw.get("MODEL"),
            create=raw.get("CREATE", False),
        )

    def model_class(self) -> type[models.Model]:
        """The model class (resolved when first needed: apps must be ready)."""
        label = self.model or settings.AUTH_USER_MODEL
        try:
            model = apps.get_model(label, require_ready=True)
        except (LookupError, ValueError) as err:
            raise ConfigurationError(f"LOCAL_USER model {label!r} is not installed") from err
        try:
            model._meta.get_field(self.field)
        except Exception as err:
            raise ConfigurationError(f"{label} has no field {self.field!r}") from err
        return model

    def value(self, user: Any) -> Any:
        """The session user's value for :attr:`field`; ``None`` when it has none."""
        if self.claim in _USER_FIELDS:
            value = getattr(user, self.claim, None)
        else:
            claims = getattr(user, "claims", None)
            value = claims.get(self.claim) if isinstance(claims, Mapping) else None
        if value is None or value == "" or isinstance(value, (bool, dict, list)):
            return None
        return value

    def _new(self, model: type[models.Model], value: Any) -> models.Model:
        row = model(**{self.field: value})
        set_unusable = getattr(row, "set_unusable_password", None)
        if callable(set_unusable):
            set_unusable()
        return row

    def lookup(self, user: Any) -> models.Model | None:
        """The row of ``user`` (created when ``create`` and missing), or ``None``."""
        value = self.value(user)
        if value is None:
            return None
        model = self.model_class()
        manager = model._default_manager
        row = manager.filter(**{self.field: value}).first()
        if row is not None or not self.create:
            return row
        try:
            with transaction.atomic(using=manager.db):
                new = self._new(model, value)
                new.save(force_insert=True)
                return new
        except IntegrityError:  # created meanwhile by a concurrent request
            return manager.filter(**{self.field: value}).first()

    async def alookup(self, user: Any) -> models.Model | None:
        """:meth:`lookup` for async code."""
        from asgiref.sync import sync_to_async

        return await sync_to_async(self.lookup, thread_sensitive=True)(user)
