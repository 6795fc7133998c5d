"""Every ``action_id`` and ``block_id`` fmccert puts in Slack messages, and button values.

A button's ``value`` comes back from the client, so it is untrusted: it carries only an
approval id (``approval:42``); everything else is looked up server-side.
"""

from __future__ import annotations

import re

APPROVE_ACTION = "fmccert_approve"
DENY_ACTION = "fmccert_deny"
SNOOZE_ACTION = "fmccert_snooze"

DECISION_BLOCK = "fmccert_decision"  # the actions block holding Approve / Deny
DECIDED_BLOCK = "fmccert_decided"  # the context line that replaces it once decided

APPROVAL_VALUE_PREFIX = "approval:"
# Database ids: positive, no sign, no leading zero, ASCII digits only, at most 18 of them
# (fits a signed 64-bit integer).
_APPROVAL_VALUE = re.compile(r"approval:([1-9][0-9]{0,17})", re.ASCII)


def approval_value(approval_id: int) -> str:
    """The button value for an approval request: ``approval:<id>``."""
    if isinstance(approval_id, bool) or not isinstance(approval_id, int) or approval_id < 1:
        raise ValueError(f"not an approval id: {approval_id!r}")
    return f"{APPROVAL_VALUE_PREFIX}{approval_id}"


def parse_approval_value(value: str) -> int:
    """The approval id in a button value ``approval:<id>``; ValueError for anything else."""
    if not isinstance(value, str):
        raise ValueError("the button value is not a string")
    match = _APPROVAL_VALUE.fullmatch(value)
    if match is None:
        # Never echo the untrusted value back in full.
        raise ValueError(f"not an approval button value: {value[:40]!r}")
    return int(match.group(1))


INCIDENT_BLOCK = "fmccert_incident"  # the actions block holding Snooze on incident messages
SNOOZE_VIEW = "fmccert_snooze_view"  # callback_id of the snooze modal
SNOOZE_DURATION_BLOCK, SNOOZE_DURATION_ACTION = "snooze_duration", "duration"
SNOOZE_REASON_BLOCK, SNOOZE_REASON_ACTION = "snooze_reason", "reason"
# Choices offered in the snooze modal: value (seconds) -> label.
SNOOZE_CHOICES: tuple[tuple[int, str], ...] = (
    (3600, "1 hour"),
    (4 * 3600, "4 hours"),
    (86400, "1 day"),
    (3 * 86400, "3 days"),
    (7 * 86400, "1 week"),
)


def incident_value(incident_id: int) -> str:
    """A Snooze button's value: only the incident id."""
    if incident_id <= 0:
        raise ValueError("incident ids are positive")
    return f"incident:{incident_id}"


def parse_incident_value(value: object) -> int:
    """The incident id from a button value or modal metadata; ValueError for anything else."""
    if not isinstance(value, str) or not value.startswith("incident:"):
        raise ValueError("not an fmccert incident value")
    digits = value.removeprefix("incident:")
    if not digits.isascii() or not digits.isdigit() or digits.startswith("0") or len(digits) > 18:
        raise ValueError("not an fmccert incident value")
    return int(digits)
