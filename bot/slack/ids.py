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
