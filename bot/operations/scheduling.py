"""The schedule's bookkeeping: when each scheduled job last fired, and who takes a fire.

The scheduling rules are :mod:`bot.scheduling`'s; what they need from storage comes
through here, so the Slack bot wires its scheduler without touching the store. Every
replica may ask; :meth:`ScheduleOperations.claim_fire` lets exactly one run each fire.
"""

from __future__ import annotations

from datetime import datetime

from bot.operations.base import OperationsBase


class ScheduleOperations(OperationsBase):
    """The scheduler's view of storage: last fires, claims, and the database's clock."""

    async def last_fire(self, key: str) -> datetime | None:
        """When the job ``key`` last fired; None if it never did."""
        return await self.store.last_fire(key)

    async def record_fire(self, key: str, at: datetime) -> None:
        """Record that the job ``key`` fired at ``at``."""
        await self.store.record_fire(key, at)

    async def claim_fire(self, key: str, at: datetime) -> bool:
        """Take the fire at ``at`` of ``key``: True for exactly one caller among replicas."""
        return await self.store.claim_fire(key, at)

    async def database_now(self) -> datetime:
        """The database's clock: fires are judged by it, never by one replica's clock."""
        return await self.store.database_now()
