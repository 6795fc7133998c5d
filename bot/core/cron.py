"""Crontab rules: read a standard 5-field cron line, check it, and find the fire that is due.

Pure: APScheduler's :class:`CronTrigger` is used only as a calculator (fed the instants
it reasons about), never to run anything. Both the config (to validate ``schedule:``) and
the scheduler (to fire) use this module, so neither needs the other.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

_TICK = timedelta(microseconds=1)
_RESOLUTION = timedelta(seconds=1)  # cron fires on whole seconds

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


def check_cron(cron: str, timezone: str) -> None:
    """ValueError naming the problem when ``timezone`` or the crontab line is not valid."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}") from None
    try:
        crontab_trigger(cron, timezone)
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {cron!r}: {exc}") from None


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


def shortest_period(cron: str, timezone: str, *, now: datetime) -> timedelta | None:
    """The shortest gap between the next few fires of ``cron`` after ``now``.

    A few fires, not one: ``0 6 * * 1-5`` has a longer gap at weekends. None when the
    line never fires twice (``0 0 30 2 *`` is valid crontab, yet February has no 30th).
    """
    trigger = crontab_trigger(cron, timezone)
    fire: datetime | None = trigger.get_next_fire_time(None, now)
    shortest: timedelta | None = None
    for _ in range(8):
        if fire is None:
            break
        following: datetime | None = trigger.get_next_fire_time(fire, fire + _TICK)
        if following is None:
            break
        gap = following - fire
        shortest = gap if shortest is None else min(shortest, gap)
        fire = following
    return shortest
