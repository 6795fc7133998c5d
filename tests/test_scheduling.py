"""Scheduled scans: schedules from the config and the fire path, at fixed instants."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_config
from bot.scheduling import (
    SKIPPED_STILL_RUNNING,
    DigestSchedule,
    ScanSchedule,
    ScanScheduler,
    digest_key,
    scan_key,
    schedules_from_config,
)

T0 = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)  # a Monday
DAILY_6 = ScanSchedule(scan_key("0 6 * * *", "UTC", None), "0 6 * * *", "UTC", None)
DIGEST_8 = DigestSchedule(digest_key("0 8 * * *", "UTC"), "0 8 * * *", "UTC")


class Recorder:
    """Storage and callbacks for a ScanScheduler, recording every call."""

    def __init__(self, fires: dict[str, datetime] | None = None) -> None:
        self.fires: dict[str, datetime] = dict(fires or {})
        self.scans: list[tuple[str, datetime, bool]] = []
        self.digests: list[tuple[str, datetime]] = []
        self.skipped: list[tuple[str, datetime, str]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.started = asyncio.Event()
        self.fail = False
        self.now = T0

    async def run_scan(self, schedule: ScanSchedule, fire_time: datetime, missed: bool) -> None:
        self.scans.append((schedule.key, fire_time, missed))
        assert self.fires[schedule.key] == fire_time  # recorded before running
        self.started.set()
        await self.release.wait()
        if self.fail:
            raise RuntimeError("the scan blew up")

    async def run_digest(self, schedule: DigestSchedule, fire_time: datetime) -> None:
        self.digests.append((schedule.key, fire_time))

    async def last_fire(self, key: str) -> datetime | None:
        return self.fires.get(key)

    async def record_fire(self, key: str, fire_time: datetime) -> None:
        self.fires[key] = fire_time

    async def claim_fire(self, key: str, fire_time: datetime) -> bool:
        last = self.fires.get(key)
        if last is not None and last >= fire_time:
            return False
        self.fires[key] = fire_time
        return True

    async def on_skipped(self, schedule: ScanSchedule, fire_time: datetime, why: str) -> None:
        self.skipped.append((schedule.key, fire_time, why))

    def scheduler(
        self,
        scans: list[ScanSchedule],
        digest: DigestSchedule | None = None,
        *,
        database_now: Callable[[], Awaitable[datetime]] | None = None,
    ) -> ScanScheduler:
        return ScanScheduler(
            scans,
            digest,
            run_scan=self.run_scan,
            run_digest=self.run_digest,
            last_fire=self.last_fire,
            record_fire=self.record_fire,
            claim_fire=self.claim_fire,
            on_skipped=self.on_skipped,
            clock=lambda: self.now,
            database_now=database_now,
        )


def test_schedules_from_config_builds_stable_keys(tmp_path: Path) -> None:
    """Scans (duplicates dropped) and the digest come from the config with stable keys."""
    path = tmp_path / "fmccert.yaml"
    path.write_text(
        "schedule:\n"
        "  scans:\n"
        "    - {cron: '0 6 * * *', timezone: Europe/Berlin, tag: prod}\n"
        "    - {cron: '0 6 * * *', timezone: Europe/Berlin, tag: prod}\n"
        "    - {cron: '*/30 * * * *'}\n"
        "  digest: {cron: '0 8 * * 1-5'}\n",
        encoding="utf-8",
    )
    scans, digest = schedules_from_config(load_config(path, environ={}))
    assert scans == [
        ScanSchedule("scan:0 6 * * *:Europe/Berlin:prod", "0 6 * * *", "Europe/Berlin", "prod"),
        ScanSchedule("scan:*/30 * * * *:UTC:*", "*/30 * * * *", "UTC", None),
    ]
    assert digest == DigestSchedule("digest:0 8 * * 1-5:UTC", "0 8 * * 1-5", "UTC")


async def test_tick_runs_a_due_schedule_once_and_records_the_fire() -> None:
    """A due scan runs once with its fire time and missed=False; the fire is recorded."""
    recorder = Recorder({DAILY_6.key: T0 - timedelta(days=1)})
    scheduler = recorder.scheduler([DAILY_6])
    fire = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    await scheduler.tick(T0)
    assert recorder.scans == [(DAILY_6.key, fire, False)]
    assert recorder.fires[DAILY_6.key] == fire
    await scheduler.tick(T0)
    assert len(recorder.scans) == 1


async def test_tick_runs_the_digest_on_its_own_cron() -> None:
    """The digest fires through the same path, only when its cron is due."""
    recorder = Recorder({DAILY_6.key: T0, DIGEST_8.key: T0})
    scheduler = recorder.scheduler([DAILY_6], DIGEST_8)
    await scheduler.tick(T0 + timedelta(hours=2))
    assert recorder.digests == [(DIGEST_8.key, datetime(2026, 3, 2, 8, 0, tzinfo=UTC))]
    assert recorder.scans == []


async def test_catch_up_after_three_days_down_runs_once_flagged_missed() -> None:
    """Three missed daily fires become one run, flagged missed, at the latest fire."""
    recorder = Recorder({DAILY_6.key: T0 - timedelta(days=3, minutes=30)})
    scheduler = recorder.scheduler([DAILY_6])
    await scheduler.catch_up()
    assert recorder.scans == [(DAILY_6.key, datetime(2026, 3, 2, 6, 0, tzinfo=UTC), True)]
    await scheduler.catch_up()
    await scheduler.tick(T0)
    assert len(recorder.scans) == 1


async def test_a_last_fire_left_in_the_future_by_a_clock_jump_is_clamped_and_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A last fire 10 days ahead (a clock jump since put right) is clamped; firing goes on."""
    recorder = Recorder({DAILY_6.key: T0 + timedelta(days=10)})
    scheduler = recorder.scheduler([DAILY_6])
    await scheduler.tick(T0)
    assert recorder.fires[DAILY_6.key] == T0  # clamped to now, and stored so
    assert "a clock jumped ahead" in caplog.text
    await scheduler.tick(T0 + timedelta(days=1))
    assert recorder.scans == [(DAILY_6.key, datetime(2026, 3, 3, 6, 0, tzinfo=UTC), False)]


