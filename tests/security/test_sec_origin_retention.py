"""What the Origin/Referer check keeps in memory of a request."""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

import sessiongate.origins as origins
from sessiongate.origins import OriginPolicy, normalize_origin

SECRET = "tok_live_0123456789abcdef"


def test_referer_query_token_never_reaches_the_process_wide_urlsplit_cache(monkeypatch) -> None:
    seen: list[str] = []

    def spy(value: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        seen.append(value)
        return urlsplit(value, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(origins, "urlsplit", spy)
    policy = OriginPolicy(["https://app.example.com"])
    policy.check(
        origin=None,
        referer=f"https://app.example.com/callback?access_token={SECRET}#id_token={SECRET}",
        scheme="https",
        host="api.example.com",
    )
    assert normalize_origin(f"https://evil.example/x?t={SECRET}") == "https://evil.example"
    assert seen and not any(SECRET in value for value in seen)


_PIECES = [*"htps:/?#@[]\\.:0123456789abcXYZ-_%\t\n ", "://", "ws", "//"]
_URLISH = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


@settings(max_examples=3000, deadline=None)
@given(
    scheme=st.sampled_from(["https://", "http://", "wss://", "ftp://", "HTTPS://", ""]),
    rest=_URLISH,
)
def test_origin_of_a_url_is_that_of_its_scheme_and_authority(scheme: str, rest: str) -> None:
    """Cutting the path, query and fragment first changes no answer of ``normalize_origin``."""
    value = scheme + rest
    try:
        parts = urlsplit(value.strip())
        expected_netloc = (parts.scheme, parts.netloc)
    except ValueError:
        expected_netloc = None
    cut = origins._scheme_and_authority(value.strip())
    try:
        got = urlsplit(cut)
        got_netloc = (got.scheme, got.netloc)
    except ValueError:
        got_netloc = None
    assert got_netloc == expected_netloc
