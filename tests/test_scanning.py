"""Tests of the fleet scanner's concurrency, ordering and isolation of failures.

These use fake probers (the Prober port); the real probe against the lab is covered in
tests/fmc and tests/test_cli.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.config import FmcEntry
from bot.core.expiry import Status, Thresholds
from bot.core.findings import Finding, ProbeOutcome
from bot.fmc.target import ProbeTarget, ProbeTimeouts
from bot.scanning import Clock, scan_fleet
from bot.secrets import Secret

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def _clock() -> datetime:
    return NOW


def _entries(count: int) -> list[FmcEntry]:
    return [
        FmcEntry(
            target=ProbeTarget(
                name=f"fmc-{i:02d}",
                host="127.0.0.1",
                port=22,
                username="admin",
                password=Secret("pw"),
                known_hosts=Path("known_hosts"),
            ),
            tags=("even",) if i % 2 == 0 else (),
        )
        for i in range(count)
    ]


class CountingProber:
    """Records how many probes run at once; each takes a little while."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0

    async def __call__(
        self, target: ProbeTarget, timeouts: ProbeTimeouts, *, clock: Clock
    ) -> ProbeOutcome:
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(0.01 * (int(target.name[-2:]) % 3))
        self.running -= 1
        return ProbeOutcome(checked_at=clock())


async def test_concurrency_is_bounded_and_order_is_config_order() -> None:
    """At most `concurrency` probes run at once and findings come back in input order."""
    prober = CountingProber()
    entries = _entries(25)
    report = await scan_fleet(
        entries, prober, timeouts=ProbeTimeouts(), thresholds=Thresholds(),
        concurrency=4, clock=_clock,
    )  # fmt: skip
    assert prober.peak == 4
    assert [finding.name for finding in report.findings] == [e.name for e in entries]


async def test_hanging_host_times_out_without_holding_up_others() -> None:
    """A probe that never returns is cut at host_timeout; the others finish first."""
    finished: list[str] = []

    async def prober(target: ProbeTarget, timeouts: ProbeTimeouts, *, clock: Clock) -> ProbeOutcome:
        if target.name == "fmc-00":
            await asyncio.Event().wait()
        return ProbeOutcome(checked_at=clock())

    def progress(done: int, total: int, finding: Finding) -> None:
        finished.append(finding.name)

    report = await scan_fleet(
        _entries(5), prober, timeouts=ProbeTimeouts(host=0.2), thresholds=Thresholds(),
        concurrency=5, clock=_clock, on_progress=progress,
    )  # fmt: skip
    assert finished[-1] == "fmc-00"
    assert len(finished) == 5
    hung = report.findings[0]
    assert hung.status is Status.UNKNOWN
    assert hung.error is not None
    assert hung.error.kind == "timeout"
    assert "host_timeout" in hung.error.message


async def test_a_bug_in_one_probe_is_recorded_not_raised() -> None:
    """An unexpected exception for one FMC becomes its error; the scan completes."""

    async def prober(target: ProbeTarget, timeouts: ProbeTimeouts, *, clock: Clock) -> ProbeOutcome:
        if target.name == "fmc-01":
            raise RuntimeError("boom")
        return ProbeOutcome(checked_at=clock())

    report = await scan_fleet(
        _entries(3), prober, timeouts=ProbeTimeouts(), thresholds=Thresholds(),
        concurrency=2, clock=_clock,
    )  # fmt: skip
    errors = [finding.error.kind if finding.error else None for finding in report.findings]
    assert errors == [None, "protocol", None]
