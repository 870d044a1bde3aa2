"""The parsed JWS header is cached process-wide and shared: no caller may change it.

``parse_jws_header`` (used by ``BearerJWT`` and ``JWKSBearer``) caches the parsed header by its
encoded form, and ``BearerJWT.decode_full`` hands that object out as ``DecodedToken.header``.
When it was a plain ``dict``, a caller that edited it (``header["alg"] = ...``, or a helper that
"normalises" headers in place) changed how every later token with the same header segment was
verified, in every verifier of the process.
"""

from __future__ import annotations

import pytest

from sessiongate import BearerJWT
from sessiongate.errors import AlgorithmNotAllowedError
from sessiongate.jws import parse_jws_header

SECRET = "shared-header-secret-0123456789abcdef012345"
NOW = 1_800_000_000


def test_mutating_a_returned_jws_header_cannot_poison_later_verifications():
    verifier = BearerJWT(SECRET, algorithms=["HS256", "HS512"], cache_size=0)
    first = verifier.decode_full(verifier.encode({"sub": "a"}, now=NOW), now=NOW)
    with pytest.raises(TypeError):
        first.header["alg"] = "HS512"  # type: ignore[index]
    with pytest.raises((TypeError, AttributeError)):
        first.header.pop("typ")  # type: ignore[attr-defined]
    other = BearerJWT(SECRET, cache_size=0)  # another verifier, same header segment
    assert other.decode(other.encode({"sub": "b"}, now=NOW), now=NOW)["sub"] == "b"
    assert dict(first.header) == {"alg": "HS256", "typ": "JWT"}


def test_parse_jws_header_returns_a_read_only_view():
    segment = BearerJWT(SECRET).encode({"sub": "a"}, now=NOW).split(".")[0]
    header = parse_jws_header(segment)
    assert header == {"alg": "HS256", "typ": "JWT"}
    with pytest.raises(TypeError):
        header["alg"] = "none"  # type: ignore[index]
    assert parse_jws_header(segment)["alg"] == "HS256"
    with pytest.raises(AlgorithmNotAllowedError):
        BearerJWT(SECRET, algorithms=["HS512"]).decode(
            BearerJWT(SECRET).encode({"sub": "a"}, now=NOW), now=NOW
        )
