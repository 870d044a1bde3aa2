"""The ``/verify`` endpoint: request facts in, :func:`~sessiongate.policy.decide` out.

One request: the response memo (a repeat of a request the gate answered from its memo gets the
same rendered ``200``), the size cap (431), the requirement grammar (400), the gate, then
:func:`~sessiongate.policy.decide` under the sidecar's :class:`~sessiongate.policy.WebPolicy`
(CSRF, outage, requirements, statuses and ``WWW-Authenticate``: the rules every adapter shares),
and the answer: ``X-User-*`` headers (:mod:`.headers`) or the policy's refusal. Every verdict is
told to the observer, the audit log and the request log (codes only, never a value).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import replace
from typing import Any

from ..audit import AuditLog, request_id_from
from ..errors import SessionGateError
from ..gate import SessionGate
from ..observe import DecisionObserver, presented_credential
from ..policy import Decision, WebPolicy, decide, refuse
from .headers import json_bytes, org_headers, raw_headers, render_ok
from .memo import ResponseMemo
from .refusals import RefusalMemo
from .request import BadRequest, Facts, read_requirements, request_facts

__all__ = ["Scope", "Send", "VerifyEndpoint", "send_response"]

logger = logging.getLogger("sessiongate")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]


async def send_response(
    send: Send, scope: Scope, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes
) -> None:
    """Send one complete response (no body for ``HEAD``)."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send(
        {"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body}
    )


async def _send_json(
    send: Send, scope: Scope, status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()
) -> None:
    await send_response(send, scope, status, raw_headers(headers, body), body)


