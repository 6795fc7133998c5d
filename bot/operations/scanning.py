"""Scans and what the fleet looks like: probe, record, and read back the newest results.

A scan probes the selected FMCs, records every finding with one audit entry, and closes
the open requests of FMCs it saw healthy. Status, the daily digest and the App Home read
the stored results (no SSH), each status brought up to now.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.config import AppConfig, FmcEntry
from bot.core.approval import ApprovalRequest, scan_wait
from bot.core.audit import AuditAction
from bot.core.expiry import status_as_of
from bot.core.incidents import Incident
from bot.errors import StorageError, UsageError
from bot.logs import bound
from bot.operations.approvals import ApprovalOperations
from bot.operations.ports import StoredFinding
from bot.scanning import Clock, Prober, ProgressListener, ScanReport, scan_fleet

log = logging.getLogger("bot.operations")

# A person's fleet scans count against their hourly limit for this long.
SCAN_LIMIT_WINDOW = timedelta(hours=1)


def new_scan_id() -> str:
    """A short random id naming one scan in the store and the log."""
    return uuid.uuid4().hex[:12]


def select_fmcs(config: AppConfig, names: Sequence[str], tag: str | None) -> list[FmcEntry]:
    """The FMCs a scan covers: by name, by tag, or all; UsageError when none match."""
    entries = config.select(names, tag)
    if not entries:
        raise UsageError(f"no FMC has the tag {tag!r}" if tag else "the config lists no FMC")
    return entries


async def scan_fmcs(
    config: AppConfig,
    entries: Sequence[FmcEntry],
    *,
    probe: Prober,
    clock: Clock,
    on_progress: ProgressListener | None = None,
) -> ScanReport:
    """Scan ``entries`` with the config's timeouts, thresholds and concurrency."""
    return await scan_fleet(
        entries,
        probe,
        timeouts=config.timeouts,
        thresholds=config.thresholds,
        concurrency=config.concurrency,
        clock=clock,
        on_progress=on_progress,
    )


def findings_as_of(
    latest: Sequence[StoredFinding], config: AppConfig, *, now: datetime
) -> list[StoredFinding]:
    """Stored findings of FMCs still configured, each status brought up to ``now``.

    A certificate checked as "warning" two weeks ago may be expired today: it says so.
    """
    known = set(config.names())
    return [
        replace(
            stored,
            status=status_as_of(stored.status, stored.not_after, config.thresholds, now).value,
        )
        for stored in latest
        if stored.fmc in known
    ]


@dataclass(frozen=True, slots=True)
class FleetOverview:
    """The fleet from the store (no SSH): newest results, open incidents, pending requests."""

    latest: tuple[StoredFinding, ...]  # as of now, configured FMCs only
    open_incidents: tuple[Incident, ...]
    pending_requests: tuple[ApprovalRequest, ...]

    @property
    def last_scan(self) -> datetime | None:
        """When the newest of these results was checked; None without results."""
        return max((stored.checked_at for stored in self.latest), default=None)

    @property
    def incident_severities(self) -> list[tuple[str, str]]:
        """(FMC, severity) of each open incident."""
        return [(incident.fmc, incident.severity) for incident in self.open_incidents]


@dataclass(frozen=True, slots=True)
class FleetScanStart:
    """The answer to a person starting a fleet scan, under their hourly limit."""

    recent: int  # fleet scans they started within the last hour, before this one
    wait: timedelta | None  # None: recorded as started, it runs; else how long until one may

    @property
    def started(self) -> bool:
        """May the scan run (it was recorded as started)?"""
        return self.wait is None


