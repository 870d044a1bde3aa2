"""Secrets as the JS libraries use them: the UTF-8 bytes of the string as typed (no I/O).

``openssl rand -base64 32`` output is *not* base64-decoded first (SPEC 1.1); raw bytes passed
programmatically are used as they are. Empty secrets and empty lists are configuration errors.
Also Better Auth's secret environment (``BETTER_AUTH_SECRETS`` versions, then
``BETTER_AUTH_SECRET``, then ``AUTH_SECRET``), resolved in the order its ``create-context`` uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .errors import ConfigurationError

__all__ = [
    "BETTER_AUTH_DEV_SECRET",
    "better_auth_secrets_from_env",
    "parse_versioned_secrets",
    "refuse_development_secret",
    "secret_bytes",
    "secret_list",
]


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


# ------------------------------------------------------------------------------ Better Auth

BETTER_AUTH_DEV_SECRET = "better-auth-secret-12345678901234567890"  # noqa: S105 (public)
"""The secret Better Auth 1.7 falls back to when none is set (it refuses it under
``NODE_ENV=production``). sessiongate refuses it unless explicitly told the app is in
development: anyone can sign a session cookie with it."""

_JS_INT = re.compile(r"[ \t\n\r\f\v]*([+-]?[0-9]+)")


def _js_parse_int(text: str) -> int | None:
    # JavaScript parseInt(text, 10): leading whitespace, a sign, digits up to the first non-digit
    match = _JS_INT.match(text)
    return int(match.group(1)) if match else None


def parse_versioned_secrets(value: str) -> tuple[tuple[int, str], ...]:
    """``BETTER_AUTH_SECRETS`` (``"<version>:<secret>,..."``, current first) as Better Auth 1.7
    parses it: entries trimmed, the version read with JavaScript's ``parseInt``, the secret after
    the first ``:`` trimmed. An empty value means "not set" (``()``).

    Raises :class:`ConfigurationError` (never quoting a secret) where Better Auth throws: an entry
    without ``:``, a version that is not a non-negative integer, an empty secret, a repeated
    version.
    """
    if not value:
        return ()
    parsed: list[tuple[int, str]] = []
    for index, raw in enumerate(value.split(","), start=1):
        entry = raw.strip()
        colon = entry.find(":")
        if colon == -1:
            raise ConfigurationError(
                f'BETTER_AUTH_SECRETS entry {index} is not of the form "<version>:<secret>"'
            )
        version = _js_parse_int(entry[:colon])
        if version is None or version < 0:
            raise ConfigurationError(
                f"BETTER_AUTH_SECRETS entry {index}: the version must be a non-negative integer"
            )
        secret = entry[colon + 1 :].strip()
        if not secret:
            raise ConfigurationError(
                f"BETTER_AUTH_SECRETS: the secret of version {version} is empty"
            )
        if any(v == version for v, _ in parsed):
            raise ConfigurationError(f"BETTER_AUTH_SECRETS: version {version} appears twice")
        parsed.append((version, secret))
    return tuple(parsed)


def better_auth_secrets_from_env(
    env: Mapping[str, str], *, development: bool = False
) -> tuple[str, ...]:
    """The secrets a Better Auth 1.7 app with this environment uses, current first: ``()`` when
    none is set.

    As ``context/create-context`` resolves them: ``BETTER_AUTH_SECRETS`` (versioned, the first
    entry is current), then the legacy secret ``BETTER_AUTH_SECRET``, else ``AUTH_SECRET``. With
    versions, the legacy secret follows them (Better Auth still decrypts with it, unless it is
    the development default or already listed); without, it is the only one. The first secret
    signs and verifies cookies; all of them decrypt the JWE cookie cache.

    :data:`BETTER_AUTH_DEV_SECRET` (set explicitly, or implied by ``development=True`` when no
    secret is set) is refused unless ``development`` is true.
    """
    legacy = env.get("BETTER_AUTH_SECRET") or env.get("AUTH_SECRET") or ""
    versioned = parse_versioned_secrets(env.get("BETTER_AUTH_SECRETS") or "")
    if versioned:
        values = [secret for _, secret in versioned]
        if legacy and legacy != BETTER_AUTH_DEV_SECRET and legacy not in values:
            values.append(legacy)
    elif legacy:
        values = [legacy]
    else:
        values = [BETTER_AUTH_DEV_SECRET] if development else []
    return refuse_development_secret(values, development=development)


def refuse_development_secret(
    secrets: Sequence[str], *, development: bool = False
) -> tuple[str, ...]:
    """``secrets`` as a tuple; :class:`ConfigurationError` when one of them is
    :data:`BETTER_AUTH_DEV_SECRET` and ``development`` is false (from the environment or a flag
    alike)."""
    if BETTER_AUTH_DEV_SECRET in secrets and not development:
        raise ConfigurationError(
            "the Better Auth secret is the development default, which anyone can sign cookies "
            "with: set BETTER_AUTH_SECRET (or BETTER_AUTH_SECRETS), or SESSIONGATE_DEVELOPMENT=1 "
            "on a development machine"
        )
    return tuple(secrets)
