"""Fixes: plan one, run it (approved in Slack, or break-glass from the CLI), sweep the dead.

A run goes through :mod:`bot.remediation.service` (the per-FMC lock, the steps, their
records); this module adds what the callers share: a refused plan is audited, a finished
run closes the open requests of its FMC, and runs no process executes any more are
marked interrupted and reported.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.core.audit import AuditAction
from bot.errors import RemediationError, StorageError
from bot.logs import bound
from bot.operations.approvals import ApprovalOperations
from bot.operations.ports import AuditEntry, RemediationRun, RemediationStep
from bot.remediation.service import (
    Prepared,
    RemediationResult,
    execute_remediation,
    prepare_remediation,
    sweep_interrupted,
)
from bot.remediation.service import ProgressListener as RemediationProgress

log = logging.getLogger("bot.operations")

InterruptedListener = Callable[[Sequence[RemediationRun]], Awaitable[None]]
"""Told of the runs a sweep marked interrupted, so the Slack bot can say so."""

# Another process's run whose heartbeat is older than this, by the database's clock, is
# taken for dead (8 missed heartbeats at the default 15 s).
STALE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class History:
    """An FMC's remediation runs and audit entries (all FMCs' for None), newest first."""

    runs: tuple[RemediationRun, ...]
    audit: tuple[AuditEntry, ...]


class RemediationOperations(ApprovalOperations):
    """Plan, run and sweep remediations; read their history."""

    on_runs_interrupted: InterruptedListener | None = None  # set by the Slack bot

    async def sweep(self) -> list[RemediationRun]:
        """Mark remediations no process runs any more as interrupted, and tell the listener.

        The only path that marks runs abandoned (read-only commands never do): by the
        database's clock, never this process's.
        """
        swept = await sweep_interrupted(self.store, audit=self.audit_trail, stale_after=STALE_AFTER)
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

    async def plan_fix(self, fmc: str, action: str, *, actor: str) -> Prepared:
        """:meth:`prepare` for a person asking for a fix: a refusal is audited, then raised."""
        try:
            return await self.prepare(fmc, action)
        except RemediationError as exc:
            await self._audit(
                AuditAction.REMEDIATION_REFUSED,
                actor=actor,
                fmc=fmc,
                detail={"action": action, "reason": str(exc)},
            )
            raise

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

    async def break_glass(
        self, prepared: Prepared, *, actor: str, on_progress: RemediationProgress | None
    ) -> RemediationResult:
        """Run a prepared plan without an approval (the CLI's own path); recorded as such.

        Open requests of the FMC stay as they are: people in Slack still see them.
        """
        return await self._execute(
            prepared,
            requested_by=actor,
            approved_by=f"{actor} (break-glass)",
            on_progress=on_progress,
        )

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
            audit=self.audit_trail,
            requested_by=requested_by,
            approved_by=approved_by,
            timeouts=self.config.timeouts,
            thresholds=self.config.thresholds,
            clock=self.clock,
            on_progress=on_progress,
            probe=self.probe,
        )

    async def history(self, fmc: str | None, *, runs: int, entries: int) -> History:
        """The newest ``runs`` remediation runs and ``entries`` audit entries of ``fmc``."""
        return History(
            runs=tuple(await self.store.runs(fmc, limit=runs)),
            audit=tuple(await self.store.audit_log(fmc, limit=entries)),
        )

    async def run_steps(self, run_id: int) -> list[RemediationStep]:
        """The recorded steps of one run, in order."""
        return await self.store.steps(run_id)
