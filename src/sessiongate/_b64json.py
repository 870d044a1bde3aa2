"""Strict base64url and JSON, as the token formats need them (no I/O).

Decoding refuses what the JS libraries would never emit: padding, whitespace, the standard
alphabet's ``+``/``/``, JSON constants such as ``NaN``, and anything that is not an object.
"""

from __future__ import annotations

import binascii
import json
from typing import Any

from .errors import MalformedTokenError

__all__ = ["b64url_decode", "b64url_encode", "json_compact", "json_object"]

# base64url -> standard alphabet in one pass; "+", "/" and "=" become "!" so that the strict
# decoder rejects them (they are not base64url) without extra scans.
_TO_STD = bytes.maketrans(b"-_+/=", b"+/!!!")
_URL_TO_STRICT = _TO_STD
_TO_URL = bytes.maketrans(b"+/", b"-_")
_PADS = (b"", b"", b"==", b"=")


def b64url_decode(segment: str, what: str = "segment") -> bytes:
    """Decode unpadded base64url, rejecting padding, whitespace and foreign characters."""
    try:
        raw = segment.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedTokenError(f"the token {what} is not base64url") from None
    if len(raw) % 4 == 1:
        raise MalformedTokenError(f"the token {what} is not base64url")
    try:
        return binascii.a2b_base64(raw.translate(_TO_STD) + _PADS[len(raw) % 4], strict_mode=True)
    except binascii.Error:
        raise MalformedTokenError(f"the token {what} is not base64url") from None


def b64url_encode(data: bytes) -> str:
    """Encode to unpadded base64url."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URL).rstrip(b"=").decode("ascii")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


_decoder = json.JSONDecoder(parse_constant=_reject_constant)
_scan_once = _decoder.scan_once  # type: ignore[attr-defined]  # the C scanner


def json_object(data: bytes, what: str = "payload") -> dict[str, Any]:
    """Parse UTF-8 JSON that must be an object (``NaN``/``Infinity`` rejected)."""
    try:
        text = data.decode("utf-8")
        # Fast path: the C scanner directly (what JSONDecoder.decode calls after two regex
        # whitespace matches). Anything unusual (surrounding whitespace, trailing data, errors)
        # goes through the full decoder, which accepts or raises exactly as before.
        try:
            value, end = _scan_once(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):
            value = _decoder.decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedTokenError(f"the token {what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise MalformedTokenError(f"the token {what} is not a JSON object")
    return value


def json_compact(value: Any) -> bytes:
    """Serialize like ``JSON.stringify``: compact separators, key order kept, no ASCII escaping."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
