"""What users can ask fmccert to do, shared by the CLI and the Slack bot: the application layer.

The composition root builds one :class:`Operations` with the config, the store and the
clock; the CLI and every Slack surface call it instead of wiring scans, storage and
remediation themselves. Nothing outside this package writes an audit entry, and the
Slack surfaces reach the store only through it.

One module per use case, each a class of methods on the shared state
(:class:`~bot.operations.base.OperationsBase`); ``Operations`` combines them:

* :mod:`~bot.operations.scanning`: scan, record, the fleet's stored results, scan limits
* :mod:`~bot.operations.approvals`: fix requests, their decisions, closing and expiry
* :mod:`~bot.operations.incidents`: incidents the alert rules open, edit and resolve; snoozes
* :mod:`~bot.operations.remediation`: plan and run fixes, sweep dead runs, history
* :mod:`~bot.operations.scheduling`: the scheduler's fire bookkeeping
* :mod:`~bot.operations.trust`: host keys trusted from the CLI
* :mod:`~bot.operations.ports`: the storage port (:class:`~bot.operations.ports.Store`)
* :mod:`~bot.operations.audit`: the audit trail, the one writer of audit entries
"""

from __future__ import annotations

from bot.operations.approvals import ClosedListener
from bot.operations.audit import AuditTrail
from bot.operations.incidents import IncidentOperations
from bot.operations.remediation import (
    STALE_AFTER,
    History,
    InterruptedListener,
    RemediationOperations,
)
from bot.operations.scanning import (
    FleetOverview,
    FleetScanStart,
    ScanOperations,
    findings_as_of,
    new_scan_id,
    scan_fmcs,
    select_fmcs,
)
from bot.operations.scheduling import ScheduleOperations
from bot.operations.trust import TrustOperations

__all__ = [
    "STALE_AFTER",
    "AuditTrail",
    "ClosedListener",
    "FleetOverview",
    "FleetScanStart",
    "History",
    "InterruptedListener",
    "Operations",
    "findings_as_of",
    "new_scan_id",
    "scan_fmcs",
    "select_fmcs",
]


class Operations(
    ScanOperations,
    RemediationOperations,
    IncidentOperations,
    ScheduleOperations,
    TrustOperations,
):
    """Scans, status, requests, incidents, remediation and their records, for one fleet."""

    def count_delivery_failure(self, what: str) -> None:
        """Count a Slack message that could not be delivered (the bot's metrics only)."""
        if self.metrics is not None:
            self.metrics.observe_delivery_failure(what)
