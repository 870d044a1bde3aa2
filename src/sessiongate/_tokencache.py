"""The bounded cache of verified tokens shared by the token formats (no I/O).

A hit skips parsing and crypto; the caller still re-checks ``exp``/``nbf`` on every hit, so a
cached token never outlives its expiry. The cache is bounded by entries *and* by an estimate of
the bytes they hold (:mod:`sessiongate._lru`), so large tokens cannot grow it past its budget.
Thread-safe (WSGI servers call from many threads).

A :class:`DecodedToken` is shared by every request that presents the same token, so it is
read-only all the way down: an immutable record, a read-only header, and claims whose nested
objects and arrays are frozen (:func:`~sessiongate.user.freeze_claims`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import partial
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from ._lru import ByteBudgetLRU
from .claims import ClaimRules
from .cookies import RequestCredentials
from .errors import AuthenticationError, ConfigurationError
from .types import CredentialKind, Verified
from .user import freeze_claims, thaw_claims

__all__ = ["DecodedToken", "TokenCache", "verify_session_cookies"]


class _Fields(NamedTuple):
    claims: Mapping[str, Any]
    header: Mapping[str, Any]
    source: str
    exp: float | None
    nbf: float | None
    salt: str | None
    nested: bool
    memo: dict[str, Verified]


class DecodedToken(_Fields):
    """A verified token: read-only claims, its read-only header, which format matched, exp/nbf.

    Immutable (a named tuple: it is shared by every request that presents the token).
    ``claims`` and ``header`` are frozen on construction (nested objects become
    :class:`~sessiongate.user.FrozenDict`, arrays :class:`~sessiongate.user.FrozenList`);
    :meth:`claims_copy` gives a caller its own mutable copy. ``nested`` says whether the
    claims hold objects or arrays; ``memo`` keeps the gate-facing results.
    """

    __slots__ = ()

    def __new__(
        cls,
        claims: Mapping[str, Any],
        header: Mapping[str, Any],
        source: str,
        exp: float | None,
        nbf: float | None,
        salt: str | None = None,
    ) -> DecodedToken:
        frozen = freeze_claims(claims)
        if not isinstance(header, MappingProxyType):
            header = freeze_claims(MappingProxyType(header))
        # tuple.__new__ directly: one frame less than the generated namedtuple constructor
        fields: tuple[Any, ...] = (frozen, header, source, exp, nbf, salt, frozen is not claims, {})
        return tuple.__new__(cls, fields)

    def claims_copy(self) -> dict[str, Any]:
        """A mutable copy of the claims that shares nothing with the cached record."""
        claims = self.claims
        if self.nested:
            return thaw_claims(claims)
        return claims.copy()  # type: ignore[attr-defined,no-any-return]  # MappingProxyType

    def as_verified(self, credential: CredentialKind, rules: ClaimRules | None = None) -> Verified:
        """The gate-facing result; kept so the gate can memoise the user built from it.

        With ``rules``, the result carries a ``recheck`` of ``exp``/``nbf`` (stateless token).
        """
        memo = self.memo
        v = memo.get(credential)
        if v is None:
            recheck = None if rules is None else partial(rules.check_time, self.exp, self.nbf)
            v = Verified(self.claims, self.source, credential, self.exp, recheck=recheck)
            memo[credential] = v
        return v


class _Put(Protocol):
    def __call__(self, key: Hashable, value: DecodedToken, chars: int | None = None) -> None: ...


class TokenCache:
    """LRU of ``key -> DecodedToken``; ``maxsize=0`` disables it.

    ``maxsize`` is the most entries kept; the estimated bytes are bounded by ``maxsize`` x 4 KiB
    (a token larger than ~500 characters takes more than one entry's share of the budget).
    ``get``/``admit``/``put(key, value, chars=None)`` are the LRU's own methods (or no-ops when
    disabled; ``admit`` is asked on a miss, before building the record to ``put``):
    a cache miss runs for every new token, so no wrapper frame sits in between.

    A token is stored on its second miss (``second_sight``, the default): a token presented once
    (a scan of distinct tokens, a one-off script) costs a hash instead of an insertion and an
    eviction, which measured as much as the AES-GCM decryption itself (issue #10); a session
    cookie, sent on every request, is cached from its second request on. The asymmetric
    verifiers turn it off: their signature check costs far more than an insertion.
    """

    __slots__ = ("_lru", "admit", "enabled", "get", "put")

    def __init__(self, maxsize: int, *, second_sight: bool = True) -> None:
        if maxsize < 0:
            raise ConfigurationError("cache_size must be >= 0")
        self._lru: ByteBudgetLRU[Hashable, DecodedToken] | None = (
            ByteBudgetLRU(maxsize, second_sight=second_sight) if maxsize else None
        )
        self.enabled = self._lru is not None
        self.get: Callable[[Hashable], DecodedToken | None]
        self.admit: Callable[[Hashable], bool]
        self.put: _Put
        if self._lru is None:
            self.get, self.admit, self.put = _nothing, _never, _ignore
        else:
            self.get, self.admit, self.put = self._lru.get, self._lru.admit, self._lru.put

    @property
    def estimated_bytes(self) -> int:
        """The estimated memory held by the cached entries."""
        return 0 if self._lru is None else self._lru.estimated_bytes

    def __len__(self) -> int:
        return 0 if self._lru is None else len(self._lru)


def _nothing(key: Hashable) -> None:
    return None


def _never(key: Hashable) -> bool:
    return False


def _ignore(key: Hashable, value: DecodedToken, chars: int | None = None) -> None:
    return None


def verify_session_cookies(
    credentials: RequestCredentials,
    names: Sequence[str],
    verify: Callable[[str, str], DecodedToken],
    rules: ClaimRules,
    now: float,
    *,
    skip: Callable[[str], bool] | None = None,
) -> Verified | None:
    """The first session cookie that ``verify(value, name)`` accepts, as a cookie
    :class:`~sessiongate.types.Verified` (``exp``/``nbf`` checked at ``now``).

    Cookies are read as :meth:`~sessiongate.cookies.RequestCredentials.session_cookies` gives
    them (every ``__Secure-`` name first; no plain one once a ``__Secure-`` one is present);
    values for which ``skip`` is true are another format's. ``None`` when no value was tried;
    when some were and none verified, the first error is raised.
    """
    if not credentials.cookies:
        return None
    first_error: AuthenticationError | None = None
    try:
        for name, values in credentials.session_cookies(names):
            for value in values:
                if skip is not None and skip(value):
                    continue
                try:
                    decoded = verify(value, name)
                    rules.check_time(decoded.exp, decoded.nbf, now)
                except AuthenticationError as err:
                    first_error = first_error or err
                    continue
                return decoded.as_verified("cookie", rules)
    except AuthenticationError as err:  # session_cookies reached a broken chunk set
        first_error = first_error or err
    if first_error is not None:
        raise first_error
    return None
