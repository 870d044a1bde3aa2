"""Issue #10 (a real bug): the exported ``ClaimRules(...)`` constructor skipped validation, so
``ClaimRules(issuer="https://example.com")`` kept a plain string and ``iss in issuer`` matched any
substring (``"example"``, ``"https"``, ``""``...). Every construction path now validates: a plain
string issuer or audience is a one-element set.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sessiongate.claims import ClaimRules
from sessiongate.errors import ConfigurationError, InvalidClaimError

NOW = 1_800_000_000


@pytest.mark.parametrize("iss", ["example", "https://example", "com", "", "https://example.co"])
def test_issuer_substring_not_accepted(iss):
    rules = ClaimRules(issuer="https://example.com")
    with pytest.raises(InvalidClaimError):
        rules.check({"exp": NOW + 60, "iss": iss}, NOW)
    assert rules.check({"exp": NOW + 60, "iss": "https://example.com"}, NOW) == (NOW + 60, None)


@pytest.mark.parametrize("aud", ["api", "my", "", ["api"], ["", "x"]])
def test_audience_substring_not_accepted(aud):
    rules = ClaimRules(audience="my-api")
    with pytest.raises(InvalidClaimError):
        rules.check({"exp": NOW + 60, "aud": aud}, NOW)
    assert rules.check({"exp": NOW + 60, "aud": ["x", "my-api"]}, NOW)[0] == NOW + 60


def test_every_construction_path_validates_and_normalises():
    assert ClaimRules(issuer="a") == ClaimRules(issuer=["a"]) == ClaimRules(issuer={"a"})
    assert ClaimRules(issuer="a").issuer == frozenset({"a"})
    assert ClaimRules(leeway=timedelta(seconds=3)).leeway == 3.0
    for bad in (
        {"issuer": ""},
        {"issuer": []},
        {"issuer": [1]},
        {"issuer": b"https://x"},
        {"audience": {"a": 1}},
        {"audience": [""]},
        {"leeway": -1},
        {"leeway": "15"},
        {"leeway": True},
        {"require_exp": "yes"},
    ):
        with pytest.raises(ConfigurationError):
            ClaimRules(**bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ClaimRules(15)  # type: ignore[misc]  # keyword-only
