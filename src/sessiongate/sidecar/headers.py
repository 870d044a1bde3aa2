"""The sidecar's answers, framework-free: ``X-User-*`` headers and JSON bodies (no I/O).

The one place the headers of a 200 are built (:func:`user_headers`; add a header here).
Claim values are untrusted text: :func:`encode_header_value` percent-encodes everything outside
printable ASCII (and ``%``, and ``,`` inside list items) so that a value can never break or
inject a header; :func:`user_headers` refuses a user whose id cannot be passed on.
:func:`render_ok` builds the whole 200 answer (:class:`Rendered`), which the response memo
(:mod:`sessiongate.sidecar.memo`) may keep.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidClaimError
from ..types import AuthResult

__all__ = [
    "Rendered",
    "encode_header_value",
    "json_bytes",
    "org_headers",
    "raw_headers",
    "render_ok",
    "user_headers",
    "user_json",
]

_PRINTABLE = frozenset(chr(c) for c in range(0x20, 0x7F))
_SAFE_SCALAR = _PRINTABLE - {"%"}
_SAFE_ITEM = _SAFE_SCALAR - {","}


def encode_header_value(value: str, *, list_item: bool = False) -> str:
    """Make a claim value safe for an HTTP header, reversibly.

    Characters outside printable ASCII (CR, LF, NUL, other controls, anything non-ASCII), ``%``,
    leading/trailing spaces, and for list items ``,`` are percent-encoded as UTF-8. The result
    decodes back to ``value`` with ``decodeURIComponent`` or ``urllib.parse.unquote``.
    """
    safe = _SAFE_ITEM if list_item else _SAFE_SCALAR
    if value and safe.issuperset(value) and value[0] != " " and value[-1] != " ":
        return value
    out: list[str] = []
    last = len(value) - 1
    for i, ch in enumerate(value):
        if ch in safe and not (ch == " " and (i == 0 or i == last)):
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
    return "".join(out)


def user_headers(
    user: Any, source: str, credential: str, *, max_value_bytes: int = 1024
) -> list[tuple[str, str]]:
    """The ``X-User-*`` / ``X-Auth-*`` headers for a verified user (see the module docs).

    Raises :class:`~sessiongate.errors.InvalidClaimError` when the user id is empty or longer
    than ``max_value_bytes`` once encoded: a verdict never passes without an identity.
    """
    out: list[tuple[str, str]] = []

    def put(name: str, value: str | None, *, list_item: bool = False) -> None:
        if value is None or value == "":
            return
        encoded = encode_header_value(value, list_item=list_item)
        if len(encoded) <= max_value_bytes:
            out.append((name, encoded))

    def put_list(name: str, values: Iterable[str]) -> None:
        items = sorted(v for v in values if isinstance(v, str) and v)
        if not items:
            return
        encoded = ",".join(encode_header_value(v, list_item=True) for v in items)
        if len(encoded) <= max_value_bytes:
            out.append((name, encoded))

    def text(attr: str) -> str | None:
        value = getattr(user, attr, None)
        return value if isinstance(value, str) else None

    put("X-User-Id", str(getattr(user, "id", "") or ""))
    if not out:
        raise InvalidClaimError("the user id is empty or too long to pass on in X-User-Id")
    put("X-User-Email", text("email"))
    put("X-User-Name", text("name"))
    put("X-User-Role", text("role"))
    put_list("X-User-Roles", getattr(user, "roles", ()) or ())
    put_list("X-User-Permissions", getattr(user, "permissions", ()) or ())
    put("X-User-Impersonated-By", _impersonator(user))
    put("X-Auth-Source", source)
    put("X-Auth-Credential", credential)
    return out


def _impersonator(user: Any) -> str | None:
    """The admin who impersonates this session (``session.impersonatedBy``), if any."""
    value = getattr(user, "impersonated_by", None)
    if value is None:
        claims = getattr(user, "claims", None) or {}
        session = claims.get("session") if isinstance(claims, Mapping) else None
        value = claims.get("impersonatedBy") if isinstance(claims, Mapping) else None
        if value is None and isinstance(session, Mapping):
            value = session.get("impersonatedBy")
    return value if isinstance(value, str) and value else None


def org_headers(
    org_id: str, roles: Iterable[str], *, max_value_bytes: int
) -> list[tuple[bytes, bytes]]:
    """``X-User-Org-Id`` / ``X-User-Org-Role`` (the member's roles) for the organization the
    request named, as ASGI header pairs; the roles are left out when too long to pass on."""
    out = [(b"x-user-org-id", encode_header_value(org_id).encode("latin-1"))]
    encoded = ",".join(encode_header_value(r, list_item=True) for r in roles if r)
    if encoded and len(encoded) <= max_value_bytes:
        out.append((b"x-user-org-role", encoded.encode("latin-1")))
    return out


def user_json(user: Any, include_claims: bool) -> dict[str, Any]:
    """The ``user`` object of a 200's JSON body (claims only with ``include_claims``)."""
    """The ``user`` object of a 200's JSON body (claims only with ``include_claims``)."""
    body: dict[str, Any] = {
        "id": getattr(user, "id", None),
        "email": getattr(user, "email", None),
        "name": getattr(user, "name", None),
        "image": getattr(user, "image", None),
        "role": getattr(user, "role", None),
        "roles": sorted(getattr(user, "roles", ()) or ()),
        "permissions": sorted(getattr(user, "permissions", ()) or ()),
        "source": getattr(user, "source", None),
        "expires_at": getattr(user, "expires_at", None),
    }
    if include_claims:
        claims = getattr(user, "claims", None)
        body["claims"] = plain_claims(claims) if isinstance(claims, Mapping) else {}
    return body


def plain_claims(value: Any) -> Any:
    """Mapping proxies and tuples to JSON-ready dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): plain_claims(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain_claims(v) for v in value]
    return value


def json_bytes(obj: Any) -> bytes:
    """Compact ASCII JSON."""
    """Compact ASCII JSON."""
    # ASCII-only JSON: a claim with a lone UTF-16 surrogate (a JS string cut mid-emoji) is
    # escaped as \udXXX instead of failing to encode as UTF-8
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def raw_headers(headers: Iterable[tuple[str, str]], body: bytes) -> list[tuple[bytes, bytes]]:
    """ASGI header pairs, with the JSON content type, ``no-store`` and the body's length."""
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    names = {k for k, _ in raw}
    if b"content-type" not in names:
        raw.append((b"content-type", b"application/json"))
    if b"cache-control" not in names:
        raw.append((b"cache-control", b"no-store"))
    raw.append((b"content-length", str(len(body)).encode("ascii")))
    return raw


@dataclass(frozen=True, slots=True)
class Rendered:
    """A 200 answer ready to send: ASGI header pairs and the body (empty for ``HEAD``).

    ``user_id``, ``credential`` and ``authenticator`` are kept for metrics and the audit log.
    """

    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    user_id: str
    credential: str
    authenticator: str

    @property
    def size(self) -> int:
        """Bytes of header values and body."""
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers)


def render_ok(result: AuthResult, *, include_claims: bool, max_value_bytes: int) -> Rendered:
    """The 200 answer for a verified user (headers first: they refuse an unusable id with
    :class:`~sessiongate.errors.InvalidClaimError`)."""
    user = result.user
    source = str(getattr(user, "source", None) or result.authenticator)
    out_headers = user_headers(user, source, result.credential, max_value_bytes=max_value_bytes)
    body = json_bytes(
        {
            "user": user_json(user, include_claims),
            "credential": result.credential,
            "authenticator": result.authenticator,
        }
    )
    return Rendered(
        tuple(raw_headers(out_headers, body)),
        body,
        str(getattr(user, "id", "")),
        result.credential,
        result.authenticator,
    )
