"""Approval requests, and the request once decided or closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.advisory import Action
from bot.core.approval import ApprovalRequest, ApprovalStatus
from bot.remediation.plan import SNORT_NOTICE, Plan, Step, StepKind
from bot.slack.blocks.approvals import build_approval_request, build_decided
from bot.slack.blocks.findings import build_finding_reply
from bot.slack.blocks.incidents import build_incident
from bot.slack.blocks.kit import Message
from bot.slack.ids import SNOOZE_ACTION
from tests.slack.blocks.helpers import (
    BIG,
    HOSTILE,
    NOW,
    all_text,
    assert_decision_buttons,
    assert_valid,
    blocks_of,
    make_finding,
)


def _plan(steps: int = 6, action: Action = Action.VDB_UPDATE) -> Plan:
    return Plan(
        action=action,
        fmc="fmc-east",
        steps=tuple(
            Step(name=f"step-{i}", kind=StepKind.COMMAND, description=f"Does thing {i}.")
            for i in range(1, steps + 1)
        ),
        package=None,
        notice=SNORT_NOTICE,
    )


def _request(status: ApprovalStatus, **changes: Any) -> ApprovalRequest:
    base: dict[str, Any] = {
        "id": 42,
        "fmc": "fmc-east",
        "action": "vdb-update",
        "requested_by": "U0REQ",
        "created_at": NOW,
        "expires_at": NOW + timedelta(hours=24),
        "status": status,
        "decided_by": "U1",
        "decided_at": datetime(2026, 11, 27, 10, 5, tzinfo=UTC),
    }
    base.update(changes)
    return ApprovalRequest(**base)


def test_approval_request_content_and_buttons() -> None:
    """The request names the requester, the FMC's state, the plan steps and the expiry."""
    message = build_approval_request(
        fmc="fmc-east",
        action="vdb-update",
        requested_by="U0ALICE",
        approval_id=42,
        plan=_plan(),
        expires_at=NOW + timedelta(hours=24),
        finding=make_finding(days=5),
    )
    assert_valid(message)
    text = all_text(message)
    assert "<@U0ALICE> asks to run *vdb-update* on *fmc-east*" in text
    assert "1. *step-1*: Does thing 1." in text
    assert "6. *step-6*" in text
    assert "expires 2026-11-28 10:00 UTC" in text
    assert "Snort" in text
    assert "critical" in text
    assert_decision_buttons(message, 42, "Approve VDB update")


def test_approval_request_long_plan_summarised() -> None:
    """A plan of 40 steps with hostile text is summarised and stays valid."""
    plan = Plan(
        action=Action.RESTART,
        fmc=HOSTILE,
        steps=tuple(
            Step(name=f"{HOSTILE}-{i}", kind=StepKind.COMMAND, description=BIG) for i in range(40)
        ),
        package=None,
        notice=BIG,
    )
    message = build_approval_request(
        fmc=HOSTILE,
        action="restart",
        requested_by=HOSTILE,
        approval_id=5,
        plan=plan,
        expires_at=NOW,
        finding=None,
    )
    assert_valid(message)
    assert "…and 28 more steps" in all_text(message)
    assert_decision_buttons(message, 5, "Approve restart")


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (ApprovalStatus.APPROVED, ":white_check_mark: Approved by <@U1> at 2026-11-27 10:05 UTC"),
        (ApprovalStatus.DENIED, ":no_entry: Denied by <@U1> at 2026-11-27 10:05 UTC"),
    ],
)
def test_decided_drops_buttons_and_says_who(status: ApprovalStatus, line: str) -> None:
    """A decided request keeps its content, loses its buttons and says who decided when."""
    original = build_approval_request(
        fmc="fmc-east",
        action="vdb-update",
        requested_by="U0ALICE",
        approval_id=42,
        plan=_plan(),
        expires_at=NOW + timedelta(hours=24),
        finding=None,
    )
    decided = build_decided(original, request=_request(status), now=NOW)
    assert_valid(decided)
    assert blocks_of(decided, "actions") == []
    assert decided.blocks[:-1] == tuple(b for b in original.blocks if b["type"] != "actions")
    assert decided.blocks[-1]["elements"][0]["text"] == line
    assert status.value in decided.text


def test_decided_expired_without_original() -> None:
    """An expired request with no original message still yields a valid, button-less note."""
    request = _request(ApprovalStatus.EXPIRED, decided_by=None, decided_at=None)
    decided = build_decided(None, request=request, now=NOW + timedelta(days=2))
    assert_valid(decided)
    assert blocks_of(decided, "actions") == []
    assert "Expired at 2026-11-28 10:00 UTC" in all_text(decided)


def test_decided_full_original_stays_within_fifty_blocks() -> None:
    """Deciding a message that already has 50 blocks keeps it at 50 blocks."""
    full = Message(text="x", blocks=tuple({"type": "divider"} for _ in range(50)))
    decided = build_decided(full, request=_request(ApprovalStatus.APPROVED), now=NOW)
    assert_valid(decided)
    assert len(decided.blocks) == 50


def test_decided_twice_keeps_one_decision_line() -> None:
    """Re-rendering a decided message replaces the decision line instead of stacking it."""
    original = build_finding_reply(make_finding(), approval_id=42)
    once = build_decided(original, request=_request(ApprovalStatus.APPROVED), now=NOW)
    twice = build_decided(once, request=_request(ApprovalStatus.APPROVED), now=NOW)
    assert twice.blocks == once.blocks


def test_closed_request_keeps_snooze_and_says_why() -> None:
    """Closing an incident's request drops Approve/Deny, keeps Snooze, and gives the reason."""
    original = build_incident(make_finding(), incident_id=3, approval_id=42)
    request = _request(
        ApprovalStatus.CLOSED, decided_by=None, closed_reason="superseded by request #43"
    )
    closed = build_decided(original, request=request, now=NOW)
    assert_valid(closed)
    buttons = [e["action_id"] for b in blocks_of(closed, "actions") for e in b["elements"]]
    assert buttons == [SNOOZE_ACTION]
    assert "Request #42 closed at 2026-11-27 10:05 UTC: superseded by request #43" in (
        all_text(closed)
    )
    assert closed.blocks[-1]["type"] == "actions"  # the reason reads before the Snooze button


def test_a_closed_reason_keeps_the_deniers_mention() -> None:
    """A request closed by a Deny names the denier as a mention, not as escaped text."""
    request = _request(
        ApprovalStatus.CLOSED,
        decided_by=None,
        closed_reason="request #41 for fmc-east was denied by <@UAPPROVER>",
    )
    closed = build_decided(None, request=request, now=NOW)
    assert "was denied by <@UAPPROVER>" in all_text(closed)
