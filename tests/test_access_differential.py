"""sessiongate.access against better-auth itself, computed by Node at test time.

Generated role tables, requests (action lists, ``{actions, connector}`` objects, empty and
non-string actions, malformed values, integer-like resource names that JavaScript visits
first) and connectors go to tests/interop/access/ba_access.mjs, which answers with
``createAccessControl(...).newRole(...).authorize(...)`` from ``better-auth/plugins/access``,
the admin plugin's own ``hasPermission`` (several comma-joined roles) and the organization
plugin's ``parseRoles``. sessiongate must give the same answer to every case: the same
``success`` and the same ``error`` text; where the JS throws, sessiongate raises.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sessiongate.access import (
    Role,
    has_permission,
    parse_roles_admin,
    parse_roles_org,
    roles_from_mapping,
)
from sessiongate.errors import ConfigurationError

pytestmark = [pytest.mark.node]

ORACLE = Path(__file__).resolve().parent / "interop" / "access" / "ba_access.mjs"
RESOURCES = ["user", "session", "project", "billing", "1", "10", "0", "01", "2"]
ACTIONS = ["create", "read", "update", "delete", "ban", "list"]
ROLE_NAMES = [f"r{i}" for i in range(8)]
# JS throws a TypeError on these (an Object.prototype member is "found"); both refuse
PROTOTYPE_NAMES = ["constructor", "toString", "__proto__", "hasOwnProperty"]


def _grants(rng: random.Random) -> dict[str, list[str]]:
    chosen = rng.sample(RESOURCES, rng.randint(0, 4))
    return {r: rng.sample(ACTIONS, rng.randint(0, 4)) for r in chosen}


def _actions(rng: random.Random) -> Any:
    pick = rng.random()
    names: list[Any] = rng.sample([*ACTIONS, "nope"], rng.randint(0, 3))
    if rng.random() < 0.1:
        names.append(rng.choice([1, None, True]))
    if pick < 0.55:
        return names
    if pick < 0.85:
        obj: dict[str, Any] = {"actions": names}
        connector = rng.choice(["AND", "OR", "or", None, "XOR"])
        if connector is not None:
            obj["connector"] = connector
        return obj
    if pick < 0.92:
        return {"connector": "OR", "actions": rng.choice(["read", 3, {"a": 1}])}
    return rng.choice(["read", None, 5])  # JS: "Invalid access control request"


def _request(rng: random.Random) -> dict[str, Any]:
    pool = RESOURCES + (PROTOTYPE_NAMES if rng.random() < 0.05 else [])
    return {r: _actions(rng) for r in rng.sample(pool, rng.randint(0, 4))}


def _role_string(rng: random.Random) -> str:
    names = [rng.choice([*ROLE_NAMES, "nope", "", " r1", "r2 "]) for _ in range(rng.randint(0, 3))]
    return ",".join(names)


def _oracle(node_bin: str, payload: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [node_bin, str(ORACLE)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "NODE_ENV": "test"},
    )
    lines = proc.stdout.strip().split("\n")  # not splitlines(): U+0085 is in the answers
    assert lines, proc.stderr[-2000:]
    answer = json.loads(lines[-1])
    assert answer["ok"], answer.get("error")
    result: dict[str, Any] = answer["result"]
    return result


def _authorize(role: Role, request: dict[str, Any], connector: str | None) -> dict[str, Any]:
    try:
        result = (
            role.authorize(request) if connector is None else role.authorize(request, connector)
        )  # type: ignore[arg-type]
    except ConfigurationError:
        return {"throws": True}
    return {"success": result.success, "error": result.error}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_access_control_matches_better_auth(node_bin: str, seed: int) -> None:
    rng = random.Random(seed)
    roles = {name: _grants(rng) for name in ROLE_NAMES}
    authorize = [
        {"role": rng.choice(ROLE_NAMES), "request": _request(rng), "connector": c}
        for c in ("AND", "OR", None)
        for _ in range(700)
    ]
    multi = [{"role": _role_string(rng), "request": _request(rng)} for _ in range(600)]
    parse = [
        rng.choice([" a , b,,", "owner", "", ",", " \ufeffadmin\t", "x\x1f,\x85y", "a,\u3000b "])
        for _ in range(30)
    ] + [[" a", "b,c "], []]
    js = _oracle(
        node_bin,
        {
            "roles": roles,
            "authorize": [{k: v for k, v in c.items() if v is not None} for c in authorize],
            "multi": multi,
            "parseOrg": parse,
        },
    )
    table = roles_from_mapping(roles)
    mismatches = []
    for case, expected in zip(authorize, js["authorize"], strict=True):
        got = _authorize(table[case["role"]], case["request"], case["connector"])
        if any(k in PROTOTYPE_NAMES for k in case["request"]):
            # JS finds Object.prototype members: it throws, or refuses with another message
            same = (got.get("success") is True) == (expected.get("success") is True)
            assert same, (case, got, expected)
            continue
        if got != expected:
            mismatches.append((case, got, expected))
    for case, expected in zip(multi, js["multi"], strict=True):
        try:
            got: Any = has_permission(parse_roles_admin(case["role"]), case["request"], table)
        except ConfigurationError:
            got = "throws"
        if any(k in PROTOTYPE_NAMES for k in case["request"]):
            assert (got is True) == (expected is True), (case, got, expected)
            continue
        if got != expected:
            mismatches.append((case, got, expected))
    for value, expected in zip(parse, js["parseOrg"], strict=True):
        got_parsed = parse_roles_org(value)
        if got_parsed != (tuple(expected.split(",")) if expected else ()):
            mismatches.append((value, got_parsed, expected))
    assert not mismatches, mismatches[:5]
    # the generator reached every branch of the rules
    outcomes = {json.dumps(e, sort_keys=True)[:40] for e in js["authorize"]}
    assert any('"throws": true' in o for o in outcomes)
    assert any('"success": true' in o for o in outcomes)
    assert any("not allowed to access resource" in (e.get("error") or "") for e in js["authorize"])
    assert any("unauthorized to access" in (e.get("error") or "") for e in js["authorize"])
    assert True in js["multi"] and False in js["multi"]
