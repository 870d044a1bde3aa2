"""Compact JWE with ``alg: "dir"`` (A256GCM, A256CBC-HS512) on ``cryptography`` primitives.

This is the hot path for Auth.js/NextAuth session cookies, so it does the minimum: a strict
parse with size and shape checks before any crypto, one HMAC-SHA-512 + AES-CBC (or one
AES-GCM) call, and keys prepared once (:class:`ContentKey`). No I/O.

RFC 7516 compact form: ``header . "" . iv . ciphertext . tag``; the AAD is the ASCII of the
first segment exactly as sent.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from binascii import Error as BinasciiError
from binascii import a2b_base64
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._b64json import _PADS, _URL_TO_STRICT, b64url_decode, b64url_encode, json_compact, json_object
from .errors import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    DecryptionFailedError,
    MalformedTokenError,
    TokenTooLargeError,
)

__all__ = [
    "A256CBC_HS512",
    "A256GCM",
    "KEY_LENGTHS",
    "CompactJWE",
    "ContentKey",
    "hkdf_sha256",
    "oct_thumbprint",
    "parse_compact",
    "split_compact",
]

A256GCM = "A256GCM"
A256CBC_HS512 = "A256CBC-HS512"
KEY_LENGTHS = {A256CBC_HS512: 64, A256GCM: 32}
_IV_LENGTHS = {A256CBC_HS512: 16, A256GCM: 12}
_TAG_LENGTHS = {A256CBC_HS512: 32, A256GCM: 16}

# Header parameters a dir JWE from Auth.js / Better Auth may carry. Anything else (zip, crit,
# jku, x5u, jwk, epk, p2s, ...) is refused: none of the JS libraries emits it.
_ALLOWED_HEADER_PARAMS = frozenset({"alg", "enc", "kid", "typ", "cty"})
_MAX_HEADER_CHARS = 1024
_HEADER_CACHE_MAX = 256


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF-SHA-256. An empty salt equals 32 zero bytes, as in ``@panva/hkdf``."""
    if not ikm:
        raise ConfigurationError("a secret must not be empty")
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info).derive(ikm)


def oct_thumbprint(key: bytes, hash_name: str) -> str:
    """RFC 7638 thumbprint of a symmetric JWK ``{"k": ..., "kty": "oct"}``.

    ``hash_name`` is ``"sha512"`` for Auth.js 64-byte keys, ``"sha256"`` for 32-byte keys and for
    Better Auth.
    """
    jwk = '{"k":"' + b64url_encode(key) + '","kty":"oct"}'
    return b64url_encode(hashlib.new(hash_name, jwk.encode("ascii")).digest())


@dataclass(slots=True)
class CompactJWE:
    """A parsed compact JWE (nothing decrypted yet). ``header`` is read-only (it is shared)."""

    header: Mapping[str, Any]
    protected: bytes
    iv: bytes
    ciphertext: bytes
    tag: bytes

    @property
    def enc(self) -> str:
        enc: str = self.header["enc"]
        return enc

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None


# parsed headers by their encoded bytes (the AAD): the tokens of one app share a few headers.
# Every token with that header gets the same object, so it is a read-only view of string values.
_header_cache: dict[bytes, Mapping[str, Any]] = {}


def _parse_header(segment: bytes, allowed_enc: frozenset[str]) -> Mapping[str, Any]:
    cached = _header_cache.get(segment)
    if cached is None:
        if len(segment) > _MAX_HEADER_CHARS:
            raise MalformedTokenError("the JWE header is too large")
        header = json_object(b64url_decode(segment.decode("ascii"), "header"), "header")
        if header.get("alg") != "dir":
            raise AlgorithmNotAllowedError("only JWE alg 'dir' is accepted")
        if "zip" in header:
            raise AlgorithmNotAllowedError("compressed JWE (zip) is not accepted")
        extra = header.keys() - _ALLOWED_HEADER_PARAMS
        if extra:
            raise MalformedTokenError("the JWE header has unexpected parameters")
        enc = header.get("enc")
        if not isinstance(enc, str) or enc not in KEY_LENGTHS:
            raise AlgorithmNotAllowedError("the JWE 'enc' is not accepted")
        kid = header.get("kid")
        if kid is not None and (not isinstance(kid, str) or not kid or len(kid) > 256):
            raise MalformedTokenError("the JWE 'kid' must be a non-empty string")
        if not all(isinstance(header.get(p, ""), str) for p in ("typ", "cty")):
            raise MalformedTokenError("the JWE 'typ' and 'cty' must be strings")
        if len(_header_cache) >= _HEADER_CACHE_MAX:
            _header_cache.clear()
        cached = _header_cache[segment] = MappingProxyType(header)
    if cached["enc"] not in allowed_enc:
        raise AlgorithmNotAllowedError("the JWE 'enc' is not accepted")
    return cached


_ALL_ENC = frozenset(KEY_LENGTHS)


