"""From what a probe read to what fmccert reports: one Finding per FMC."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.advisory import Action, assess_release, recommend_action, vdb_fixes_defect
from bot.core.certificate import CertificateFacts
from bot.core.devices import Access, DeviceKind
from bot.core.error_kinds import ErrorKind
from bot.core.expiry import Status, Thresholds, classify_expiry, days_left


@dataclass(frozen=True, slots=True)
class FmcFacts:
    """What the probe read from one FMC; any field may be missing."""

    version: str | None = None
    build: str | None = None
    model: str | None = None
    vdb_build: int | None = None
    certificate: CertificateFacts | None = None
    # The FMC's "Talos Connectivity Status" health alarm as the REST API reports it
    # (e.g. "critical: ..."), or None when not read.
    talos_health: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why an FMC could not be checked."""

    kind: ErrorKind
    message: str
    step: str | None = None


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """The result of probing one FMC: facts read so far and, on failure, the error."""

    checked_at: datetime
    facts: FmcFacts = FmcFacts()
    error: ErrorInfo | None = None
    transcript: str = ""  # redacted; never holds the password
    access: Access = Access.SSH  # REST alone cannot read the certificate


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
    kind: DeviceKind = DeviceKind.FMC
    access: Access = Access.SSH


def assess_outcome(
    name: str,
    host: str,
    outcome: ProbeOutcome,
    thresholds: Thresholds,
    now: datetime,
    *,
    kind: DeviceKind = DeviceKind.FMC,
) -> Finding:
    """Turn a probe outcome into a Finding using the expiry policy and the advisory.

    A REST-only read has no certificate: its status comes from the release and VDB
    (``at_risk`` when the certificate cannot renew, else ``ok``; ``unknown`` when the
    release is unknown or the read failed).
    """
    cert = outcome.facts.certificate
    release = assess_release(outcome.facts.version)
    if cert is not None:
        status = classify_expiry(cert.not_after, thresholds, now)
        remaining: int | None = days_left(cert.not_after, now)
    elif outcome.access is Access.REST and outcome.error is None and release.affected is not None:
        at_risk = release.affected and not vdb_fixes_defect(outcome.facts.vdb_build)
        status, remaining = (Status.AT_RISK if at_risk else Status.OK), None
    else:
        status, remaining = Status.UNKNOWN, None
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
        kind=kind,
        access=outcome.access,
    )


def merge_reads(over_ssh: ProbeOutcome, over_rest: ProbeOutcome) -> ProbeOutcome:
    """One outcome of an ``access: both`` device from its SSH and its REST read.

    The certificate (and so the status) comes from SSH alone; release and VDB from SSH,
    else from REST; the Talos health alarm from REST (or why it could not be read). An
    SSH failure stays the outcome's error: the certificate was not checked.
    """
    ssh, rest = over_ssh.facts, over_rest.facts
    health = rest.talos_health
    if over_rest.error is not None:
        health = f"not read over REST ({over_rest.error.kind}: {over_rest.error.message})"
    facts = FmcFacts(
        version=ssh.version or rest.version,
        build=ssh.build if ssh.version else rest.build,
        model=ssh.model,
        vdb_build=ssh.vdb_build if ssh.vdb_build is not None else rest.vdb_build,
        certificate=ssh.certificate,
        talos_health=health,
    )
    return ProbeOutcome(
        checked_at=min(over_ssh.checked_at, over_rest.checked_at),
        facts=facts,
        error=over_ssh.error,
        transcript=over_ssh.transcript,
        access=Access.BOTH,
    )


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, as the JSON contract writes times; None stays None."""
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
        "checked_at": iso_utc(finding.checked_at),
        "not_after": iso_utc(cert.not_after) if cert else None,
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
        "kind": finding.kind.value,
        "access": finding.access.value,
        "talos_health": finding.facts.talos_health,
        "error": (
            {"kind": finding.error.kind.value, "message": finding.error.message}
            if finding.error
            else None
        ),
    }


EXIT_OK, EXIT_WARNING, EXIT_CRITICAL, EXIT_UNKNOWN = 0, 1, 2, 3


def exit_status(findings: Iterable[Finding]) -> int:
    """Monitoring-plugin exit status: 2 critical/expired, else 3 unknown, else 1 warning
    (or at_risk: a REST read of a release whose certificate will not renew), else 0."""
    statuses = {finding.status for finding in findings}
    if statuses & {Status.CRITICAL, Status.EXPIRED}:
        return EXIT_CRITICAL
    if Status.UNKNOWN in statuses:
        return EXIT_UNKNOWN
    if statuses & {Status.WARNING, Status.AT_RISK}:
        return EXIT_WARNING
    return EXIT_OK


def _parse_time(raw: Any) -> datetime | None:
    if raw is None:
        return None
    return datetime.fromisoformat(str(raw).replace("Z", "+00:00")).astimezone(UTC)


def finding_to_record(finding: Finding) -> dict[str, Any]:
    """The JSON object plus what it leaves out, so the Finding can be rebuilt exactly."""
    record = finding_to_json(finding)
    cert = finding.facts.certificate
    record.update(
        not_before=iso_utc(cert.not_before) if cert else None,
        sha256_fingerprint=cert.sha256_fingerprint if cert else None,
        model=finding.facts.model,
        error_step=finding.error.step if finding.error else None,
    )
    return record


def finding_from_record(data: Mapping[str, Any]) -> Finding:
    """Rebuild a Finding from ``finding_to_record``; KeyError/ValueError when it is not one."""
    not_after, not_before = _parse_time(data["not_after"]), _parse_time(data.get("not_before"))
    certificate = None
    if not_after is not None and not_before is not None:
        certificate = CertificateFacts(
            not_before=not_before,
            not_after=not_after,
            serial=str(data["serial"]),
            subject=str(data["subject"]),
            issuer=str(data["issuer"]),
            sha256_fingerprint=str(data.get("sha256_fingerprint") or ""),
        )
    error = data.get("error")
    checked_at = _parse_time(data["checked_at"])
    if checked_at is None:
        raise ValueError("a finding record needs checked_at")
    return Finding(
        name=str(data["name"]),
        host=str(data["host"]),
        status=Status(data["status"]),
        checked_at=checked_at,
        facts=FmcFacts(
            version=data.get("version"),
            build=data.get("build"),
            model=data.get("model"),
            vdb_build=data.get("vdb_build"),
            certificate=certificate,
            talos_health=data.get("talos_health"),
        ),
        days_left=data.get("days_left"),
        affected=data.get("affected"),
        action=Action(data["action"]),
        upgrade_to=data.get("upgrade_to"),
        error=(
            ErrorInfo(ErrorKind(error["kind"]), str(error["message"]), data.get("error_step"))
            if error
            else None
        ),
        # Records written before device kinds and REST existed are SSH reads of FMCs.
        kind=DeviceKind(data.get("kind") or DeviceKind.FMC),
        access=Access(data.get("access") or Access.SSH),
    )
