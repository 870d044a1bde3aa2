"""Which keys of a JSON Web Key Set are trusted, and which of them may verify a token (no I/O).

This module owns the key rules of the JWKS verifier:

* parsing a JWKS document into :class:`JWKSKey` objects (``cryptography`` public keys). Keys
  meant for encryption (``use`` other than ``sig``, ``key_ops`` without ``verify``), symmetric
  (``oct``) and unknown key types, keys carrying private members, RSA keys under 2048 bits and
  keys whose ``alg`` does not fit their type or curve are ignored; at most 100 keys are kept;
* the pinned algorithms (:data:`ASYMMETRIC_ALGORITHMS`; HS* and ``none`` are refused);
* key selection (by ``kid``, then by the key's type and curve fitting the token's ``alg``) and
  the signature check itself (:class:`SignatureVerifier`);
* static public keys configured by the operator (:func:`parse_public_keys`: PEM, a JWK or a
  JWK set), held to the same rules but refused loudly: a configured key that cannot verify
  anything is a :class:`~sessiongate.errors.ConfigurationError`, never silently dropped;
* :class:`KeySource`, what a verifier asks for keys: a fetched JWKS
  (:class:`~sessiongate.jwks.JWKSClient`) or static keys (:class:`~sessiongate.jwks.StaticKeys`).

PyJWT is used for two things only, and only through APIs that exist in PyJWT 2.8.0, the floor
``pyproject.toml`` declares: ``jwt.PyJWK`` turns a JWK into a ``cryptography`` key, and the
algorithm objects from ``jwt.api_jws.PyJWS.get_algorithm_by_name`` check signatures
(``prepare_key``, ``verify``). Newer helpers (``Algorithm.check_key_length`` appeared in 2.11)
must not be called here: the RSA size rule is :func:`_key_algorithms`'s.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, NamedTuple, Protocol, runtime_checkable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509 import load_pem_x509_certificates

from .._extras import missing_extra

try:
    import jwt
    from jwt.api_jws import PyJWS
except ModuleNotFoundError as err:
    raise missing_extra(err, "jwks") from None

from .._b64json import b64url_decode, json_object
from ..errors import (
    AlgorithmNotAllowedError,
    ConfigurationError,
    InvalidSignatureError,
    MalformedTokenError,
    TokenTooLargeError,
    UnknownKidError,
)
from ..jws import HMAC_ALGORITHMS, parse_jws_header

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "JWKSKey",
    "KeySet",
    "KeySource",
    "SignatureVerifier",
    "SignedToken",
    "parse_jwk_set",
    "parse_public_keys",
    "parse_signed_token",
    "pin_algorithms",
    "select_keys",
]

logger = logging.getLogger("sessiongate")

_RSA_ALGORITHMS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHMS: Final = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_EC_CURVES: Final = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
ASYMMETRIC_ALGORITHMS: Final = _RSA_ALGORITHMS | frozenset(_EC_ALGORITHMS.values()) | {"EdDSA"}
"""The algorithms :class:`~sessiongate.jwks.JWKSBearer` can be configured with."""

_MIN_RSA_BITS: Final = 2048
_MAX_KEYS: Final = 100
_MAX_KID_CHARS: Final = 256
_MAX_KIDLESS_CANDIDATES: Final = 4
# JWK members that only a private (or symmetric) key has: a key set publishing them is broken.
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


@dataclass(frozen=True, slots=True)
class JWKSKey:
    """One usable verification key from a key set.

    Attributes:
        kid: the key id, or ``None`` when the JWK has none.
        kty: ``RSA``, ``EC`` or ``OKP``.
        algorithms: the JWS algorithms this key may verify (its ``alg`` when the JWK names one,
            otherwise every algorithm its type and curve allow).
        key: the ``cryptography`` public key object.
    """

    kid: str | None
    kty: str
    algorithms: frozenset[str]
    key: Any = field(repr=False)


@dataclass(frozen=True, slots=True)
class KeySet:
    """The usable keys of one JWKS document, indexed by ``kid`` (immutable).

    Attributes:
        keys: the usable keys, in document order.
        fingerprint: changes exactly when the usable keys change.
        by_kid: ``kid`` -> the keys with that ``kid`` (several when a set repeats one).
    """

    keys: tuple[JWKSKey, ...]
    fingerprint: str
    by_kid: Mapping[str, tuple[JWKSKey, ...]] = field(repr=False)

    @property
    def kids(self) -> tuple[str | None, ...]:
        """The ``kid`` of each key, in document order."""
        return tuple(k.kid for k in self.keys)

    def lookup(self, kid: str | None) -> tuple[JWKSKey, ...] | None:
        """The keys for ``kid`` (every key when ``None``), or ``None`` for an unknown ``kid``."""
        if kid is None:
            return self.keys
        return self.by_kid.get(kid)


def _key_algorithms(key: object) -> frozenset[str]:
    """The algorithms a public key's type (and size or curve) allows; empty when unusable."""
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA_ALGORITHMS if key.key_size >= _MIN_RSA_BITS else frozenset()
    if isinstance(key, ec.EllipticCurvePublicKey):
        name = _EC_CURVES.get(key.curve.name)
        return frozenset({_EC_ALGORITHMS[name]}) if name else frozenset()
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return frozenset({"EdDSA"})
    return frozenset()


