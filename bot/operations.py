"""What users can ask fmccert to do, shared by the CLI and the Slack bot.

The composition root builds one :class:`Operations` with the config, the store and the
clock; the CLI and every Slack surface call it instead of wiring scans, storage and
remediation themselves.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.config import AppConfig, FmcEntry
from bot.core.advisory import Action
from bot.core.approval import (
    ApprovalRequest,
    nothing_to_do_reason,
    removed_reason,
    run_finished_reason,
    superseded_reason,
)
from bot.core.expiry import status_as_of
from bot.core.findings import Finding
from bot.core.incidents import needs_attention
from bot.errors import RemediationError, StorageError, UsageError
from bot.logs import bound, register_secret
from bot.probing import probe_device
from bot.remediation.package import inspect_vdb_package
from bot.remediation.service import (
    Prepared,
    RemediationResult,
    execute_remediation,
    prepare_remediation,
    sweep_interrupted,
)
from bot.remediation.service import ProgressListener as RemediationProgress
from bot.scanning import Clock, Prober, ProgressListener, ScanReport, scan_fleet
from bot.storage.records import RemediationRun, Store, StoredFinding

if TYPE_CHECKING:
    from bot.metrics import Metrics

log = logging.getLogger("bot.operations")

ClosedListener = Callable[[Sequence[ApprovalRequest]], Awaitable[None]]
"""Told of every request closed, so the Slack bot can edit its message to say why."""

InterruptedListener = Callable[[Sequence[RemediationRun]], Awaitable[None]]
"""Told of the runs a sweep marked interrupted, so the Slack bot can say so."""

# Another process's run whose heartbeat is older than this, by the database's clock, is
# taken for dead (8 missed heartbeats at the default 15 s).
STALE_AFTER = timedelta(minutes=2)


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


class Operations:
    """Scans, status, remediation and their records, for one configured fleet."""

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
        self.on_requests_closed: ClosedListener | None = None  # set by the Slack bot
        self.on_runs_interrupted: InterruptedListener | None = None  # set by the Slack bot
        self._package_digest: tuple[tuple[str, int, int], str] | None = None
        for entry in config.fmcs:  # every composition root builds Operations: mask passwords
            register_secret(entry.target.password)
            if entry.target.rest is not None:
                register_secret(entry.target.rest.password)

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
        kind: str,
        tag: str | None,
        scan_id: str | None = None,
    ) -> str | None:
        """Store the findings and one audit entry; returns the scan id, None if not stored.

        A storage failure is logged and reported, never allowed to lose the scan itself.
        """
        scan_id = scan_id or new_scan_id()
        if self.metrics is not None:
            self.metrics.observe_scan(report, kind=kind)
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

    async def _close_needless_requests(self, findings: Sequence[Finding], *, actor: str) -> None:
        """A scan that sees an FMC healthy closes its open requests: nothing is left to fix."""
        try:
            await self.expire_requests()
            pending = {request.fmc for request in await self.store.pending_approvals()}
            for finding in findings:
                if (
                    finding.name in pending
                    and finding.error is None
                    and not needs_attention(finding)
                ):
                    await self.close_requests(
                        finding.name, reason=nothing_to_do_reason(finding), actor=actor
                    )
        except StorageError as exc:
            log.warning("open requests of healthy FMCs were not closed: %s", exc)

    # approval requests: one live request per FMC and action, closed once untrue

    async def request_fix(
        self,
        fmc: str,
        action: str,
        *,
        requested_by: str,
        channel: str | None,
        ttl: timedelta,
        plan_sha256: str | None = None,
    ) -> ApprovalRequest:
        """A new PENDING request; an older one of the same FMC and action is superseded.

        A VDB update is bound to the package configured now (its sha256): an Approve after
        the file changed is refused.
        """
        if plan_sha256 is None and action == Action.VDB_UPDATE.value:
            plan_sha256 = await self.package_sha256()
        now = self.clock()
        request, superseded = await self.store.open_approval(
            fmc=fmc,
            action=action,
            requested_by=requested_by,
            now=now,
            expires_at=now + ttl,
            channel=channel,
            plan_sha256=plan_sha256,
        )
        for old in superseded:
            await self._audit_closed(old, actor=requested_by, reason=superseded_reason(request.id))
        await self._tell_closed(superseded)
        return request

    async def package_sha256(self) -> str | None:
        """The sha256 of the configured VDB package (cached while the file is unchanged)."""
        path = self.config.remediation.vdb_package
        if path is None:
            return None
        try:
            stat = path.stat()
            key = (str(path), stat.st_mtime_ns, stat.st_size)
            if self._package_digest is None or self._package_digest[0] != key:
                package = await asyncio.to_thread(inspect_vdb_package, path)
                self._package_digest = (key, package.sha256)
        except (OSError, RemediationError) as exc:
            # The fix cannot run anyway; the Approve will say why when it reads the package.
            log.warning("cannot read the VDB package %s: %s", path, exc)
            return None
        return self._package_digest[1]

    async def close_requests(
        self, fmc: str, *, reason: str, actor: str, ids: Sequence[int] | None = None
    ) -> list[ApprovalRequest]:
        """Close the open requests of ``fmc`` (only ``ids`` when given), audited, and say so."""
        closed = await self.store.close_approvals(fmc=fmc, reason=reason, now=self.clock(), ids=ids)
        for request in closed:
            await self._audit_closed(request, actor=actor, reason=reason)
        await self._tell_closed(closed)
        return closed

    async def close_requests_after_run(
        self, result: RemediationResult, *, actor: str
    ) -> list[ApprovalRequest]:
        """A finished run (whatever its outcome) closes the open requests of its FMC."""
        reason = run_finished_reason(result.run_id, result.action, result.status.value)
        return await self.close_requests(result.fmc, reason=reason, actor=actor)

    async def expire_requests(self) -> list[ApprovalRequest]:
        """Requests whose time is up stop being pending (their buttons go); audited."""
        expired = await self.store.expire_approvals(now=self.clock())
        for request in expired:
            await self.store.audit(
                actor="system:approvals",
                action="approval.expired",
                fmc=request.fmc,
                detail={"approval_id": request.id, "action": request.action},
                now=self.clock(),
            )
        await self._tell_closed(expired)
        return expired

    async def close_orphan_requests(self, *, actor: str) -> list[ApprovalRequest]:
        """Close the open requests of FMCs no longer in the config."""
        known = set(self.config.names())
        closed: list[ApprovalRequest] = []
        for fmc in sorted({r.fmc for r in await self.store.pending_approvals()} - known):
            closed += await self.close_requests(fmc, reason=removed_reason(fmc), actor=actor)
        return closed

    async def _audit_closed(self, request: ApprovalRequest, *, actor: str, reason: str) -> None:
        await self.store.audit(
            actor=actor,
            action="approval.closed",
            fmc=request.fmc,
            detail={"approval_id": request.id, "action": request.action, "reason": reason},
            now=self.clock(),
        )

    async def _tell_closed(self, closed: Sequence[ApprovalRequest]) -> None:
        if closed and self.on_requests_closed is not None:
            await self.on_requests_closed(closed)

    async def latest(self) -> list[StoredFinding]:
        """The newest stored finding of every configured FMC, its status as of now (no SSH)."""
        return findings_as_of(await self.store.latest_findings(), self.config, now=self.clock())

    async def sweep(self) -> list[RemediationRun]:
        """Mark remediations no process runs any more as interrupted, and tell the listener.

        The only path that marks runs abandoned (read-only commands never do): by the
        database's clock, never this process's.
        """
        swept = await sweep_interrupted(self.store, stale_after=STALE_AFTER)
        for run in swept:
            log.warning("%s", run.summary, extra={"fmc": run.fmc})
            if self.metrics is not None:
                self.metrics.observe_remediation(run.action, run.status.value)
        if swept and self.on_runs_interrupted is not None:
            try:
                await self.on_runs_interrupted(swept)
            except Exception:
                log.exception("telling of %d interrupted run(s) failed", len(swept))
        return swept

    async def prepare(self, fmc: str, action: str) -> Prepared:
        """Probe the FMC and build the plan; RemediationError says why it cannot apply."""
        with bound(fmc=fmc):
            return await self._prepare(fmc, action)

    async def _prepare(self, fmc: str, action: str) -> Prepared:
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
        with bound(fmc=prepared.plan.fmc):
            result = await self._execute(
                prepared, requested_by=requested_by, approved_by=approved_by,
                on_progress=on_progress,
            )  # fmt: skip
            log.info("%s finished: %s", prepared.plan.action, result.status.value)
            try:  # the run is recorded; a request left open for this FMC is no longer true
                await self.close_requests_after_run(result, actor=approved_by or requested_by)
            except StorageError as exc:
                log.warning("open requests were not closed after the run: %s", exc)
        return result

    async def _execute(
        self,
        prepared: Prepared,
        *,
        requested_by: str,
        approved_by: str | None,
        on_progress: RemediationProgress | None,
    ) -> RemediationResult:
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
            probe=self.probe,
        )

    def count_delivery_failure(self, what: str) -> None:
        """Count a Slack message that could not be delivered (the bot's metrics only)."""
        if self.metrics is not None:
            self.metrics.observe_delivery_failure(what)

    def now(self) -> datetime:
        """The injected clock's current time."""
        return self.clock()
