"""The sidecar's refusals, rendered once per distinct error (no I/O, no decision).

Every refusal is decided by :func:`~sessiongate.policy.decide` and rendered by the policy's
renderer (:func:`~sessiongate.responses.error_response`: status, ``WWW-Authenticate``,
``Retry-After``, the JSON body). A sidecar refuses the same few errors over and over (no
credential, an expired token, a missing role), so :class:`RefusalMemo`, given to the sidecar's
:class:`~sessiongate.policy.WebPolicy` as its ``error_renderer``, keeps what that renderer
answered, with the ASGI header list sent for it, and hands the same objects out again: a
refusal then costs the decision, not the rendering.

An answer depends on the error's class (status, challenge), code and message and on whether a
credential was sent; that is the key. Messages may name a client-chosen role, so the memo holds
at most :data:`MAX_REFUSALS` answers of at most :data:`MAX_BODY_BYTES` each and starts afresh
when full. Header lists are tuples, so a server cannot change an answer another request gets.
"""

from __future__ import annotations

from ..errors import SessionGateError
from ..responses import ErrorRenderer, ErrorResponse
from .headers import raw_headers

__all__ = ["MAX_BODY_BYTES", "MAX_REFUSALS", "AsgiHeaders", "RefusalMemo"]

MAX_REFUSALS = 256
"""Distinct refusals kept (then the memo starts afresh)."""
MAX_BODY_BYTES = 1024
"""A refusal whose body is larger (a long, client-chosen role name) is rendered every time."""

AsgiHeaders = tuple[tuple[bytes, bytes], ...]
_Key = tuple[type, str, int, str, bool]


class RefusalMemo:
    """An ``error_renderer`` that renders each distinct refusal once with ``render``.

    Args:
        render: the renderer it stands for (the policy's ``render``: the standard responses
            with the sidecar's ``realm`` and ``retry_after``).
    """

    __slots__ = ("_answers", "_headers", "render")

    def __init__(self, render: ErrorRenderer) -> None:
        self.render = render
        self._answers: dict[_Key, tuple[ErrorResponse, AsgiHeaders]] = {}
        # the same answers by the identity of the response (kept alive by ``_answers``)
        self._headers: dict[int, tuple[ErrorResponse, AsgiHeaders]] = {}

    def __repr__(self) -> str:
        return f"RefusalMemo({len(self._answers)} refusals)"

    @staticmethod
    def _key(error: SessionGateError, credential_sent: bool) -> _Key:
        return (type(error), error.code, error.status_code, error.message, credential_sent)

    def __call__(self, error: SessionGateError, credential_sent: bool) -> ErrorResponse:
        key = self._key(error, credential_sent)
        answer = self._answers.get(key)
        if answer is not None:
            return answer[0]
        response = self.render(error, credential_sent)
        if len(response.body) <= MAX_BODY_BYTES:
            if len(self._answers) >= MAX_REFUSALS:
                self._answers.clear()
                self._headers.clear()
            answer = (response, tuple(raw_headers(response.headers, response.body)))
            self._answers[key] = answer
            self._headers[id(response)] = answer
        return response

    def asgi_headers(self, response: ErrorResponse) -> AsgiHeaders:
        """The ASGI headers of ``response`` (with the JSON content type, ``no-store`` and the
        length): the kept ones when this memo rendered it."""
        answer = self._headers.get(id(response))
        if answer is not None and answer[0] is response:
            return answer[1]
        return tuple(raw_headers(response.headers, response.body))
