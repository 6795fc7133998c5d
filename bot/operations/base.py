"""What every use case of :class:`bot.operations.Operations` shares.

Each use-case module (scanning, approvals, incidents, remediation, scheduling, trust)
holds one class of methods on this state; ``Operations`` combines them into one façade.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.config import AppConfig
from bot.core.audit import AuditAction
from bot.logs import register_secret
from bot.operations.audit import AuditTrail
from bot.operations.ports import Store
from bot.probing import probe_device
from bot.scanning import Clock, Prober

if TYPE_CHECKING:
    from bot.metrics import Metrics


class OperationsBase:
    """The config, the store, the clock, the probe and the metrics of one configured fleet."""

    def __init__(
        self,
        config: AppConfig,
        store: Store,
        *,
        clock: Clock,
        probe: Prober = probe_device,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.probe = probe
        self.metrics = metrics  # optional: the bot has one, the CLI does not
        self.audit_trail = AuditTrail(store)
        for entry in config.fmcs:  # every composition root builds Operations: mask passwords
            register_secret(entry.target.password)
            if entry.target.rest is not None:
                register_secret(entry.target.rest.password)

    async def _audit(
        self,
        action: AuditAction,
        *,
        actor: str,
        fmc: str | None,
        detail: Mapping[str, Any],
        now: datetime | None = None,
    ) -> None:
        """Append one audit entry, stamped ``now`` (by default this clock's now)."""
        at = self.clock() if now is None else now
        await self.audit_trail.record(action, actor=actor, fmc=fmc, detail=detail, now=at)

    def now(self) -> datetime:
        """The injected clock's current time."""
        return self.clock()
