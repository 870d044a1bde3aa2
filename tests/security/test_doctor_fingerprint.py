"""Issue #9 item 10: the secret fingerprint ``sessiongate doctor`` prints.

Doctor output gets pasted into bug reports. It used to name each secret by the first 8 hex
digits of its plain SHA-256, so anyone could test guesses offline (or look the prefix up in a
precomputed SHA-256 table) and confirm a weak ``AUTH_SECRET``. The fingerprint is now a short
HMAC-SHA-256 keyed with the secret over a fixed label: still equal for equal secrets, so two
people can compare, but no longer the hash every cracking table indexes.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re

import pytest

from sessiongate.cli import main
from sessiongate.doctor import fingerprint
from sessiongate.testing import mint_authjs_v5

WEAK = ["hunter2", "changeme", "password123", "supersecret", "nextauth-secret", "my-app"]


def doctor_output(secret: str, *extra: str) -> str:
    token = mint_authjs_v5({"sub": "u"}, secret, now=1_800_000_000)
    out = io.StringIO()
    main(["doctor", token, "--secret", secret, "--now", "1800000000", *extra], stdout=out)
    return out.getvalue()


def plain_hash_prefixes(secret: str) -> set[str]:
    data = secret.encode()
    return {hashlib.new(name, data).hexdigest()[:8] for name in ("sha256", "sha1", "md5", "sha512")}


@pytest.mark.parametrize("secret", WEAK)
def test_dictionary_guess_hashed_with_plain_sha256_cannot_match_a_pasted_doctor_fingerprint(
    secret: str,
) -> None:
    for output in (doctor_output(secret), doctor_output(secret, "--json")):
        assert secret not in output
        shown = set(re.findall(r"[0-9a-f]{8}", output))
        assert not shown & plain_hash_prefixes(secret), "a plain hash of the secret is printed"
        expected = hmac.new(
            secret.encode(), b"sessiongate fingerprint v1", hashlib.sha256
        ).hexdigest()[:8]
        assert f"fp:{expected}" in output


def test_fingerprint_is_short_keyed_and_comparable() -> None:
    a, b = fingerprint("secret-one-0123456789"), fingerprint("secret-two-0123456789")
    assert a == fingerprint("secret-one-0123456789")  # same secret, same fingerprint
    assert a != b
    assert re.fullmatch(r"fp:[0-9a-f]{8}", a)  # 32 bits: many secrets share each value
    report = json.loads(doctor_output("secret-one-0123456789", "--json"))
    assert report["secrets"] == [{"kind": "secret", "index": 1, "fingerprint": a}]
