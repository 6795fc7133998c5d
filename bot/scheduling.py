"""Scheduled scans and the digest: cron rules from the config, run on the bot's loop.

The rule that decides what is due is the pure :func:`latest_due`; :class:`ScanScheduler`
is the adapter around it. Every fire goes through one path, whether APScheduler's job
calls it in production or a test calls :meth:`ScanScheduler.tick` with a fixed instant:
read the schedule's last fire, take the latest due time after it, record that fire,
then run. Recording first means a scan that crashes the bot is not re-run on every
start. A fire that comes while the previous run of the same schedule still runs is
skipped and reported through ``on_skipped``, never dropped silently.

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
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.config import AppConfig

logger = logging.getLogger("bot.scheduling")

MISFIRE_GRACE_SECONDS = 300
"""How late APScheduler may still start a job (a busy loop, a suspended laptop)."""

SKIPPED_STILL_RUNNING = "the previous scheduled scan is still running"

CLOCK_SLACK = timedelta(minutes=1)
"""How far ahead of the database's now a stored last fire may be before it is clamped."""

_TICK = timedelta(microseconds=1)
_RESOLUTION = timedelta(seconds=1)  # cron fires on whole seconds


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
    section = config.raw.schedule
    for entry in section.scans:
        key = scan_key(entry.cron, entry.timezone, entry.tag)
        scans.setdefault(key, ScanSchedule(key, entry.cron, entry.timezone, entry.tag))
    digest = None
    if section.digest is not None:
        cron, timezone = section.digest.cron, section.digest.timezone
        digest = DigestSchedule(digest_key(cron, timezone), cron, timezone)
    return list(scans.values()), digest


_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_WEEKDAY_PART = re.compile(
    r"^(?:(?P<star>\*)|(?P<first>[0-7])(?:-(?P<last>[0-7]))?)(?:/(?P<step>\d+))?$"
)


def _standard_weekdays(field: str) -> str:
    # APScheduler 3 numbers weekdays from 0=Monday, crontab from 0 (or 7)=Sunday
    # (apscheduler issue 286): spell numeric days as names so "1-5" stays Monday-Friday.
    days: list[int] = []
    for part in field.split(","):
        match = _WEEKDAY_PART.match(part)
        if match is None:
            return field  # names or syntax APScheduler reads (or rejects) as written
        step = int(match["step"] or 1)
        if match["star"]:
            if step == 1:
                return field
            first, last = 0, 6
        else:
            first = int(match["first"])
            last = int(match["last"]) if match["last"] else (6 if match["step"] else first)
        if step < 1 or last < first:
            return field
        days += [day % 7 for day in range(first, last + 1, step)]
    return ",".join(_CRON_WEEKDAYS[day] for day in sorted(set(days)))


def crontab_trigger(cron: str, timezone: str) -> CronTrigger:
    """APScheduler's trigger for a standard 5-field crontab line (0 and 7 are Sunday)."""
    fields = cron.split()
    if len(fields) == 5:
        fields[4] = _standard_weekdays(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=ZoneInfo(timezone))


def _first_fire_after(trigger: CronTrigger, instant: datetime) -> datetime | None:
    # APScheduler gives the first fire at or after `now`; a microsecond makes it "after".
    fire: datetime | None = trigger.get_next_fire_time(None, instant + _TICK)
    return fire


def latest_due(
    cron: str, timezone: str, *, after: datetime | None, now: datetime
) -> datetime | None:
    """The latest fire time of ``cron`` in ``(after, now]`` (in UTC), None when there is none.

    Many missed fires coalesce into the latest one. ``after=None`` (a schedule that never
    fired) gives None: a new schedule has missed nothing.
    """
    if after is None:
        return None
    if after.tzinfo is None or now.tzinfo is None:
        raise ValueError("latest_due needs timezone-aware datetimes")
    trigger = crontab_trigger(cron, timezone)
    first = _first_fire_after(trigger, after)
    if first is None or first > now:
        return None
    # Bisect for the last instant whose next fire is still <= now: a long downtime on a
    # minutely cron costs ~30 trigger calls, not one per missed fire.
    low, high = first, now  # next fire after `low` may be <= now; after `high` it is not
    while high - low > _RESOLUTION:
        middle = low + (high - low) / 2
        fire = _first_fire_after(trigger, middle)
        if fire is not None and fire <= now:
            low = fire
        else:
            high = middle
    following = _first_fire_after(trigger, low)
    latest = following if following is not None and following <= now else low
    return latest.astimezone(UTC)


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
        on_skipped: Callable[[ScanSchedule, datetime, str], Awaitable[None]],
        clock: Callable[[], datetime],
        database_now: Callable[[], Awaitable[datetime]] | None = None,
    ) -> None:
        self._schedules: list[Schedule] = [*scans, *([digest] if digest else [])]
        self._run_scan = run_scan
        self._run_digest = run_digest
        self._last_fire = last_fire
        self._record_fire = record_fire
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
            await self._record(key, fire_time)
            if isinstance(schedule, ScanSchedule):
                await self._run_scan(schedule, fire_time, missed)
            else:
                await self._run_digest(schedule, fire_time)
        except Exception:
            logger.exception("scheduled run %s at %s failed", key, fire_time.isoformat())
        finally:
            self._running.discard(key)

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
