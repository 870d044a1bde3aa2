"""The ``sessiongate`` command line.

``sessiongate decode TOKEN`` verifies a token and prints one JSON object::

    {"ok": true, "format": "authjs-v5", "header": {...}, "claims": {...}}
    {"ok": false, "error": {"code": "expired", "message": "..."}}

It exits 0 on success, 1 when the token is rejected, 2 on usage errors. ``TOKEN`` may be ``-``
to read it from standard input (keeps it out of shell history). Secrets come from ``--secret``
(repeatable, current first) or from ``AUTH_SECRET``/``AUTH_SECRET_1..3``/``NEXTAUTH_SECRET``.
Secrets are never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .authjs import AuthJSToken, secrets_from_env
from .errors import ConfigurationError, MalformedTokenError, SessionGateError
from .jws import HMAC_ALGORITHMS, BearerJWT

__all__ = ["decode_token", "main"]


def decode_token(
    token: str,
    secrets: Sequence[str],
    *,
    cookie_name: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify ``token`` and describe it as the ``decode`` command prints it."""
    token = token.strip()
    if not token:
        raise MalformedTokenError("the token is empty")
    if not secrets:
        raise ConfigurationError("no secret: pass --secret or set AUTH_SECRET / NEXTAUTH_SECRET")
    dots = token.count(".")
    if dots == 4:
        names = [cookie_name] if cookie_name else []
        decoded = AuthJSToken(list(secrets), cookie_names=names, cache_size=0).decode_full(
            token, cookie_name=cookie_name, now=now
        )
    elif dots == 2:
        verifier = BearerJWT(list(secrets), algorithms=list(HMAC_ALGORITHMS), cache_size=0)
        decoded = verifier.decode_full(token, now=now)
    else:
        raise MalformedTokenError(
            "not a JWT (3 segments) or JWE (5 segments); a database session token "
            "needs a database lookup"
        )
    return {
        "ok": True,
        "format": decoded.source,
        "header": dict(decoded.header),
        "claims": dict(decoded.claims),
    }


def _error(err: SessionGateError) -> dict[str, Any]:
    return {"ok": False, "error": {"code": err.code, "message": err.message}}


def _read_token(arg: str, stdin: TextIO) -> str:
    return stdin.read() if arg == "-" else arg


def _cmd_decode(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    secrets = list(args.secret or []) or secrets_from_env(os.environ)
    try:
        result = decode_token(
            _read_token(args.token, stdin), secrets, cookie_name=args.cookie_name, now=args.now
        )
    except SessionGateError as err:
        result = _error(err)
    out.write(json.dumps(result, ensure_ascii=False, indent=None if args.compact else 2) + "\n")
    return 0 if result["ok"] else 1


def run_demo(out: TextIO, *, secret: str | None = None, now: float | None = None) -> int:
    """Mint a v5 cookie, a v4 cookie and an HS256 token with a generated secret, verify them with
    a :class:`SessionGate`, and show one rejection with its reason. Returns 0 when all behave."""
    import secrets as _secrets
    import time as _time

    from .gate import SessionGate
    from .testing import cookie_header, mint_authjs_v5, mint_hs256, mint_nextauth_v4

    secret = secret or _secrets.token_urlsafe(32)
    t = _time.time() if now is None else now
    gate = SessionGate(AuthJSToken(secret), BearerJWT(secret), clock=lambda: t)
    claims = {"sub": "user-1", "email": "ada@example.com", "name": "Ada", "role": "admin"}
    cases: list[tuple[str, dict[str, str], str | None]] = [
        (
            "Auth.js v5 cookie",
            {"cookie": cookie_header(mint_authjs_v5(claims, secret, now=t))},
            None,
        ),
        (
            "NextAuth v4 cookie",
            {
                "cookie": cookie_header(
                    mint_nextauth_v4(claims, secret, now=t), "next-auth.session-token"
                )
            },
            None,
        ),
        ("HS256 Bearer", {"authorization": "Bearer " + mint_hs256(claims, secret, now=t)}, None),
        (
            "expired v5 cookie",
            {"cookie": cookie_header(mint_authjs_v5(claims, secret, now=t - 7200, max_age=3600))},
            "expired",
        ),
        (
            "v5 cookie under the __Secure- name it was not made for",
            {"cookie": "__Secure-" + cookie_header(mint_authjs_v5(claims, secret, now=t))},
            "unknown_kid",
        ),
        ("no credentials", {}, "missing_credentials"),
    ]
    failures = 0
    out.write("sessiongate demo (generated secret, nothing leaves this process)\n\n")
    for label, headers, expected in cases:
        try:
            user = gate.authenticate_sync(headers)
            verdict = f"OK    {user.source:<12} id={user.id} roles={sorted(user.roles)}"
            ok = expected is None
        except SessionGateError as err:
            verdict = f"DENY  {err.status_code} {err.code}: {err.message}"
            ok = err.code == expected
        failures += not ok
        out.write(f"  {label:<55} {verdict}\n")
    out.write("\nall cases behaved as expected\n" if not failures else f"\n{failures} unexpected\n")
    return 0 if not failures else 1


def _cmd_demo(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    return run_demo(out)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="sessiongate",
        description="Verify NextAuth / Auth.js / Better Auth sessions from the command line.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    dec = sub.add_parser("decode", help="verify a token and print its header and claims as JSON")
    dec.add_argument("token", help="the token, or - to read it from standard input")
    dec.add_argument(
        "--secret",
        action="append",
        help="secret (repeatable, current first); default: AUTH_SECRET / NEXTAUTH_SECRET",
    )
    dec.add_argument("--cookie-name", help="the cookie the token came from (the Auth.js v5 salt)")
    dec.add_argument("--now", type=float, help="evaluate expiry as of this UNIX time")
    dec.add_argument("--compact", action="store_true", help="print JSON on one line")
    dec.set_defaults(handler=_cmd_decode)
    demo = sub.add_parser("demo", help="mint and verify sample sessions on embedded defaults")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run the CLI; returns the exit code."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace, TextIO, TextIO], int] = args.handler
    return handler(args, stdout or sys.stdout, stdin or sys.stdin)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
