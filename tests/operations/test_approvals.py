"""Tests of deciding and refusing fix requests: decided once, counted, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.approval import ApprovalStatus, Decision
from bot.metrics import Metrics
from bot.operations import Operations
from bot.storage.sql import SqlStore

TTL = timedelta(hours=4)


def _clicks(metrics: Metrics, decision: str) -> float | None:
    return metrics.registry.get_sample_value("fmccert_approvals_total", {"decision": decision})


async def test_a_request_is_approved_once_counted_and_audited(
    operations: Operations, store: SqlStore, metrics: Metrics
) -> None:
    """decide_request approves a pending request once; a second decision gets None."""
    request = await operations.request_fix(
        "fmc-east", "restart", requested_by="U0REQ", channel="C0FMCCERT", ttl=TTL
    )

    decided = await operations.decide_request(
        request.id, status=ApprovalStatus.APPROVED, by="U0APP", actor="slack:U0APP"
    )
    again = await operations.decide_request(
        request.id, status=ApprovalStatus.DENIED, by="U0OTHER", actor="slack:U0OTHER"
    )

    assert decided is not None
    assert (decided.status, decided.decided_by) == (ApprovalStatus.APPROVED, "U0APP")
    assert again is None
    [entry] = [e for e in await store.audit_log("fmc-east") if e.action.startswith("approval.")]
    assert (entry.actor, entry.action) == ("slack:U0APP", "approval.approved")
    assert entry.detail == {"approval_id": request.id, "action": "restart", "requested_by": "U0REQ"}
    assert _clicks(metrics, "approved") == 1.0
    assert _clicks(metrics, "denied") == 0.0


async def test_a_deny_is_audited_as_denied(operations: Operations, store: SqlStore) -> None:
    """A Deny decides the request DENIED and records approval.denied."""
    request = await operations.request_fix(
        "fmc-east", "restart", requested_by="U0REQ", channel="C0FMCCERT", ttl=TTL
    )

    decided = await operations.decide_request(
        request.id, status=ApprovalStatus.DENIED, by="U0APP", actor="slack:U0APP"
    )

    assert decided is not None
    assert decided.status is ApprovalStatus.DENIED
    actions = [entry.action for entry in await store.audit_log("fmc-east")]
    assert "approval.denied" in actions


async def test_only_approved_or_denied_is_a_decision(
    operations: Operations, store: SqlStore
) -> None:
    """decide_request refuses any other status before touching the request."""
    request = await operations.request_fix(
        "fmc-east", "restart", requested_by="U0REQ", channel="C0FMCCERT", ttl=TTL
    )

    with pytest.raises(ValueError, match="closed"):
        await operations.decide_request(
            request.id, status=ApprovalStatus.CLOSED, by="U0APP", actor="slack:U0APP"
        )

    unchanged = await operations.find_request(request.id)
    assert unchanged is not None
    assert unchanged.status is ApprovalStatus.PENDING


async def test_a_refused_click_is_counted_and_audited_even_without_a_request(
    operations: Operations, store: SqlStore, metrics: Metrics
) -> None:
    """refuse_decision records approval.refused with the reason; no request means no FMC."""
    await operations.refuse_decision(
        actor="slack:U0APP", decision=Decision.APPROVE, reason="not a button", request=None
    )

    [entry] = await store.audit_log()
    assert (entry.actor, entry.action, entry.fmc) == ("slack:U0APP", "approval.refused", None)
    assert entry.detail == {"approval_id": None, "decision": "approve", "reason": "not a button"}
    assert _clicks(metrics, "refused") == 1.0


async def test_a_refused_click_on_a_request_names_its_fmc(
    operations: Operations, store: SqlStore
) -> None:
    """refuse_decision of a known request records its FMC and id."""
    request = await operations.request_fix(
        "fmc-east", "restart", requested_by="U0REQ", channel="C0FMCCERT", ttl=TTL
    )

    await operations.refuse_decision(
        actor="slack:U0REQ", decision=Decision.DENY, reason="two people", request=request
    )

    [entry] = [e for e in await store.audit_log("fmc-east") if e.action == "approval.refused"]
    assert entry.detail == {"approval_id": request.id, "decision": "deny", "reason": "two people"}


async def test_a_request_made_in_person_is_audited_with_its_channel(
    operations: Operations, store: SqlStore
) -> None:
    """record_fix_request records approval.requested: the request, its action and channel."""
    request = await operations.request_fix(
        "fmc-west", "restart", requested_by="U0REQ", channel="C0FMCCERT", ttl=TTL
    )

    await operations.record_fix_request(request, actor="slack:U0REQ")

    [entry] = await store.audit_log("fmc-west")
    assert (entry.actor, entry.action) == ("slack:U0REQ", "approval.requested")
    assert entry.detail == {"approval_id": request.id, "action": "restart", "channel": "C0FMCCERT"}