class VerifyEndpoint:
    """Answer ``/verify`` requests (see the package docs for the protocol).

    Args:
        gate: the gate that verifies credentials.
        policy: the web policy :func:`~sessiongate.policy.decide` applies.
        memo: the response memo (``maxsize=0``: off).
        include_claims / max_value_bytes / max_header_bytes: as :class:`~.app.SidecarApp`.
        observer / audit_log: told about every verdict.
        api_keys: Better Auth's API-key verifier (:class:`~sessiongate.apikeys.ApiKeyVerifier`):
            a request carrying its header is decided by the key alone, never by a cookie next
            to it.
        organizations: the organization plugin's membership directory
            (:class:`~sessiongate.organizations.OrgDirectory`): fills ``X-User-Org-Id`` /
            ``X-User-Org-Role`` for the organization the request names in ``org_header``.
    """

    def __init__(
        self,
        gate: SessionGate,
        policy: WebPolicy,
        memo: ResponseMemo,
        *,
        include_claims: bool,
        max_value_bytes: int,
        max_header_bytes: int,
        observer: DecisionObserver | None,
        audit_log: AuditLog | None,
        api_keys: Any = None,
        organizations: Any = None,
        org_header: str = "x-organization-id",
    ) -> None:
        self.gate = gate
        self.policy = policy
        self.memo = memo
        self.include_claims = include_claims
        self.max_value_bytes = max_value_bytes
        self.max_header_bytes = max_header_bytes
        self.observer = observer
        self.audit_log = audit_log
        self.api_keys = api_keys
        self.organizations = organizations
        self.org_header = org_header.lower().encode("latin-1")
        renderer = policy.error_renderer
        self.refusals = renderer if isinstance(renderer, RefusalMemo) else None
        # requests naming an API key or an organization never take the response memo: its key
        # does not hold these headers (a replay could carry another organization's role)
        self._unmemoised = frozenset(
            [
                *(h.encode("latin-1") for h in getattr(api_keys, "headers", ())),
                *([self.org_header] if organizations else []),
            ]
        )

    async def _outcome(self, headers: Iterable[tuple[bytes, bytes]]) -> Any:
        """The gate's :class:`~sessiongate.types.AuthResult`, or the error it raised."""
        try:
            if self.api_keys is not None:
                keyed = await self.api_keys.authenticate(headers)
                if keyed is not None:
                    return keyed
            return await self.gate.authenticate(headers)
        except SessionGateError as err:
            return err

    async def _org_headers(
        self, user: Any, headers: Iterable[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """The organization headers for the organization the request names (none when it names
        none or the user is not a member); raises a 503 error when the lookup fails."""
        if self.organizations is None:
            return []
        named = next((v for k, v in headers if k.lower() == self.org_header), None)
        if not named:
            return []
        org_id = named.decode("latin-1")
        membership = await self.organizations.membership(org_id, str(user.id))
        if membership is None:
            return []
        return org_headers(org_id, membership.roles, max_value_bytes=self.max_value_bytes)

    async def __call__(self, scope: Scope, send: Send, *, use_query: bool) -> None:
        started = time.perf_counter()
        memo = self.memo
        key = memo.key(scope)
        unmemoised = self._unmemoised
        if (
            key is not None
            and unmemoised
            and any(n.lower() in unmemoised for n, _ in scope["headers"])
        ):
            key = None
        if key is not None:
            # a repeat of a request the gate answered from its memo, replayed while the gate's
            # re-check of that verdict (expiry, revocation) still passes
            hit = memo.replay(key, self.gate.clock())
            if hit is not None:
                await send_response(send, scope, 200, hit.headers, hit.body)
                self._record(
                    scope, 200, "ok", hit.credential, hit.authenticator, hit.user_id, started
                )
                return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or ())
        facts = Facts.read(headers)
        presented = presented_credential(facts.cookie_sent, facts.authorization_sent)
        if facts.size > self.max_header_bytes:
            body = {"error": "headers_too_large", "message": "the request headers are too large"}
            await _send_json(send, scope, 431, json_bytes(body))
            self._record(scope, 431, "headers_too_large", presented, "none", None, started)
            return
        try:
            needed = read_requirements(facts, scope.get("query_string"), use_query=use_query)
        except (BadRequest, ValueError) as err:
            message = str(err) if isinstance(err, BadRequest) else "malformed requirements"
            body = {"error": "invalid_request", "message": message}
            await _send_json(send, scope, 400, json_bytes(body))
            self._record(scope, 400, "invalid_request", presented, "none", None, started)
            return
        request = request_facts(scope, facts)
        outcome = await self._outcome(headers)
        decision = decide(outcome, request, self.policy, require=needed)
        if decision.allowed:
            try:
                rendered = render_ok(
                    outcome,
                    include_claims=self.include_claims,
                    max_value_bytes=self.max_value_bytes,
                )
                extra = await self._org_headers(outcome.user, headers)
                if extra:
                    rendered = replace(rendered, headers=(*rendered.headers, *extra))
            except SessionGateError as err:  # an id that cannot be passed on, an org outage
                decision = refuse(err, request, self.policy)
            else:
                if key is not None:
                    memo.offer(
                        key,
                        self.gate.memo_check(headers, outcome),
                        rendered,
                        getattr(outcome.user, "expires_at", None),
                    )
                await send_response(send, scope, 200, rendered.headers, rendered.body)
                self._record(
                    scope,
                    200,
                    "ok",
                    rendered.credential,
                    rendered.authenticator,
                    rendered.user_id,
                    started,
                )
                return
        await self._refuse(send, scope, decision, presented, started)

    async def _refuse(
        self, send: Send, scope: Scope, decision: Decision, presented: str, started: float
    ) -> None:
        response, error = decision.response, decision.error
        if response is None or error is None:  # decide() pairs them
            raise ValueError("only a refused decision can be sent")
        if self.refusals is not None:
            headers = self.refusals.asgi_headers(response)
        else:
            headers = tuple(raw_headers(response.headers, response.body))
        await send_response(send, scope, response.status, headers, response.body)
        self._record(scope, response.status, error.code, presented, "none", None, started)

    def _record(
        self,
        scope: Scope,
        status: int,
        outcome: str,
        credential: str,
        authenticator: str,
        user_id: str | None,
        started: float,
    ) -> None:
        """Tell the observer, the audit log and the request log about a verdict."""
        latency = time.perf_counter() - started
        if self.observer is not None:
            self.observer.on_decision(outcome, credential, authenticator, latency)
        if self.audit_log is not None:
            self.audit_log.record(
                request_id=request_id_from(scope.get("headers") or ()),
                outcome=outcome,
                status=status,
                credential=credential,
                authenticator=authenticator,
                user_id=user_id,
                latency_s=latency,
            )
        if logger.isEnabledFor(logging.INFO):
            # never the path's query or any header value: they may carry tokens
            logger.info(
                "verify %s -> %d %s (%.1f ms)",
                scope.get("method", "?"),
                status,
                outcome,
                latency * 1000,
            )
