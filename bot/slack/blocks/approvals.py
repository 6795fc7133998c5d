"""Approval requests: what asks approvers to run a fix, and the request once decided."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock

from bot.core.approval import ApprovalRequest, ApprovalStatus
from bot.core.findings import Finding
from bot.remediation.plan import Plan
from bot.slack.blocks.findings import finding_fields
from bot.slack.blocks.kit import (
    Message,
    context,
    decision_actions,
    header,
    md,
    message,
    section,
)
from bot.slack.blocks.text import (
    CONTEXT_TEXT_LIMIT,
    MAX_BLOCKS,
    action_label,
    device_name,
    escaped_text,
    oneline,
    own_text,
    plural,
    utc,
    who,
)
from bot.slack.ids import APPROVE_ACTION, DECIDED_BLOCK, DECISION_BLOCK, DENY_ACTION


def _plan_text(plan: Plan, max_steps: int = 12) -> str:
    lines = [f"*Plan:* {plural(len(plan.steps), 'step')}"]
    for index, step in enumerate(plan.steps[:max_steps], start=1):
        lines.append(f"{index}. *{oneline(step.name, 40)}*: {oneline(step.description, 200)}")
    if len(plan.steps) > max_steps:
        lines.append(f"…and {len(plan.steps) - max_steps} more steps")
    if plan.package is not None:
        package = plan.package
        lines.append(
            f"Package: {oneline(package.name, 120)} (VDB build {package.build}, "
            f"{package.size:,} bytes, sha256 `{package.sha256[:16]}…`)"
        )
    return "\n".join(lines)


def build_approval_request(
    *,
    fmc: str,
    action: str,
    requested_by: str,
    approval_id: int,
    plan: Plan,
    expires_at: datetime,
    finding: Finding | None,
) -> Message:
    """What ``/fmccert remediate NAME`` posts: who asks, the FMC, the plan, the buttons."""
    label = action_label(action)
    blocks: list[Block] = [
        header(f":lock: Approval needed: {label}"),
        section(
            f"{who(requested_by)} asks to run *{oneline(action, 40)}* on *{device_name(fmc)}*."
        ),
    ]
    if finding is not None:
        blocks.append(finding_fields(finding))
    blocks.append(section(_plan_text(plan)))
    blocks.append(section(f":warning: {escaped_text(plan.notice, 1000)}"))
    blocks.append(
        context(
            f"Request #{approval_id} · expires {utc(expires_at)} · "
            "only fmccert approvers can decide"
        )
    )
    blocks.append(decision_actions(approval_id, action, None))
    text = f"Approval needed: {label} on {device_name(fmc)} (asked by {who(requested_by)})"
    return message(text, blocks)


def decision_line(request: ApprovalRequest, *, now: datetime) -> str:
    """One mrkdwn line: how a request was decided or closed (or that it still waits)."""
    when = request.decided_at
    if request.status is ApprovalStatus.APPROVED:
        return f":white_check_mark: Approved by {who(request.decided_by)} at {utc(when)}"
    if request.status is ApprovalStatus.DENIED:
        return f":no_entry: Denied by {who(request.decided_by)} at {utc(when)}"
    if request.status is ApprovalStatus.EXPIRED:
        return f":hourglass: Expired at {utc(when or min(request.expires_at, now))}"
    if request.status is ApprovalStatus.CLOSED:
        # Closed reasons are fmccert's own wording (names from the config, user ids).
        reason = own_text(request.closed_reason or "no reason given", 1500)
        return f":no_entry_sign: Request #{request.id} closed at {utc(when)}: {reason}"
    return f":hourglass_flowing_sand: Waiting for a decision (as of {utc(now)})"


def _is_decision_block(block: Mapping[str, Any]) -> bool:
    if block.get("block_id") == DECISION_BLOCK:
        return True
    # Messages stored before the block had an id: any actions block with Approve/Deny.
    elements = block.get("elements") if block.get("type") == "actions" else None
    return any(
        isinstance(element, Mapping) and element.get("action_id") in (APPROVE_ACTION, DENY_ACTION)
        for element in elements or ()
    )


def build_decided(original: Message | None, *, request: ApprovalRequest, now: datetime) -> Message:
    """The request message once decided or closed: Approve/Deny gone, what happened appended.

    Other buttons (an incident's Snooze) stay.
    """
    decided = ContextBlock(
        block_id=DECIDED_BLOCK,
        elements=[md(decision_line(request, now=now), CONTEXT_TEXT_LIMIT)],
    )
    what = f"{oneline(request.action, 40)} on {device_name(request.fmc)}"
    if original is None:
        kept: list[dict[str, Any]] = [section(f"Request #{request.id}: {what}").to_dict()]
        text = f"Request #{request.id}: {what}"
    else:
        kept = [
            dict(block)
            for block in original.blocks
            if not _is_decision_block(block) and block.get("block_id") != DECIDED_BLOCK
        ]
        text = original.text
    # The decided line goes before trailing buttons (Snooze), where it reads naturally.
    tail: list[dict[str, Any]] = []
    while kept and kept[-1].get("type") == "actions":
        tail.insert(0, kept.pop())
    kept = kept[: MAX_BLOCKS - 1 - len(tail)]
    suffix = f" ({request.status.value})"
    return message(text if text.endswith(suffix) else f"{text}{suffix}", [*kept, decided, *tail])
