"""Readiness (``sessiongate.readiness``, the sidecar's ``/readyz``), in-process.

The stores and key sets are asked directly (never through a cache that would hide an outage),
with a deadline, shared by concurrent callers and rate-limited. The real PostgreSQL stop/start
is in tests/test_serve_workers.py.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm

from sessiongate import AuthJSToken, SessionGate
from sessiongate.jwks import JWKSBearer
from sessiongate.readiness import PROBE_TOKEN, ReadinessProbe
from sessiongate.sessions import DatabaseSession
from sessiongate.sidecar import SidecarApp
from stores.helpers import FakeStore

URL = "https://idp.example/jwks"


class Ticks:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def check(probe: ReadinessProbe):
    return asyncio.run(probe.check())


def test_token_only_gate_has_nothing_to_check_and_is_ready():
    probe = ReadinessProbe(SessionGate(AuthJSToken("s" * 32)).authenticators)
    result = check(probe)
    assert probe.dependencies == [] and result.ready
    assert result.to_dict() == {"status": "ready", "checks": []}


def test_store_up_then_down_with_its_error_code_only():
    store = FakeStore()
    probe = ReadinessProbe([DatabaseSession(store)], min_interval=0)
    assert check(probe).to_dict() == {
        "status": "ready",
        "checks": [{"name": "database", "kind": "store", "status": "up"}],
    }
    store.fail = True
    assert check(probe).to_dict() == {
        "status": "unavailable",
        "checks": [
            {
                "name": "database",
                "kind": "store",
                "status": "down",
                "error": "provider_unavailable",
            }
        ],
    }


def test_probe_asks_the_store_not_its_cache():
    store = FakeStore()
    auth = DatabaseSession(store, cache_ttl=60, negative_cache_ttl=60)
    asyncio.run(auth.store.load(PROBE_TOKEN))  # the cache now "knows" the probe token
    store.fail = True
    assert not check(ReadinessProbe([auth])).ready
    assert store.calls == 2


def test_a_store_that_hangs_is_down_after_the_timeout():
    store = FakeStore(delay=5)
    result = check(ReadinessProbe([DatabaseSession(store)], timeout=0.05))
    assert not result.ready and result.checks[0].error == "timeout"


def test_an_unexpected_error_is_down_by_its_type_name():
    class Broken(FakeStore):
        async def load(self, token: str):
            raise RuntimeError("postgresql://user:hunter2@db/app")

    result = check(ReadinessProbe([DatabaseSession(Broken())]))
    assert result.checks[0].error == "RuntimeError"
    assert "hunter2" not in str(result.to_dict())


def test_concurrent_checks_share_one_round_and_results_are_reused():
    store = FakeStore(delay=0.05)
    ticks = Ticks()
    probe = ReadinessProbe([DatabaseSession(store)], min_interval=1.0, clock=ticks)

    async def many() -> list:
        return await asyncio.gather(*(probe.check() for _ in range(20)))

    results = asyncio.run(many())
    assert store.calls == 1 and all(r is results[0] for r in results)
    check(probe)
    assert store.calls == 1  # within min_interval
    ticks.t += 1.5
    check(probe)
    assert store.calls == 2


def test_several_stores_get_distinct_names():
    probe = ReadinessProbe([DatabaseSession(FakeStore()), DatabaseSession(FakeStore())])
    assert probe.dependencies == [("database", "store"), ("database-2", "store")]


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False) as r:
        yield r


def test_jwks_key_set_up_and_down(router):
    key = OKPAlgorithm.to_jwk(ed25519.Ed25519PrivateKey.generate().public_key(), as_dict=True)
    route = router.get(URL).mock(return_value=httpx.Response(200, json={"keys": [key]}))
    auth = JWKSBearer(URL, algorithms=["EdDSA"], issuer="https://idp.example", audience="api")
    probe = ReadinessProbe([auth], min_interval=0)
    assert probe.dependencies == [("jwks", "keyset")]
    assert check(probe).ready and route.call_count == 1
    route.mock(return_value=httpx.Response(500))
    assert check(probe).ready and route.call_count == 1  # fresh keys answer from memory

    fresh = JWKSBearer(URL, algorithms=["EdDSA"], issuer="https://idp.example", audience="api")
    result = check(ReadinessProbe([fresh]))
    assert not result.ready and result.checks[0].error == "provider_unavailable"


def test_sidecar_readyz_is_200_or_503():
    store = FakeStore()
    app = SidecarApp(SessionGate(DatabaseSession(store)))
    app.readiness.min_interval = 0

    def get() -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
                return await client.get("/readyz")

        return asyncio.run(go())

    first = get()
    assert first.status_code == 200 and first.json()["status"] == "ready"
    assert first.headers["cache-control"] == "no-store"
    store.fail = True
    second = get()
    assert second.status_code == 503 and second.json()["status"] == "unavailable"


@pytest.mark.parametrize(("timeout", "interval"), [(0, 1), (1, -1)])
def test_bad_probe_settings_are_refused(timeout, interval):
    with pytest.raises(ValueError):
        ReadinessProbe([], timeout=timeout, min_interval=interval)
