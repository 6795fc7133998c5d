"""Tests of the approval rules, re-checked on every click."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.approval import (
    ApprovalRequest,
    ApprovalRules,
    ApprovalStatus,
    Decision,
    channel_allowed,
    judge_click,
)

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
RULES = ApprovalRules(
    approvers=frozenset({"UAPPROVER", "UREQUESTER"}),
    approver_groups=frozenset({"SNETSEC"}),
    command_channels=frozenset({"COPS"}),
)
REQUEST = ApprovalRequest(
    id=7,
    fmc="fmc-east",
    action="vdb-update",
    requested_by="UREQUESTER",
    created_at=NOW - timedelta(hours=1),
    expires_at=NOW + timedelta(hours=23),
    status=ApprovalStatus.PENDING,
    channel="COPS",
)


def _judge(
    request: ApprovalRequest = REQUEST,
    *,
    user: str = "UAPPROVER",
    groups: frozenset[str] = frozenset(),
    channel: str = "COPS",
    decision: Decision = Decision.APPROVE,
    rules: ApprovalRules = RULES,
    now: datetime = NOW,
) -> tuple[bool, str]:
    verdict = judge_click(
        request, user=user, user_groups=groups, channel=channel, decision=decision,
        rules=rules, now=now,
    )  # fmt: skip
    return verdict.allowed, verdict.reason


def test_an_approver_may_approve_and_deny() -> None:
    """A listed approver may approve or deny a pending, fresh request."""
    assert _judge() == (True, "")
    assert _judge(decision=Decision.DENY) == (True, "")


def test_membership_of_an_approver_group_counts() -> None:
    """A user in an approver group is an approver."""
    assert _judge(user="UGROUPIE", groups=frozenset({"SNETSEC"}))[0]


def test_strangers_are_refused() -> None:
    """Someone neither listed nor in a group may not approve or deny."""
    allowed, reason = _judge(user="USTRANGER")
    assert not allowed
    assert "approvers" in reason
    assert not _judge(user="USTRANGER", decision=Decision.DENY)[0]


def test_two_person_rule_stops_self_approval_but_not_self_denial() -> None:
    """The requester may not approve their own request (rule on), may withdraw it."""
    allowed, reason = _judge(user="UREQUESTER")
    assert not allowed
    assert "Two-person rule" in reason
    assert _judge(user="UREQUESTER", decision=Decision.DENY)[0]
    relaxed = dataclasses.replace(RULES, two_person_rule=False)
    assert _judge(user="UREQUESTER", rules=relaxed)[0]


def test_expired_requests_are_refused() -> None:
    """At or after expires_at no decision is taken."""
    allowed, reason = _judge(now=REQUEST.expires_at)
    assert not allowed
    assert "expired" in reason


@pytest.mark.parametrize("status", [ApprovalStatus.APPROVED, ApprovalStatus.DENIED])
def test_decided_requests_are_refused_naming_who(status: ApprovalStatus) -> None:
    """A second click on a decided request says who decided it."""
    decided = dataclasses.replace(REQUEST, status=status, decided_by="UOTHER", decided_at=NOW)
    allowed, reason = _judge(decided)
    assert not allowed
    assert status.value in reason
    assert "<@UOTHER>" in reason


def test_channel_rules() -> None:
    """Listed command channels restrict where decisions count; no list means anywhere."""
    assert not _judge(channel="CRANDOM")[0]
    assert channel_allowed("CRANDOM", ApprovalRules())
    assert not channel_allowed(None, RULES)


def test_a_closed_request_is_refused_with_its_reason() -> None:
    """A click on a CLOSED request is refused, and the refusal says why it closed."""
    closed = dataclasses.replace(
        REQUEST, status=ApprovalStatus.CLOSED, closed_reason="superseded by request #9"
    )
    assert _judge(closed) == (False, "This request was closed: superseded by request #9.")


def test_nothing_to_do_names_the_renewal_and_the_new_expiry() -> None:
    """A healthy FMC's refusal says when the certificate was renewed and until when."""
    from bot.core.approval import nothing_to_do_reason
    from bot.core.expiry import Thresholds
    from bot.core.findings import assess_outcome
    from tests.core.test_findings import _outcome

    finding = assess_outcome("fmc-east", "10.1.2.3", _outcome(300, vdb=406), Thresholds(), NOW)
    cert = finding.facts.certificate
    assert cert is not None
    reason = nothing_to_do_reason(finding)
    assert reason == (
        f"{finding.name} was already renewed on {cert.not_before:%Y-%m-%d %H:%M} UTC, "
        f"until {cert.not_after:%Y-%m-%d %H:%M} UTC; nothing to do"
    )


def test_scan_requesters_default_to_the_approvers() -> None:
    """With no scan_requesters set, approvers (by id or group) may scan and others may not."""
    from bot.core.approval import may_start_scan

    assert may_start_scan("UAPPROVER", frozenset(), RULES)
    assert may_start_scan("UGROUPIE", frozenset({"SNETSEC"}), RULES)
    assert not may_start_scan("USTRANGER", frozenset(), RULES)
    listed = dataclasses.replace(RULES, scan_requesters=frozenset({"USTRANGER"}))
    assert may_start_scan("USTRANGER", frozenset(), listed)
    assert not may_start_scan("UAPPROVER", frozenset(), listed)  # the list replaces the default


def test_scan_wait_counts_the_last_hour_only() -> None:
    """At the hourly limit the wait runs until the oldest scan of the hour is an hour old."""
    from bot.core.approval import scan_wait

    starts = [NOW - timedelta(minutes=70), NOW - timedelta(minutes=50), NOW - timedelta(minutes=5)]
    assert scan_wait(starts, now=NOW, per_hour=3) is None
    assert scan_wait(starts, now=NOW, per_hour=2) == timedelta(minutes=10)
    assert scan_wait(starts * 10, now=NOW, per_hour=0) is None  # 0: no limit
