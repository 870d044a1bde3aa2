"""An in-memory revocation backend for the tests (the protocol of
:class:`sessiongate.revocation.mirror.RevocationBackend`), shared by every suite that needs one.
"""

from __future__ import annotations

from sessiongate.errors import ProviderUnavailableError
from sessiongate.revocation import Revocation


class MemoryBackend:
    """A revocation backend in memory; ``fail`` makes it unreachable."""

    def __init__(self, records: list[Revocation] | None = None) -> None:
        self.records = {(r.kind, r.subject): r for r in records or []}
        self.fail = False
        self.writes: list[Revocation] = []

    async def load(self) -> list[Revocation]:
        if self.fail:
            raise ProviderUnavailableError("down")
        return list(self.records.values())

    async def write(self, record: Revocation) -> None:
        if self.fail:
            raise ProviderUnavailableError("down")
        key = (record.kind, record.subject)
        old = self.records.get(key)
        self.records[key] = record if old is None else old.merged(record)
        self.writes.append(record)

    async def remove(self, kind: str, subject: str) -> bool:
        return self.records.pop((kind, subject), None) is not None

    async def fetch(self, kind: str, subject: str) -> Revocation | None:
        if self.fail:
            raise ProviderUnavailableError("down")
        return self.records.get((kind, subject))

    async def aclose(self) -> None:
        return None
