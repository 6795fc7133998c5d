"""Tests of the expiry policy with fixed instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.expiry import Status, Thresholds, classify_expiry, days_left

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
THRESHOLDS = Thresholds(warning_days=30, critical_days=7)


@pytest.mark.parametrize(
    ("remaining", "status", "days"),
    [
        (timedelta(days=-400), Status.EXPIRED, -400),
        (timedelta(seconds=-1), Status.EXPIRED, -1),
        (timedelta(0), Status.EXPIRED, 0),
        (timedelta(hours=3), Status.CRITICAL, 0),  # expires later today
        (timedelta(days=1), Status.CRITICAL, 1),
        (timedelta(days=7), Status.CRITICAL, 7),  # the threshold itself is inside
        (timedelta(days=7, seconds=1), Status.WARNING, 7),
        (timedelta(days=20), Status.WARNING, 20),
        (timedelta(days=30), Status.WARNING, 30),
        (timedelta(days=30, hours=1), Status.OK, 30),
        (timedelta(days=200), Status.OK, 200),
    ],
)
def test_classify_and_days_left(remaining: timedelta, status: Status, days: int) -> None:
    """Each band from expired to healthy gets its status and whole days left."""
    not_after = NOW + remaining
    assert classify_expiry(not_after, THRESHOLDS, NOW) is status
    assert days_left(not_after, NOW) == days


def test_thresholds_are_configurable() -> None:
    """Other thresholds move the bands: 45 days is a warning with warning_days=60."""
    not_after = NOW + timedelta(days=45)
    assert classify_expiry(not_after, Thresholds(60, 14), NOW) is Status.WARNING
    assert classify_expiry(not_after, Thresholds(30, 7), NOW) is Status.OK


def test_zero_critical_days_leaves_only_expired_as_worse_than_warning() -> None:
    """With critical_days=0 a certificate with hours left is a warning, not critical."""
    not_after = NOW + timedelta(hours=5)
    assert classify_expiry(not_after, Thresholds(30, 0), NOW) is Status.WARNING


def test_status_as_of_follows_the_expiry_not_the_recorded_status() -> None:
    """A recorded "warning" whose expiry has passed is expired now; no expiry keeps the record."""
    from bot.core.expiry import status_as_of

    past = NOW - timedelta(days=11)
    assert status_as_of("warning", past, Thresholds(), NOW) is Status.EXPIRED
    assert status_as_of("ok", NOW + timedelta(days=3), Thresholds(), NOW) is Status.CRITICAL
    assert status_as_of("unknown", None, Thresholds(), NOW) is Status.UNKNOWN
    assert status_as_of("nonsense", None, Thresholds(), NOW) is Status.UNKNOWN
