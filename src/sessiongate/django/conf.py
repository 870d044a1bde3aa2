"""The settings reader: ``settings.SESSIONGATE`` over the environment, read once per process.

.. code-block:: python

    SESSIONGATE = {
        "AUTH_SECRET": env("AUTH_SECRET"),          # any variable SessionGate.from_env reads
        "DATABASE_URL": None,                       # None: unset, even if the environment has it
        "TRUSTED_ORIGINS": ["https://app.example.com"],  # WebPolicy options, upper case
        "ROLE_HIERARCHY": {"admin": ["staff"]},
    }

Keys, all upper case:

* the environment variables :meth:`SessionGate.from_env <sessiongate.gate.SessionGate.from_env>`
  reads (``AUTH_SECRET``, ``AUTH_SECRET_1..3``, ``NEXTAUTH_SECRET``, ``SESSIONGATE_JWT_SECRET``,
  ``JWT_SECRET``, ``DATABASE_URL``, ``SESSIONGATE_SCHEMA``, ``BETTER_AUTH_SECRET``,
  ``SESSIONGATE_JWKS_URL``...), as strings; a name missing here is read from the environment,
  a name set to ``None`` is not read at all;
* ``GATE``: a ready :class:`~sessiongate.gate.SessionGate`, or the dotted path of one or of a
  function returning one (replaces the variables above); ``GATE_OPTIONS``: keyword options for
  the gate built from the variables (``memo_size``, ``claim_mapping``...);
* the :class:`~sessiongate.policy.WebPolicy` fields in upper case (``CSRF``,
  ``WEBSOCKET_ORIGIN_CHECK``, ``TRUSTED_ORIGINS``, ``TRUST_FORWARDED``, ``ALLOW_QUERY_TOKEN``,
  ``QUERY_PARAM``, ``ROLE_HIERARCHY``, ``BLOCK_ON_OUTAGE``, ``RETRY_AFTER``, ``REALM``,
  ``ERROR_RENDERER``), or ``POLICY``: a ready ``WebPolicy`` they override.
  ``TRUSTED_ORIGINS`` defaults to Django's ``CSRF_TRUSTED_ORIGINS``;
* ``LOCAL_USER``: the optional mapping to a local user model (:mod:`sessiongate.django.local`).

A key nothing reads (a typo) is a :class:`~sessiongate.errors.ConfigurationError` when the
configuration is first needed (the first request, or :func:`get_config` in ``AppConfig.ready``).
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from ..config import GateConfig
from ..errors import ConfigurationError
from ..gate import SessionGate
from ..policy import WebPolicy, build_policy
from .local import LocalUserMapping

__all__ = ["SETTING", "DjangoConfig", "get_config", "reset_config"]

SETTING = "SESSIONGATE"
"""The name of the Django setting."""

_POLICY_FIELDS = {f.name.upper(): f.name for f in dataclasses.fields(WebPolicy) if f.init}
_ADAPTER_KEYS = frozenset({"GATE", "GATE_OPTIONS", "POLICY", "LOCAL_USER", *_POLICY_FIELDS})


@dataclass(frozen=True, slots=True)
class DjangoConfig:
    """The gate, the web policy and the local-user mapping of this Django project."""

    gate: SessionGate
    policy: WebPolicy
    local_user: LocalUserMapping | None = None


class _RecordingEnviron(Mapping[str, str]):
    """An environment recording which variables the reader asked for."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return self._values.get(key, default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _gate(raw: Mapping[str, Any]) -> SessionGate:
    variables = {k: v for k, v in raw.items() if k not in _ADAPTER_KEYS}
    gate_spec = raw.get("GATE")
    if gate_spec is not None:
        if variables:
            raise ConfigurationError(
                f"settings.{SETTING}: GATE replaces the variables "
                f"({', '.join(sorted(variables))}); give one or the other"
            )
        if "GATE_OPTIONS" in raw:
            raise ConfigurationError(f"settings.{SETTING}: GATE_OPTIONS applies without GATE only")
        return _resolve_gate(gate_spec)
    for name, value in variables.items():
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"settings.{SETTING}[{name!r}] must be a string or None")
    merged = {k: v for k, v in os.environ.items() if k not in variables}
    merged.update({k: v for k, v in variables.items() if v is not None})
    unknown = sorted(set(variables) - _known_variables())
    if unknown:
        raise ConfigurationError(
            f"settings.{SETTING} has key(s) that no option reads (a typo?): {', '.join(unknown)}"
        )
    options = raw.get("GATE_OPTIONS") or {}
    if not isinstance(options, Mapping):
        raise ConfigurationError(f"settings.{SETTING}['GATE_OPTIONS'] must be a dict")
    return SessionGate.from_env(merged, **options)


def _known_variables() -> frozenset[str]:
    """Every variable the gate reader asks for (read from an empty environment, where every
    fallback is asked as well): the reader itself is the list, there is no second copy."""
    environ = _RecordingEnviron({})
    GateConfig.from_sources(environ=environ)
    return frozenset(environ.asked)


def _resolve_gate(spec: Any) -> SessionGate:
    target = import_string(spec) if isinstance(spec, str) else spec
    if not isinstance(target, SessionGate) and callable(target):
        target = target()
    if not isinstance(target, SessionGate):
        raise ConfigurationError(
            f"settings.{SETTING}['GATE'] must be a SessionGate, or the path of one or of a "
            "function returning one"
        )
    return target


def _policy(raw: Mapping[str, Any]) -> WebPolicy:
    options = {_POLICY_FIELDS[k]: v for k, v in raw.items() if k in _POLICY_FIELDS}
    if "trusted_origins" not in options:
        options["trusted_origins"] = tuple(getattr(settings, "CSRF_TRUSTED_ORIGINS", ()) or ())
    base = raw.get("POLICY")
    return build_policy(base, options)


def _load() -> DjangoConfig:
    raw = getattr(settings, SETTING, None)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"settings.{SETTING} must be a dict")
    bad = sorted(k for k in raw if not isinstance(k, str) or k != k.upper())
    if bad:
        raise ConfigurationError(f"settings.{SETTING} keys are upper case: {bad!r}")
    policy = _policy(raw)
    local = raw.get("LOCAL_USER")
    mapping = None if local is None else LocalUserMapping.from_setting(local)
    return DjangoConfig(gate=_gate(raw), policy=policy, local_user=mapping)


_lock = threading.Lock()
_config: DjangoConfig | None = None


def get_config() -> DjangoConfig:
    """The project's configuration, built on first use and kept for the process.

    Raises :class:`~sessiongate.errors.ConfigurationError` for a wrong setting. Call it from
    ``AppConfig.ready()`` to fail at start-up rather than on the first request.
    """
    global _config
    config = _config
    if config is None:
        with _lock:
            if _config is None:
                _config = _load()
            config = _config
    return config


def reset_config() -> None:
    """Forget the configuration (read again on next use); done when the setting changes."""
    global _config
    with _lock:
        _config = None


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING, "CSRF_TRUSTED_ORIGINS", "AUTH_USER_MODEL"):
        reset_config()


setting_changed.connect(_on_setting_changed, dispatch_uid="sessiongate.django.conf")
