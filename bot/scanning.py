"""Scan a fleet: probe many FMCs concurrently, bounded, each within its own time budget.

One host failing, hanging or talking garbage never delays the others beyond its own
``host_timeout``: each probe runs inside its own deadline, and a bug in one probe is
recorded as that FMC's error instead of cancelling the scan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.config import FmcEntry
from bot.core.error_kinds import ErrorKind
from bot.core.expiry import Thresholds
from bot.core.findings import ErrorInfo, Finding, ProbeOutcome, assess_outcome
from bot.fmc.target import ProbeTarget, ProbeTimeouts
from bot.logs import bound

log = logging.getLogger("bot.scan")

Clock = Callable[[], datetime]
# Grace beyond host_timeout for the probe to notice its own deadline and say which step.
_DEADLINE_GRACE = 1.0


class Prober(Protocol):
    """Reads one FMC's facts; the SSH probe is the real one."""

    async def __call__(
        self, target: ProbeTarget, timeouts: ProbeTimeouts, *, clock: Clock
    ) -> ProbeOutcome: ...


class ProgressListener(Protocol):
    """Told after each FMC is done: how many are done, of how many, and the finding."""

    def __call__(self, done: int, total: int, finding: Finding) -> None: ...


@dataclass(frozen=True, slots=True)
class ScanReport:
    """The findings of one scan in config order, with when it ran."""

    started_at: datetime
    finished_at: datetime
    findings: tuple[Finding, ...]

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


async def _probe_within_deadline(
    probe: Prober, entry: FmcEntry, timeouts: ProbeTimeouts, clock: Clock
) -> ProbeOutcome:
    started = clock()
    try:
        async with asyncio.timeout(timeouts.host + _DEADLINE_GRACE):
            return await probe(entry.target, timeouts, clock=clock)
    except TimeoutError:
        message = f"no result within host_timeout ({timeouts.host:g} s)"
        return ProbeOutcome(checked_at=started, error=ErrorInfo(ErrorKind.TIMEOUT, message, "host"))
    except Exception:
        # A bug, not an FMC problem: keep the scan going, keep the traceback in the log.
        log.exception("internal error while checking %s", entry.name, extra={"fmc": entry.name})
        error = ErrorInfo(ErrorKind.PROTOCOL, "internal error while checking (see the log)", None)
        return ProbeOutcome(checked_at=started, error=error)


async def scan_fleet(
    entries: Sequence[FmcEntry],
    probe: Prober,
    *,
    timeouts: ProbeTimeouts,
    thresholds: Thresholds,
    concurrency: int,
    clock: Clock,
    on_progress: ProgressListener | None = None,
) -> ScanReport:
    """Probe every entry with at most ``concurrency`` at once; findings in input order."""
    started = clock()
    semaphore = asyncio.Semaphore(max(1, concurrency))
    findings: list[Finding | None] = [None] * len(entries)
    done = 0

    async def check(index: int, entry: FmcEntry) -> None:
        nonlocal done
        with bound(fmc=entry.name):  # this task's log lines name its FMC
            async with semaphore:
                outcome = await _probe_within_deadline(probe, entry, timeouts, clock)
            finding = assess_outcome(
                entry.name, entry.target.host, outcome, thresholds, outcome.checked_at,
                kind=entry.target.kind,
            )  # fmt: skip
            log.info("checked: %s", finding.status.value)
        findings[index] = finding
        done += 1
        if on_progress is not None:
            on_progress(done, len(entries), finding)

    async with asyncio.TaskGroup() as group:
        for index, entry in enumerate(entries):
            group.create_task(check(index, entry))
    return ScanReport(
        started_at=started,
        finished_at=clock(),
        findings=tuple(finding for finding in findings if finding is not None),
    )
