"""Approval rules for fixes requested in Slack: who may approve or deny, and when.

Pure: the caller passes the request as stored, the clicking user's id and user groups,
and ``now``. Rules are re-checked on every click, because anyone who can see a message
can click its buttons.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.core.findings import Finding


class ApprovalStatus(enum.StrEnum):
    """Life of an approval request; only PENDING can be decided.

    At most one request per FMC and action is PENDING (the database enforces it). A
    request that stops being true before anyone decides it is CLOSED with a reason: a
    newer alert superseded it, another request of its FMC was denied, a scan saw the
    certificate renewed, a run of its FMC finished, or its FMC left the config.
    """

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CLOSED = "closed"


class Decision(enum.StrEnum):
    """What a click asks for."""

    APPROVE = "approve"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class ApprovalRules:
    """The ``slack:`` section's access rules."""

    approvers: frozenset[str] = frozenset()  # user ids
    approver_groups: frozenset[str] = frozenset()  # user group ids
    command_channels: frozenset[str] = frozenset()  # empty: any channel
    two_person_rule: bool = True
    ttl: timedelta = timedelta(hours=24)
    # Who may start fleet scans from Slack; None: the approvers (by id and group).
    scan_requesters: frozenset[str] | None = None
    scan_requester_groups: frozenset[str] | None = None
    scans_per_user_per_hour: int = 6  # 0: no limit


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A request to run one fix on one FMC, waiting for (or past) a decision."""

    id: int
    fmc: str
    action: str
    requested_by: str  # a Slack user id, or "system:scan" for scheduled alerts
    created_at: datetime
    expires_at: datetime
    status: ApprovalStatus
    channel: str | None = None
    message_ts: str | None = None  # the message that carries the buttons
    thread_ts: str | None = None  # the thread progress and results go to
    decided_by: str | None = None
    decided_at: datetime | None = None
    run_id: int | None = None  # the remediation run an approval started
    closed_reason: str | None = None  # why a CLOSED request can no longer be decided
    message: Mapping[str, Any] | None = None  # the posted message (text, blocks), for edits
    plan_sha256: str | None = None  # the VDB package the request was made for (its sha256)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a click may proceed and, if not, a short reason to show the user."""

    allowed: bool
    reason: str


def channel_allowed(channel: str | None, rules: ApprovalRules) -> bool:
    """May /fmccert be used (and its buttons clicked) in this channel?"""
    return not rules.command_channels or channel in rules.command_channels


def is_approver(user: str, user_groups: frozenset[str], rules: ApprovalRules) -> bool:
    """Is the user an approver by id or by membership of an approver group?"""
    return user in rules.approvers or bool(user_groups & rules.approver_groups)


def may_start_scan(user: str, user_groups: frozenset[str], rules: ApprovalRules) -> bool:
    """May ``user`` start a fleet scan from Slack? (A scan touches every FMC over SSH.)"""
    if rules.scan_requesters is None and rules.scan_requester_groups is None:
        return is_approver(user, user_groups, rules)
    return user in (rules.scan_requesters or frozenset()) or bool(
        user_groups & (rules.scan_requester_groups or frozenset())
    )


def scan_wait(started: Sequence[datetime], *, now: datetime, per_hour: int) -> timedelta | None:
    """How long a user must wait before another fleet scan (None: they may start one now).

    ``started`` are the times of that user's recent scans; the window is the last hour.
    """
    if per_hour <= 0:
        return None
    window = [moment for moment in started if now - moment < timedelta(hours=1)]
    if len(window) < per_hour:
        return None
    return min(window) + timedelta(hours=1) - now


def judge_click(
    request: ApprovalRequest,
    *,
    user: str,
    user_groups: frozenset[str],
    channel: str | None,
    decision: Decision,
    rules: ApprovalRules,
    now: datetime,
) -> Verdict:
    """May ``user`` approve or deny ``request`` now? Every rule, in the order users care."""
    if request.status is ApprovalStatus.CLOSED:
        return Verdict(False, f"This request was closed: {request.closed_reason or 'no reason'}.")
    if request.status is not ApprovalStatus.PENDING:
        who = f" by <@{request.decided_by}>" if request.decided_by else ""
        return Verdict(False, f"This request was already {request.status.value}{who}.")
    if now >= request.expires_at:
        return Verdict(
            False, "This request has expired; ask for a new one with /fmccert remediate."
        )
    if not channel_allowed(channel, rules):
        return Verdict(False, "fmccert does not take decisions in this channel.")
    if not is_approver(user, user_groups, rules):
        return Verdict(False, "Only fmccert approvers may approve or deny fixes.")
    if decision is Decision.APPROVE and rules.two_person_rule and user == request.requested_by:
        return Verdict(False, "Two-person rule: whoever requested a fix may not approve it.")
    return Verdict(True, "")


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def nothing_to_do_reason(finding: Finding) -> str:
    """Why no fix is needed for a healthy FMC: when its certificate was renewed, until when."""
    cert = finding.facts.certificate
    if cert is None:
        return f"{finding.name} needs no fix (checked {_day(finding.checked_at)}); nothing to do"
    return (
        f"{finding.name} was already renewed on {_day(cert.not_before)}, "
        f"until {_day(cert.not_after)}; nothing to do"
    )


def superseded_reason(newer_id: int) -> str:
    """Why an older request of the same FMC and action closed."""
    return f"superseded by request #{newer_id}"


def denied_reason(denied: ApprovalRequest) -> str:
    """Why the other open requests of an FMC closed when one of them was denied."""
    return f"request #{denied.id} for {denied.fmc} was denied by <@{denied.decided_by}>"


def run_finished_reason(run_id: int, action: str, outcome: str) -> str:
    """Why the open requests of an FMC closed when a run of it ended."""
    return f"run #{run_id} ({action}) of this FMC finished: {outcome}"


def removed_reason(fmc: str) -> str:
    """Why the requests of an FMC no longer in the config closed."""
    return f"{fmc} is no longer in fmccert's configuration"


def package_changed_reason(request: ApprovalRequest, now_sha256: str) -> str | None:
    """Why an Approve cannot run: the package differs from the one the request was made for."""
    if request.plan_sha256 is None or request.plan_sha256 == now_sha256:
        return None
    return (
        f"the VDB package changed since request #{request.id} was made (sha256 "
        f"{request.plan_sha256[:12]}… then, {now_sha256[:12]}… now); ask for a new request"
    )
