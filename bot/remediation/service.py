"""Remediation as a service: prepare a plan, execute it under the per-FMC lock, sweep crashes.

:func:`prepare_remediation` probes and plans (``--dry-run`` stops there).
:func:`execute_remediation` takes the FMC's lock (``store.begin_run``), runs the steps
in order, records each one, reports progress, heartbeats the run, and always finishes it
as RENEWED, NOT_RENEWED or FAILED (INTERRUPTED when cancelled). The callers (CLI, Slack)
print or post what it returns; nothing here prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.core.advisory import Action
from bot.core.approval import nothing_to_do_reason
from bot.core.expiry import Thresholds
from bot.core.findings import Finding, assess_outcome
from bot.core.incidents import needs_attention
from bot.errors import NothingToDoError, ProbeError, RemediationError
from bot.fmc.probe import probe_fmc
from bot.fmc.target import ProbeTarget, ProbeTimeouts
from bot.remediation.package import inspect_vdb_package
from bot.remediation.plan import (
    Plan,
    Step,
    build_plan,
    parse_action,
    plan_to_dict,
    settings_problem,
)
from bot.remediation.policy import (
    Outcome,
    classify_failure,
    classify_verification,
    format_expiry,
    is_abandoned,
    output_tail,
)
from bot.remediation.runner import PlanRunner, StepFailed, StepReport
from bot.remediation.settings import RemediationSettings
from bot.scanning import Prober
from bot.secrets import redact
from bot.storage.records import RemediationRun, RunStatus, StepStatus, Store

log = logging.getLogger("bot.remediation")

Clock = Callable[[], datetime]
SYSTEM_ACTOR = "system"
DEFAULT_STALE_AFTER = timedelta(minutes=5)  # 20 missed heartbeats at the default interval


class ProgressState(enum.StrEnum):
    """Where a step is."""

    STARTED = "started"
    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"
    WAITING = "waiting"  # still running: e.g. the VDB is not installed yet


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One progress report of a run: the CLI prints it, Slack posts it in the thread."""

    fmc: str
    run_id: int
    step: str
    state: ProgressState
    message: str  # one line, redacted
    index: int = 0  # 1-based position of the step in the plan
    total: int = 0  # steps in the plan


ProgressListener = Callable[[ProgressEvent], Awaitable[None] | None]
"""Called with every progress event; may be a plain function or a coroutine function."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A plan ready to run, and the finding it was built from."""

    plan: Plan
    finding: Finding


@dataclass(frozen=True, slots=True)
class RemediationResult:
    """How one remediation run ended."""

    run_id: int
    fmc: str
    action: str
    status: RunStatus
    summary: str
    failed_step: str | None
    step_output: str  # redacted tail of the failed step's output
    old_not_after: datetime | None
    new_not_after: datetime | None
    next_steps: tuple[str, ...]


def current_owner() -> str:
    """``host:pid`` of this process, the owner recorded on runs it starts."""
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just not ours
    except OSError:
        return False
    return True


async def prepare_remediation(
    target: ProbeTarget,
    action: Action | str,
    *,
    settings: RemediationSettings,
    timeouts: ProbeTimeouts,
    thresholds: Thresholds,
    clock: Clock,
    probe: Prober = probe_fmc,
) -> Prepared:
    """Probe the FMC and build the plan; RemediationError when the action cannot apply."""
    chosen = parse_action(action)
    problem = settings_problem(chosen, settings)
    if problem is not None:
        raise RemediationError(problem)  # no need to connect to say so
    package = None
    if chosen is Action.VDB_UPDATE and settings.vdb_package is not None:
        package = await asyncio.to_thread(inspect_vdb_package, settings.vdb_package)
    outcome = await probe(target, timeouts, clock=clock)
    finding = assess_outcome(target.name, target.host, outcome, thresholds, outcome.checked_at)
    if finding.error is None and not needs_attention(finding):
        # Checked before the plan's own refusals, which would send people to Cisco TAC.
        raise NothingToDoError(nothing_to_do_reason(finding))
    plan = build_plan(chosen, finding, settings, package, cert_path=target.cert_path)
    return Prepared(plan=plan, finding=finding)


async def _notify(listener: ProgressListener | None, event: ProgressEvent) -> None:
    if listener is None:
        return
    try:
        result = listener(event)
        if inspect.isawaitable(result):
            await result
    except asyncio.CancelledError:
        raise
    except Exception:
        # A failed progress post must not stop a fix half-way.
        log.warning("progress listener failed for %s", event.fmc, exc_info=True)


