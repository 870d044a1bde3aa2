"""The JWKS fetch: https only, redirects, OpenID Connect discovery, option validation."""

from __future__ import annotations

import httpx
import pytest

from sessiongate.errors import (
    ConfigurationError,
    InvalidClaimError,
    ProviderUnavailableError,
)
from sessiongate.jwks import JWKSBearer, JWKSClient

from .helpers import (
    AUD,
    ISS,
    NOW,
    RSA_KEY,
    URL,
    jwk,
    jwks_body,
    make,
    mint,
    serve,
)

# --------------------------------------------------------------------------------------------
# transport rules


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.com/jwks",
        "ftp://idp.example.com/jwks",
        "https:///jwks",
        "https://user:pw@idp.example.com/jwks",
        "/jwks",
        "",
    ],
)
def test_only_https_urls(url):
    with pytest.raises(ConfigurationError):
        JWKSClient(url)
    with pytest.raises(ConfigurationError):
        JWKSBearer(url, algorithms=["RS256"], issuer=None, audience=None)


def test_http_allowed_when_asked():
    assert JWKSClient("http://127.0.0.1:9/jwks", allow_http=True).url


def test_same_scheme_redirect_is_followed(router, clock):
    router.get(URL).mock(
        return_value=httpx.Response(302, headers={"location": "https://cdn.example.com/k"})
    )
    serve(router, jwks_body(jwk(RSA_KEY, "k1")), url="https://cdn.example.com/k")
    assert make(clock).decode_sync(mint(RSA_KEY, "RS256"), now=NOW)


@pytest.mark.parametrize("allow_http", [False, True])
def test_redirect_to_another_scheme_is_refused(router, clock, allow_http):
    router.get(URL).mock(
        return_value=httpx.Response(301, headers={"location": "http://evil.example.com/k"})
    )
    evil = serve(router, jwks_body(jwk(RSA_KEY, "k1")), url="http://evil.example.com/k")
    with pytest.raises(ProviderUnavailableError):
        make(clock, allow_http=allow_http).decode_sync(mint(RSA_KEY, "RS256"), now=NOW)
    assert evil.call_count == 0


def test_redirect_loop_is_bounded(router, clock):
    route = router.get(URL).mock(return_value=httpx.Response(307, headers={"location": URL}))
    with pytest.raises(ProviderUnavailableError):
        make(clock).decode_sync(mint(RSA_KEY, "RS256"), now=NOW)
    assert route.call_count == 4


def test_oidc_discovery(router, clock):
    issuer = "https://login.example.org/tenant/v2.0"
    disco = router.get(issuer + "/.well-known/openid-configuration").mock(
        return_value=httpx.Response(
            200, json={"issuer": issuer, "jwks_uri": "https://login.example.org/keys"}
        )
    )
    keys = serve(router, jwks_body(jwk(RSA_KEY, "k1")), url="https://login.example.org/keys")
    bearer = JWKSBearer.from_oidc_issuer(issuer, algorithms=["RS256"], audience=AUD)
    bearer.jwks.monotonic = clock
    token = mint(RSA_KEY, "RS256", iss=issuer)
    assert bearer.decode_sync(token, now=NOW)["iss"] == issuer
    clock.advance(601)
    bearer.decode_sync(token, now=NOW)  # a verified-token cache hit: no I/O
    assert keys.call_count == 1
    bearer.jwks.get_signing_keys_sync("k1")  # the expired keys are refetched ...
    assert keys.call_count == 2
    assert disco.call_count == 1  # ... from the remembered jwks_uri
    with pytest.raises(InvalidClaimError):
        bearer.decode_sync(mint(RSA_KEY, "RS256"), now=NOW)  # iss checked


@pytest.mark.parametrize(
    "doc",
    [
        {"issuer": "https://other.example.org", "jwks_uri": "https://login.example.org/keys"},
        {"issuer": "https://login.example.org", "jwks_uri": "http://login.example.org/keys"},
        {"issuer": "https://login.example.org"},
    ],
)
def test_oidc_discovery_rejects_bad_documents(router, doc):
    issuer = "https://login.example.org"
    router.get(issuer + "/.well-known/openid-configuration").mock(
        return_value=httpx.Response(200, json=doc)
    )
    keys = router.get(url__regex=r".*/keys$").mock(
        return_value=httpx.Response(200, json=jwks_body(jwk(RSA_KEY, "k1")))
    )
    client = JWKSClient(issuer=issuer)
    with pytest.raises(ProviderUnavailableError):
        client.get_signing_keys_sync("k1")
    assert keys.call_count == 0


def test_client_needs_exactly_one_source():
    with pytest.raises(ConfigurationError):
        JWKSClient()
    with pytest.raises(ConfigurationError):
        JWKSClient(URL, issuer=ISS)
    with pytest.raises(ConfigurationError):
        JWKSClient(URL, timeout=0)
    with pytest.raises(ConfigurationError):
        JWKSClient(URL, max_response_bytes=0)
    with pytest.raises(ConfigurationError):
        JWKSClient(URL, min_cache_ttl=100, max_cache_ttl=10)
