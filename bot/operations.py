"""What users can ask fmccert to do, shared by the CLI and the Slack bot.

The composition root builds one :class:`Operations` with the config, the store and the
clock; the CLI and every Slack surface call it instead of wiring scans, storage and
remediation themselves.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.config import AppConfig
from bot.errors import StorageError, UsageError
from bot.fmc.probe import probe_fmc
from bot.remediation.service import (
    Prepared,
    RemediationResult,
    execute_remediation,
    pid_alive,
    prepare_remediation,
    sweep_interrupted,
)
from bot.remediation.service import ProgressListener as RemediationProgress
from bot.scanning import Clock, Prober, ProgressListener, ScanReport, scan_fleet
from bot.storage.records import RemediationRun, Store, StoredFinding

log = logging.getLogger("bot.operations")

# A run whose heartbeat is older than this is taken for dead even on another host.
STALE_AFTER = timedelta(minutes=2)


def process_owner() -> str:
    """``host:pid`` of this process: who holds a remediation lock."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Operations:
    """Scans, status, remediation and their records, for one configured fleet."""

    def __init__(
        self,
        config: AppConfig,
        store: Store,
        *,
        clock: Clock,
        probe: Prober = probe_fmc,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.probe = probe

    async def scan(
        self,
        *,
        actor: str,
        names: Sequence[str] = (),
        tag: str | None = None,
        kind: str = "scan",
        on_progress: ProgressListener | None = None,
    ) -> ScanReport:
        """Probe the selected FMCs (all by default) and record every finding."""
        entries = self.config.select(names, tag)
        if not entries:
            raise UsageError(f"no FMC has the tag {tag!r}" if tag else "the config lists no FMC")
        report = await scan_fleet(
            entries,
            self.probe,
            timeouts=self.config.timeouts,
            thresholds=self.config.thresholds,
            concurrency=self.config.concurrency,
            clock=self.clock,
            on_progress=on_progress,
        )
        await self.record_scan(report, actor=actor, kind=kind, tag=tag)
        return report

    async def record_scan(
        self, report: ScanReport, *, actor: str, kind: str, tag: str | None
    ) -> str | None:
        """Store the findings and one audit entry; returns the scan id, None if not stored.

        A storage failure is logged and reported, never allowed to lose the scan itself.
        """
        scan_id = uuid.uuid4().hex[:12]
        counts = Counter(finding.status.value for finding in report.findings)
        try:
            await self.store.record_findings(report.findings, scan_id=scan_id)
            await self.store.audit(
                actor=actor,
                action=kind,
                fmc=report.findings[0].name if len(report.findings) == 1 else None,
                detail={
                    "scan_id": scan_id,
                    "fmcs": [finding.name for finding in report.findings],
                    "tag": tag,
                    "counts": dict(counts),
                    "seconds": round(report.duration_seconds, 3),
                },
                now=self.clock(),
            )
        except StorageError as exc:
            log.warning("scan results were not recorded: %s", exc)
            return None
        return scan_id

    async def latest(self) -> list[StoredFinding]:
        """The newest stored finding of every FMC (no SSH)."""
        return await self.store.latest_findings()

    async def sweep(self) -> list[RemediationRun]:
        """Mark remediations left running by a dead process as interrupted."""
        return await sweep_interrupted(
            self.store,
            now=self.clock(),
            this_host=socket.gethostname(),
            pid_alive=pid_alive,
            stale_after=STALE_AFTER,
        )

    async def prepare(self, fmc: str, action: str) -> Prepared:
        """Probe the FMC and build the plan; RemediationError says why it cannot apply."""
        return await prepare_remediation(
            self.config.entry(fmc).target,
            action,
            settings=self.config.remediation,
            timeouts=self.config.timeouts,
            thresholds=self.config.thresholds,
            clock=self.clock,
            probe=self.probe,
        )

    async def remediate(
        self,
        prepared: Prepared,
        *,
        requested_by: str,
        approved_by: str | None,
        on_progress: RemediationProgress | None,
    ) -> RemediationResult:
        """Run a prepared plan under the per-FMC lock; every step is recorded."""
        return await execute_remediation(
            prepared,
            self.config.entry(prepared.plan.fmc).target,
            store=self.store,
            requested_by=requested_by,
            approved_by=approved_by,
            timeouts=self.config.timeouts,
            thresholds=self.config.thresholds,
            clock=self.clock,
            on_progress=on_progress,
            owner=process_owner(),
            probe=self.probe,
        )

    def now(self) -> datetime:
        """The injected clock's current time."""
        return self.clock()
