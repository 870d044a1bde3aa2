from __future__ import annotations

import pytest

from sessiongate.cookies import (
    RequestCredentials,
    parse_cookie_header,
    percent_decode,
    session_cookie_candidates,
)
from sessiongate.errors import MalformedTokenError, TokenTooLargeError


def test_parse_like_the_cookie_package():
    h = ' a=1; b = 2 ;c="3"; d=%7Bx%7D; e=%zz; f=%E2%82%AC; noeq; a=dup; =v; g='
    assert parse_cookie_header(h) == {
        "a": "1",
        "b": "2",
        "c": "3",
        "d": "{x}",
        "e": "%zz",  # malformed escape: kept verbatim, as tryDecode does
        "f": "€",
        "g": "",
    }


def test_first_cookie_of_a_name_wins():
    assert parse_cookie_header("s=first; s=second")["s"] == "first"


def test_percent_decode():
    assert percent_decode("a%2Bb%3D") == "a+b="
    assert percent_decode("plain") == "plain"
    assert percent_decode("%") is None
    assert percent_decode("%C3") is None  # not UTF-8


def test_chunks_are_joined_in_numeric_order():
    cookies = {f"s.{i}": str(i) for i in (10, 2, 0, 1, 3, 4, 5, 6, 7, 8, 9)}
    assert session_cookie_candidates(cookies, "s") == ["012345678910"]


def test_chunk_gap_is_an_error():
    with pytest.raises(MalformedTokenError, match=r"chunk \.1 .* missing"):
        session_cookie_candidates({"s.0": "a", "s.2": "c"}, "s")


def test_too_many_chunks():
    cookies = {f"s.{i}": "x" for i in range(70)}
    with pytest.raises(TokenTooLargeError):
        session_cookie_candidates(cookies, "s")
    with pytest.raises(TokenTooLargeError):
        session_cookie_candidates({"s.1000": "x"}, "s")


def test_non_canonical_chunk_suffixes_are_ignored():
    assert session_cookie_candidates(
        {"s.0": "a", "s.01": "b", "s.-1": "c", "s.x": "d", "s.１": "e"}, "s"
    ) == ["a"]


def test_stale_unchunked_and_chunks_are_both_candidates():
    c = session_cookie_candidates({"s": "old", "s.0": "ne", "s.1": "w"}, "s")
    assert c == ["old", "new"]


def test_size_cap_on_joined_chunks():
    with pytest.raises(TokenTooLargeError):
        session_cookie_candidates({"s.0": "x" * 600, "s.1": "x" * 600}, "s", max_bytes=1000)


def test_absent_cookie_gives_no_candidates():
    assert session_cookie_candidates({"other": "x", "s2": "y"}, "s") == []


def test_credentials_from_mapping_and_asgi_pairs():
    c1 = RequestCredentials.from_headers({"Cookie": "a=1", "AUTHORIZATION": "Bearer t%2Bk"})
    c2 = RequestCredentials.from_headers([(b"cookie", b"a=1"), (b"authorization", b"Bearer t%2Bk")])
    for c in (c1, c2):
        assert c.cookies == {"a": "1"}
        assert c.bearer_token() == "t+k"


def test_several_cookie_headers_are_joined():
    c = RequestCredentials.from_headers([(b"cookie", b"a=1"), (b"cookie", b"b=2")])
    assert c.cookies == {"a": "1", "b": "2"}


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer abc", "abc"), ("BEARER  abc ", "abc"), ("Basic abc", None)],
)
def test_bearer_scheme(header, token):
    assert RequestCredentials.from_headers({"authorization": header}).bearer_token() == token


@pytest.mark.parametrize("header", ["Bearer", "Bearer   ", "Bearer a%zzb"])
def test_bearer_malformed(header):
    with pytest.raises(MalformedTokenError):
        RequestCredentials.from_headers({"authorization": header}).bearer_token()


def test_cookie_header_cap_checked_before_parsing():
    with pytest.raises(TokenTooLargeError):
        RequestCredentials.from_headers({"cookie": "a=" + "x" * 70000})
    with pytest.raises(TokenTooLargeError):
        RequestCredentials.from_headers(
            [(b"cookie", b"a=" + b"x" * 40000), (b"cookie", b"b=" + b"x" * 40000)]
        )


def test_authorization_cap():
    with pytest.raises(TokenTooLargeError):
        RequestCredentials.from_headers({"authorization": "Bearer " + "x" * 40000})