def _parse_jwk(jwk: object) -> JWKSKey | None:
    """One JWK -> a usable key, or ``None`` when it must be ignored (never raises)."""
    if not isinstance(jwk, dict):
        return None
    kty = jwk.get("kty")
    if kty not in ("RSA", "EC", "OKP"):
        return None  # symmetric ("oct") and unknown key types are never trusted from a JWKS
    use = jwk.get("use")
    if use is not None and use != "sig":
        return None
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None
    kid = jwk.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid or len(kid) > _MAX_KID_CHARS):
        return None
    if jwk.keys() & _PRIVATE_MEMBERS:
        logger.warning("JWKS key %r carries private key members; ignored", kid)
        return None
    alg = jwk.get("alg")
    if alg is not None and alg not in ASYMMETRIC_ALGORITHMS:
        return None
    try:
        parsed = jwt.PyJWK(jwk, algorithm=alg or ("EdDSA" if kty == "OKP" else None))
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError):
        return None
    algorithms = _key_algorithms(parsed.key)
    if alg is not None:
        algorithms &= {alg}
    if not algorithms:
        return None
    return JWKSKey(kid, kty, algorithms, parsed.key)


def parse_jwk_set(data: bytes | Mapping[str, Any]) -> KeySet:
    """Parse a JWKS document (JSON bytes or an already-parsed mapping) into its usable keys.

    Raises ``ValueError`` when ``data`` is not a key set (not a JSON object, no ``keys`` list)
    or when it holds no usable key.
    """
    if isinstance(data, bytes):
        try:
            doc: Mapping[str, Any] = json_object(data, "key set")
        except MalformedTokenError:
            raise ValueError("not a JSON Web Key Set") from None
    else:
        doc = data
    if not isinstance(doc, Mapping) or not isinstance(doc.get("keys"), list):
        raise ValueError("not a JSON Web Key Set")
    keys: list[JWKSKey] = []
    accepted: list[Any] = []
    for jwk in doc["keys"]:
        key = _parse_jwk(jwk)
        if key is None:
            continue
        if len(keys) >= _MAX_KEYS:
            logger.warning("JWKS has more than %d usable keys; the rest are ignored", _MAX_KEYS)
            break
        keys.append(key)
        accepted.append(jwk)
    if not keys:
        raise ValueError("the key set has no usable signature key")
    return _keyset(keys, accepted)


def _keyset(keys: list[JWKSKey], accepted: list[Any]) -> KeySet:
    fingerprint = hashlib.sha256(
        json.dumps(accepted, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ).hexdigest()
    by_kid: dict[str, tuple[JWKSKey, ...]] = {}
    for key in keys:
        if key.kid is not None:
            by_kid[key.kid] = (*by_kid.get(key.kid, ()), key)
    return KeySet(tuple(keys), fingerprint, MappingProxyType(by_kid))


_MAX_STATIC_BYTES: Final = 1024 * 1024
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)
_REFUSED_PEM: Final = ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")


def _pem_keys(data: bytes, kid: str | None) -> tuple[list[JWKSKey], list[Any]]:
    blocks = [(m.group(1).decode("ascii"), m.group(0)) for m in _PEM_BLOCK.finditer(data)]
    if not blocks:
        raise ConfigurationError("no PEM block (-----BEGIN PUBLIC KEY-----) in the key data")
    if kid is not None and len(blocks) > 1:
        raise ConfigurationError("kid= names one key; the PEM data holds several")
    keys: list[JWKSKey] = []
    accepted: list[Any] = []
    for number, (label, block) in enumerate(blocks, 1):
        if label in _REFUSED_PEM or label.endswith("PRIVATE KEY"):
            raise ConfigurationError(
                f"PEM block {number} is a private key: give sessiongate the public key only"
            )
        public: object
        try:
            if label == "CERTIFICATE":
                public = load_pem_x509_certificates(block)[0].public_key()
            elif label in ("PUBLIC KEY", "RSA PUBLIC KEY"):
                public = serialization.load_pem_public_key(block)
            else:
                raise ValueError(label)
        except ValueError:
            raise ConfigurationError(
                f"PEM block {number} ({label}) is not a public key or certificate"
            ) from None
        algorithms = _key_algorithms(public)
        if not algorithms:
            raise ConfigurationError(
                f"PEM block {number} holds a key no pinned algorithm may use (RSA keys need "
                f"{_MIN_RSA_BITS} bits or more; EC keys P-256, P-384 or P-521; OKP Ed25519/448)"
            )
        kty = (
            "RSA"
            if isinstance(public, rsa.RSAPublicKey)
            else "EC"
            if isinstance(public, ec.EllipticCurvePublicKey)
            else "OKP"
        )
        keys.append(JWKSKey(kid, kty, algorithms, public))
        der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        accepted.append({"spki": hashlib.sha256(der).hexdigest(), "kid": kid})
    return keys, accepted


