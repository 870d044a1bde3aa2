"""The ``sessiongate`` command line: ``decode``, ``doctor``, ``serve``, ``demo``, ``db inspect``.

``sessiongate decode TOKEN`` verifies a token and prints one JSON object::

    {"ok": true, "format": "authjs-v5", "header": {...}, "claims": {...}}
    {"ok": false, "error": {"code": "expired", "message": "..."}}
    {"ok": false, "error": {"code": "malformed", "message": "...", "hint": "..."}}

It exits 0 on success, 1 when the token is rejected, 2 on usage errors. ``TOKEN`` may be ``-``
to read it from standard input (keeps it out of shell history). Secrets come from ``--secret``
(repeatable, current first) or from ``AUTH_SECRET``/``AUTH_SECRET_1..3``/``NEXTAUTH_SECRET``.
Secrets are never printed. With ``--database-url`` (and ``--schema``) a database session token
(or a Better Auth signed cookie value, with ``--better-auth-secret``) is looked up.

The ``hint`` (from :mod:`sessiongate.doctor.explain`) appears when the token looks cut off or a
wrong secret is the likely cause.

``sessiongate doctor INPUT`` explains, in plain words, why a token, a ``Cookie`` header or a
``curl`` header dump does or does not verify (``--json`` for scripts); its verdict is the answer
of the gate ``serve`` would build from the same flags and environment. ``sessiongate serve``
runs the sidecar verifier (:mod:`sessiongate.sidecar`) with ``--workers`` processes on granian
(or ``--server uvicorn``), see :mod:`sessiongate.sidecar.serve`. ``sessiongate demo`` starts
a live example API and proves it with real requests (``--offline``: in-process only).
``sessiongate --version`` (also ``python -m sessiongate --version``) prints the version.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from . import __version__
from .authjs import AuthJSToken, secrets_from_env
from .ba_detect import PluginSwitches, add_plugin_flags
from .config import CSRF_MODES
from .cookies import AUTHJS_COOKIE_NAMES
from .errors import ConfigurationError, MalformedTokenError, MissingExtraError, SessionGateError
from .jws import HMAC_ALGORITHMS, BearerJWT
from .stores.schema import PRESETS

__all__ = ["decode_token", "main"]


def decode_token(
    token: str,
    secrets: Sequence[str],
    *,
    cookie_name: str | None = None,
    now: float | None = None,
    database_url: str | None = None,
    schema: str | None = None,
    better_auth_secrets: Sequence[str] = (),
) -> dict[str, Any]:
    """Verify ``token`` and describe it as the ``decode`` command prints it.

    A JOSE header routes the token (``enc``: JWE, ``alg``: JWT), so a JWE cut short is refused
    as a JWE. With ``database_url`` a token that is neither is looked up as a database session
    (``schema``: a preset name, default ``authjs-prisma``; a Better Auth signed cookie value is
    first checked with ``better_auth_secrets`` and looked up with ``better-auth``).
    """
    from .doctor.inputs import token_kind

    token = token.strip()
    if not token:
        raise MalformedTokenError("the token is empty")
    kind = token_kind(token)
    dots = token.count(".")
    jose = kind if kind in ("jwe", "jws") else {4: "jwe", 2: "jws"}.get(dots)
    if database_url and jose is None:
        return _decode_database(token, database_url, schema, better_auth_secrets, now)
    if not secrets:
        raise ConfigurationError("no secret: pass --secret or set AUTH_SECRET / NEXTAUTH_SECRET")
    if jose == "jwe":
        names = [*AUTHJS_COOKIE_NAMES, cookie_name] if cookie_name else None
        decoded = AuthJSToken(list(secrets), cookie_names=names, cache_size=0).decode_full(
            token, cookie_name=cookie_name, now=now
        )
    elif jose == "jws":
        verifier = BearerJWT(list(secrets), algorithms=list(HMAC_ALGORITHMS), cache_size=0)
        decoded = verifier.decode_full(token, now=now)
    else:
        raise MalformedTokenError(
            "not a JWT (3 segments) or JWE (5 segments); a database session token "
            "needs a database lookup (--database-url)"
        )
    return {
        "ok": True,
        "format": decoded.source,
        "header": dict(decoded.header),
        "claims": dict(decoded.claims),
    }


def _decode_database(
    token: str,
    database_url: str,
    schema: str | None,
    better_auth_secrets: Sequence[str],
    now: float | None,
) -> dict[str, Any]:
    """Look a session token up with the authenticator the gate uses for it."""
    import asyncio
    import time

    from .betterauth import verify_signed_cookie
    from .sessions import BetterAuthSession, DatabaseSession, check_token_shape
    from .stores import open_store

    auth: DatabaseSession | BetterAuthSession
    if "." in token:
        if not better_auth_secrets:
            raise ConfigurationError(
                "this looks like a Better Auth signed cookie: pass --better-auth-secret "
                "(or set BETTER_AUTH_SECRET)"
            )
        token = verify_signed_cookie(token, list(better_auth_secrets))
        chosen = schema or "better-auth"
        store = open_store(database_url, schema=chosen)
        auth = BetterAuthSession(secret=list(better_auth_secrets), store=store, cache_ttl=0)
    else:
        chosen = schema or "authjs-prisma"
        auth = DatabaseSession(open_store(database_url, schema=chosen), cache_ttl=0)
    check_token_shape(token)
    when = time.time() if now is None else now
    assert auth.sessions is not None  # both were given a store
    try:
        verified = auth.sessions.verify_sync(token, "cookie", when)
    finally:
        asyncio.run(auth.aclose())
    return {
        "ok": True,
        "format": verified.source,
        "header": {"schema": chosen},
        "claims": _plain(verified.claims),
    }


def _plain(value: Any) -> Any:
    """Read-only mappings (verified claims) as plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _error(err: SessionGateError, token: str | None = None) -> dict[str, Any]:
    error = {"code": err.code, "message": err.message}
    if token is not None:
        from .doctor.explain import decode_hint

        hint = decode_hint(token.strip(), err.code)
        if hint is not None:
            error["hint"] = hint
    return {"ok": False, "error": error}


