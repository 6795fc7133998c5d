"""What the operations tests share: a config, a fixed instant, a clock and findings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.advisory import Action
from bot.core.certificate import CertificateFacts
from bot.core.error_kinds import ErrorKind
from bot.core.expiry import Status
from bot.core.findings import ErrorInfo, Finding, FmcFacts
from bot.scanning import ScanReport

CONFIG = """
defaults: {username: admin, password_env: FMC_PASSWORD, known_hosts: known_hosts}
fmcs:
  - {name: fmc-east, host: 10.1.2.3}
  - {name: fmc-west, host: 10.1.2.4}
"""
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def finding(
    fmc: str = "fmc-east",
    status: Status = Status.WARNING,
    *,
    days: int = 20,
    action: Action = Action.NONE,
    checked_at: datetime = NOW,
) -> Finding:
    """A checked FMC whose certificate expires in ``days`` days."""
    not_after = checked_at + timedelta(days=days, hours=1)
    certificate = CertificateFacts(
        not_before=checked_at - timedelta(days=400),
        not_after=not_after,
        serial="0A",
        subject="CN=fmc",
        issuer="CN=Keymaster CA 2",
        sha256_fingerprint="AA:BB",
    )
    return Finding(
        name=fmc,
        host="10.1.2.3",
        status=status,
        checked_at=checked_at,
        facts=FmcFacts(version="7.6.0", build="36", vdb_build=400, certificate=certificate),
        days_left=days,
        affected=True,
        action=action,
        upgrade_to="7.6.1",
        error=None,
    )


def unreachable(fmc: str = "fmc-east", *, checked_at: datetime = NOW) -> Finding:
    """An FMC that could not be checked: nothing read."""
    return Finding(
        name=fmc,
        host="10.1.2.3",
        status=Status.UNKNOWN,
        checked_at=checked_at,
        facts=FmcFacts(),
        days_left=None,
        affected=None,
        action=Action.NONE,
        upgrade_to=None,
        error=ErrorInfo(ErrorKind("unreachable"), "no route", "connect"),
    )


def report(*findings: Finding) -> ScanReport:
    """A scan report of ``findings`` that took two seconds."""
    return ScanReport(started_at=NOW, finished_at=NOW + timedelta(seconds=2), findings=findings)
