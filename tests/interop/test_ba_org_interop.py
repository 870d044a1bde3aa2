"""Better Auth's organization and api-key plugins, real and at test time, against sessiongate.

tests/interop/db/ba_org.mjs runs better-auth 1.7.25 with admin(), organization() (dynamic
access control on), apiKey() (@better-auth/api-key 1.7.5) and bearer() on a throwaway
PostgreSQL schema and on an SQLite file: it signs users up, creates an organization with a
member of each role (one with two roles, one whose role column has blanks, one with a dynamic
role), and API keys enabled, disabled, expired, with permissions, exhausted, with a quota, and
owned by a user who is then deleted. sessiongate decides each case first; then the plugins'
own checks (``/organization/has-permission``, the api-key session hook, ``verifyApiKey``)
must agree.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sessiongate.access import Role
from sessiongate.apikeys import (
    ApiKeyDisabledError,
    ApiKeyExpiredError,
    ApiKeyUsageExceededError,
    ApiKeyVerifier,
    judge_api_key,
)
from sessiongate.ba_detect import detect_presence
from sessiongate.errors import SessionGateError
from sessiongate.organizations import OrgDirectory, default_roles
from sessiongate.stores import PRESETS

from .db_driver import call, temp_schema

BA_ORG = Path(__file__).resolve().parent / "db" / "ba_org.mjs"
SECRET = "interop-better-auth-org-secret-0123456789"

REQUESTS: list[dict[str, list[str]]] = [
    {"organization": ["update"]},
    {"organization": ["delete"]},
    {"member": ["create"]},
    {"member": ["create", "delete"]},
    {"invitation": ["cancel"]},
    {"ac": ["read"]},
    {"ac": ["read"], "member": ["create"]},
    {"project": ["read"]},
    {"project": ["write"]},
    {"team": ["create"], "organization": ["delete"]},
]
USERS = ("owner", "admin", "member", "multi", "spaced", "auditor", "outsider")
KEY_LABELS = (
    "plain",
    "perms",
    "disabled",
    "expired",
    "future",
    "exhausted",
    "quota",
    "orphan",
)
KEY_PERMISSION_CHECKS = [
    ("plain", {"project": ["read"]}),
    ("perms", {"project": ["read"]}),
    ("perms", {"project": ["write"]}),
    ("perms", {"member": ["create"]}),
    ("future", None),
]
JS_CODE = {
    ApiKeyDisabledError: "KEY_DISABLED",
    ApiKeyExpiredError: "KEY_EXPIRED",
    ApiKeyUsageExceededError: "USAGE_EXCEEDED",
}


def _oracle(node_bin: str, op: str, target: dict[str, Any], **params: Any) -> Any:
    return call(node_bin, op, script=BA_ORG, secret=SECRET, **target, **params)


async def _python_side(store: Any, setup: dict[str, Any]) -> dict[str, Any]:
    """Every decision sessiongate makes, before the plugins spend or delete anything."""
    presence = await detect_presence(store)
    roles = dict(default_roles())
    roles["owner"] = Role({**roles["owner"].statements, "project": ("read", "write")})
    orgs = OrgDirectory(store, cache_ttl=0, dynamic_roles=True, roles=roles)
    keys = ApiKeyVerifier(store, cache_ttl=0, negative_cache_ttl=0)
    now = time.time()
    permissions = []
    for name in USERS:
        member = await orgs.membership(setup["orgId"], setup["users"][name]["id"])
        for request in REQUESTS:
            permissions.append(member is not None and member.allows(request))
    sessions = []
    for label in KEY_LABELS:
        try:
            result = keys.result(await keys.lookup(setup["keys"][label]["key"]), now)
            sessions.append((True, result.user.id, None))
        except SessionGateError as err:
            sessions.append((False, None, JS_CODE.get(type(err))))
    checks = []
    for label, request in KEY_PERMISSION_CHECKS:
        record = await keys.lookup(setup["keys"][label]["key"])
        checks.append(judge_api_key(record, now, permissions=request) is None)
    await store.aclose()
    return {"presence": presence, "permissions": permissions, "sessions": sessions, "keys": checks}


def _judge(node_bin: str, target: dict[str, Any], setup: dict[str, Any]) -> dict[str, Any]:
    users = setup["users"]
    return _oracle(
        node_bin,
        "judge",
        target,
        permissions=[
            {"token": users[name]["token"], "orgId": setup["orgId"], "permissions": request}
            for name in USERS
            for request in REQUESTS
        ],
        sessionKeys=[setup["keys"][label]["key"] for label in KEY_LABELS],
        keys=[
            {"key": setup["keys"][label]["key"], "permissions": request}
            for label, request in KEY_PERMISSION_CHECKS
        ],
    )


def _compare(ours: dict[str, Any], theirs: dict[str, Any], setup: dict[str, Any]) -> None:
    assert ours["presence"].admin and ours["presence"].impersonation
    assert ours["presence"].organization and ours["presence"].organization_roles
    assert ours["presence"].api_key
    js_permissions = [p["success"] for p in theirs["permissions"]]
    cases = [(u, r) for u in USERS for r in REQUESTS]
    mismatched = [
        c for c, a, b in zip(cases, ours["permissions"], js_permissions, strict=True) if a != b
    ]
    assert not mismatched, mismatched
    assert sum(js_permissions) >= 10 and not all(js_permissions)  # the grid has both answers
    for label, (ok, user_id, code), js in zip(
        KEY_LABELS, ours["sessions"], theirs["sessions"], strict=True
    ):
        if label == "orphan":
            continue  # its owner is deleted after the first round (below)
        assert ok == (js["status"] == 200), (label, js)
        if ok:
            assert user_id == js["userId"], label
        elif code == "KEY_EXPIRED":
            # the plugin deletes expired keys whenever any key is used
            # (deleteAllExpiredApiKeys), so by its turn the key may already be gone
            assert js["code"] in ("KEY_EXPIRED", "INVALID_API_KEY"), (label, js)
        elif code is not None:
            assert js["code"] == code, (label, js)
    assert ours["keys"] == [k["valid"] for k in theirs["keys"]]


def _from_env(database_url: str, setup: dict[str, Any]) -> None:
    """``SessionGate.from_env`` on the tables the real plugins made: every plugin detected, its
    columns read (no 503 for a column the plugins did not create), sessions verified."""
    from sessiongate.gate import SessionGate

    env = {
        "BETTER_AUTH_SECRET": SECRET,
        "DATABASE_URL": database_url,
        "SESSIONGATE_SCHEMA": "better-auth",
    }
    gate = SessionGate.from_env(env)
    plugins = gate.better_auth_plugins
    assert plugins is not None
    enforced = plugins.enforced
    assert enforced.admin and enforced.organization and enforced.api_key, enforced
    assert enforced.organization_roles and not enforced.teams
    token = setup["users"]["member"]["token"]
    user = gate.authenticate_sync({"authorization": f"Bearer {token}"}).user
    assert user.id == setup["users"]["member"]["id"]
    assert plugins.organizations.membership_sync(setup["orgId"], user.id).roles == ("member",)
    asyncio.run(gate.aclose())


def _run(node_bin: str, target: dict[str, Any], store_factory: Any, url: str) -> None:
    setup = _oracle(node_bin, "setup", target)
    _from_env(url, setup)
    ours = asyncio.run(_python_side(store_factory(), setup))
    theirs = _judge(node_bin, target, setup)
    _compare(ours, theirs, setup)
    # an API key whose owner is gone: the plugin's session hook refuses it, and so do we
    _oracle(node_bin, "deleteUser", target, userId=setup["users"]["outsider"]["id"])

    async def orphan() -> tuple[bool, str | None]:
        store = store_factory()
        keys = ApiKeyVerifier(store, cache_ttl=0)
        try:
            keys.result(await keys.lookup(setup["keys"]["orphan"]["key"]), time.time())
            return True, None
        except SessionGateError as err:
            return False, err.code
        finally:
            await store.aclose()

    ok, code = asyncio.run(orphan())
    js = _oracle(node_bin, "judge", target, sessionKeys=[setup["keys"]["orphan"]["key"]])
    assert not ok and code == "invalid_api_key"
    assert js["sessions"][0]["status"] == 401


@pytest.mark.node
@pytest.mark.postgres
def test_postgres_org_and_api_key_decisions_match_the_plugins(postgres_dsn, node_bin):
    from sessiongate.stores.postgres import PostgresStore

    with temp_schema(postgres_dsn) as schema:
        mapping = replace(PRESETS["better-auth"], db_schema=schema)
        _run(
            node_bin,
            {"dsn": postgres_dsn, "schema": schema},
            lambda: PostgresStore(postgres_dsn, schema=mapping),
            f"{postgres_dsn}?schema={schema}",
        )


@pytest.mark.node
def test_sqlite_org_and_api_key_decisions_match_the_plugins(node_bin, tmp_path):
    from sessiongate.stores.sqlite import SQLiteStore

    path = tmp_path / "ba-org.db"
    path.touch()
    _run(
        node_bin,
        {"sqlite": str(path)},
        lambda: SQLiteStore(path, schema="better-auth"),
        f"sqlite:///{path}",
    )


@pytest.mark.node
def test_remote_verifier_spends_the_quota_on_a_real_better_auth_server(node_bin, tmp_path):
    """The opt-in RemoteApiKeyVerifier against a real better-auth HTTP server: quotas
    (``remaining``) are enforced by the plugin itself, which the read-only verifier cannot."""
    import json
    import os
    import select
    import signal
    import subprocess

    from sessiongate.apikeys_remote import RemoteApiKeyVerifier

    path = tmp_path / "ba-remote.db"
    path.touch()
    target = {"sqlite": str(path)}
    setup = _oracle(node_bin, "setup", target)
    proc = subprocess.Popen(
        [node_bin, str(BA_ORG)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin", "NODE_ENV": "test"},
        start_new_session=True,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"op": "serve", "secret": SECRET, **target}))
        proc.stdin.close()
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "the better-auth server did not start within 60 s"
        answer = json.loads(proc.stdout.readline())
        assert answer["ok"], answer
        port = answer["result"]["port"]
        remote = RemoteApiKeyVerifier(f"http://127.0.0.1:{port}", allow_http=True)

        async def ask(label: str) -> tuple[bool, str | None]:
            try:
                result = await remote.authenticate({"x-api-key": setup["keys"][label]["key"]})
            except SessionGateError as err:
                return False, err.code
            assert result is not None
            return True, result.user.id

        async def main() -> list[tuple[bool, str | None]]:
            answers = [await ask("quota") for _ in range(6)]
            return [*answers, await ask("disabled"), await ask("plain")]

        answers = asyncio.run(main())
        owner, member = setup["users"]["owner"]["id"], setup["users"]["member"]["id"]
        assert answers[:5] == [(True, owner)] * 5  # remaining: 5
        assert answers[5] == (False, "usage_exceeded")
        assert answers[6] == (False, "api_key_disabled")
        assert answers[7] == (True, member)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