def parse_public_keys(data: bytes | str | Mapping[str, Any], *, kid: str | None = None) -> KeySet:
    """Parse statically configured public keys: PEM text, a JWK or a JWK set (pure).

    Args:
        data: PEM (``PUBLIC KEY``, ``RSA PUBLIC KEY`` or ``CERTIFICATE`` blocks, several for
            rotation), JSON text of a JWK or a JWK set, or an already-parsed JWK / JWK set.
        kid: the key id of a single PEM key (PEM carries none); a token naming another
            ``kid`` is refused. JWKs keep their own ``kid``.

    Every key must be usable under the rules of :func:`parse_jwk_set` (asymmetric, public,
    RSA of 2048 bits or more, ``alg`` fitting the key): one that is not raises
    :class:`ConfigurationError` naming it, as do private keys, symmetric (``oct``) keys and
    data that is neither PEM nor JSON. At most 100 keys and 1 MiB.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if isinstance(data, bytes):
        if len(data) > _MAX_STATIC_BYTES:
            raise ConfigurationError("the key data is larger than 1 MiB")
        if b"-----BEGIN " in data:
            keys, accepted = _pem_keys(data, kid)
            if len(keys) > _MAX_KEYS:
                raise ConfigurationError(f"more than {_MAX_KEYS} keys")
            return _keyset(keys, accepted)
        try:
            doc: Any = json_object(data, "key data")
        except MalformedTokenError:
            raise ConfigurationError(
                "the key data is neither PEM nor a JSON JWK / JWK set"
            ) from None
    else:
        doc = data
    if not isinstance(doc, Mapping):
        raise ConfigurationError("a JWK or JWK set must be a JSON object")
    if kid is not None:
        raise ConfigurationError("kid= is for PEM keys; a JWK carries its own kid")
    listed = doc.get("keys") if "keys" in doc else [doc]
    if not isinstance(listed, list) or not listed:
        raise ConfigurationError("the JWK set has no keys")
    if len(listed) > _MAX_KEYS:
        raise ConfigurationError(f"more than {_MAX_KEYS} keys")
    keys = []
    for number, jwk in enumerate(listed, 1):
        if isinstance(jwk, Mapping) and (jwk.get("kty") == "oct" or "k" in jwk):
            raise ConfigurationError(
                f"key {number} is a symmetric (oct) key: HS256 secrets go to BearerJWT"
            )
        if isinstance(jwk, Mapping) and jwk.keys() & _PRIVATE_MEMBERS:
            raise ConfigurationError(
                f"key {number} carries private key members: give sessiongate the public key only"
            )
        key = _parse_jwk(dict(jwk) if isinstance(jwk, Mapping) else jwk)
        if key is None:
            raise ConfigurationError(
                f"key {number} is not a usable public signature key (kty RSA of 2048 bits or "
                "more, EC or OKP; use 'sig'; an alg that fits the key)"
            )
        keys.append(key)
    return _keyset(keys, list(listed))


class SignedToken(NamedTuple):
    """A compact JWS parsed strictly, nothing verified yet (see :func:`parse_signed_token`)."""

    header: Mapping[str, Any]
    alg: str
    kid: str | None
    payload: bytes
    signing_input: bytes
    signature: bytes


def parse_signed_token(
    token: str, algorithms: Collection[str], max_token_bytes: int
) -> SignedToken:
    """Everything checkable before any key lookup or crypto, in this order: size cap, three
    segments, strict base64url, the protected header (:func:`sessiongate.jws.parse_jws_header`:
    key-carrying and ``crit`` parameters refused), ``alg`` in ``algorithms`` (never taken from
    the token), a non-empty signature."""
    if not isinstance(token, str) or not token:
        raise MalformedTokenError("the token is empty")
    if len(token) > max_token_bytes:
        raise TokenTooLargeError()
    first = token.find(".")
    last = token.rfind(".")
    if first <= 0 or token.count(".") != 2:
        raise MalformedTokenError("a JWT has three dot-separated segments")
    header = parse_jws_header(token[:first])
    alg = header["alg"]
    if alg not in algorithms:
        raise AlgorithmNotAllowedError(f"the JWT algorithm {alg[:16]!r} is not allowed")
    payload = b64url_decode(token[first + 1 : last], "payload")
    signature = b64url_decode(token[last + 1 :], "signature")
    if not signature:
        raise MalformedTokenError("the JWT has an empty signature")
    signing_input = token[:last].encode("ascii")
    return SignedToken(header, alg, header.get("kid"), payload, signing_input, signature)


@runtime_checkable
class KeySource(Protocol):
    """Where a verifier gets its keys: a fetched JWKS or static keys.

    ``version`` changes exactly when the usable keys change (verified-token caches are keyed
    on it); ``failing`` says whether the newest fetch failed (static keys never fail).
    """

    @property
    def version(self) -> int:
        """Bumped when the usable keys change."""
        ...

    @property
    def failing(self) -> bool:
        """Whether the keys may be out of date because fetching them failed."""
        ...

    async def get_signing_keys(self, kid: str | None) -> tuple[JWKSKey, ...]:
        """The keys for ``kid`` (all keys when ``None``); raises ``UnknownKidError`` (401) or
        ``ProviderUnavailableError`` (503)."""
        ...

    def get_signing_keys_sync(self, kid: str | None) -> tuple[JWKSKey, ...]:
        """Blocking :meth:`get_signing_keys`."""
        ...


def pin_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    """Validate a configured algorithm list: non-empty, asymmetric, supported.

    Raises :class:`~sessiongate.errors.ConfigurationError` otherwise (HS* point to
    ``BearerJWT``).
    """
    algs = (algorithms,) if isinstance(algorithms, str) else tuple(algorithms)
    if not algs:
        raise ConfigurationError("algorithms must not be empty")
    for alg in algs:
        if alg in HMAC_ALGORITHMS:
            raise ConfigurationError(
                f"JWKSBearer verifies asymmetric signatures only, not {alg!r} "
                "(use BearerJWT for shared-secret tokens)"
            )
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise ConfigurationError(f"unsupported algorithm {alg!r}")
    return algs


def select_keys(keys: tuple[JWKSKey, ...], alg: str, kid: str | None) -> tuple[JWKSKey, ...]:
    """The keys (already chosen by ``kid``) whose type and curve fit ``alg``.

    A token naming a key that cannot verify its ``alg`` is refused as
    :class:`AlgorithmNotAllowedError`; a token without ``kid`` is tried against at most a few
    keys (:class:`UnknownKidError` beyond that, and when no key fits).
    """
    candidates = tuple(k for k in keys if alg in k.algorithms)
    if not candidates:
        if kid is not None:
            raise AlgorithmNotAllowedError("the token's key cannot verify its algorithm")
        raise UnknownKidError("no key in the key set can verify the token's algorithm")
    if kid is None and len(candidates) > _MAX_KIDLESS_CANDIDATES:
        raise UnknownKidError("the token has no 'kid' and the key set has several keys")
    return candidates


class SignatureVerifier:
    """Check JWS signatures for a pinned list of asymmetric algorithms.

    The token was already parsed strictly (size, base64url, header, ``alg`` in the list) by the
    caller, so the signature is checked with PyJWT's algorithm objects directly rather than
    through ``PyJWS.decode_complete``, which would parse it again.
    """

    __slots__ = ("_algorithms", "algorithms")

    def __init__(self, algorithms: Iterable[str]) -> None:
        self.algorithms = pin_algorithms(algorithms)
        jws = PyJWS(algorithms=list(self.algorithms))
        self._algorithms = {alg: jws.get_algorithm_by_name(alg) for alg in self.algorithms}

    def verify(
        self,
        alg: str,
        kid: str | None,
        keys: tuple[JWKSKey, ...],
        signing_input: bytes,
        signature: bytes,
    ) -> None:
        """Return when one of ``keys`` fitting ``alg`` verifies ``signature``; raise otherwise."""
        algorithm = self._algorithms.get(alg)
        if algorithm is None:
            raise AlgorithmNotAllowedError(f"the JWT algorithm {alg[:16]!r} is not allowed")
        for key in select_keys(keys, alg, kid):
            try:
                prepared = algorithm.prepare_key(key.key)  # re-checks the key type
                if algorithm.verify(signing_input, prepared, signature):
                    return
            except (jwt.PyJWTError, ValueError, TypeError):
                continue
        raise InvalidSignatureError()
