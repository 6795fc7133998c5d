"""Host keys: trusting one changes what fmccert will talk to, so it is audited."""

from __future__ import annotations

from bot.core.audit import AuditAction
from bot.operations.base import OperationsBase


class TrustOperations(OperationsBase):
    """Record host-key decisions made outside the store (``fmccert trust``)."""

    async def record_trusted_key(
        self, fmc: str, fingerprint: str, *, replaced: bool, actor: str
    ) -> None:
        """Audit that ``actor`` trusted ``fingerprint`` for ``fmc`` (``replaced``: its old key)."""
        await self._audit(
            AuditAction.TRUST_REPLACED if replaced else AuditAction.TRUST_ADDED,
            actor=actor,
            fmc=fmc,
            detail={"fingerprint": fingerprint},
        )
