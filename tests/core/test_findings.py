"""Tests of turning probe outcomes into findings, their JSON and the exit status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.advisory import Action
from bot.core.certificate import CertificateFacts
from bot.core.error_kinds import ErrorKind
from bot.core.expiry import Status, Thresholds
from bot.core.findings import (
    ErrorInfo,
    FmcFacts,
    ProbeOutcome,
    assess_outcome,
    exit_status,
    finding_to_json,
)

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
JSON_FIELDS = {
    "name", "host", "status", "checked_at", "not_after", "days_left", "serial", "subject",
    "issuer", "version", "build", "vdb_build", "affected", "action", "upgrade_to", "error",
    "kind", "access", "talos_health",  # devices and access modes (FTD, the FMC REST API)
}  # fmt: skip


def _cert(days: float) -> CertificateFacts:
    return CertificateFacts(
        not_before=NOW - timedelta(days=400),
        not_after=NOW + timedelta(days=days),
        serial="0A",
        subject="CN=fmc-prod-01",
        issuer="CN=Keymaster CA 2",
        sha256_fingerprint="AA:BB",
    )


def _outcome(days: float | None, version: str | None = "7.6.0", vdb: int | None = 400,
             error: ErrorInfo | None = None) -> ProbeOutcome:  # fmt: skip
    facts = FmcFacts(version=version, build="36", vdb_build=vdb,
                     certificate=None if days is None else _cert(days))  # fmt: skip
    return ProbeOutcome(checked_at=NOW, facts=facts, error=error)


def test_affected_warning_recommends_vdb_update() -> None:
    """A 7.6.0 FMC with 20 days left is a warning, affected, fix by VDB, upgrade to 7.6.1."""
    finding = assess_outcome("fmc-east", "10.1.2.3", _outcome(20.5), Thresholds(), NOW)
    assert finding.status is Status.WARNING
    assert finding.days_left == 20
    assert finding.affected is True
    assert finding.action is Action.VDB_UPDATE
    assert finding.upgrade_to == "7.6.1"


def test_error_without_certificate_is_unknown() -> None:
    """No certificate read means status unknown and days_left null, error kept."""
    error = ErrorInfo(ErrorKind.AUTH, "login refused", "login")
    finding = assess_outcome("f", "h", _outcome(None, None, None, error), Thresholds(), NOW)
    assert finding.status is Status.UNKNOWN
    assert finding.days_left is None
    assert finding.affected is None
    assert finding.error == error


def test_json_has_exactly_the_contract_fields() -> None:
    """The JSON object has the contract's fields with UTC ISO times and plain values."""
    finding = assess_outcome("fmc-east", "10.1.2.3", _outcome(-3), Thresholds(), NOW)
    data = finding_to_json(finding)
    assert set(data) == JSON_FIELDS
    assert data["status"] == "expired"
    assert data["days_left"] == -3
    assert data["checked_at"] == "2026-11-27T09:30:00Z"
    assert data["not_after"] == "2026-11-24T09:30:00Z"
    assert data["action"] == "vdb-update"
    assert data["vdb_build"] == 400
    assert data["error"] is None


def test_json_error_object() -> None:
    """An error becomes {kind, message} and certificate fields are null."""
    error = ErrorInfo(ErrorKind.HOST_KEY, "unknown host key", "connect")
    data = finding_to_json(assess_outcome("f", "h", _outcome(None, error=error), Thresholds(), NOW))
    assert data["error"] == {"kind": "host_key", "message": "unknown host key"}
    assert data["not_after"] is None
    assert data["serial"] is None


@pytest.mark.parametrize(
    ("days_list", "expected"),
    [
        ([200.0], 0),
        ([200.0, 20.0], 1),
        ([200.0, 20.0, None], 3),
        ([20.0, None, 3.0], 2),
        ([-1.0], 2),
        ([], 0),
    ],
)
def test_exit_status_like_monitoring_plugins(days_list: list[float | None], expected: int) -> None:
    """2 for critical/expired beats 3 for unknown, which beats 1 for warning, else 0."""
    findings = [
        assess_outcome(f"f{i}", "h", _outcome(days), Thresholds(), NOW)
        for i, days in enumerate(days_list)
    ]
    assert exit_status(findings) == expected


def test_record_round_trip_rebuilds_the_finding() -> None:
    """finding_to_record keeps everything needed to rebuild the Finding exactly."""
    from bot.core.findings import finding_from_record, finding_to_record

    for outcome in (
        _outcome(12.5),
        _outcome(None, None, None, ErrorInfo(ErrorKind.TIMEOUT, "no prompt", "login")),
    ):
        finding = assess_outcome("fmc-east", "10.1.2.3", outcome, Thresholds(), NOW)
        assert finding_from_record(finding_to_record(finding)) == finding


def test_a_rest_read_of_an_affected_release_without_vdb_406_is_at_risk() -> None:
    """REST reads no certificate: affected + VDB < 406 is at_risk (exit 1), else ok."""
    from bot.core.devices import Access
    from bot.core.findings import Finding, exit_status

    def rest_read(version: str, vdb: int) -> Finding:
        outcome = ProbeOutcome(
            checked_at=NOW, facts=FmcFacts(version=version, build="91", vdb_build=vdb),
            access=Access.REST,
        )  # fmt: skip
        return assess_outcome("fmc-api", "10.1.2.5", outcome, Thresholds(), NOW)

    at_risk = rest_read("7.7.0", 400)
    assert (at_risk.status, at_risk.action, at_risk.days_left) == (
        Status.AT_RISK, Action.VDB_UPDATE, None,
    )  # fmt: skip
    assert exit_status([at_risk]) == 1
    assert rest_read("7.7.0", 413).status is Status.OK
    assert rest_read("7.4.2", 400).status is Status.OK
    assert finding_to_json(at_risk)["access"] == "rest"


def test_an_ssh_and_a_rest_read_merge_into_one_outcome() -> None:
    """Certificate and errors from SSH, the Talos health alarm from REST, release from both."""
    from bot.core.devices import Access
    from bot.core.findings import ErrorInfo, merge_reads

    ssh = _outcome(20.5)
    rest = ProbeOutcome(
        checked_at=NOW - timedelta(seconds=1),
        facts=FmcFacts(version="7.6.0", build="36", vdb_build=400, talos_health="red"),
        access=Access.REST,
    )
    merged = merge_reads(ssh, rest)
    assert merged.access is Access.BOTH
    assert merged.facts.certificate == ssh.facts.certificate
    assert merged.facts.talos_health == "red"
    assert merged.checked_at == NOW - timedelta(seconds=1)

    failed_ssh = ProbeOutcome(NOW, FmcFacts(), ErrorInfo(ErrorKind.AUTH, "login refused"))
    merged = merge_reads(failed_ssh, rest)
    finding = assess_outcome("fmc-both", "h", merged, Thresholds(), NOW)
    assert (finding.status, finding.facts.version, finding.facts.vdb_build) == (
        Status.UNKNOWN, "7.6.0", 400,
    )  # fmt: skip
    assert finding.error is not None
    assert finding.error.kind == "auth"

    failed_rest = ProbeOutcome(
        NOW, FmcFacts(), ErrorInfo(ErrorKind.TIMEOUT, "no answer"), access=Access.REST
    )
    assert merge_reads(ssh, failed_rest).facts.talos_health == (
        "not read over REST (timeout: no answer)"
    )