def _read_token(arg: str, stdin: TextIO) -> str:
    return stdin.read() if arg == "-" else arg


def _env_list(name: str) -> list[str]:
    value = os.environ.get(name)
    return [value] if value else []


def _cmd_decode(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    secrets = list(args.secret or []) or secrets_from_env(os.environ)
    token = _read_token(args.token, stdin)
    try:
        result = decode_token(
            token,
            secrets,
            cookie_name=args.cookie_name,
            now=args.now,
            database_url=args.database_url,
            schema=args.schema,
            better_auth_secrets=list(args.better_auth_secret or [])
            or _env_list("BETTER_AUTH_SECRET"),
        )
    except SessionGateError as err:
        result = _error(err, token)
    out.write(json.dumps(result, ensure_ascii=False, indent=None if args.compact else 2) + "\n")
    # no secret, an unsupported database URL...: a usage error, like a bad flag (exit 2)
    return 0 if result["ok"] else 2 if result["error"]["code"] == ConfigurationError.code else 1


def _cmd_doctor(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .doctor import Setup, diagnose, format_report

    text = stdin.read() if args.input == "-" else args.input
    try:
        setup = Setup.from_sources(
            secrets=args.secret or (),
            jwt_secrets=args.jwt_secret or (),
            better_auth_secrets=args.better_auth_secret or (),
            cookie_names=[args.cookie_name] if args.cookie_name else [],
            database_url=args.database_url,
            schema=args.schema,
            better_auth_cookie_cache=args.better_auth_cookie_cache,
            environ=os.environ,
        )
        report = diagnose(text, setup=setup, cookie_name=args.cookie_name, now=args.now)
    except ConfigurationError as err:
        if args.json:
            out.write(json.dumps(_error(err)) + "\n")
        else:
            out.write(f"sessiongate doctor: {err.message}\n")
        return 2
    if args.json:
        out.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        color = not args.no_color and _isatty(out)
        out.write(format_report(report, color=color))
    return 0 if report.ok else 1


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty() and not os.environ.get("NO_COLOR"))


_SECRET_FLAGS = (
    ("--secret", "secret", "AUTH_SECRET"),
    ("--jwt-secret", "jwt_secret", "SESSIONGATE_JWT_SECRET"),
    ("--better-auth-secret", "better_auth_secret", "BETTER_AUTH_SECRET"),
)


def _secret_flag_warning(args: argparse.Namespace) -> str | None:
    """One line telling the user that secrets given as flags show in the process list."""
    given = [(flag, env) for flag, dest, env in _SECRET_FLAGS if getattr(args, dest, None)]
    if not given:
        return None
    flags = ", ".join(flag for flag, _ in given)
    names = ", ".join(env for _, env in given)
    return (
        f"warning: {flags} shows the secret in the process list (ps, /proc); "
        f"set {names} in the environment instead\n"
    )


def _cmd_serve(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .config import GateConfig
    from .sidecar.serve.command import start

    warning = _secret_flag_warning(args)
    if warning:
        out.write(warning)
    try:
        config = GateConfig.from_sources(
            secrets=args.secret or (),
            jwt_secrets=args.jwt_secret or (),
            jwt_issuer=args.jwt_issuer,
            jwt_audience=args.jwt_audience,
            database_url=args.database_url,
            schema=args.schema,
            better_auth_secrets=args.better_auth_secret or (),
            jwks_url=args.jwks_url,
            issuer=args.issuer,
            audience=args.audience,
            jwks_algorithms=args.jwks_algorithm or (),
            allow_http_jwks=args.allow_http_jwks,
            jwt_public_key=args.jwt_public_key,
            plugins=PluginSwitches.from_args(args),
        )
    except SessionGateError as err:
        out.write(f"sessiongate serve: {err.message}\n")
        return 2
    return start(args, config, out)


def _cmd_demo(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .demo import run_live_demo, run_offline_demo

    if args.offline:
        return run_offline_demo(out)

    serve = args.serve if args.serve is not None else _isatty(stdin)
    return run_live_demo(out, serve=serve, color=not args.no_color and _isatty(out))


def _database_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help="sqlite:///path, a .db path or postgresql://… (database session tokens; "
        "serve also reads DATABASE_URL)",
    )
    parser.add_argument(
        "--schema",
        help=f"schema preset: {', '.join(PRESETS)} (authjs-prisma by default; db inspect finds it)",
    )
    if not any(a.dest == "better_auth_secret" for a in parser._actions):
        parser.add_argument(
            "--better-auth-secret", action="append", help="BETTER_AUTH_SECRET (signed cookies)"
        )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from .sidecar.serve.command import add_serve_flags

    parser = argparse.ArgumentParser(
        prog="sessiongate",
        description="Verify NextAuth / Auth.js / Better Auth sessions from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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
    for command in (dec,):
        _database_flags(command)

    doc = sub.add_parser(
        "doctor",
        help="explain in plain words why a token / Cookie header / curl dump does not verify",
    )
    doc.add_argument(
        "input",
        help="a token, a Cookie header (or its value), header lines or a curl command; "
        "- reads standard input",
    )
    doc.add_argument("--secret", action="append", help="Auth.js / NextAuth secret (repeatable)")
    doc.add_argument("--jwt-secret", action="append", help="HS256 Bearer secret (repeatable)")
    doc.add_argument("--better-auth-secret", action="append", help="BETTER_AUTH_SECRET")
    doc.add_argument("--cookie-name", help="the cookie a bare token came from / a custom name")
    doc.add_argument(
        "--better-auth-cookie-cache",
        choices=("compact", "jwt", "jwe"),
        help="trust Better Auth's session_data cookie cache in this encoding (as the service does)",
    )
    doc.add_argument("--now", type=float, help="evaluate expiry as of this UNIX time")
    doc.add_argument("--json", action="store_true", help="print the findings as JSON")
    doc.add_argument("--no-color", action="store_true", help="never colour the output")
    _database_flags(doc)
    doc.set_defaults(handler=_cmd_doctor)

    srv = sub.add_parser(
        "serve",
        help="run the /verify sidecar (nginx/Traefik/Envoy, Express)",
        description="Run the /verify sidecar. Secrets come from the environment the Next.js app "
        "uses (AUTH_SECRET, SESSIONGATE_JWT_SECRET or JWT_SECRET, BETTER_AUTH_SECRET, "
        "DATABASE_URL): prefer it to the secret flags, which anyone on the machine can read "
        "in the process list.",
    )
    srv.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    srv.add_argument("--port", type=int, default=8787, help="port (default 8787)")
    srv.add_argument(
        "--secret",
        action="append",
        help="Auth.js / NextAuth secret (repeatable, current first); prefer the environment: "
        "AUTH_SECRET, AUTH_SECRET_1..3, NEXTAUTH_SECRET (a flag shows in the process list)",
    )
    srv.add_argument(
        "--jwt-secret",
        action="append",
        help="dedicated HS256 Bearer secret (repeatable); prefer SESSIONGATE_JWT_SECRET or "
        "JWT_SECRET. Without one, HS256 Bearer JWTs are not accepted (never keyed with "
        "AUTH_SECRET)",
    )
    srv.add_argument(
        "--jwt-audience", help="required aud of HS256 Bearer JWTs (SESSIONGATE_JWT_AUDIENCE)"
    )
    srv.add_argument(
        "--jwt-issuer", help="required iss of HS256 Bearer JWTs (SESSIONGATE_JWT_ISSUER)"
    )
    srv.add_argument(
        "--better-auth-secret",
        action="append",
        help="prefer BETTER_AUTH_SECRET in the environment (needs a DB)",
    )
    srv.add_argument("--jwks-url", help="JWKS for asymmetric Bearer JWTs (SESSIONGATE_JWKS_URL)")
    srv.add_argument("--issuer", help="expected iss of JWKS tokens (SESSIONGATE_JWKS_ISSUER)")
    srv.add_argument("--audience", help="expected aud of JWKS tokens (SESSIONGATE_JWKS_AUDIENCE)")
    srv.add_argument(
        "--jwks-algorithm", action="append", help="pinned algorithm (default EdDSA, RS256, ES256)"
    )
    srv.add_argument("--jwt-public-key", help="PEM/JWK file: JWT cookies and Bearer it signs")
    srv.add_argument(
        "--allow-http-jwks", action="store_true", help="accept an http:// JWKS URL (dev only)"
    )
    srv.add_argument(
        "--csrf",
        choices=CSRF_MODES,
        help="Origin/Referer check of cookie-authenticated writes (SESSIONGATE_CSRF; default "
        "auto: when the proxy sends X-Original-Method or X-Forwarded-Method; strict: refuse "
        "cookie requests without them; off: the upstream must check)",
    )
    srv.add_argument(
        "--trusted-origin",
        action="append",
        help="origin allowed to send cookie-authenticated writes besides the request's own "
        "(repeatable; https://*.example.com for subdomains; SESSIONGATE_TRUSTED_ORIGINS)",
    )
    srv.add_argument(
        "--include-claims", action="store_true", help="add the raw claims to the JSON body"
    )
    add_plugin_flags(srv)
    srv.add_argument(
        "--log-requests", action="store_true", help="log one line per verify (no values)"
    )
    add_serve_flags(srv)
    _database_flags(srv)
    srv.set_defaults(handler=_cmd_serve)

    demo = sub.add_parser(
        "demo", help="start an example API on localhost and prove it with real requests"
    )
    mode = demo.add_mutually_exclusive_group()
    mode.add_argument(
        "--once",
        dest="serve",
        action="store_false",
        default=None,
        help="check and exit (default when stdin is not a terminal)",
    )
    mode.add_argument(
        "--serve", dest="serve", action="store_true", help="keep serving until Ctrl-C"
    )
    mode.add_argument(
        "--offline", action="store_true", help="no server: verify minted tokens in-process"
    )
    demo.add_argument("--no-color", action="store_true", help="never colour the output")
    demo.set_defaults(handler=_cmd_demo)
    from .cli_db import add_commands

    add_commands(sub)
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
    out = stdout or sys.stdout
    try:
        return handler(args, out, stdin or sys.stdin)
    except MissingExtraError as err:  # one line, never a traceback
        out.write(f"sessiongate {args.command}: {err.message}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
