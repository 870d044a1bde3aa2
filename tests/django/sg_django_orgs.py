"""The Better Auth organization database of the Django test project (``ba_plugin_db``'s rows in
a SQLite file of its own per process) and the organization guards the Ninja operations and the
Channels consumers use."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # ba_plugin_db, for daphne too

from ba_plugin_db import make_db
from sessiongate.organizations import (
    OrgDirectory,
    org_from_header,
    org_from_path,
    require_org_permission,
    require_org_role,
)
from sessiongate.stores import SQLiteStore

DATABASE = make_db(Path(tempfile.mkdtemp(prefix="sg-django-orgs-")) / "ba.db")
directory = OrgDirectory(SQLiteStore(DATABASE, schema="better-auth"), cache_ttl=0)

org_admins = require_org_role("admin", "owner", org=org_from_path("org_id"), directory=directory)
"""An admin or owner of the organization of the URL's ``org_id``."""
org_inviters = require_org_permission(
    {"member": ["create"]}, org=org_from_header(), directory=directory
)
"""A member whose role may invite, in the organization of ``X-Organization-Id``."""
