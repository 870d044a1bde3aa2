"""Decision counters (``sessiongate.observe``) and their Prometheus export (sessiongate.metrics).

In-process: what is counted, how caches report, the exposition text, the sum over worker files
(the real multi-process check is in tests/test_serve_workers.py), and that no label ever carries
a user id, a token or a secret.
"""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sessiongate import AuthJSToken, BearerJWT, SessionGate
from sessiongate.errors import ProviderUnavailableError, SessionNotFoundError
from sessiongate.metrics import SessionGateCollector, SnapshotFiles, merge_snapshots, snapshot
from sessiongate.observe import (
    LATENCY_BUCKETS,
    CacheStats,
    DecisionStats,
    cache_stats_of,
    credential_presented,
    presented_credential,
)
from sessiongate.readiness import ReadinessProbe
from sessiongate.sessions import DatabaseSession
from sessiongate.sidecar import SidecarApp
from sessiongate.stores.cache import CachedStore
from sessiongate.testing import cookie_header, mint_authjs_v5, mint_hs256
from stores.helpers import NOW_TS, FakeStore, creds

S = "metrics-secret-0123456789abcdef0123"
JWT_S = "metrics-jwt-secret-0123456789abcdef"
ADMIN = {"sub": "user-secret-id-42", "role": "admin", "email": "ada@example.com"}


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_decision_stats_counts_and_buckets():
    stats = DecisionStats()
    stats.on_decision("ok", "cookie", "authjs", 0.00002)
    stats.on_decision("ok", "cookie", "authjs", 0.0003)
    stats.on_decision("expired", "cookie", "none", 3.0)
    snap = stats.snapshot()
    assert snap.counts == {("ok", "cookie", "authjs"): 2, ("expired", "cookie", "none"): 1}
    assert snap.total == 3
    assert len(snap.buckets) == len(LATENCY_BUCKETS) + 1
    assert snap.buckets[0] == 1 and snap.buckets[2] == 1 and snap.buckets[-1] == 1
    assert snap.latency_sum == pytest.approx(3.00032)


@pytest.mark.parametrize("buckets", [(), (0.1, 0.1), (0.2, 0.1)])
def test_decision_stats_refuses_bad_buckets(buckets):
    with pytest.raises(ValueError):
        DecisionStats(buckets)


@pytest.mark.parametrize(
    ("cookie", "authorization", "label"),
    [
        (True, False, "cookie"),
        (False, True, "bearer"),
        (True, True, "both"),
        (False, False, "none"),
    ],
)
def test_presented_credential(cookie, authorization, label):
    assert presented_credential(cookie, authorization) == label
    pairs = [(b"Cookie", b"a=1")] * cookie + [(b"authorization", b"Bearer x")] * authorization
    assert credential_presented([(b"host", b"h"), *pairs]) == label
    mapping = {"COOKIE": "a=1"} if cookie else {}
    assert (
        credential_presented({**mapping, **({"Authorization": "x"} if authorization else {})})
        == label
    )


def test_cached_store_counts_hits_misses_and_store_errors():
    store = FakeStore()
    cached = CachedStore(store, ttl=60, negative_ttl=60)
    asyncio.run(cached.load("a"))  # miss, query
    asyncio.run(cached.load("a"))  # negative-cache hit
    store.fail = True
    with pytest.raises(ProviderUnavailableError):
        asyncio.run(cached.load("b"))
    assert list(cached.cache_stats()) == [CacheStats("session_store", 1, 2, 1)]


def test_cache_stats_of_finds_stores_behind_authenticators_once():
    auth = DatabaseSession(FakeStore(), cache_ttl=60)
    with pytest.raises(SessionNotFoundError):
        asyncio.run(auth.authenticate(creds({"authjs.session-token": "tok-x"}), NOW_TS))
    found = cache_stats_of([auth, auth, auth.store, AuthJSToken(S)])
    assert found == [CacheStats("database_session_store", 0, 1, 0)]
    assert cache_stats_of([auth.store]) == [CacheStats("session_store", 0, 1, 0)]


def _sidecar(**kw) -> tuple[SidecarApp, DecisionStats, SessionGateCollector]:
    gate = SessionGate(AuthJSToken(S), BearerJWT(JWT_S))
    stats = DecisionStats()
    collector = SessionGateCollector(stats, [gate, *gate.authenticators], **kw)
    app = SidecarApp(gate, observer=stats, metrics=collector)
    collector.sources.append(app)
    return app, stats, collector