def split_compact(
    token: str, max_bytes: int, allowed_enc: frozenset[str] = _ALL_ENC
) -> tuple[Mapping[str, Any], bytes, bytes, bytes, bytes]:
    """:func:`parse_compact` as a plain ``(header, protected, iv, ciphertext, tag)`` tuple.

    The hot path of every session cookie: one frame, no intermediate object.
    """
    if len(token) > max_bytes:
        raise TokenTooLargeError()
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedTokenError("the token is not base64url") from None
    # One pass maps base64url to the standard alphabet for all segments (and "+", "/", "=" to
    # a byte the strict decoder rejects); "." is untouched, so splitting afterwards is safe.
    parts = raw.translate(_URL_TO_STRICT).split(b".")
    if len(parts) != 5:
        raise MalformedTokenError("a JWE has five dot-separated segments")
    protected = raw[: len(parts[0])]
    header = _header_cache.get(protected)
    if header is None or header["enc"] not in allowed_enc:
        header = _parse_header(protected, allowed_enc)
    _, encrypted_key, iv_b, ct_b, tag_b = parts
    if encrypted_key:
        raise MalformedTokenError("a 'dir' JWE must have an empty encrypted-key segment")
    enc = header["enc"]
    try:
        iv = a2b_base64(iv_b + _PADS[len(iv_b) % 4], strict_mode=True)
        tag = a2b_base64(tag_b + _PADS[len(tag_b) % 4], strict_mode=True)
        ciphertext = a2b_base64(ct_b + _PADS[len(ct_b) % 4], strict_mode=True)
    except BinasciiError:
        raise MalformedTokenError("the token is not base64url") from None
    if len(iv) != _IV_LENGTHS[enc] or len(tag) != _TAG_LENGTHS[enc]:
        raise MalformedTokenError("the JWE iv or tag has the wrong length")
    if enc == A256CBC_HS512 and (not ciphertext or len(ciphertext) % 16):
        raise MalformedTokenError("the JWE ciphertext is not a whole number of AES blocks")
    return header, protected, iv, ciphertext, tag


def parse_compact(
    token: str, *, max_bytes: int, allowed_enc: frozenset[str] = _ALL_ENC
) -> CompactJWE:
    """Parse and shape-check a compact ``dir`` JWE. Size is checked first, before any decoding."""
    return CompactJWE(*split_compact(token, max_bytes, allowed_enc))


class ContentKey:
    """A content-encryption key for one ``enc``, with its cipher objects prepared once."""

    __slots__ = ("_aes", "_gcm", "_mac", "_mac_key", "enc", "kid", "raw")

    def __init__(self, raw: bytes, enc: str, kid: str | None = None) -> None:
        if KEY_LENGTHS.get(enc) != len(raw):
            raise ConfigurationError(f"{enc} needs a {KEY_LENGTHS.get(enc, '?')}-byte key")
        self.raw = raw
        self.enc = enc
        self.kid = kid
        if enc == A256GCM:
            self._gcm: AESGCM | None = AESGCM(raw)
            self._mac_key = b""
            self._aes: algorithms.AES | None = None
        else:
            self._gcm = None
            self._mac_key = raw[:32]
            self._aes = algorithms.AES(raw[32:])
            # keyed once; each tag is a copy of this context (OpenSSL HMAC_CTX_copy), which is
            # ~2.5x cheaper than hmac.digest's per-call digest lookup + key schedule
            self._mac = crypto_hmac.HMAC(self._mac_key, hashes.SHA512())

    def __repr__(self) -> str:
        return f"ContentKey(enc={self.enc!r}, kid={self.kid!r}, raw=<redacted>)"

    def _cbc_tag(self, aad: bytes, iv: bytes, ciphertext: bytes) -> bytes:
        al = (len(aad) * 8).to_bytes(8, "big")
        mac = self._mac.copy()
        mac.update(aad + iv + ciphertext + al)
        return mac.finalize()[:32]

    def decrypt(self, jwe: CompactJWE) -> bytes:
        """Authenticate and decrypt; any failure is :class:`DecryptionFailedError`."""
        if jwe.header["enc"] != self.enc:
            raise DecryptionFailedError()
        return self.open(jwe.protected, jwe.iv, jwe.ciphertext, jwe.tag)

    def open(self, protected: bytes, iv: bytes, ciphertext: bytes, tag: bytes) -> bytes:
        """:meth:`decrypt` on the parts of :func:`split_compact`, whose ``enc`` must match."""
        if self._gcm is not None:
            try:
                return self._gcm.decrypt(iv, ciphertext + tag, protected)
            except InvalidTag:
                raise DecryptionFailedError() from None
        expected = self._cbc_tag(protected, iv, ciphertext)
        if not hmac.compare_digest(expected, tag):
            raise DecryptionFailedError()
        assert self._aes is not None
        decryptor = Cipher(self._aes, modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        pad = padded[-1]
        if not 1 <= pad <= 16 or padded[-pad:] != bytes((pad,)) * pad:
            raise DecryptionFailedError()
        return padded[:-pad]

    def encrypt(self, plaintext: bytes, header: Mapping[str, Any]) -> str:
        """Produce a compact JWE (used by :mod:`sessiongate.testing` and the reverse interop)."""
        protected = b64url_encode(json_compact({"alg": "dir", "enc": self.enc, **header}))
        aad = protected.encode("ascii")
        if self._gcm is not None:
            iv = os.urandom(12)
            sealed = self._gcm.encrypt(iv, plaintext, aad)
            ciphertext, tag = sealed[:-16], sealed[-16:]
        else:
            assert self._aes is not None
            iv = os.urandom(16)
            pad = 16 - len(plaintext) % 16
            encryptor = Cipher(self._aes, modes.CBC(iv)).encryptor()
            ciphertext = encryptor.update(plaintext + bytes((pad,)) * pad) + encryptor.finalize()
            tag = self._cbc_tag(aad, iv, ciphertext)
        return ".".join(
            (protected, "", b64url_encode(iv), b64url_encode(ciphertext), b64url_encode(tag))
        )
