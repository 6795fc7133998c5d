"""The audit trail: the one writer of audit entries.

Every entry fmccert appends goes through :class:`AuditTrail`, named by an
:class:`~bot.core.audit.AuditAction`. The remediation service gets the trail from its
caller (it journals its entries to replay them after a database outage).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.core.audit import AuditAction
from bot.operations.ports import AuditEntry, Store


class AuditTrail:
    """Appends to the store's audit log (append-only; ``detail`` is JSON-safe, never secret)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def record(
        self,
        action: AuditAction,
        *,
        actor: str,
        fmc: str | None,
        detail: Mapping[str, Any],
        now: datetime,
    ) -> AuditEntry:
        """Append one entry: ``actor`` did ``action`` to ``fmc`` at ``now``."""
        return await self._store.audit(actor=actor, action=action, fmc=fmc, detail=detail, now=now)
