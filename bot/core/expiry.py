"""Expiry policy: how worried to be about a certificate, given an explicit ``now``."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

_DAY = timedelta(days=1)


class Status(enum.StrEnum):
    """Certificate status of one FMC, worst last; the JSON contract's ``status``."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # could not be checked
    # Read over the REST API only (no certificate): an affected release without VDB 406,
    # so the certificate will not renew when it is due. Exit status 1, like a warning.
    AT_RISK = "at_risk"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Days before expiry at which a certificate becomes warning, then critical."""

    warning_days: int = 30
    critical_days: int = 7


def days_left(not_after: datetime, now: datetime) -> int:
    """Whole days from ``now`` until ``not_after``: 0 on the last day, negative once past."""
    return math.floor((not_after - now) / _DAY)


def classify_expiry(not_after: datetime, thresholds: Thresholds, now: datetime) -> Status:
    """Status from the expiry alone: expired, critical, warning or ok."""
    remaining = not_after - now
    if remaining <= timedelta(0):
        return Status.EXPIRED
    if remaining <= thresholds.critical_days * _DAY:
        return Status.CRITICAL
    if remaining <= thresholds.warning_days * _DAY:
        return Status.WARNING
    return Status.OK


def status_as_of(
    recorded: str, not_after: datetime | None, thresholds: Thresholds, now: datetime
) -> Status:
    """A stored status brought up to ``now``: a certificate keeps expiring after its check.

    With a known expiry the status is the expiry's now (a "warning" checked two weeks ago
    may be expired today); without one, what was recorded (unknown if unreadable).
    """
    if not_after is not None:
        return classify_expiry(not_after, thresholds, now)
    try:
        return Status(recorded)
    except ValueError:
        return Status.UNKNOWN
