"""What the audit log records: every kind of entry fmccert writes, named once.

The values are the strings stored in ``audit_log.action``; entries already written keep
their names, so a value never changes (add a member instead).
"""

from __future__ import annotations

import enum


class AuditAction(enum.StrEnum):
    """One kind of audit entry."""

    # a scan's entry is named by its kind (also its metrics label)
    SCAN = "scan"
    CHECK = "check"
    SCHEDULED_SCAN = "scheduled-scan"
    # fleet scans started from Slack: counted for the hourly limit
    SCAN_STARTED = "scan.started"
    SCAN_REFUSED = "scan.refused"

    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_APPROVED = "approval.approved"
    APPROVAL_DENIED = "approval.denied"
    APPROVAL_REFUSED = "approval.refused"  # a click refused: nothing changed
    APPROVAL_CLOSED = "approval.closed"
    APPROVAL_EXPIRED = "approval.expired"

    REMEDIATION_REFUSED = "remediation.refused"  # no plan could be made
    REMEDIATION_STARTED = "remediation.started"
    REMEDIATION_FINISHED = "remediation.finished"
    REMEDIATION_INTERRUPTED = "remediation.interrupted"

    INCIDENT_OPENED = "incident.opened"
    INCIDENT_RESOLVED = "incident.resolved"
    INCIDENT_REPOSTED = "incident.reposted"
    INCIDENT_SNOOZED = "incident.snoozed"
    INCIDENT_SNOOZE_REFUSED = "incident.snooze_refused"

    TRUST_ADDED = "trust.added"
    TRUST_REPLACED = "trust.replaced"
