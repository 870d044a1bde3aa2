"""Throughput of one Django REST framework endpoint, in process, through Django's WSGI handler
(URL routing, middleware, DRF authentication and permissions, JSON rendering), several ways:

* ``noauth``               ``authentication_classes = []``, ``AllowAny`` (the baseline);
* ``sessiongate``          ``SessionGateAuthentication`` + ``IsAuthenticated`` verifying an
                           Auth.js v5 cookie (JWE A256CBC-HS512) with the gate's default memo;
* ``sessiongate_nocache``  the same with the memo and the token cache off: every request
                           decrypts (measured in a second group, against ``noauth`` again);
* ``drf_token``            DRF's ``TokenAuthentication`` + ``IsAuthenticated``: one SQLite
                           lookup of the token (and its user) per request.

Every contender is first checked to answer 200 with the right user; the rounds of one group are
interleaved (``_timing.py``), so the ratios come from one run on the same machine state.

    python benchmarks/bench_drf.py            # about 30 s
    python benchmarks/bench_drf.py --quick --json
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import Measurement, Timer, measure_group

SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
WORKDIR = Path(tempfile.mkdtemp(prefix="sessiongate-bench-drf-"))


def configure() -> None:
    from django.conf import settings

    import django

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
            "rest_framework.authtoken",
        ],
        MIDDLEWARE=["sessiongate.django.SessionGateMiddleware"],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(WORKDIR / "bench.db")}
        },
        SESSIONGATE={"GATE": __name__ + ".cached_gate"},
        REST_FRAMEWORK={"UNAUTHENTICATED_USER": None},
    )
    django.setup()


def cached_gate() -> Any:
    from sessiongate import AuthJSToken, SessionGate

    return SessionGate(AuthJSToken(SECRET))


def uncached_gate() -> Any:
    from sessiongate import AuthJSToken, SessionGate

    return SessionGate(AuthJSToken(SECRET, cache_size=0), memo_size=0)


urlpatterns: list[Any] = []


def build_urls() -> None:
    from django.urls import path
    from rest_framework.authentication import TokenAuthentication
    from rest_framework.permissions import AllowAny, IsAuthenticated
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from sessiongate.drf import SessionGateAuthentication

    class Hello(APIView):
        def get(self, request: Request) -> Response:
            return Response({"id": getattr(request.user, "pk", None)})

    def view(auth: list[Any], permission: Any) -> Any:
        return type(
            "Hello", (Hello,), {"authentication_classes": auth, "permission_classes": [permission]}
        ).as_view()

    urlpatterns.extend(
        [
            path("noauth", view([], AllowAny)),
            path("sessiongate", view([SessionGateAuthentication], IsAuthenticated)),
            path("drf_token", view([TokenAuthentication], IsAuthenticated)),
        ]
    )


def prepare_token() -> str:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0)
    user = User.objects.create(username="u1")
    return str(Token.objects.create(user=user).key)


def caller(path: str, headers: dict[str, str]) -> Any:
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    base = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/" + path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()},
    }
    status: list[str] = []

    def start_response(line: str, _headers: Any, _exc: Any = None) -> Any:
        status.append(line)

    def call() -> bytes:
        status.clear()
        response = handler(dict(base), start_response)
        try:
            return b"".join(response)
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()

    def checked() -> bytes:
        body = call()
        if not status or not status[0].startswith("200"):
            raise SystemExit(f"{path}: {status} {body[:200]!r}")
        return body

    checked.call = call  # type: ignore[attr-defined]
    return checked


def summary(results: list[Measurement], baseline: str) -> dict[str, Any]:
    by_name = {m.name: m for m in results}
    base = by_name[baseline].median_ns
    return {
        m.name: {
            "requests_per_s": round(1e9 / m.median_ns),
            "median_us": round(m.median_ns / 1000, 1),
            "stdev_pct": round(m.stdev_pct, 1),
            "throughput_vs_" + baseline: round(base / m.median_ns, 3),
        }
        for m in results
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (smoke test)")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    timer = Timer(rounds=5, round_s=0.02, warmup_s=0.05) if args.quick else Timer()

    configure()
    build_urls()
    token = prepare_token()
    from sessiongate.testing import cookie_header, mint_authjs_v5

    cookie = cookie_header(mint_authjs_v5({"sub": "u1", "name": "Ada"}, SECRET))
    calls = {
        "noauth": caller("noauth", {}),
        "sessiongate": caller("sessiongate", {"cookie": cookie}),
        "drf_token": caller("drf_token", {"authorization": f"Token {token}"}),
    }
    for name, fn in calls.items():
        body = json.loads(fn())
        expected = None if name == "noauth" else ("u1" if name == "sessiongate" else 1)
        if body["id"] != expected:
            raise SystemExit(f"{name} answered {body}, not the user {expected!r}")
    first = measure_group(list(calls.items()), timer)

    from django.test import override_settings

    with override_settings(SESSIONGATE={"GATE": __name__ + ".uncached_gate"}):
        nocache = caller("sessiongate", {"cookie": cookie})
        if json.loads(nocache())["id"] != "u1":
            raise SystemExit("sessiongate_nocache did not authenticate")
        second = measure_group(
            [("noauth", calls["noauth"]), ("sessiongate_nocache", nocache)], timer
        )

    report = {
        "schema_version": 1,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "versions": {
                dist: metadata.version(dist)
                for dist in ("sessiongate", "django", "djangorestframework", "cryptography")
            },
        },
        "config": {"quick": args.quick, "rounds": timer.rounds},
        "groups": [
            {"key": "drf", "results": summary(first, "noauth")},
            {"key": "drf_nocache", "results": summary(second, "noauth")},
        ],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"DRF endpoint, in-process WSGI, Python {platform.python_version()}")
    for group in report["groups"]:
        print(f"\n[{group['key']}]")
        for name, row in group["results"].items():
            print(
                f"  {name:22} {row['requests_per_s']:>8} req/s  {row['median_us']:>8} us/req"
                f"  x{row['throughput_vs_noauth']:.3f} of noauth  (±{row['stdev_pct']}%)"
            )
    drf = report["groups"][0]["results"]
    ratio = drf["sessiongate"]["requests_per_s"] / drf["drf_token"]["requests_per_s"]
    print(f"\nsessiongate / TokenAuthentication throughput: x{ratio:.2f}")


if __name__ == "__main__":
    main()
