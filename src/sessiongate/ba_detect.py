"""Start-up detection of the Better Auth plugins a database shows, and what is then enforced.

``sessiongate serve --schema better-auth`` and :meth:`SessionGate.from_env` are configured
with what the Better Auth app already has (``DATABASE_URL``, ``BETTER_AUTH_SECRET``). At start
they read the database catalog once (:meth:`PluginNames.catalog_sql`: table and column names,
never rows) and enforce what they find:

* **admin** (``user.banned``/``banExpires``): banned users are refused on every lookup;
* **organization** (``member``): ``X-User-Org-Role`` and the org guards read memberships
  (:class:`~sessiongate.organizations.OrgDirectory`), with ``organizationRole`` when present;
* **api-key** (``apikey``): ``x-api-key`` is verified
  (:class:`~sessiongate.apikeys.ApiKeyVerifier`).

Each can be pinned: ``SESSIONGATE_BA_ADMIN``, ``SESSIONGATE_BA_ORGANIZATION``,
``SESSIONGATE_BA_API_KEY`` (or the ``serve`` flags) take ``auto`` (default: enforce when
found), ``on`` (enforce; refuse to start when the tables are missing) or ``off``. A catalog
that cannot be read at start is a :class:`~sessiongate.errors.ProviderUnavailableError`: the
process does not start half-configured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from .errors import ConfigurationError

if TYPE_CHECKING:
    from ._sync import BackgroundLoop
    from .stores.ba_plugins import PluginNames, PluginPresence

# The store-side modules (asyncio, cachetools) load on first use: config.py imports this
# module, and ``import sessiongate`` stays light.

__all__ = [
    "ENV_SWITCHES",
    "BetterAuthPlugins",
    "PluginSwitches",
    "Switch",
    "add_plugin_flags",
    "detect_presence",
    "detect_presence_sync",
]

Switch = Literal["auto", "on", "off"]
ENV_SWITCHES: Mapping[str, str] = {
    "admin": "SESSIONGATE_BA_ADMIN",
    "organization": "SESSIONGATE_BA_ORGANIZATION",
    "api_key": "SESSIONGATE_BA_API_KEY",
}
"""The environment variable that pins each plugin."""


def _switch(value: str | None, what: str) -> Switch:
    text = (value or "auto").strip().lower()
    if text in ("auto", ""):
        return "auto"
    if text in ("on", "1", "true", "yes"):
        return "on"
    if text in ("off", "0", "false", "no"):
        return "off"
    raise ConfigurationError(f"{what} must be auto, on or off, not {value!r}")


@dataclass(frozen=True, slots=True)
class PluginSwitches:
    """How each plugin is chosen: ``auto`` (detected), ``on`` (required) or ``off``."""

    admin: Switch = "auto"
    organization: Switch = "auto"
    api_key: Switch = "auto"
    api_key_header: str = "x-api-key"

    @classmethod
    def from_sources(
        cls,
        *,
        admin: str | None = None,
        organization: str | None = None,
        api_key: str | None = None,
        api_key_header: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> PluginSwitches:
        """Flags over ``SESSIONGATE_BA_*`` (and ``SESSIONGATE_API_KEY_HEADER``)."""
        env = os.environ if environ is None else environ
        given = {"admin": admin, "organization": organization, "api_key": api_key}
        values = {
            name: _switch(given[name] or env.get(var), var) for name, var in ENV_SWITCHES.items()
        }
        header = api_key_header or env.get("SESSIONGATE_API_KEY_HEADER") or "x-api-key"
        return cls(**values, api_key_header=header)

    @classmethod
    def from_args(cls, args: Any, environ: Mapping[str, str] | None = None) -> PluginSwitches:
        """:meth:`from_sources` with the flags :func:`add_plugin_flags` defined."""
        return cls.from_sources(
            admin=args.ba_admin,
            organization=args.ba_organization,
            api_key=args.ba_api_key,
            api_key_header=args.api_key_header,
            environ=environ,
        )

    @property
    def all_off(self) -> bool:
        """Nothing to detect."""
        return self.admin == self.organization == self.api_key == "off"

    def apply(self, found: PluginPresence) -> PluginPresence:
        """What is enforced: ``found`` with ``off`` plugins removed; an ``on`` plugin whose
        tables are missing raises :class:`ConfigurationError`."""
        for name, present in (
            ("admin", found.admin),
            ("organization", found.organization),
            ("api_key", found.api_key),
        ):
            if getattr(self, name) == "on" and not present:
                raise ConfigurationError(
                    f"{ENV_SWITCHES[name]}=on but the database has no {name.replace('_', ' ')} "
                    "plugin tables/columns (run the Better Auth migrations, or set it to auto)"
                )
        return replace(
            found,
            admin=found.admin and self.admin != "off",
            impersonation=found.impersonation and self.admin != "off",
            organization=found.organization and self.organization != "off",
            organization_roles=found.organization_roles and self.organization != "off",
            api_key=found.api_key and self.api_key != "off",
        )


def add_plugin_flags(parser: Any) -> None:
    """``serve``'s ``--ba-admin`` / ``--ba-organization`` / ``--ba-api-key`` (auto, on, off)
    and ``--api-key-header`` (an ``argparse`` parser)."""
    for name, var in ENV_SWITCHES.items():
        parser.add_argument(
            "--ba-" + name.replace("_", "-"),
            choices=("auto", "on", "off"),
            help=f"Better Auth {name.replace('_', '-')} plugin: auto (enforced when its tables "
            f"are found at start, default), on (required) or off ({var})",
        )
    parser.add_argument(
        "--api-key-header",
        help="request header carrying Better Auth API keys (default x-api-key; "
        "SESSIONGATE_API_KEY_HEADER)",
    )


def _names(store: Any, names: PluginNames | None) -> PluginNames:
    from .stores.ba_plugins import PluginNames

    if names is not None:
        return names
    mapping = getattr(store, "schema", None)
    if mapping is None:
        raise ConfigurationError("the store has no schema mapping to detect plugins with")
    return PluginNames(mapping)


async def detect_presence(store: Any, names: PluginNames | None = None) -> PluginPresence:
    """Read the catalog of ``store``'s database: which plugins' tables and columns exist."""
    from .stores.ba_plugins import dialect_of, fetch

    inner = getattr(store, "store", store)
    plugin_names = _names(inner, names)
    rows = await fetch(inner, plugin_names.catalog_sql(dialect_of(inner)), ())
    return plugin_names.presence(rows)


def detect_presence_sync(
    store: Any, names: PluginNames | None = None, loop: BackgroundLoop | None = None
) -> PluginPresence:
    """Blocking :func:`detect_presence`."""
    from ._sync import default_loop
    from .stores.ba_plugins import dialect_of, fetch_sync

    inner = getattr(store, "store", store)
    plugin_names = _names(inner, names)
    query = plugin_names.catalog_sql(dialect_of(inner))
    return plugin_names.presence(fetch_sync(inner, query, (), loop or default_loop()))


@dataclass(frozen=True, slots=True)
class BetterAuthPlugins:
    """What a gate enforces of the Better Auth plugins, built once at start.

    Attributes:
        found: what the catalog showed.
        enforced: ``found`` after the switches.
        organizations: the membership directory (organization plugin enforced), else ``None``.
        api_keys: the ``x-api-key`` verifier (api-key plugin enforced), else ``None``.
    """

    found: PluginPresence
    enforced: PluginPresence
    organizations: Any = None
    api_keys: Any = None

    @classmethod
    def build(
        cls, store: Any, found: PluginPresence, switches: PluginSwitches
    ) -> BetterAuthPlugins:
        """The directory and verifier for what ``switches`` leave of ``found``."""
        enforced = switches.apply(found)
        organizations = api_keys = None
        if enforced.organization:
            from .organizations import OrgDirectory

            organizations = OrgDirectory(store, dynamic_roles=enforced.organization_roles)
        if enforced.api_key:
            from .apikeys import ApiKeyVerifier

            api_keys = ApiKeyVerifier(store, header=switches.api_key_header)
        return cls(found, enforced, organizations, api_keys)

    def describe(self) -> str:
        """The banner line: ``enforced: …; found but off: …``."""
        line = f"Better Auth plugins enforced: {self.enforced.describe()}"
        if self.found != self.enforced:
            line += f" (found: {self.found.describe()})"
        if self.api_keys is not None:
            line += f"; API keys from header {self.api_keys.headers[0]!r}"
        return line