def _get(app: SidecarApp, requests: list[dict]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as client:
            return [await client.get(r.pop("url", "/verify"), headers=r) for r in requests]

    return asyncio.run(go())


def test_sidecar_metrics_endpoint_counts_every_verdict_without_identities():
    app, _, _ = _sidecar()
    cookie = cookie_header(mint_authjs_v5(ADMIN, S))
    bearer = "Bearer " + mint_hs256(ADMIN, JWT_S)
    requests = [
        *({"cookie": cookie} for _ in range(4)),
        {"authorization": bearer},
        {"authorization": "Bearer garbage"},
        {},
        {"cookie": cookie, "x-require-mode": "any"},
        {"cookie": cookie, "url": "/verify?role=editor"},
    ]
    statuses = [r.status_code for r in _get(app, [dict(r) for r in requests])]
    assert statuses == [200, 200, 200, 200, 200, 401, 401, 400, 403]
    response = _get(app, [{"url": "/metrics"}])[0]
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    got = samples(text)

    def decisions(outcome: str, credential: str, authenticator: str) -> float:
        labels = (
            ("authenticator", authenticator),
            ("credential", credential),
            ("outcome", outcome),
        )
        return got[("sessiongate_decisions_total", labels)]

    assert decisions("ok", "cookie", "authjs") == 4
    assert decisions("ok", "bearer", "jws") == 1
    assert decisions("malformed", "bearer", "none") == 1
    assert decisions("missing_credentials", "none", "none") == 1
    assert decisions("invalid_request", "cookie", "none") == 1
    assert decisions("insufficient_scope", "cookie", "none") == 1
    assert got[("sessiongate_decision_duration_seconds_count", ())] == 9
    assert got[("sessiongate_decision_duration_seconds_bucket", (("le", "+Inf"),))] == 9
    memo = (("cache", "sidecar_responses"), ("result", "hit"))
    assert got[("sessiongate_cache_lookups_total", memo)] == 3  # the 2nd to 4th cookie request
    # labels are codes and names: never the user id, the token or a secret
    for secret in (ADMIN["sub"], ADMIN["email"], cookie.split("=", 1)[1], bearer[7:], S, JWT_S):
        assert secret not in text


def test_metrics_route_is_absent_unless_enabled():
    gate = SessionGate(AuthJSToken(S))
    response = _get(SidecarApp(gate), [{"url": "/metrics"}])[0]
    assert response.status_code == 404
    assert "/metrics" not in response.json()["message"]


def test_workers_files_are_summed_and_never_go_backwards(tmp_path):
    _, stats_one, col_one = _sidecar(directory=str(tmp_path))
    two, stats_two, col_two = _sidecar(directory=str(tmp_path))
    for _ in range(3):
        stats_one.on_decision("ok", "cookie", "authjs", 0.001)
    stats_two.on_decision("expired", "cookie", "none", 0.002)
    col_two.flush()  # what the worker's flusher does every second
    merged = col_one.merged()  # writes worker one's file, reads both
    assert {tuple(d) for d in merged["decisions"]} == {
        ("ok", "cookie", "authjs", 3),
        ("expired", "cookie", "none", 1),
    }
    assert len(os.listdir(tmp_path)) == 2
    # worker two is gone (its file stays): the totals keep its counts
    del two, stats_two, col_two
    stats_one.on_decision("ok", "cookie", "authjs", 0.001)
    got = samples(col_one.render()[0].decode())
    ok = (("authenticator", "authjs"), ("credential", "cookie"), ("outcome", "ok"))
    assert got[("sessiongate_decisions_total", ok)] == 4
    assert got[("sessiongate_decision_duration_seconds_count", ())] == 5


def test_snapshot_files_are_per_process_and_atomic(tmp_path):
    files = SnapshotFiles(str(tmp_path))
    files.write({"x": 1})
    files.write({"x": 2})
    (tmp_path / ".tmp-half.json").write_text("{")  # a writer caught mid-way is ignored
    (tmp_path / "9-broken.json").write_text("{")
    assert files.read_all() == [{"x": 2}]
    with pytest.raises(ValueError):
        SnapshotFiles(str(tmp_path / "missing"))


def test_merge_skips_snapshots_with_other_buckets():
    a = snapshot(DecisionStats())
    b = snapshot(DecisionStats((0.5, 1.0)))
    b["decisions"] = [["ok", "cookie", "authjs", 5]]
    assert merge_snapshots([a, b])["decisions"] == []


def test_dependency_up_reports_the_latest_readiness(tmp_path):
    store = FakeStore()
    auth = DatabaseSession(store)
    gate = SessionGate(auth)
    probe = ReadinessProbe(gate.authenticators, min_interval=0)
    collector = SessionGateCollector(DecisionStats(), [gate, auth], readiness=probe)
    assert "sessiongate_dependency_up{" not in collector.render()[0].decode()
    asyncio.run(probe.check())
    labels = (("dependency", "database"), ("kind", "store"))
    assert samples(collector.render()[0].decode())[("sessiongate_dependency_up", labels)] == 1
    store.fail = True
    asyncio.run(probe.check())
    assert samples(collector.render()[0].decode())[("sessiongate_dependency_up", labels)] == 0


def test_a_failing_metrics_flush_never_stops_the_sidecar(tmp_path, caplog):
    app, _, _ = _sidecar(directory=str(tmp_path))

    async def lifespan() -> list[str]:
        sent: list[str] = []
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

        async def receive() -> dict:
            await asyncio.sleep(0)
            return next(messages)

        async def send(message: dict) -> None:
            sent.append(message["type"])

        await app({"type": "lifespan"}, receive, send)
        return sent

    os.rmdir(tmp_path)  # the directory disappears under the worker
    assert asyncio.run(lifespan()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert "writing the metrics failed" in caplog.text


def test_snapshot_is_json():
    stats = DecisionStats()
    stats.on_decision("ok", "bearer", "jws", 0.0001)
    assert json.loads(json.dumps(snapshot(stats, [CacheStats("c", 1, 2, 3)])))["caches"] == [
        ["c", 1, 2, 3]
    ]


def test_keyset_fetches_add_up_and_the_newest_state_wins(tmp_path):
    import respx
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from jwt.algorithms import OKPAlgorithm

    from sessiongate.jwks import JWKSBearer

    key = OKPAlgorithm.to_jwk(ed25519.Ed25519PrivateKey.generate().public_key(), as_dict=True)
    down, up = "https://down.example/jwks", "https://up.example/jwks"

    def worker(url: str) -> tuple[JWKSBearer, SessionGateCollector]:
        auth = JWKSBearer(url, algorithms=["EdDSA"], issuer="https://idp.example", audience="a")
        return auth, SessionGateCollector(DecisionStats(), [auth], directory=str(tmp_path))

    with respx.mock(assert_all_called=False) as router:
        router.get(down).mock(return_value=httpx.Response(503))
        router.get(up).mock(return_value=httpx.Response(200, json={"keys": [key]}))
        failing_auth, failing = worker(down)
        healthy_auth, healthy = worker(up)
        asyncio.run(healthy_auth.jwks.get_signing_keys(None))
        with pytest.raises(ProviderUnavailableError):
            asyncio.run(failing_auth.jwks.get_signing_keys(None))
    keyset = (("keyset", "jwks"),)
    healthy.flush()
    got = samples(failing.render()[0].decode())  # the failing worker wrote last
    assert got[("sessiongate_keyset_fetches_total", keyset)] == 2
    assert got[("sessiongate_keyset_failing", keyset)] == 1
    got = samples(healthy.render()[0].decode())  # now the healthy one did
    assert got[("sessiongate_keyset_failing", keyset)] == 0


def test_revocation_listener_state_is_a_gauge_newest_process_wins(tmp_path):
    from sessiongate.metrics import listener_states_of
    from sessiongate.revocation import RevocationMirror, revocable
    from sg_revocation import MemoryBackend

    class Listener:
        kind = "PostgreSQL"
        connected = False

    mirror = RevocationMirror(MemoryBackend())
    mirror.listener = Listener()
    auth = revocable(AuthJSToken(S), mirror)
    assert listener_states_of([auth, AuthJSToken(S)]) == [("postgresql", False)]  # not loaded
    asyncio.run(mirror.reload())
    assert listener_states_of([auth]) == [("postgresql", False)]  # loaded, not connected
    mirror.listener.connected = True
    assert listener_states_of([auth, auth]) == [("postgresql", True)]
    old = SessionGateCollector(DecisionStats(), [auth], directory=str(tmp_path))
    old.flush()
    mirror.listener.connected = False  # the newest process to write sees it down
    text = SessionGateCollector(DecisionStats(), [auth], directory=str(tmp_path)).render()[0]
    assert b'sessiongate_revocation_listener_up{listener="postgresql"} 0.0' in text
    mirror.listener.connected = True
    assert b'listener_up{listener="postgresql"} 1.0' in old.render()[0]
