"""From what a probe read to what fmccert reports: one Finding per FMC."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.advisory import Action, assess_release, recommend_action
from bot.core.certificate import CertificateFacts
from bot.core.expiry import Status, Thresholds, classify_expiry, days_left


@dataclass(frozen=True, slots=True)
class FmcFacts:
    """What the probe read from one FMC; any field may be missing."""

    version: str | None = None
    build: str | None = None
    model: str | None = None
    vdb_build: int | None = None
    certificate: CertificateFacts | None = None


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why an FMC could not be checked; ``kind`` is one of ``bot.errors.ERROR_KINDS``."""

    kind: str
    message: str
    step: str | None = None


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """The result of probing one FMC: facts read so far and, on failure, the error."""

    checked_at: datetime
    facts: FmcFacts = FmcFacts()
    error: ErrorInfo | None = None
    transcript: str = ""  # redacted; never holds the password


@dataclass(frozen=True, slots=True)
class Finding:
    """One FMC's assessed state: the JSON contract's object."""

    name: str
    host: str
    status: Status
    checked_at: datetime
    facts: FmcFacts
    days_left: int | None
    affected: bool | None
    action: Action
    upgrade_to: str | None
    error: ErrorInfo | None


def assess_outcome(
    name: str, host: str, outcome: ProbeOutcome, thresholds: Thresholds, now: datetime
) -> Finding:
    """Turn a probe outcome into a Finding using the expiry policy and the advisory."""
    cert = outcome.facts.certificate
    if cert is None:
        status, remaining = Status.UNKNOWN, None
    else:
        status = classify_expiry(cert.not_after, thresholds, now)
        remaining = days_left(cert.not_after, now)
    release = assess_release(outcome.facts.version)
    return Finding(
        name=name,
        host=host,
        status=status,
        checked_at=outcome.checked_at,
        facts=outcome.facts,
        days_left=remaining,
        affected=release.affected,
        action=recommend_action(status, release.affected, outcome.facts.vdb_build),
        upgrade_to=release.upgrade_to,
        error=outcome.error,
    )


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def finding_to_json(finding: Finding) -> dict[str, Any]:
    """The JSON object of one FMC, exactly the fields of the contract."""
    cert = finding.facts.certificate
    return {
        "name": finding.name,
        "host": finding.host,
        "status": finding.status.value,
        "checked_at": _iso(finding.checked_at),
        "not_after": _iso(cert.not_after) if cert else None,
        "days_left": finding.days_left,
        "serial": cert.serial if cert else None,
        "subject": cert.subject if cert else None,
        "issuer": cert.issuer if cert else None,
        "version": finding.facts.version,
        "build": finding.facts.build,
        "vdb_build": finding.facts.vdb_build,
        "affected": finding.affected,
        "action": finding.action.value,
        "upgrade_to": finding.upgrade_to,
        "error": (
            {"kind": finding.error.kind, "message": finding.error.message}
            if finding.error
            else None
        ),
    }


EXIT_OK, EXIT_WARNING, EXIT_CRITICAL, EXIT_UNKNOWN = 0, 1, 2, 3


def exit_status(findings: Iterable[Finding]) -> int:
    """Monitoring-plugin exit status: 2 critical/expired, else 3 unknown, else 1 warning."""
    statuses = {finding.status for finding in findings}
    if statuses & {Status.CRITICAL, Status.EXPIRED}:
        return EXIT_CRITICAL
    if Status.UNKNOWN in statuses:
        return EXIT_UNKNOWN
    if Status.WARNING in statuses:
        return EXIT_WARNING
    return EXIT_OK
