"""One replica for tests/interop/test_replicas.py: a /verify sidecar with caches and listeners.

    python replica_worker.py PORT CONFIG_JSON

CONFIG_JSON: ``{"dsn", "redis_url", "redis_prefix", "secret", "jwt_secret", "ba_secret"}``.
The gate verifies Better Auth cookies from PostgreSQL (cookie prefix ``pg``) and from Redis
(prefix ``rd``), Auth.js JWE cookies revocable through PostgreSQL and HS256 Bearer JWTs revocable
through Redis, every cache with a 60 s TTL (so a refusal within the test's bound can only come
from invalidation). ``GET /listeners`` reports the listeners' state. Prints ``ready`` once both
listeners are connected.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def build(config: dict[str, Any]) -> Any:
    from sessiongate.authjs import AuthJSToken
    from sessiongate.gate import SessionGate
    from sessiongate.jws import BearerJWT
    from sessiongate.revocation import Revocable, RevocationMirror
    from sessiongate.revocation.postgres import PostgresRevocations
    from sessiongate.revocation.redis import RedisRevocations
    from sessiongate.sessions import BetterAuthSession
    from sessiongate.sidecar import SidecarApp
    from sessiongate.stores.cache import CachedStore
    from sessiongate.stores.notify import PostgresListener
    from sessiongate.stores.postgres import PostgresStore
    from sessiongate.stores.redis import RedisStore
    from sessiongate.stores.redis_layouts import BetterAuthRedisLayout
    from sessiongate.stores.redis_notify import RedisListener

    dsn, redis_url = config["dsn"], config["redis_url"]
    layout = BetterAuthRedisLayout(prefix=config["redis_prefix"])
    pg_cache = CachedStore(PostgresStore(dsn, schema="better-auth"), ttl=60, negative_ttl=60)
    redis_cache = CachedStore(RedisStore(redis_url, layout=layout), ttl=60, negative_ttl=60)
    pg_mirror = RevocationMirror(PostgresRevocations(dsn))
    redis_revocations = RedisRevocations(redis_url, prefix=config["redis_prefix"])
    redis_mirror = RevocationMirror(redis_revocations)

    pg_listener = PostgresListener(dsn)
    pg_listener.subscribe_cache(pg_cache)
    pg_listener.subscribe(pg_mirror)
    pg_mirror.listener = pg_listener
    redis_listener = RedisListener(
        redis_url, layouts=[layout], revocation_channel=redis_revocations.channel
    )
    redis_listener.subscribe_cache(redis_cache)
    redis_listener.subscribe(redis_mirror)
    redis_mirror.listener = redis_listener

    gate = SessionGate(
        Revocable(AuthJSToken(config["secret"]), pg_mirror),
        Revocable(BearerJWT(config["jwt_secret"]), redis_mirror),
        BetterAuthSession(secret=config["ba_secret"], store=pg_cache, cookie_prefix="pg"),
        BetterAuthSession(secret=config["ba_secret"], store=redis_cache, cookie_prefix="rd"),
    )
    sidecar = SidecarApp(gate, csrf_mode="off")
    listeners = {"postgres": pg_listener, "redis": redis_listener}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/listeners":
            body = json.dumps(
                {
                    k: {"connected": v.connected, "connections": v.connections}
                    for k, v in listeners.items()
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await sidecar(scope, receive, send)

    return app, listeners


def main() -> None:
    import uvicorn

    port = int(sys.argv[1])
    config = json.loads(sys.argv[2])
    app, listeners = build(config)
    for listener in listeners.values():
        listener.start()
    for listener in listeners.values():
        if not listener.wait_connected_sync(20):
            print(f"listener {listener!r} did not connect", flush=True)
            sys.exit(1)
    print("ready", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
