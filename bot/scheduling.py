"""Scheduled scans and the digest: cron rules from the config, run on the bot's loop.

The rule that decides what is due is the pure :func:`bot.core.cron.latest_due`;
:class:`ScanScheduler` is the adapter around it. Every fire goes through one path,
whether APScheduler's job calls it in production or a test calls
:meth:`ScanScheduler.tick` with a fixed instant: read the schedule's last fire, take the
latest due time after it, record that fire, then run. Recording first means a scan that
crashes the bot is not re-run on every start. A fire that comes while the previous run
of the same schedule still runs is skipped and reported through ``on_skipped``, never
dropped silently.

At start-up :meth:`ScanScheduler.catch_up` runs each schedule that missed fires while
the bot was down once (however many it missed), flagged ``missed=True``.

A stored last fire later than the database's now (plus :data:`CLOCK_SLACK`) was written
by a clock that had jumped ahead and was put right since: taken as is, it would hold the
schedule back until the wall clock caught up with it. It is clamped to the database's
now, stored so, and a warning logged; the schedule fires again at its next due time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import AppConfig
from bot.core.cron import crontab_trigger, latest_due

logger = logging.getLogger("bot.scheduling")

MISFIRE_GRACE_SECONDS = 300
"""How late APScheduler may still start a job (a busy loop, a suspended laptop)."""

SKIPPED_STILL_RUNNING = "the previous scheduled scan is still running"

CLOCK_SLACK = timedelta(minutes=1)
"""How far ahead of the database's now a stored last fire may be before it is clamped."""


@dataclass(frozen=True, slots=True)
class ScanSchedule:
    """One ``schedule.scans`` entry: scan the FMCs with ``tag`` (all when None) on ``cron``."""

    key: str  # stable across restarts: the last fire is stored under it
    cron: str
    timezone: str
    tag: str | None


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """The ``schedule.digest`` entry: post the fleet digest on ``cron``."""

    key: str
    cron: str
    timezone: str


Schedule = ScanSchedule | DigestSchedule


def scan_key(cron: str, timezone: str, tag: str | None) -> str:
    """The stable key of a scheduled scan, e.g. ``scan:0 6 * * *:Europe/Berlin:*``."""
    return f"scan:{cron}:{timezone}:{tag or '*'}"


def digest_key(cron: str, timezone: str) -> str:
    """The stable key of the digest schedule."""
    return f"digest:{cron}:{timezone}"


def schedules_from_config(config: AppConfig) -> tuple[list[ScanSchedule], DigestSchedule | None]:
    """The scan schedules (duplicates dropped, config order) and the digest, if any."""
    scans: dict[str, ScanSchedule] = {}
    section = config.schedule
    for entry in section.scans:
        key = scan_key(entry.cron, entry.timezone, entry.tag)
        scans.setdefault(key, ScanSchedule(key, entry.cron, entry.timezone, entry.tag))
    digest = None
    if section.digest is not None:
        cron, timezone = section.digest.cron, section.digest.timezone
        digest = DigestSchedule(digest_key(cron, timezone), cron, timezone)
    return list(scans.values()), digest