async def test_a_last_fire_ahead_of_the_database_is_clamped_to_the_database_now() -> None:
    """With the database's clock given, a stored fire ahead of both clocks is set to it."""
    recorder = Recorder({DAILY_6.key: T0 + timedelta(days=10)})
    database_now = T0 - timedelta(minutes=5)

    async def read_database_now() -> datetime:
        return database_now

    scheduler = recorder.scheduler([DAILY_6], database_now=read_database_now)
    await scheduler.catch_up()
    assert recorder.fires[DAILY_6.key] == database_now
    assert recorder.scans == []  # the 06:00 fire of T0's day is before the clamped fire


async def test_a_clock_still_ahead_keeps_its_last_fire() -> None:
    """A last fire ahead of the database but not of the scheduler's clock is left alone."""
    recorder = Recorder({DAILY_6.key: T0 - timedelta(hours=1)})

    async def read_database_now() -> datetime:
        return T0 - timedelta(days=2)

    scheduler = recorder.scheduler([DAILY_6], database_now=read_database_now)
    await scheduler.tick(T0)
    assert recorder.scans == [(DAILY_6.key, datetime(2026, 3, 2, 6, 0, tzinfo=UTC), False)]


async def test_catch_up_records_now_for_a_schedule_that_never_fired() -> None:
    """A new schedule runs nothing at start-up but has now recorded as its baseline."""
    recorder = Recorder()
    scheduler = recorder.scheduler([DAILY_6], DIGEST_8)
    await scheduler.catch_up()
    assert recorder.scans == []
    assert recorder.fires == {DAILY_6.key: T0, DIGEST_8.key: T0}
    await scheduler.tick(T0 + timedelta(days=1))
    assert recorder.scans == [(DAILY_6.key, datetime(2026, 3, 3, 6, 0, tzinfo=UTC), False)]