class ScanOperations(ApprovalOperations):
    """Scan, record, and read the fleet's stored results."""

    async def scan(
        self,
        *,
        actor: str,
        names: Sequence[str] = (),
        tag: str | None = None,
        kind: AuditAction = AuditAction.SCAN,
        on_progress: ProgressListener | None = None,
    ) -> ScanReport:
        """Probe the selected FMCs (all by default) and record every finding.

        ``kind`` (SCAN, CHECK or SCHEDULED_SCAN) names its audit entry and metrics label.
        """
        entries = select_fmcs(self.config, names, tag)
        scan_id = new_scan_id()
        with bound(scan_id=scan_id):  # every log line of this scan carries its id
            log.info("%s of %d FMC(s) started by %s", kind, len(entries), actor)
            report = await scan_fmcs(
                self.config, entries, probe=self.probe, clock=self.clock, on_progress=on_progress
            )
            await self.record_scan(report, actor=actor, kind=kind, tag=tag, scan_id=scan_id)
        return report

    async def record_scan(
        self,
        report: ScanReport,
        *,
        actor: str,
        kind: AuditAction,
        tag: str | None,
        scan_id: str | None = None,
    ) -> str | None:
        """Store the findings and one audit entry; returns the scan id, None if not stored.

        A storage failure is logged and reported, never allowed to lose the scan itself.
        """
        scan_id = scan_id or new_scan_id()
        if self.metrics is not None:
            self.metrics.observe_scan(report, kind=kind.value)
        counts = Counter(finding.status.value for finding in report.findings)
        try:
            await self.store.record_findings(report.findings, scan_id=scan_id)
            await self._audit(
                kind,
                actor=actor,
                fmc=report.findings[0].name if len(report.findings) == 1 else None,
                detail={
                    "scan_id": scan_id,
                    "fmcs": [finding.name for finding in report.findings],
                    "tag": tag,
                    "counts": dict(counts),
                    "seconds": round(report.duration_seconds, 3),
                },
            )
        except StorageError as exc:
            log.warning("scan results were not recorded: %s", exc, extra={"scan_id": scan_id})
            return None
        await self._close_needless_requests(report.findings, actor=actor)
        log.info(
            "%s recorded: %s in %.1f s",
            kind,
            ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no FMC",
            report.duration_seconds,
            extra={"scan_id": scan_id},
        )
        return scan_id

    async def start_fleet_scan(self, *, actor: str, channel: str, per_hour: int) -> FleetScanStart:
        """May ``actor`` start a fleet scan now? If so it is audited, and counts from now.

        The limit counts those audit entries, so it holds across restarts and replicas.
        """
        now = self.clock()
        starts = await self.store.audited_since(
            actor=actor, action=AuditAction.SCAN_STARTED, since=now - SCAN_LIMIT_WINDOW
        )
        wait = scan_wait(starts, now=now, per_hour=per_hour)
        if wait is not None:
            return FleetScanStart(recent=len(starts), wait=wait)
        await self._audit(
            AuditAction.SCAN_STARTED, actor=actor, fmc=None, detail={"channel": channel}, now=now
        )
        return FleetScanStart(recent=len(starts), wait=None)

    async def refuse_fleet_scan(self, *, actor: str, reason: str) -> None:
        """Audit a fleet scan ``actor`` may not start, and why."""
        await self._audit(
            AuditAction.SCAN_REFUSED, actor=actor, fmc=None, detail={"reason": reason}
        )

    async def latest(self) -> list[StoredFinding]:
        """The newest stored finding of every configured FMC, its status as of now (no SSH)."""
        return findings_as_of(await self.store.latest_findings(), self.config, now=self.clock())

    async def overview(self) -> FleetOverview:
        """What status, the digest and the App Home show: all from the store, as of now."""
        return FleetOverview(
            latest=tuple(await self.latest()),
            open_incidents=tuple(await self.store.open_incidents()),
            pending_requests=tuple(await self.store.pending_approvals()),
        )

    async def remember_home_viewer(self, user: str) -> None:
        """``user`` looked at the overview (the App Home): show them each new one."""
        await self.store.add_home_viewer(user, now=self.clock())

    async def home_viewers(self) -> list[str]:
        """Everyone who ever looked at the overview, whichever replica they reached."""
        return await self.store.home_viewers()

    async def seed_metrics(self) -> None:
        """Set the fleet gauges from the stored results (nothing without metrics)."""
        if self.metrics is None:
            return
        kinds = {entry.name: entry.target.kind.value for entry in self.config.fmcs}
        await self.metrics.seed_from_store(self.store, self.config.names(), kinds=kinds)
