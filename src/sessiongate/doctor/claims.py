"""Explain a verified token's content with the gate's own claim rules and claim mapping.

The verdict on the content is given by the verifier's :class:`~sessiongate.claims.ClaimRules`
(``exp``, ``nbf``, types, ``iss``/``aud``) and the gate's :class:`~sessiongate.user.ClaimMapping`
(the user id claims it accepts: ``sub``, ``id``, ``userId``, ``user_id``, ``uid`` by default).
This module only words their answers: how long ago it expired, which claim is missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..claims import ClaimRules
from ..errors import SessionGateError
from .context import Context
from .explain import ago, iso

__all__ = ["explain_claims"]


def _bad_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return True
    try:
        return not math.isfinite(float(value))
    except OverflowError:
        return True


def _invalid_claim(claims: Mapping[str, Any]) -> str:
    for name in ("exp", "nbf", "iat"):
        if name in claims and _bad_number(claims[name]):
            return f"`{name}` is not a number"
    return "its `iss` or `aud` is not one this verifier accepts"


def explain_claims(
    ctx: Context,
    subject: str,
    claims: Mapping[str, Any],
    source: str,
    rules: ClaimRules,
    *,
    blocked: bool,
) -> bool:
    """Add the content findings; ``True`` when the content passes every rule.

    ``blocked``: something before the content already refused the token (the key, the cookie
    name), so a good content is reported as ``content_valid`` (info), not ``valid``.
    """
    passed = True
    user = None
    try:
        user = ctx.app.claim_mapping.build_user(claims, source)
    except SessionGateError:
        ids = ", ".join(f"`{p}`" for p in ctx.app.claim_mapping.id)
        ctx.add(
            "error",
            "no_user_id",
            subject,
            f"no user id claim the mapping accepts ({ids}): sessiongate rejects it (invalid_claim)",
        )
        passed = False
    exp = claims.get("exp")
    if exp is None:
        ctx.add(
            "warning",
            "no_exp",
            subject,
            "no `exp` claim: it never expires"
            + ("; sessiongate rejects it unless require_exp=False" if rules.require_exp else ""),
        )
    try:
        rules.check(claims, ctx.now)
    except SessionGateError as err:
        passed = False
        if err.code == "expired" and isinstance(exp, (int, float)):
            ctx.add(
                "error",
                "expired",
                subject,
                f"expired {ago(ctx.now - exp)} ago (exp {iso(exp)})",
                "sign in again; Auth.js re-issues the cookie on every /api/auth/session call",
            )
        elif err.code == "not_yet_valid":
            nbf = claims.get("nbf")
            when = float(nbf) if isinstance(nbf, (int, float)) else ctx.now
            ctx.add(
                "error",
                "not_yet_valid",
                subject,
                f"not valid for another {ago(when - ctx.now)} (nbf {iso(when)}): check clocks",
            )
        elif exp is None and rules.require_exp:
            ctx.add(
                "error",
                "exp_required",
                subject,
                "sessiongate requires an `exp` claim (require_exp=True): it rejects the token "
                "(invalid_claim)",
                "have the app set an expiry (jsonwebtoken: expiresIn)",
            )
        else:
            ctx.add("error", "invalid_claim", subject, _invalid_claim(claims))
    if not passed or user is None:
        return False
    left = (
        f"expires in {ago(exp - ctx.now)} ({iso(exp)})"
        if isinstance(exp, (int, float)) and not isinstance(exp, bool)
        else "never expires"
    )
    if blocked:
        ctx.add(
            "info",
            "content_valid",
            subject,
            f"apart from that the content is valid: user `{user.id}`, {left}",
        )
    else:
        ctx.add("ok", "valid", subject, f"valid: user `{user.id}`, {left}")
    return True
