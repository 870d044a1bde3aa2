"""atheris (libFuzzer) harness for sessiongate's parsers. Not a pytest module.

    .venv/bin/pip install atheris
    .venv/bin/python tests/fuzz/fuzz_tokens.py -max_total_time=60 [-jobs=N] [CORPUS_DIR]

The first byte of each input picks a target, the rest is its input. Targets cover the Cookie
parser and credential extraction, the JWE and JWS parsers, the claim checks *behind* the crypto
(random plaintext encrypted under the real key / random payloads signed with it, so the fuzzer
is not stuck at the MAC), Better Auth signed cookies and cookie caches, the ASGI middleware and
the sidecar. Any exception other than ``SessionGateError`` is a crash; so is an ASGI 500, a
response header outside printable ASCII, or an error message that echoes a secret.

``SESSIONGATE_FUZZ_ALLOW=UnicodeEncodeError`` (comma-separated exception names) lets a run
continue past a known, already-reported bug.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import sys

import atheris

with atheris.instrument_imports():
    from sessiongate import AuthJSToken, BearerJWT, SessionGate
    from sessiongate._b64json import b64url_encode
    from sessiongate.asgi import SessionGateMiddleware
    from sessiongate.authjs import v4_key, v5_key
    from sessiongate.betterauth import (
        decode_cookie_cache,
        verify_bearer_value,
        verify_signed_cookie,
    )
    from sessiongate.cookies import (
        RequestCredentials,
        parse_cookie_header,
        session_cookie_candidates,
    )
    from sessiongate.errors import SessionGateError
    from sessiongate.jwe import parse_compact
    from sessiongate.sidecar import SidecarApp, encode_header_value

SECRET = "fuzz-secret-0123456789abcdef0123456789abcdef"
JWT_SECRET = "fuzz-jwt-secret-0123456789abcdef0123456789"
BA_SECRET = "fuzz-better-auth-secret-0123456789abcdef"
NOW = 1_800_000_000
V5 = "authjs.session-token"
SECRETS = (SECRET, JWT_SECRET, BA_SECRET)
ALLOWED = tuple(n for n in os.environ.get("SESSIONGATE_FUZZ_ALLOW", "").split(",") if n)

AUTHJS = AuthJSToken(SECRET, cache_size=0)
JWS = BearerJWT(JWT_SECRET, algorithms=["HS256", "HS384", "HS512"], cache_size=0)
GATE = SessionGate(AuthJSToken(SECRET), BearerJWT(JWT_SECRET), clock=lambda: NOW)
V5_KEY = v5_key(SECRET, V5)
V4_KEY = v4_key(SECRET)


async def _inner_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


MIDDLEWARE = SessionGateMiddleware(_inner_app, gate=GATE)
SIDECAR = SidecarApp(GATE)


def _check_error(err: SessionGateError) -> None:
    text = f"{err} {err!r} {err.to_dict()}"
    for secret in SECRETS:
        if secret[:20] in text:
            raise AssertionError("an error message echoes a secret")


def _headers(fdp: atheris.FuzzedDataProvider) -> list[tuple[bytes, bytes]]:
    names = [b"cookie", b"authorization", b"origin", b"host", b"x-require-role", b"referer"]
    out = []
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        name = names[fdp.ConsumeIntInRange(0, len(names) - 1)]
        out.append((name, fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 600))))
    return out


def _run_asgi(app, headers, method: str, path: str, query: bytes = b""):
    scope = {
        "type": "http",
        "method": method,
        "scheme": "http",
        "path": path,
        "query_string": query,
        "headers": headers,
    }
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    if start["status"] >= 500 and start["status"] != 503:
        raise AssertionError(f"ASGI answered {start['status']}")
    for name, value in start["headers"]:
        if not all(0x20 <= b < 0x7F for b in name + value):
            raise AssertionError("a response header is not printable ASCII")


def _signed_compact(session_json: bytes, expires: bytes) -> str:
    inner = session_json.decode("utf-8", "replace")
    text = "{" + inner + ',"expiresAt":' + expires.decode("latin-1") + "}"
    sig = b64url_encode(hmac.digest(BA_SECRET.encode(), text.encode(), "sha256"))
    outer = '{"session":{' + inner + '},"expiresAt":' + expires.decode("latin-1")
    outer += ',"signature":"' + sig + '"}'
    return b64url_encode(outer.encode())


def target(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    choice = fdp.ConsumeIntInRange(0, 15)
    if choice == 0:
        parse_cookie_header(fdp.ConsumeUnicodeNoSurrogates(4096))
    elif choice == 1:
        cookies = parse_cookie_header(fdp.ConsumeUnicodeNoSurrogates(4096))
        session_cookie_candidates(cookies, V5)
    elif choice == 2:
        creds = RequestCredentials.from_headers(_headers(fdp))
        creds.bearer_token()
    elif choice == 3:
        parse_compact(fdp.ConsumeUnicode(4096), max_bytes=32 * 1024)
    elif choice == 4:
        AUTHJS.decode(fdp.ConsumeUnicode(4096), cookie_name=V5, now=NOW)
    elif choice == 5:
        # random plaintext under the real v5 / v4 key: the claims parser behind the crypto
        plaintext = fdp.ConsumeBytes(2048)
        if fdp.ConsumeBool():
            AUTHJS.decode(V5_KEY.encrypt(plaintext, {"kid": V5_KEY.kid}), cookie_name=V5, now=NOW)
        else:
            AUTHJS.decode(V4_KEY.encrypt(plaintext, {}), now=NOW)
    elif choice == 6:
        # a random protected header on an otherwise valid token
        token = V5_KEY.encrypt(b'{"sub":"u","exp":1800000600}', {"kid": V5_KEY.kid})
        parts = token.split(".")
        parts[0] = b64url_encode(fdp.ConsumeBytes(300))
        AUTHJS.decode(".".join(parts), cookie_name=V5, now=NOW)
    elif choice == 7:
        JWS.decode(fdp.ConsumeUnicode(4096), now=NOW)
    elif choice == 8:
        header = b64url_encode(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200)))
        payload = b64url_encode(fdp.ConsumeBytes(2048))
        si = header + "." + payload
        sig = b64url_encode(hmac.digest(JWT_SECRET.encode(), si.encode(), "sha256"))
        JWS.decode(si + "." + sig, now=NOW)
    elif choice == 9:
        value = fdp.ConsumeUnicode(512)
        if fdp.ConsumeBool():
            verify_signed_cookie(value, BA_SECRET)
        else:
            verify_bearer_value(value, BA_SECRET)
    elif choice == 10:
        strategy = ("compact", "jwt", "jwe")[fdp.ConsumeIntInRange(0, 2)]
        decode_cookie_cache(fdp.ConsumeUnicode(4096), strategy, BA_SECRET, now=NOW)
    elif choice == 11:
        expires = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40))
        session = fdp.ConsumeBytes(1024)
        decode_cookie_cache(_signed_compact(session, expires), "compact", BA_SECRET, now=NOW)
    elif choice == 12:
        method = ("GET", "POST", "DELETE")[fdp.ConsumeIntInRange(0, 2)]
        _run_asgi(MIDDLEWARE, _headers(fdp), method, "/")
    elif choice == 13:
        path = ("/verify", "/verify/x", "/healthz")[fdp.ConsumeIntInRange(0, 2)]
        query = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200))
        _run_asgi(SIDECAR, _headers(fdp), "GET", path, query)
    elif choice == 14:
        # random claims JSON through the sidecar: header encoding of attacker-shaped values
        plaintext = fdp.ConsumeBytes(2048)
        token = V5_KEY.encrypt(plaintext, {"kid": V5_KEY.kid})
        _run_asgi(SIDECAR, [(b"cookie", f"{V5}={token}".encode())], "GET", "/verify")
    else:
        value = fdp.ConsumeUnicode(512)
        encoded = encode_header_value(value, list_item=fdp.ConsumeBool())
        if not all(0x20 <= ord(c) < 0x7F for c in encoded):
            raise AssertionError("encode_header_value left a non-printable character")


def test_one_input(data: bytes) -> None:
    try:
        target(data)
    except SessionGateError as err:
        _check_error(err)
    except Exception as err:
        if type(err).__name__ in ALLOWED:
            return
        raise


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
