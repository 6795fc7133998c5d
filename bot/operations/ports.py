"""The storage port: what the application layer asks of storage, and the records it gets.

:class:`Store` is the port; :class:`bot.storage.sql.SqlStore` (SQLite/PostgreSQL) is the
real one. The plain records it speaks in live in :mod:`bot.storage.records` (the storage
adapter and the Slack renderers read them from there too) and are re-exported here, so
the application layer imports everything storage-shaped from this one module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from bot.core.approval import ApprovalRequest, ApprovalStatus
from bot.core.audit import AuditAction
from bot.core.findings import Finding
from bot.core.incidents import Incident, IncidentKind
from bot.storage.records import (
    AuditEntry,
    RemediationRun,
    RemediationStep,
    RunStatus,
    StepStatus,
    StoredFinding,
)

__all__ = [
    "AuditEntry",
    "RemediationRun",
    "RemediationStep",
    "RunStatus",
    "StepStatus",
    "Store",
    "StoredFinding",
]


class Store(Protocol):
    """The storage port. SQLAlchemy (SQLite/PostgreSQL) is the real one."""

    async def close(self) -> None: ...
    # the database's clock: liveness and clock-jump checks use it, never a caller's clock
    async def database_now(self) -> datetime: ...

    # probe results; "newest" is the order of recording, whatever checked_at says
    async def record_findings(
        self, findings: Sequence[Finding], *, scan_id: str | None
    ) -> None: ...
    async def findings(self, fmc: str | None = None, limit: int = 100) -> list[StoredFinding]: ...
    async def latest_findings(self) -> list[StoredFinding]: ...

    # remediation runs; begin raises RemediationBusyError while another run of fmc is RUNNING;
    # begin and heartbeat stamp heartbeat_at with the database's time
    async def begin_run(
        self,
        *,
        fmc: str,
        action: str,
        requested_by: str,
        approved_by: str | None,
        owner: str,
        plan: Mapping[str, Any],
        now: datetime,
    ) -> RemediationRun: ...
    async def heartbeat(self, run_id: int) -> datetime: ...
    async def record_step(
        self,
        run_id: int,
        *,
        seq: int,
        name: str,
        status: StepStatus,
        started_at: datetime,
        finished_at: datetime | None,
        output: str,
    ) -> None: ...  # insert or update (run_id, seq)
    async def finish_run(
        self,
        run_id: int,
        *,
        status: RunStatus,
        now: datetime,
        summary: str,
        failed_step: str | None = None,
        old_not_after: datetime | None = None,
        new_not_after: datetime | None = None,
        late: bool = False,  # also replaces INTERRUPTED (set by a sweep during an outage)
    ) -> RemediationRun: ...
    # Compare-and-set for the sweep: INTERRUPTED only while still RUNNING with this heartbeat;
    # None when it finished or beat meanwhile.
    async def abandon_run(
        self, run_id: int, *, heartbeat_at: datetime, now: datetime, summary: str
    ) -> RemediationRun | None: ...
    async def running_runs(self) -> list[RemediationRun]: ...
    async def runs(self, fmc: str | None = None, limit: int = 50) -> list[RemediationRun]: ...
    async def run(self, run_id: int) -> RemediationRun | None: ...
    async def steps(self, run_id: int) -> list[RemediationStep]: ...

    # approval requests (Slack buttons carry only the id; everything else is looked up here)
    async def create_approval(
        self,
        *,
        fmc: str,
        action: str,
        requested_by: str,
        now: datetime,
        expires_at: datetime,
        channel: str | None = None,
        plan_sha256: str | None = None,
    ) -> ApprovalRequest: ...  # supersedes a PENDING request of the same (fmc, action)
    # One PENDING request per (fmc, action): the older one is CLOSED, and returned second.
    async def open_approval(
        self,
        *,
        fmc: str,
        action: str,
        requested_by: str,
        now: datetime,
        expires_at: datetime,
        channel: str | None = None,
        plan_sha256: str | None = None,
    ) -> tuple[ApprovalRequest, list[ApprovalRequest]]: ...
    # Compare-and-set: only PENDING requests of fmc close (only ``ids`` when given).
    async def close_approvals(
        self, *, fmc: str, reason: str, now: datetime, ids: Sequence[int] | None = None
    ) -> list[ApprovalRequest]: ...
    # PENDING requests past expires_at become EXPIRED (decided at their expiry).
    async def expire_approvals(self, *, now: datetime) -> list[ApprovalRequest]: ...
    async def approval(self, approval_id: int) -> ApprovalRequest | None: ...
    async def approval_for_run(self, run_id: int) -> ApprovalRequest | None: ...
    async def set_approval_message(
        self,
        approval_id: int,
        *,
        channel: str,
        message_ts: str,
        thread_ts: str,
        message: Mapping[str, Any] | None = None,
    ) -> None: ...
    # Atomic: only a PENDING request changes; returns None when it was no longer pending
    # (a double click or two approvers at once: exactly one caller gets the request back).
    async def decide_approval(
        self, approval_id: int, *, status: ApprovalStatus, by: str, now: datetime
    ) -> ApprovalRequest | None: ...
    async def attach_run(self, approval_id: int, run_id: int) -> None: ...
    async def pending_approvals(self) -> list[ApprovalRequest]: ...

    # audit log: append-only (no update or delete exists, and the database refuses them)
    async def audit(
        self,
        *,
        actor: str,
        action: AuditAction,
        fmc: str | None,
        detail: Mapping[str, Any],
        now: datetime,
    ) -> AuditEntry: ...
    async def audit_log(self, fmc: str | None = None, limit: int = 200) -> list[AuditEntry]: ...

    # incidents; create raises StorageError while the FMC has one OPEN (of any kind)
    async def open_incidents(self) -> list[Incident]: ...
    async def incidents(self, fmc: str | None = None, limit: int = 100) -> list[Incident]: ...
    async def create_incident(
        self,
        *,
        fmc: str,
        kind: IncidentKind,
        severity: str,
        detail: Mapping[str, Any],
        now: datetime,
        channel: str | None = None,
        thread_ts: str | None = None,
        message_ts: str | None = None,
        approval_id: int | None = None,
        last_checked_at: datetime | None = None,
    ) -> Incident: ...
    # None leaves a field unchanged; notified=True sets last_notified_at to now
    async def update_incident(
        self,
        incident_id: int,
        *,
        now: datetime,
        severity: str | None = None,
        detail: Mapping[str, Any] | None = None,
        channel: str | None = None,
        thread_ts: str | None = None,
        message_ts: str | None = None,
        approval_id: int | None = None,
        notified: bool = False,
        kind: IncidentKind | None = None,
        last_checked_at: datetime | None = None,
    ) -> Incident: ...
    async def resolve_incident(
        self, incident_id: int, *, now: datetime, detail: Mapping[str, Any]
    ) -> Incident: ...
    # The Slack workspace was replaced: the next scan posts every open incident again.
    async def forget_incident_messages(self, *, now: datetime) -> int: ...

    # snoozes: append-only; per FMC the newest snooze wins, while its until is after now
    async def snooze(
        self, *, fmc: str, until: datetime, by: str, reason: str, now: datetime
    ) -> None: ...
    async def active_snoozes(self, now: datetime) -> dict[str, datetime]: ...

    # schedule fires: when each scheduled job last fired
    async def last_fire(self, key: str) -> datetime | None: ...
    async def record_fire(self, key: str, at: datetime) -> None: ...  # insert or update
    # Take the fire at ``at`` of ``key``: True for exactly one caller, whichever replica
    # asks; False when that fire (or a later one) was taken already.
    async def claim_fire(self, key: str, at: datetime) -> bool: ...

    # App Home viewers: republished after each scan, by whichever replica runs it
    async def add_home_viewer(self, user: str, *, now: datetime) -> None: ...
    async def home_viewers(self) -> list[str]: ...

    # when ``actor`` did ``action`` since ``since`` (oldest first): shared rate limits
    async def audited_since(
        self, *, actor: str, action: AuditAction, since: datetime
    ) -> list[datetime]: ...
