from __future__ import annotations

import math
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from sessiongate._b64json import b64url_decode, b64url_encode, json_compact, json_object
from sessiongate.claims import ClaimRules
from sessiongate.errors import (
    ConfigurationError,
    ExpiredTokenError,
    InvalidClaimError,
    MalformedTokenError,
    NotYetValidError,
)
from sessiongate.jwe import hkdf_sha256


@pytest.mark.parametrize("data", [b"", b"f", b"fo", b"foo", b"\xff\xfe\xfd", bytes(range(256))])
def test_b64url_roundtrip(data):
    enc = b64url_encode(data)
    assert "=" not in enc and "+" not in enc and "/" not in enc
    assert b64url_decode(enc) == data


@pytest.mark.parametrize(
    "bad", ["ab=c", "abc=", "a+bc", "a/bc", "ab c", "abcde", "ab\ncd", "é", "ab\x00d", "ab.c"]
)
def test_b64url_rejects_non_base64url(bad):
    with pytest.raises(MalformedTokenError):
        b64url_decode(bad)


def test_json_object_rejects_constants_and_non_objects():
    for bad in (b"[1]", b'"x"', b"1", b'{"a": NaN}', b'{"a": Infinity}', b"\xff", b"{"):
        with pytest.raises(MalformedTokenError):
            json_object(bad)
    assert json_object('{"n":"Zoë"}'.encode()) == {"n": "Zoë"}


def test_json_compact_matches_json_stringify():
    assert (
        json_compact({"b": 1, "a": "é", "c": [1, {"d": None}]})
        == '{"b":1,"a":"é","c":[1,{"d":null}]}'.encode()
    )


def test_hkdf_rfc5869_case_1():
    okm = hkdf_sha256(bytes([0x0B] * 22), bytes(range(0x0D)), bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_hkdf_rfc5869_case_3_empty_salt():
    okm = hkdf_sha256(bytes([0x0B] * 22), b"", b"", 42)
    assert okm.hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )
    # empty salt == 32 zero bytes (what @panva/hkdf does)
    ref = HKDF(algorithm=hashes.SHA256(), length=42, salt=bytes(32), info=b"").derive(
        bytes([0x0B] * 22)
    )
    assert okm == ref


def test_hkdf_refuses_empty_secret():
    with pytest.raises(ConfigurationError):
        hkdf_sha256(b"", b"", b"", 32)


NOW = 1_800_000_000


@pytest.mark.parametrize(
    ("exp", "ok"), [(NOW - 14, True), (NOW - 15, False), (NOW - 16, False), (NOW + 100, True)]
)
def test_exp_boundary_matches_jose(exp, ok):
    rules = ClaimRules(leeway=15)
    e, n = rules.check_static({"exp": exp})
    if ok:
        rules.check_time(e, n, NOW + 0.999)
    else:
        with pytest.raises(ExpiredTokenError):
            rules.check_time(e, n, NOW + 0.999)


@pytest.mark.parametrize(("nbf", "ok"), [(NOW + 15, True), (NOW + 16, False)])
def test_nbf_boundary(nbf, ok):
    rules = ClaimRules(leeway=timedelta(seconds=15))
    e, n = rules.check_static({"exp": NOW + 1000, "nbf": nbf})
    if ok:
        rules.check_time(e, n, NOW)
    else:
        with pytest.raises(NotYetValidError):
            rules.check_time(e, n, NOW)


@pytest.mark.parametrize("value", ["1800000000", True, None, [1], {"a": 1}, math.inf, 10**400])
@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_time_claims_must_be_numbers(claim, value):
    claims = {"exp": NOW + 100, claim: value}
    with pytest.raises(InvalidClaimError):
        ClaimRules().check_static(claims)


def test_exp_required_by_default_and_optional_on_request():
    with pytest.raises(InvalidClaimError):
        ClaimRules().check_static({"sub": "x"})
    assert ClaimRules(require_exp=False).check_static({"sub": "x"}) == (None, None)


def test_float_and_huge_exp_are_numbers():
    rules = ClaimRules()
    e, n = rules.check_static({"exp": 1e300})
    rules.check_time(e, n, NOW)
    e, n = rules.check_static({"exp": NOW + 0.5})
    rules.check_time(e, n, NOW)


def test_issuer_and_audience():
    rules = ClaimRules(issuer="https://app", audience=["api", "web"])
    rules.check_static({"exp": NOW, "iss": "https://app", "aud": "api"})
    rules.check_static({"exp": NOW, "iss": "https://app", "aud": ["x", "web"]})
    for bad in (
        {"exp": NOW, "iss": "https://evil", "aud": "api"},
        {"exp": NOW, "aud": "api"},
        {"exp": NOW, "iss": "https://app", "aud": "other"},
        {"exp": NOW, "iss": "https://app", "aud": [1, 2]},
        {"exp": NOW, "iss": "https://app"},
    ):
        with pytest.raises(InvalidClaimError):
            rules.check_static(bad)


@pytest.mark.parametrize("leeway", [-1, math.nan, math.inf, timedelta(seconds=-1)])
def test_bad_leeway_is_a_configuration_error(leeway):
    with pytest.raises(ConfigurationError):
        ClaimRules(leeway=leeway)


_time_values = st.one_of(
    st.none(),
    st.integers(NOW - 100, NOW + 100),
    st.integers(-(2**1100), 2**1100),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=3),
)


def _verdict(fn):
    try:
        return ("ok", fn())
    except Exception as err:  # the verdicts are compared, type and all
        return ("error", type(err).__name__)


@settings(max_examples=500, deadline=None)
@given(
    exp=_time_values,
    iat=_time_values,
    nbf=_time_values,
    present=st.sets(st.sampled_from(["exp", "iat", "nbf", "iss"])),
    now=st.floats(NOW - 50, NOW + 50),
    require_exp=st.booleans(),
    with_issuer=st.booleans(),
)
def test_check_equals_check_static_then_check_time(
    exp, iat, nbf, present, now, require_exp, with_issuer
):
    claims = {
        k: v for k, v in (("exp", exp), ("iat", iat), ("nbf", nbf), ("iss", "a")) if k in present
    }
    rules = ClaimRules(require_exp=require_exp, issuer="a" if with_issuer else None)

    def two_steps():
        e, n = rules.check_static(claims)
        rules.check_time(e, n, now)
        return e, n

    assert _verdict(lambda: rules.check(claims, now)) == _verdict(two_steps)
