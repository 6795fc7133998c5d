"""Tests of the audit action names: they are the strings stored, so they never change."""

from __future__ import annotations

from bot.core.audit import AuditAction


def test_audit_actions_are_the_strings_already_stored() -> None:
    """Every AuditAction's value is the action string written before the enum existed."""
    assert {action.value for action in AuditAction} == {
        "scan",
        "check",
        "scheduled-scan",
        "scan.started",
        "scan.refused",
        "approval.requested",
        "approval.approved",
        "approval.denied",
        "approval.refused",
        "approval.closed",
        "approval.expired",
        "remediation.refused",
        "remediation.started",
        "remediation.finished",
        "remediation.interrupted",
        "incident.opened",
        "incident.resolved",
        "incident.reposted",
        "incident.snoozed",
        "incident.snooze_refused",
        "trust.added",
        "trust.replaced",
    }


def test_an_audit_action_is_its_string() -> None:
    """An AuditAction compares, formats and hashes as its stored string."""
    assert str(AuditAction.SCHEDULED_SCAN) == "scheduled-scan"
    assert f"{AuditAction.APPROVAL_DENIED}" == "approval.denied"
    assert {"scan.started": 1}[AuditAction.SCAN_STARTED] == 1
