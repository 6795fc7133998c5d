"""Remediation as a service: prepare a plan, execute it under the per-FMC lock, sweep crashes.

:func:`prepare_remediation` probes and plans (``--dry-run`` stops there).
:func:`execute_remediation` takes the FMC's lock (``store.begin_run``), runs the steps
in order, records each one, reports progress, heartbeats the run, and always finishes it
as RENEWED, NOT_RENEWED or FAILED (INTERRUPTED when cancelled). The callers (CLI, Slack)
print or post what it returns; nothing here prints.

Who holds a lock: each process start makes one owner token (:data:`THIS_PROCESS`), so a
restarted bot that is PID 1 under the same hostname again is never mistaken for the one
that died. :func:`sweep_interrupted` alone marks runs abandoned: a run of this process
that it no longer executes (at once), or another process's run whose heartbeat is stale
by the database's clock (never a caller's clock).

A database outage mid-run does not stop the fix: the FMC steps and the verification go
on, the writes wait in order and are replayed once the database answers again, the
outcome is recorded then ("recorded late"), and the heartbeat keeps beating until it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.core.advisory import Action
from bot.core.approval import nothing_to_do_reason
from bot.core.audit import AuditAction
from bot.core.devices import DeviceKind
from bot.core.expiry import Thresholds
from bot.core.findings import Finding, assess_outcome
from bot.core.incidents import needs_attention
from bot.errors import NothingToDoError, ProbeError, RemediationError, StorageError
from bot.fmc.probe import probe_fmc
from bot.fmc.target import ProbeTarget, ProbeTimeouts
from bot.remediation.package import inspect_vdb_package
from bot.remediation.plan import (
    Plan,
    Step,
    build_plan,
    executable_on,
    not_executable_reason,
    parse_action,
    plan_to_dict,
    settings_problem,
)
from bot.remediation.policy import (
    Outcome,
    classify_failure,
    classify_verification,
    format_expiry,
    output_tail,
)
from bot.remediation.runner import PlanRunner, StepFailed, StepReport
from bot.remediation.settings import RemediationSettings
from bot.scanning import Prober
from bot.secrets import redact
from bot.storage.records import RemediationRun, RunStatus, StepStatus

if TYPE_CHECKING:  # the application layer passes these in (it imports this module)
    from bot.operations.audit import AuditTrail
    from bot.operations.ports import Store

log = logging.getLogger("bot.remediation")

Clock = Callable[[], datetime]
SYSTEM_ACTOR = "system"
DEFAULT_STALE_AFTER = timedelta(minutes=5)  # 20 missed heartbeats at the default interval
# Retrying writes while the database is unavailable: first after this, doubling up to the cap.
RETRY_FIRST = 0.5
RETRY_CAP = 30.0


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
    # False while the database could not take the outcome yet: it is retried in the
    # background (ProcessRuns.settle waits for it); ``storage_error`` says why.
    recorded: bool = True
    storage_error: str | None = None


class ProcessRuns:
    """This process's owner name on the runs it starts, and which of them it still runs.

    The owner is ``host:pid:token`` with a random token made once per process start: pid
    and hostname are for people (in a container they repeat after every restart).
    """

    def __init__(self, host: str, pid: int, token: str) -> None:
        self.owner = f"{host}:{pid}:{token}"
        self._live: set[int] = set()
        self._starting = 0  # begin_run calls under way: their run ids are not known yet
        self._settling: dict[int, asyncio.Task[bool]] = {}

    @classmethod
    def start(cls) -> ProcessRuns:
        """A new owner for this process start."""
        return cls(socket.gethostname(), os.getpid(), secrets.token_hex(6))

    @property
    def live(self) -> frozenset[int]:
        """Ids of the runs this process is executing (or still recording)."""
        return frozenset(self._live)

    @property
    def starting(self) -> bool:
        """Whether a run is being begun (its id not yet registered)."""
        return self._starting > 0

    @property
    def unrecorded(self) -> bool:
        """Whether an outcome still waits for the database."""
        return bool(self._settling)

    async def settle(self) -> None:
        """Wait until every outcome that waited for the database is recorded."""
        while self._settling:
            await asyncio.wait(list(self._settling.values()))


THIS_PROCESS = ProcessRuns.start()


def run_is_dead(
    run: RemediationRun,
    *,
    database_now: datetime,
    owner: str,
    live: Collection[int],
    starting: bool,
    stale_after: timedelta,
) -> bool:
    """Whether a RUNNING run is abandoned, from the sweeping process ``owner``'s view.

    Its own run it no longer executes is dead at once (a storage error, a bug); another
    process's run only once its heartbeat, stamped by the database, is older than
    ``stale_after`` by the database's clock.
    """
    if run.status is not RunStatus.RUNNING:
        return False
    if run.owner == owner:
        return run.id not in live and not starting
    return database_now - run.heartbeat_at > stale_after


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
    """Probe the FMC and build the plan; RemediationError when the action cannot apply.

    On an FTD the plan is the manual FDM one (``plan.executable`` False): it needs no VDB
    package configured, and :func:`execute_remediation` refuses to run it.
    """
    chosen = parse_action(action)
    if not target.access.uses_ssh:
        raise RemediationError(
            f"{target.name} is read over the FMC REST API only (access: rest), and a fix "
            "runs over SSH: set its access to both (or ssh) to remediate it"
        )
    if target.kind is DeviceKind.FTD and chosen is not Action.VDB_UPDATE:
        raise RemediationError(not_executable_reason(target.kind, chosen))
    problem = settings_problem(chosen, settings) if target.kind is DeviceKind.FMC else None
    if problem is not None:
        raise RemediationError(problem)  # no need to connect to say so
    package = None
    if chosen is Action.VDB_UPDATE and settings.vdb_package is not None:
        package = await asyncio.to_thread(inspect_vdb_package, settings.vdb_package)
    outcome = await probe(target, timeouts, clock=clock)
    finding = assess_outcome(
        target.name, target.host, outcome, thresholds, outcome.checked_at, kind=target.kind
    )
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


async def _heartbeat(store: Store, run_id: int, interval: float) -> None:
    """Beat every ``interval`` s whatever the steps do (an upload, an install wait)."""
    failing = False
    while True:
        await asyncio.sleep(interval)
        try:
            await store.heartbeat(run_id)
        except Exception as exc:
            if not failing:  # once per outage, not every beat
                log.warning("heartbeat of run %d failed: %s", run_id, exc)
            failing = True
        else:
            failing = False


Write = Callable[[], Awaitable[object]]


class _Journal:
    """The writes of one run, in order; while the database fails they queue up and retry.

    A write that fails (StorageError) and every write after it wait in ``pending``; one
    background task replays them with backoff until the database answers again. The run
    itself goes on meanwhile: its steps happen on the FMC whether recorded or not.
    """

    def __init__(self, run_id: int, clock: Clock) -> None:
        self.run_id = run_id
        self.clock = clock
        self.pending: list[tuple[str, Write]] = []
        self.down_since: datetime | None = None  # first failure
        self.back_at: datetime | None = None  # last recovery
        self.error: str | None = None
        self._retrying: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one replay at a time: an audit entry is written once

    @property
    def had_outage(self) -> bool:
        return self.down_since is not None

    def outage_note(self) -> str:
        """``the database was unavailable from A to B`` (B is now if not back yet)."""
        start = format_expiry(self.down_since)
        end = format_expiry(self.back_at or self.clock())
        return f"the database was unavailable from {start} to {end}"

    async def write(self, what: str, op: Write, *, retry_now: bool = False) -> bool:
        """Write now, or queue behind earlier failed writes; True when it is written.

        Queued behind a failure, a write waits for the retry task, so steps are not held
        up by the database's timeouts; ``retry_now`` tries the whole queue at once.
        """
        self.pending.append((what, op))
        if len(self.pending) > 1 and not retry_now:
            return False  # the retry task will reach it, in order
        return await self._flush_locked()

    async def _flush_locked(self) -> bool:
        async with self._lock:
            return await self._flush()

    async def _flush(self) -> bool:
        while self.pending:
            what, op = self.pending[0]
            try:
                await op()
            except StorageError as exc:
                if self.error is None or self.back_at is not None:
                    log.warning(
                        "run %d: %s could not be recorded (kept to retry): %s",
                        self.run_id,
                        what,
                        exc,
                    )
                if self.down_since is None:
                    self.down_since = self.clock()
                self.back_at = None
                self.error = str(exc)
                self._retry_in_background()
                return False
            self.pending.pop(0)
            if self.error is not None and self.back_at is None:
                self.back_at = self.clock()
                log.warning("run %d: the database answers again; recording", self.run_id)
        return True

    def _retry_in_background(self) -> None:
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.create_task(self._retry(), name=f"run-{self.run_id}-retry")

    async def _retry(self) -> None:
        delay = RETRY_FIRST
        while self.pending:
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_CAP)
            if await self._flush_locked():
                return

    async def drained(self) -> None:
        """Wait until every queued write is written (forever if the database stays down)."""
        while self.pending:
            task = self._retrying
            if task is None or task.done():
                self._retry_in_background()
                task = self._retrying
            assert task is not None
            await asyncio.shield(task)

    async def try_once(self) -> bool:
        """One more attempt at the queue now (the cancel path: no waiting)."""
        if self._retrying is not None:
            self._retrying.cancel()
            self._retrying = None
        try:
            return await self._flush_locked()
        finally:
            if self._retrying is not None:
                self._retrying.cancel()
                self._retrying = None


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
        audit: AuditTrail,
        clock: Clock,
        on_progress: ProgressListener | None,
        runner: PlanRunner,
    ) -> None:
        self.plan = prepared.plan
        self.prepared = prepared
        self.target = target
        self.run = run
        self.store = store
        self.trail = audit
        self.clock = clock
        self.on_progress = on_progress
        self.runner = runner
        self.current: tuple[int, Step, datetime] | None = None
        self.journal = _Journal(run.id, clock)

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
        store, run_id, text = self.store, self.run.id, output_tail(self.redact(output))

        async def write() -> None:
            await store.record_step(
                run_id,
                seq=index,
                name=step.name,
                status=status,
                started_at=started,
                finished_at=finished,
                output=text,
            )

        await self.journal.write(f"step {step.name}", write)

    async def journal_audit(
        self, actor: str, action: AuditAction, detail: Mapping[str, Any]
    ) -> None:
        """Append an audit entry through the journal (kept to retry in an outage)."""
        trail, fmc, at = self.trail, self.plan.fmc, self.clock()

        async def write() -> None:
            await trail.record(action, actor=actor, fmc=fmc, detail=detail, now=at)

        await self.journal.write(action, write)

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
        store, run_id, now = self.store, self.run.id, self.clock()

        async def finish() -> None:
            await store.finish_run(
                run_id, status=RunStatus.INTERRUPTED, now=now, summary=summary,
                failed_step=step_name,
            )  # fmt: skip

        await self.journal.write("the interruption", finish)
        await self.journal_audit(
            requested_by,
            AuditAction.REMEDIATION_INTERRUPTED,
            {"run_id": self.run.id, "step": step_name, "reason": "cancelled"},
        )
        if not await self.journal.try_once():
            # Nobody waits for a cancelled run: its lock is freed by the next sweep.
            log.warning("run %d: the interruption could not be recorded", self.run.id)


async def execute_remediation(
    prepared: Prepared,
    target: ProbeTarget,
    *,
    store: Store,
    audit: AuditTrail,
    requested_by: str,
    approved_by: str | None,
    settings: RemediationSettings | None = None,
    timeouts: ProbeTimeouts,
    thresholds: Thresholds,
    clock: Clock,
    on_progress: ProgressListener | None = None,
    process: ProcessRuns = THIS_PROCESS,
    heartbeat_interval: float = 15.0,
    probe: Prober = probe_fmc,
) -> RemediationResult:
    """Run a prepared plan under the FMC's lock; RemediationBusyError if another run holds it.

    ``audit`` writes the run's audit entries (started, finished or interrupted).
    ``settings`` is accepted for symmetry with :func:`prepare_remediation`: the plan
    already carries every setting it needs. A database outage after the lock is taken
    does not stop the run: the result then has ``recorded=False`` and the outcome is
    recorded in the background once the database is back (``process.settle()``).
    """
    del settings
    plan = prepared.plan
    if plan.fmc != target.name:
        raise RemediationError(f"the plan is for {plan.fmc}, not {target.name}")
    if not plan.executable or not executable_on(target.kind, plan.action):
        # Never pretend: an FTD's plan is for a person in FDM, not for this runner.
        raise RemediationError(not_executable_reason(target.kind, plan.action))
    process._starting += 1
    try:
        run = await store.begin_run(
            fmc=plan.fmc,
            action=plan.action.value,
            requested_by=requested_by,
            approved_by=approved_by,
            owner=process.owner,
            plan=plan_to_dict(plan),
            now=clock(),
        )
        process._live.add(run.id)  # no await since begin_run: a sweep never sees it unlisted
    finally:
        process._starting -= 1
    beat = asyncio.create_task(_heartbeat(store, run.id, heartbeat_interval))
    settled = False
    try:
        result, journal = await _execute(
            prepared, target, run, store=store, audit=audit, requested_by=requested_by,
            approved_by=approved_by, timeouts=timeouts, thresholds=thresholds, clock=clock,
            on_progress=on_progress, probe=probe,
        )  # fmt: skip
        if result.recorded:
            return result
        # Keep the lock alive (heartbeat) until the outcome is written, then let it go.
        settled = True
        process._settling[run.id] = asyncio.create_task(
            _settle_late(result, journal, process, beat), name=f"run-{run.id}-settle"
        )
        return result
    finally:
        if not settled:
            await _stop(beat)
            process._live.discard(run.id)  # unrecorded? the next sweep frees the lock


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _settle_late(
    result: RemediationResult, journal: _Journal, process: ProcessRuns, beat: asyncio.Task[None]
) -> bool:
    try:
        await journal.drained()
        log.warning(
            "fmc %s: remediation run %d %s, recorded late (%s)",
            result.fmc,
            result.run_id,
            result.status.value,
            journal.outage_note(),
        )
        return True
    finally:
        await _stop(beat)
        process._live.discard(result.run_id)
        process._settling.pop(result.run_id, None)


async def _execute(
    prepared: Prepared,
    target: ProbeTarget,
    run: RemediationRun,
    *,
    store: Store,
    audit: AuditTrail,
    requested_by: str,
    approved_by: str | None,
    timeouts: ProbeTimeouts,
    thresholds: Thresholds,
    clock: Clock,
    on_progress: ProgressListener | None,
    probe: Prober,
) -> tuple[RemediationResult, _Journal]:
    plan = prepared.plan
    started_detail: dict[str, Any] = {
        "run_id": run.id,
        "action": plan.action.value,
        "approved_by": approved_by,
        "owner": run.owner,
        "steps": [step.name for step in plan.steps],
    }
    if plan.package is not None:
        started_detail["package"] = {"name": plan.package.name, "sha256": plan.package.sha256}
    runner = PlanRunner(
        plan, target, timeouts=timeouts, thresholds=thresholds, clock=clock, probe=probe
    )
    execution = _Execution(
        prepared, target, run, store=store, audit=audit, clock=clock, on_progress=on_progress,
        runner=runner,
    )  # fmt: skip
    # Opening the shell (connect, login, expert) happens inside the first step that needs it.
    grace = timeouts.connect + 2 * timeouts.command
    try:
        await execution.journal_audit(requested_by, AuditAction.REMEDIATION_STARTED, started_detail)
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
        await _finish(execution, outcome, requested_by)
        raise
    return await _finish(execution, outcome, requested_by), execution.journal


async def _finish(execution: _Execution, outcome: Outcome, requested_by: str) -> RemediationResult:
    store, run, plan, journal = execution.store, execution.run, execution.plan, execution.journal
    finished_at = execution.clock()

    def summary() -> str:
        if not journal.had_outage:
            return outcome.summary
        return f"{outcome.summary} (recorded late: {journal.outage_note()})"

    def late() -> dict[str, Any]:
        if not journal.had_outage:
            return {}
        back = journal.back_at or execution.clock()
        return {"recorded_late": {"from": _iso(journal.down_since), "to": _iso(back)}}

    async def finish() -> None:
        await store.finish_run(
            run.id,
            status=outcome.status,
            now=finished_at,
            summary=summary(),
            failed_step=outcome.failed_step,
            old_not_after=outcome.old_not_after,
            new_not_after=outcome.new_not_after,
            late=journal.had_outage,
        )

    async def write_audit() -> None:
        detail: Mapping[str, Any] = {
            "run_id": run.id,
            "action": plan.action.value,
            "status": outcome.status.value,
            "failed_step": outcome.failed_step,
            "summary": summary(),
            "old_not_after": _iso(outcome.old_not_after),
            "new_not_after": _iso(outcome.new_not_after),
            **late(),
        }
        await execution.trail.record(
            AuditAction.REMEDIATION_FINISHED, actor=requested_by, fmc=plan.fmc, detail=detail,
            now=finished_at,
        )  # fmt: skip

    await journal.write("the outcome", finish)
    recorded = await journal.write(AuditAction.REMEDIATION_FINISHED, write_audit, retry_now=True)
    if recorded:
        log.info("fmc %s: remediation run %d %s", plan.fmc, run.id, outcome.status.value)
    else:
        log.warning(
            "fmc %s: remediation run %d %s, but the outcome could not be recorded yet: %s",
            plan.fmc,
            run.id,
            outcome.status.value,
            journal.error,
        )
    return RemediationResult(
        run_id=run.id,
        fmc=plan.fmc,
        action=plan.action.value,
        status=outcome.status,
        summary=summary() if recorded else outcome.summary,
        failed_step=outcome.failed_step,
        step_output=outcome.step_output,
        old_not_after=outcome.old_not_after,
        new_not_after=outcome.new_not_after,
        next_steps=outcome.next_steps,
        recorded=recorded,
        storage_error=None if recorded else journal.error,
    )


async def sweep_interrupted(
    store: Store,
    *,
    audit: AuditTrail,
    process: ProcessRuns = THIS_PROCESS,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> list[RemediationRun]:
    """Mark abandoned RUNNING runs INTERRUPTED (releasing their FMC's lock); return them.

    Judged by the database's clock (see :func:`run_is_dead`); a run whose heartbeat
    moves between the look and the mark is left alone (compare-and-set on the heartbeat).
    """
    now = await store.database_now()
    swept: list[RemediationRun] = []
    for run in await store.running_runs():
        if not run_is_dead(
            run,
            database_now=now,
            owner=process.owner,
            live=process.live,
            starting=process.starting,
            stale_after=stale_after,
        ):
            continue
        if run.owner == process.owner:
            why = "this process stopped running it without recording an outcome"
        else:
            age = int((now - run.heartbeat_at).total_seconds())
            why = (
                f"its process ({run.owner}) stopped before it finished (last heartbeat "
                f"{format_expiry(run.heartbeat_at)}, {age} s before the database's time)"
            )
        summary = (
            f"{run.fmc}: {run.action} was interrupted: {why}; check the FMC before running it again"
        )
        finished = await store.abandon_run(
            run.id, heartbeat_at=run.heartbeat_at, now=now, summary=summary
        )
        if finished is None:
            continue  # it finished, or beat, meanwhile: not abandoned after all
        await audit.record(
            AuditAction.REMEDIATION_INTERRUPTED,
            actor=SYSTEM_ACTOR,
            fmc=run.fmc,
            detail={"run_id": run.id, "owner": run.owner, "reason": "abandoned"},
            now=now,
        )
        swept.append(finished)
    return swept
