from __future__ import annotations

import json

import pytest

from sessiongate.errors import (
    AuthorizationError,
    ConfigurationError,
    ExpiredTokenError,
    MissingCredentialsError,
    ProviderUnavailableError,
)
from sessiongate.origins import CSRFError, OriginPolicy, normalize_origin
from sessiongate.responses import error_response, websocket_close_code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://App.Example.com", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("wss://chat.example.com/socket", "https://chat.example.com"),
        ("https://app.example.com/some/page?x=1", "https://app.example.com"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("null", None),
        ("", None),
        ("javascript:alert(1)", None),
        ("https://user:pw@app.example.com", None),
        ("http://host:99999", None),
    ],
)
def test_normalize_origin(raw, expected):
    assert normalize_origin(raw) == expected


def check(policy: OriginPolicy, **kw):
    base = {"origin": None, "referer": None, "scheme": "https", "host": "api.example.com"}
    base.update(kw)
    policy.check(**base)


def test_same_origin_allowed_foreign_refused():
    policy = OriginPolicy()
    check(policy, origin="https://api.example.com")
    check(policy, referer="https://api.example.com/form")
    with pytest.raises(CSRFError) as exc:
        check(policy, origin="https://evil.example")
    assert exc.value.code == "csrf_failed"
    assert exc.value.status_code == 403


def test_scheme_must_match():
    with pytest.raises(CSRFError):
        check(OriginPolicy(), origin="http://api.example.com")


def test_missing_origin_and_referer_refused():
    with pytest.raises(CSRFError):
        check(OriginPolicy())


def test_null_origin_refused_even_with_good_referer():
    with pytest.raises(CSRFError):
        check(OriginPolicy(), origin="null", referer="https://api.example.com/")


def test_referer_ignored_when_not_allowed():
    with pytest.raises(CSRFError):
        check(OriginPolicy(), referer="https://api.example.com/", allow_referer=False)


def test_trusted_origins_exact_and_wildcard():
    policy = OriginPolicy(["https://app.example.com", "https://*.preview.example.com"])
    check(policy, origin="https://app.example.com")
    check(policy, origin="https://pr-12.preview.example.com")
    for bad in (
        "https://preview.example.com",
        "https://evilpreview.example.com",
        "http://app.example.com",
        "https://app.example.com.evil.example",
    ):
        with pytest.raises(CSRFError):
            check(policy, origin=bad)


def test_forwarded_headers_only_when_trusted():
    fwd = {
        "origin": "https://public.example.com",
        "scheme": "http",
        "host": "10.0.0.5:8000",
        "forwarded_host": "spoofed.example, public.example.com",
        "forwarded_proto": "https",
    }
    check(OriginPolicy(trust_forwarded=True), **fwd)
    with pytest.raises(CSRFError):
        check(OriginPolicy(), **fwd)


def test_same_origin_can_be_disabled():
    with pytest.raises(CSRFError):
        check(OriginPolicy(same_origin=False), origin="https://api.example.com")


@pytest.mark.parametrize("bad", ["app.example.com", "https://app.example.com/path", "ftp://x.org"])
def test_bad_trusted_origin_fails_at_construction(bad):
    with pytest.raises(ConfigurationError):
        OriginPolicy([bad])


def test_repr_lists_origins():
    assert "https://*.example.com" in repr(OriginPolicy(["https://*.example.com"]))


def test_401_without_credential_is_a_bare_challenge():
    r = error_response(MissingCredentialsError(), credential_sent=False)
    assert r.status == 401
    assert dict(r.headers)["WWW-Authenticate"] == "Bearer"
    assert json.loads(r.body) == {
        "error": "missing_credentials",
        "message": "no session cookie or bearer token was sent",
    }
    assert dict(r.headers)["Cache-Control"] == "no-store"


def test_401_with_token_says_invalid_token():
    r = error_response(ExpiredTokenError(), credential_sent=True, realm="api")
    assert dict(r.headers)["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="the session has expired"'
    )
    assert json.loads(r.body)["error"] == "expired"


def test_403_is_insufficient_scope():
    r = error_response(AuthorizationError('needs "admin"\n'))
    assert r.status == 403
    assert dict(r.headers)["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", error_description="needs admin"'
    )


def test_csrf_403_has_no_challenge():
    r = error_response(CSRFError())
    assert r.status == 403
    assert "WWW-Authenticate" not in dict(r.headers)
    assert json.loads(r.body)["error"] == "csrf_failed"


def test_503_with_retry_after():
    r = error_response(ProviderUnavailableError(), credential_sent=True, retry_after=7)
    assert r.status == 503
    assert dict(r.headers)["Retry-After"] == "7"
    assert "WWW-Authenticate" not in dict(r.headers)
    assert "Retry-After" not in dict(error_response(ProviderUnavailableError()).headers)


def test_close_codes_never_1000():
    assert websocket_close_code(ExpiredTokenError()) == 1008
    assert websocket_close_code(AuthorizationError()) == 1008
    assert websocket_close_code(ProviderUnavailableError()) == 1013


def test_header_list_has_content_length():
    r = error_response(MissingCredentialsError())
    headers = dict(r.header_list())
    assert headers[b"content-length"] == str(len(r.body)).encode()
    assert headers[b"www-authenticate"] == b"Bearer"


@pytest.mark.parametrize(
    ("method", "unsafe"),
    [
        ("GET", False),
        ("head", False),
        ("OPTIONS", False),
        ("TRACE", False),
        ("POST", True),
        ("DELETE", True),
        ("PROPFIND", True),
        ("patch", True),
    ],
)
def test_unsafe_methods_fail_closed(method, unsafe):
    from sessiongate.origins import is_unsafe_method

    assert is_unsafe_method(method) is unsafe