class ScanScheduler:
    """Runs scheduled scans and the digest; one run per schedule at a time."""

    def __init__(
        self,
        scans: Sequence[ScanSchedule],
        digest: DigestSchedule | None,
        *,
        run_scan: Callable[[ScanSchedule, datetime, bool], Awaitable[None]],
        run_digest: Callable[[DigestSchedule, datetime], Awaitable[None]],
        last_fire: Callable[[str], Awaitable[datetime | None]],
        record_fire: Callable[[str, datetime], Awaitable[None]],
        claim_fire: Callable[[str, datetime], Awaitable[bool]],
        on_skipped: Callable[[ScanSchedule, datetime, str], Awaitable[None]],
        clock: Callable[[], datetime],
        database_now: Callable[[], Awaitable[datetime]] | None = None,
    ) -> None:
        self._schedules: list[Schedule] = [*scans, *([digest] if digest else [])]
        self._run_scan = run_scan
        self._run_digest = run_digest
        self._last_fire = last_fire
        self._record_fire = record_fire
        self._claim_fire = claim_fire
        self._on_skipped = on_skipped
        self._clock = clock
        self._database_now = database_now  # None: the instant being ticked stands for it
        self._running: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduler: Any = None  # AsyncIOScheduler once started

    @property
    def schedules(self) -> list[Schedule]:
        """Every schedule, scans first, then the digest."""
        return list(self._schedules)

    def running(self, key: str) -> bool:
        """Whether a run of the schedule ``key`` is in progress."""
        return key in self._running

    async def catch_up(self) -> None:
        """Run once, flagged missed, each schedule with fires missed since its last fire.

        A schedule that never fired only gets ``now`` recorded, so the next start measures
        its missed fires from here. Waits for the runs; callers may wrap it in a task.
        """
        now = self._clock()
        await asyncio.gather(*(self._catch_up_one(schedule, now) for schedule in self._schedules))

    async def tick(self, now: datetime) -> None:
        """Fire every schedule with a due time in ``(last fire, now]`` once and wait for it.

        The path APScheduler's jobs take, driven by a given instant (for tests).
        """
        await asyncio.gather(*(self._fire_due(schedule, now) for schedule in self._schedules))

    def start(self) -> None:
        """Add one APScheduler cron job per schedule on the running loop and start it."""
        if self._scheduler is not None:
            return
        scheduler = AsyncIOScheduler(timezone=UTC)
        for schedule in self._schedules:
            scheduler.add_job(
                self._on_job,
                crontab_trigger(schedule.cron, schedule.timezone),
                args=[schedule],
                id=schedule.key,
                name=schedule.key,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=MISFIRE_GRACE_SECONDS,
                replace_existing=True,
            )
        scheduler.start()
        self._scheduler = scheduler

    def jobs(self) -> list[Any]:
        """APScheduler's jobs (empty before ``start``)."""
        if self._scheduler is None:
            return []
        jobs: list[Any] = self._scheduler.get_jobs()
        return jobs

    def shutdown(self) -> None:
        """Stop the cron jobs and cancel runs still in progress."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        for task in list(self._tasks):
            task.cancel()

    async def _on_job(self, schedule: Schedule) -> None:
        # Return at once so APScheduler never counts a long scan as a running instance
        # and drops the next fire on its own (only logging it); overlaps are ours to report.
        task = asyncio.create_task(self._fire_due(schedule, self._clock()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_last_fire(self, key: str, now: datetime) -> datetime | None:
        """The stored last fire, clamped to the database's now if a clock jump left it ahead."""
        last = await self._last_fire(key)
        if last is None:
            return None
        reference = await self._database_now() if self._database_now is not None else now
        if last <= max(reference, now) + CLOCK_SLACK:
            return last  # (ahead of the database but not of our clock: ours is still ahead)
        logger.warning(
            "schedule %s last fired at %s, after the database's time %s: a clock jumped "
            "ahead and was put right; counting from %s instead",
            key,
            last.isoformat(),
            reference.isoformat(),
            reference.isoformat(),
        )
        await self._record(key, reference)
        return reference

    async def _catch_up_one(self, schedule: Schedule, now: datetime) -> None:
        try:
            last = await self._read_last_fire(schedule.key, now)
            if last is None:
                await self._record_fire(schedule.key, now)
                return
            due = latest_due(schedule.cron, schedule.timezone, after=last, now=now)
        except Exception:
            logger.exception("catching up schedule %s failed", schedule.key)
            return
        if due is not None:
            logger.info("schedule %s missed its fire at %s: running it now", schedule.key, due)
            await self._fire(schedule, due, missed=True)

    async def _fire_due(self, schedule: Schedule, now: datetime) -> None:
        try:
            last = await self._read_last_fire(schedule.key, now)
            # Never fired (catch_up not run): only a fire within the misfire grace counts.
            after = last if last is not None else now - timedelta(seconds=MISFIRE_GRACE_SECONDS)
            due = latest_due(schedule.cron, schedule.timezone, after=after, now=now)
        except Exception:
            logger.exception("checking schedule %s failed", schedule.key)
            return
        if due is not None:
            await self._fire(schedule, due, missed=False)

    async def _fire(self, schedule: Schedule, fire_time: datetime, *, missed: bool) -> None:
        key = schedule.key
        if key in self._running:
            await self._skip(schedule, fire_time)
            return
        self._running.add(key)  # no await since the check: asyncio makes this atomic
        try:
            if not await self._claim(key, fire_time):
                logger.info("%s at %s ran already (an earlier leader): not again", key, fire_time)
                return
            if isinstance(schedule, ScanSchedule):
                await self._run_scan(schedule, fire_time, missed)
            else:
                await self._run_digest(schedule, fire_time)
        except Exception:
            logger.exception("scheduled run %s at %s failed", key, fire_time.isoformat())
        finally:
            self._running.discard(key)

    async def _claim(self, key: str, fire_time: datetime) -> bool:
        # One run per fire across replicas and leader changes. A storage hiccup must not
        # also cost the scheduled scan: only one process schedules, so run it anyway.
        try:
            return await self._claim_fire(key, fire_time)
        except Exception:
            logger.exception("claiming the fire of %s at %s failed", key, fire_time.isoformat())
            return True

    async def _record(self, key: str, fire_time: datetime) -> None:
        # A storage hiccup must not also cost the scheduled scan: log it and run anyway.
        try:
            await self._record_fire(key, fire_time)
        except Exception:
            logger.exception("recording the fire of %s at %s failed", key, fire_time.isoformat())

    async def _skip(self, schedule: Schedule, fire_time: datetime) -> None:
        # The skipped fire is recorded too, so it does not come back as due later.
        await self._record(schedule.key, fire_time)
        logger.warning(
            "skipped %s at %s: %s", schedule.key, fire_time.isoformat(), SKIPPED_STILL_RUNNING
        )
        if isinstance(schedule, DigestSchedule):
            return
        try:
            await self._on_skipped(schedule, fire_time, SKIPPED_STILL_RUNNING)
        except Exception:
            logger.exception("reporting the skipped fire of %s failed", schedule.key)