async def _heartbeat(store: Store, run_id: int, clock: Clock, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await store.heartbeat(run_id, clock())
        except Exception:
            log.warning("heartbeat of run %d failed", run_id, exc_info=True)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class _Execution:
    """The state of one run while its steps execute."""

    def __init__(
        self,
        prepared: Prepared,
        target: ProbeTarget,
        run: RemediationRun,
        *,
        store: Store,
        clock: Clock,
        on_progress: ProgressListener | None,
        runner: PlanRunner,
    ) -> None:
        self.plan = prepared.plan
        self.prepared = prepared
        self.target = target
        self.run = run
        self.store = store
        self.clock = clock
        self.on_progress = on_progress
        self.runner = runner
        self.current: tuple[int, Step, datetime] | None = None

    def redact(self, text: str) -> str:
        return redact(text, [self.target.password])

    async def emit(self, step: Step, index: int, state: ProgressState, message: str) -> None:
        event = ProgressEvent(
            fmc=self.plan.fmc,
            run_id=self.run.id,
            step=step.name,
            state=state,
            message=self.redact(message),
            index=index,
            total=len(self.plan.steps),
        )
        await _notify(self.on_progress, event)

    async def record(
        self, index: int, step: Step, status: StepStatus, started: datetime, output: str
    ) -> None:
        finished = None if status is StepStatus.RUNNING else self.clock()
        await self.store.record_step(
            self.run.id,
            seq=index,
            name=step.name,
            status=status,
            started_at=started,
            finished_at=finished,
            output=output_tail(self.redact(output)),
        )

    async def run_step(self, index: int, step: Step, grace: float) -> StepReport:
        started = self.clock()
        self.current = (index, step, started)
        await self.record(index, step, StepStatus.RUNNING, started, "")
        await self.emit(step, index, ProgressState.STARTED, step.description)

        async def waiting(message: str) -> None:
            await self.emit(step, index, ProgressState.WAITING, message)

        async with asyncio.timeout(step.timeout + grace):
            report = await self.runner.run(step, waiting)
        await self.record(index, step, report.status, started, report.output)
        state = ProgressState.SKIPPED if report.status is StepStatus.SKIPPED else ProgressState.OK
        await self.emit(step, index, state, report.message)
        self.current = None
        return report

    async def fail_step(self, message: str, output: str) -> Outcome:
        assert self.current is not None
        index, step, started = self.current
        message, output = self.redact(message), self.redact(output)
        await self.record(index, step, StepStatus.FAILED, started, f"{output}\n{message}".strip())
        await self.emit(step, index, ProgressState.FAILED, message)
        self.current = None
        before = self.runner.before or self.prepared.finding
        return classify_failure(
            self.plan.fmc,
            self.plan.action,
            step.name,
            message,
            output,
            old=before.facts.certificate,
            upgrade_to=before.upgrade_to,
        )

    async def execute(self, grace: float) -> Outcome:
        for index, step in enumerate(self.plan.steps, start=1):
            try:
                await self.run_step(index, step, grace)
            except StepFailed as exc:
                return await self.fail_step(exc.message, exc.output)
            except ProbeError as exc:
                return await self.fail_step(exc.message, "")
            except TimeoutError:
                return await self.fail_step(f"the step took longer than {step.timeout:g} s", "")
        before = self.runner.before or self.prepared.finding
        after = self.runner.after
        return classify_verification(
            self.plan.fmc,
            self.plan.action,
            before.facts.certificate,
            after.facts.certificate if after else None,
            upgrade_to=before.upgrade_to,
            vdb_build=after.facts.vdb_build if after else None,
        )

    async def interrupted(self, requested_by: str) -> None:
        """Record the cancelled step and mark the run INTERRUPTED (shielded by the caller)."""
        step_name = None
        if self.current is not None:
            index, step, started = self.current
            step_name = step.name
            await self.record(index, step, StepStatus.FAILED, started, "interrupted")
        where = f" during step {step_name}" if step_name else ""
        summary = (
            f"{self.plan.fmc}: {self.plan.action.value} was interrupted{where}; "
            "check the FMC before running it again"
        )
        await self.store.finish_run(
            self.run.id,
            status=RunStatus.INTERRUPTED,
            now=self.clock(),
            summary=summary,
            failed_step=step_name,
        )
        await self.store.audit(
            actor=requested_by,
            action="remediation.interrupted",
            fmc=self.plan.fmc,
            detail={"run_id": self.run.id, "step": step_name, "reason": "cancelled"},
            now=self.clock(),
        )


async def execute_remediation(
    prepared: Prepared,
    target: ProbeTarget,
    *,
    store: Store,
    requested_by: str,
    approved_by: str | None,
    settings: RemediationSettings | None = None,
    timeouts: ProbeTimeouts,
    thresholds: Thresholds,
    clock: Clock,
    on_progress: ProgressListener | None = None,
    owner: str,
    heartbeat_interval: float = 15.0,
    probe: Prober = probe_fmc,
) -> RemediationResult:
    """Run a prepared plan under the FMC's lock; RemediationBusyError if another run holds it.

    ``settings`` is accepted for symmetry with :func:`prepare_remediation`: the plan
    already carries every setting it needs.
    """
    del settings
    plan = prepared.plan
    if plan.fmc != target.name:
        raise RemediationError(f"the plan is for {plan.fmc}, not {target.name}")
    run = await store.begin_run(
        fmc=plan.fmc,
        action=plan.action.value,
        requested_by=requested_by,
        approved_by=approved_by,
        owner=owner,
        plan=plan_to_dict(plan),
        now=clock(),
    )
    started_detail: dict[str, Any] = {
        "run_id": run.id,
        "action": plan.action.value,
        "approved_by": approved_by,
        "owner": owner,
        "steps": [step.name for step in plan.steps],
    }
    if plan.package is not None:
        started_detail["package"] = {"name": plan.package.name, "sha256": plan.package.sha256}
    runner = PlanRunner(
        plan, target, timeouts=timeouts, thresholds=thresholds, clock=clock, probe=probe
    )
    execution = _Execution(
        prepared, target, run, store=store, clock=clock, on_progress=on_progress, runner=runner
    )
    # Opening the shell (connect, login, expert) happens inside the first step that needs it.
    grace = timeouts.connect + 2 * timeouts.command
    beat = asyncio.create_task(_heartbeat(store, run.id, clock, heartbeat_interval))
    try:
        await store.audit(
            actor=requested_by,
            action="remediation.started",
            fmc=plan.fmc,
            detail=started_detail,
            now=clock(),
        )
        try:
            outcome = await execution.execute(grace)
        finally:
            await runner.close()
    except asyncio.CancelledError:
        cleanup = asyncio.ensure_future(execution.interrupted(requested_by))
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(cleanup)
        raise
    except Exception as exc:
        log.exception("internal error while remediating %s", plan.fmc)
        outcome = classify_failure(
            plan.fmc,
            plan.action,
            execution.current[1].name if execution.current else "run",
            f"internal error ({type(exc).__name__}); see the log",
            "",
            old=prepared.finding.facts.certificate,
        )
        await _finish(store, run, plan, outcome, requested_by, clock)
        raise
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
    return await _finish(store, run, plan, outcome, requested_by, clock)


async def _finish(
    store: Store,
    run: RemediationRun,
    plan: Plan,
    outcome: Outcome,
    requested_by: str,
    clock: Clock,
) -> RemediationResult:
    await store.finish_run(
        run.id,
        status=outcome.status,
        now=clock(),
        summary=outcome.summary,
        failed_step=outcome.failed_step,
        old_not_after=outcome.old_not_after,
        new_not_after=outcome.new_not_after,
    )
    detail: Mapping[str, Any] = {
        "run_id": run.id,
        "action": plan.action.value,
        "status": outcome.status.value,
        "failed_step": outcome.failed_step,
        "summary": outcome.summary,
        "old_not_after": _iso(outcome.old_not_after),
        "new_not_after": _iso(outcome.new_not_after),
    }
    await store.audit(
        actor=requested_by, action="remediation.finished", fmc=plan.fmc, detail=detail, now=clock()
    )
    log.info("fmc %s: remediation run %d %s", plan.fmc, run.id, outcome.status.value)
    return RemediationResult(
        run_id=run.id,
        fmc=plan.fmc,
        action=plan.action.value,
        status=outcome.status,
        summary=outcome.summary,
        failed_step=outcome.failed_step,
        step_output=outcome.step_output,
        old_not_after=outcome.old_not_after,
        new_not_after=outcome.new_not_after,
        next_steps=outcome.next_steps,
    )


async def sweep_interrupted(
    store: Store,
    *,
    now: datetime,
    this_host: str,
    pid_alive: Callable[[int], bool],
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> list[RemediationRun]:
    """Mark abandoned RUNNING runs INTERRUPTED (releasing their FMC's lock); return them."""
    swept: list[RemediationRun] = []
    for run in await store.running_runs():
        if not is_abandoned(
            run, now, this_host=this_host, pid_alive=pid_alive, stale_after=stale_after
        ):
            continue
        summary = (
            f"{run.fmc}: {run.action} was interrupted: its process ({run.owner}) stopped "
            f"before it finished (last heartbeat {format_expiry(run.heartbeat_at)}); "
            "check the FMC before running it again"
        )
        finished = await store.finish_run(
            run.id, status=RunStatus.INTERRUPTED, now=now, summary=summary
        )
        await store.audit(
            actor=SYSTEM_ACTOR,
            action="remediation.interrupted",
            fmc=run.fmc,
            detail={"run_id": run.id, "owner": run.owner, "reason": "abandoned"},
            now=now,
        )
        swept.append(finished)
    return swept