async def test_a_fire_while_the_previous_run_still_runs_is_skipped_and_reported() -> None:
    """An overlapping fire of the same schedule is not run but reported through on_skipped."""
    every_minute = ScanSchedule(scan_key("* * * * *", "UTC", None), "* * * * *", "UTC", None)
    recorder = Recorder({every_minute.key: T0 - timedelta(minutes=1)})
    recorder.release.clear()
    scheduler = recorder.scheduler([every_minute])
    first = asyncio.create_task(scheduler.tick(T0))
    await asyncio.wait_for(recorder.started.wait(), 1)
    assert scheduler.running(every_minute.key)
    later = T0 + timedelta(minutes=1)
    await scheduler.tick(later)
    assert recorder.skipped == [(every_minute.key, later, SKIPPED_STILL_RUNNING)]
    recorder.release.set()
    await asyncio.wait_for(first, 1)
    assert recorder.scans == [(every_minute.key, T0, False)]
    assert not scheduler.running(every_minute.key)
    await scheduler.tick(later)  # the skipped fire was recorded: it does not come back
    assert len(recorder.scans) == 1


async def test_a_failing_scan_is_logged_and_the_scheduler_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """run_scan raising is logged on bot.scheduling; the next fire still runs."""
    recorder = Recorder({DAILY_6.key: T0 - timedelta(days=1)})
    recorder.fail = True
    scheduler = recorder.scheduler([DAILY_6])
    with caplog.at_level(logging.ERROR, logger="bot.scheduling"):
        await scheduler.tick(T0)
    assert "the scan blew up" in caplog.text
    assert not scheduler.running(DAILY_6.key)
    recorder.fail = False
    await scheduler.tick(T0 + timedelta(days=1))
    assert [missed for _, _, missed in recorder.scans] == [False, False]


async def test_start_registers_one_coalescing_single_instance_job_per_schedule() -> None:
    """start() adds a cron job per schedule (coalesce, max one instance); shutdown stops it."""
    recorder = Recorder()
    berlin = ScanSchedule(
        scan_key("0 6 * * *", "Europe/Berlin", "prod"), "0 6 * * *", "Europe/Berlin", "prod"
    )
    scheduler = recorder.scheduler([DAILY_6, berlin], DIGEST_8)
    assert scheduler.jobs() == []
    scheduler.start()
    try:
        jobs = {job.id: job for job in scheduler.jobs()}
        assert set(jobs) == {DAILY_6.key, berlin.key, DIGEST_8.key}
        for job in jobs.values():
            assert job.coalesce is True
            assert job.max_instances == 1
            assert job.misfire_grace_time == 300
        assert str(jobs[berlin.key].trigger.timezone) == "Europe/Berlin"
    finally:
        scheduler.shutdown()
    assert scheduler.jobs() == []


async def test_the_job_path_fires_the_due_schedule_with_the_clock() -> None:
    """The function APScheduler calls runs the latest due fire, as tick does."""
    recorder = Recorder({DAILY_6.key: T0 - timedelta(days=1)})
    recorder.now = datetime(2026, 3, 2, 6, 0, 0, 250_000, tzinfo=UTC)
    scheduler = recorder.scheduler([DAILY_6])
    await scheduler._on_job(DAILY_6)
    await asyncio.wait_for(recorder.started.wait(), 1)
    assert recorder.scans == [(DAILY_6.key, datetime(2026, 3, 2, 6, 0, tzinfo=UTC), False)]
    scheduler.shutdown()


async def test_a_fire_another_replica_claimed_first_is_not_run_again() -> None:
    """Two schedulers on one store (two replicas around a leader change): one run per fire."""
    shared = Recorder(fires={DAILY_6.key: T0 - timedelta(days=1)})
    first, second = shared.scheduler([DAILY_6]), shared.scheduler([DAILY_6])
    await asyncio.gather(first.tick(T0), second.tick(T0))
    assert shared.scans == [(DAILY_6.key, T0 - timedelta(minutes=30), False)]
    await second.catch_up()  # the new leader's catch-up finds nothing left to run
    assert len(shared.scans) == 1


async def test_a_failed_claim_still_runs_the_scan(caplog: pytest.LogCaptureFixture) -> None:
    """A storage hiccup while claiming costs a log line, not the scheduled scan."""
    recorder = Recorder(fires={DAILY_6.key: T0 - timedelta(days=1)})

    async def broken(key: str, fire_time: datetime) -> bool:
        recorder.fires[key] = fire_time  # what run_scan checks; the claim itself fails
        raise OSError("database unreachable")

    recorder.claim_fire = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="bot.scheduling"):
        await recorder.scheduler([DAILY_6]).tick(T0)
    assert [scan[1] for scan in recorder.scans] == [T0 - timedelta(minutes=30)]
    assert "claiming the fire" in caplog.text
