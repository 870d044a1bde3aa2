"""Issue #9 item 10 (headers and nested claims): nothing handed out from a cache can be changed.

Parsed JOSE headers are cached per process and verified claims per token; before the fix
``decode_full().header`` was the process-wide dict (mutate it and every later token with that
header failed), and nested claims (``user: {...}``, ``roles: [...]``) were shared between the
callers that presented the same token.
"""

from __future__ import annotations

import asyncio
import copy
import json
import pickle
from datetime import UTC, datetime, timedelta

import pytest

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.sessions import DatabaseSession
from sessiongate.stores.base import SessionRecord
from sessiongate.testing import mint_authjs_v5, mint_hs256
from sessiongate.user import FrozenDict, FrozenList, thaw_claims

S = "frozen-secret-0123456789abcdef0123456789"
NOW = 1_800_000_000
V5 = "authjs.session-token"
CLAIMS = {"sub": "u1", "user": {"role": "user", "orgs": ["a"]}, "roles": ["user"]}


def test_mutating_a_decoded_jwe_header_cannot_break_later_tokens():
    verifier = AuthJSToken(S, clock=lambda: NOW)
    first = verifier.decode_full(mint_authjs_v5(CLAIMS, S, now=NOW), cookie_name=V5)
    with pytest.raises(TypeError):
        first.header["enc"] = "A128GCM"  # type: ignore[index]
    with pytest.raises(TypeError):
        first.header["kid"] = "someone-else"  # type: ignore[index]
    later = mint_authjs_v5({"sub": "u2"}, S, now=NOW)  # the same header bytes
    assert verifier.decode(later, cookie_name=V5)["sub"] == "u2"
    assert AuthJSToken(S, cache_size=0).decode_full(later, cookie_name=V5, now=NOW).header[
        "enc"
    ] == ("A256CBC-HS512")


def test_mutating_a_decoded_jws_header_cannot_break_later_tokens():
    verifier = BearerJWT(S, clock=lambda: NOW)
    first = verifier.decode_full(mint_hs256(CLAIMS, S, now=NOW))
    with pytest.raises(TypeError):
        first.header["alg"] = "none"  # type: ignore[index]
    assert verifier.decode(mint_hs256({"sub": "u2"}, S, now=NOW))["sub"] == "u2"


def test_decoded_record_fields_cannot_be_replaced():
    verifier = AuthJSToken(S, clock=lambda: NOW)
    token = mint_authjs_v5(CLAIMS, S, now=NOW)
    record = verifier.decode_full(token, cookie_name=V5)
    with pytest.raises(AttributeError):
        record.claims = {"sub": "admin"}  # type: ignore[misc]
    assert verifier.decode_full(token, cookie_name=V5).claims["sub"] == "u1"


def test_one_caller_mutating_nested_claims_cannot_corrupt_the_next_callers_claims():
    verifier = AuthJSToken(S, clock=lambda: NOW)
    token = mint_authjs_v5(CLAIMS, S, now=NOW)
    mine = verifier.decode(token, cookie_name=V5)
    mine["user"]["role"] = "admin"  # the caller's own copy: plain, mutable
    mine["roles"].append("admin")
    again = verifier.decode(token, cookie_name=V5)  # a cache hit
    assert again["user"] == {"role": "user", "orgs": ["a"]} and again["roles"] == ["user"]
    record = verifier.decode_full(token, cookie_name=V5)
    with pytest.raises(TypeError):
        record.claims["user"]["role"] = "admin"
    with pytest.raises(TypeError):
        record.claims["user"]["orgs"].append("evil")
    assert verifier.decode(token, cookie_name=V5)["user"]["orgs"] == ["a"]


def test_one_request_mutating_user_claims_cannot_corrupt_the_next_requests_user():
    gate = SessionGate(AuthJSToken(S), clock=lambda: NOW)
    token = mint_authjs_v5(CLAIMS, S, now=NOW)
    first = gate.authenticate_sync({"cookie": f"{V5}={token}"}).user
    for mutate in (
        lambda c: c["user"].__setitem__("role", "admin"),
        lambda c: c["user"].update(role="admin"),
        lambda c: c["user"]["orgs"].append("evil"),
        lambda c: c["roles"].extend(["admin"]),
        lambda c: c["roles"].__setitem__(0, "admin"),
    ):
        with pytest.raises(TypeError):
            mutate(first.claims)
    # another request with the same token (a memo miss, a token-cache hit)
    second = gate.authenticate_sync({"cookie": f"theme=dark; {V5}={token}"}).user
    assert second.claims["user"] == {"role": "user", "orgs": ["a"]}
    assert second.claims["roles"] == ["user"] and second.roles == {"user"}


class OneRecordStore:
    def __init__(self) -> None:
        self.record = SessionRecord(
            "db-token-0123456789",
            "u1",
            datetime.now(UTC) + timedelta(days=1),
            extra={"permissions": ["read"], "profile": {"team": "a"}},
        )

    async def load(self, token: str) -> SessionRecord | None:
        return self.record if token == self.record.session_token else None

    async def aclose(self) -> None:
        return None


def test_one_request_mutating_database_claims_cannot_corrupt_the_cached_record():
    gate = SessionGate(DatabaseSession(OneRecordStore()))
    headers = {"cookie": f"{V5}=db-token-0123456789"}
    first = asyncio.run(gate.authenticate(headers)).user
    with pytest.raises(TypeError):
        first.claims["permissions"].append("admin")
    with pytest.raises(TypeError):
        first.claims["profile"]["team"] = "b"
    second = asyncio.run(gate.authenticate(headers)).user  # the store's cache hit
    assert second.claims["permissions"] == ["read"] and second.permissions == {"read"}


def test_frozen_claims_stay_json_lists_and_dicts():
    record = AuthJSToken(S, clock=lambda: NOW).decode_full(
        mint_authjs_v5(CLAIMS, S, now=NOW), cookie_name=V5
    )
    nested = record.claims["user"]
    assert isinstance(nested, dict) and isinstance(nested, FrozenDict)
    assert isinstance(nested["orgs"], list) and isinstance(nested["orgs"], FrozenList)
    assert json.loads(json.dumps(dict(record.claims)))["user"] == CLAIMS["user"]
    assert copy.deepcopy(nested) == nested and pickle.loads(pickle.dumps(nested)) == nested
    thawed = thaw_claims(record.claims)
    thawed["user"]["orgs"].append("b")
    assert type(thawed["user"]) is dict and record.claims["user"]["orgs"] == ["a"]
