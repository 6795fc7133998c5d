"""Crontab rules: weekdays as crontab means them, validation, and which fire is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.cron import check_cron, crontab_trigger, latest_due, shortest_period

T0 = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)  # a Monday


def test_latest_due_is_none_when_no_fire_falls_in_the_window() -> None:
    """No fire between the last one and now: nothing is due."""
    after = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    assert latest_due("0 6 * * *", "UTC", after=after, now=T0) is None


def test_latest_due_finds_the_one_fire_in_the_window() -> None:
    """One fire since the last: that fire is due."""
    after = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    due = latest_due("0 6 * * *", "UTC", after=after, now=T0)
    assert due == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def test_latest_due_counts_a_fire_exactly_at_now() -> None:
    """The window is closed at now: a fire at exactly now is due."""
    now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    due = latest_due("0 6 * * *", "UTC", after=now - timedelta(days=1), now=now)
    assert due == now


def test_latest_due_coalesces_many_missed_fires_into_the_latest() -> None:
    """Many fires missed (every minute for a year): only the latest is due."""
    after = T0 - timedelta(days=365)
    now = T0 + timedelta(seconds=59)
    assert latest_due("* * * * *", "UTC", after=after, now=now) == T0
    assert latest_due("*/15 * * * *", "UTC", after=after, now=now) == T0
    assert latest_due("0 6 * * 1-5", "UTC", after=after, now=now) == T0 - timedelta(minutes=30)


def test_latest_due_follows_the_schedule_time_zone_across_dst() -> None:
    """06:00 Berlin is 05:00 UTC before the spring change and 04:00 UTC after it."""
    berlin = ZoneInfo("Europe/Berlin")
    before = datetime(2026, 3, 28, 12, 0, tzinfo=berlin)  # DST starts 2026-03-29 02:00
    winter = latest_due("0 6 * * *", "Europe/Berlin", after=before - timedelta(days=1), now=before)
    summer = latest_due("0 6 * * *", "Europe/Berlin", after=before, now=before + timedelta(days=1))
    assert winter == datetime(2026, 3, 28, 5, 0, tzinfo=UTC)
    assert summer == datetime(2026, 3, 29, 4, 0, tzinfo=UTC)
    skipped_hour = latest_due(
        "30 2 * * *", "Europe/Berlin", after=before, now=before + timedelta(days=1)
    )
    assert skipped_hour is None or skipped_hour.astimezone(berlin).date() != before.date()


@pytest.mark.parametrize(
    ("weekdays", "expected"),
    [
        ("1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("0", ["Sun"]),
        ("7", ["Sun"]),
        ("5-7", ["Sun", "Fri", "Sat"]),
        ("*/2", ["Sun", "Tue", "Thu", "Sat"]),
        ("1,3", ["Mon", "Wed"]),
        ("mon-fri", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("*", ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]),
    ],
)
def test_crontab_weekdays_count_from_sunday_as_in_crontab(
    weekdays: str, expected: list[str]
) -> None:
    """Numeric weekdays mean what crontab means (0 and 7 Sunday), not APScheduler 3's 0=Monday."""
    trigger = crontab_trigger(f"0 6 * * {weekdays}", "UTC")
    sunday = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    fires = {
        trigger.get_next_fire_time(None, sunday + timedelta(days=offset)).strftime("%a")
        for offset in range(7)
    }
    assert fires == set(expected)


def test_latest_due_treats_a_new_schedule_as_having_missed_nothing() -> None:
    """after=None (never fired) is never due."""
    assert latest_due("* * * * *", "UTC", after=None, now=T0) is None


def test_latest_due_rejects_naive_datetimes() -> None:
    """Naive instants are a bug, not a time: ValueError."""
    with pytest.raises(ValueError, match="timezone-aware"):
        latest_due("* * * * *", "UTC", after=datetime(2026, 3, 1), now=T0)


@pytest.mark.parametrize(
    ("cron", "timezone", "message"),
    [
        ("61 6 * * *", "UTC", "invalid cron expression '61 6 * * *'"),
        ("every day", "UTC", "invalid cron expression 'every day'"),
        ("0 6 * * *", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_check_cron_names_what_is_wrong(cron: str, timezone: str, message: str) -> None:
    """A bad cron line or time zone is a ValueError saying which."""
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        check_cron(cron, timezone)


def test_check_cron_accepts_crontab_sundays() -> None:
    """0 and 7 are both Sunday, as in crontab; a valid line raises nothing."""
    check_cron("0 6 * * 7", "Europe/Berlin")
    check_cron("0 6 * * 0", "UTC")


def test_shortest_period_finds_the_smallest_gap_among_the_next_fires() -> None:
    """Every 6 hours is 6 h; weekdays at 06:00 is a day (the weekend gap is longer)."""
    assert shortest_period("0 */6 * * *", "UTC", now=T0) == timedelta(hours=6)
    assert shortest_period("0 6 * * 1-5", "UTC", now=T0) == timedelta(days=1)


def test_shortest_period_of_a_line_that_never_fires_is_none() -> None:
    """A valid line with no date (30 February) has no period."""
    assert shortest_period("0 0 30 2 *", "UTC", now=T0) is None
