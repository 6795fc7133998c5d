"""Tests of probing in a child process: the same outcomes, progress and failures as in-process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import load_config
from bot.core.findings import Finding
from bot.lab.server import RunningLab
from bot.probe_worker import ProcessProber, WorkerGone
from bot.probing import probe_device
from bot.scanning import scan_fleet
from tests.support.lab_fixtures import LabFactory


def _now() -> datetime:
    return datetime.now(UTC)


async def test_worker_reads_the_same_facts_as_the_in_process_probe(
    lab: RunningLab, lab_config: Path
) -> None:
    """Each lab FMC probed in the worker gives the facts and error the in-process probe gives."""
    config = load_config(lab_config, {})
    prober = ProcessProber()
    try:
        for entry in config.fmcs[:4]:
            here = await probe_device(entry.target, config.timeouts, clock=_now)
            there = await prober(entry.target, config.timeouts, clock=_now)
            assert there.facts == here.facts, entry.name
            assert there.error == here.error, entry.name
    finally:
        await prober.close()


async def test_a_fleet_scan_through_the_worker_reports_progress_in_order(
    lab: RunningLab, lab_config: Path
) -> None:
    """scan_fleet with the worker tells progress once per FMC and keeps the config order."""
    config = load_config(lab_config, {})
    seen: list[tuple[int, int, str]] = []

    def on_progress(done: int, total: int, finding: Finding) -> None:
        seen.append((done, total, finding.name))

    prober = ProcessProber()
    try:
        report = await scan_fleet(
            config.fmcs, prober, timeouts=config.timeouts, thresholds=config.thresholds,
            concurrency=4, clock=_now, on_progress=on_progress,
        )  # fmt: skip
    finally:
        await prober.close()
    names = [entry.name for entry in config.fmcs]
    assert [finding.name for finding in report.findings] == names
    assert [done for done, _, _ in seen] == list(range(1, len(names) + 1))
    assert sorted(name for _, _, name in seen) == sorted(names)


async def test_a_dead_worker_fails_its_probes_and_the_next_probe_starts_a_new_one(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    """Killing the worker ends its waiting probes with WorkerGone; later probes use a new one."""
    slow = await lab_factory(["healthy-742"], command_delay=30.0)
    slow.write_config(tmp_path / "slow.yaml")
    fast = await lab_factory(["healthy-742"])
    (tmp_path / "fast").mkdir()
    fast.write_config(tmp_path / "fast" / "fast.yaml")
    slow_config = load_config(tmp_path / "slow.yaml", {})
    fast_config = load_config(tmp_path / "fast" / "fast.yaml", {})
    prober = ProcessProber()
    try:
        process = await prober._running()
        waiting = asyncio.create_task(
            prober(slow_config.fmcs[0].target, slow_config.timeouts, clock=_now)
        )
        await asyncio.sleep(0)  # the running worker takes the probe without a pause
        assert prober._waiting
        process.kill()
        with pytest.raises(WorkerGone):
            await asyncio.wait_for(waiting, 30)
        outcome = await prober(fast_config.fmcs[0].target, fast_config.timeouts, clock=_now)
        assert outcome.error is None
        assert outcome.facts.version is not None
    finally:
        await prober.close()


async def test_a_host_over_its_deadline_is_a_timeout_and_the_worker_goes_on(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    """Through the worker a hung FMC still ends as a timeout finding; the next probe works."""
    slow = await lab_factory(["healthy-742"], command_delay=30.0)
    slow.write_config(tmp_path / "slow.yaml", host_timeout=0.5)
    fast = await lab_factory(["healthy-742"])
    (tmp_path / "fast").mkdir()
    fast.write_config(tmp_path / "fast" / "fast.yaml")
    slow_config = load_config(tmp_path / "slow.yaml", {})
    fast_config = load_config(tmp_path / "fast" / "fast.yaml", {})
    prober = ProcessProber()
    try:
        report = await scan_fleet(
            slow_config.fmcs, prober, timeouts=slow_config.timeouts,
            thresholds=slow_config.thresholds, concurrency=1, clock=_now,
        )  # fmt: skip
        outcome = await prober(fast_config.fmcs[0].target, fast_config.timeouts, clock=_now)
    finally:
        await prober.close()
    error = report.findings[0].error
    assert error is not None
    assert error.kind == "timeout"
    assert outcome.error is None
