"""Secrets as the JS libraries use them: the UTF-8 bytes of the string as typed (no I/O).

``openssl rand -base64 32`` output is *not* base64-decoded first (SPEC 1.1); raw bytes passed
programmatically are used as they are. Empty secrets and empty lists are configuration errors.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import ConfigurationError

__all__ = ["secret_bytes", "secret_list"]


def secret_bytes(secret: str | bytes, what: str = "a secret") -> bytes:
    """A secret as the JS libraries use it: the UTF-8 bytes of the string as typed."""
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if not key:
        raise ConfigurationError(f"{what} must not be empty")
    return key


def secret_list(
    secret: str | bytes | Sequence[str | bytes], what: str = "a secret"
) -> tuple[bytes, ...]:
    """One secret or a list (current first) as non-empty byte strings; refuses an empty list."""
    if isinstance(secret, (str, bytes)):
        return (secret_bytes(secret, what),)
    keys = tuple(secret_bytes(s, what) for s in secret)
    if not keys:
        raise ConfigurationError(f"at least one {what.removeprefix('a ')} is needed")
    return keys
