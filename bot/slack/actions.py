"""Approve / Deny clicks: acknowledged at once, every rule re-checked, decided exactly once.

A click carries only an approval id; the request is looked up in the database, so a click
after a restart works, and the atomic decision in the store makes a double click (or two
approvers at once) start exactly one remediation. A refused click changes nothing, is
explained privately, and is audited.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core.approval import ApprovalRequest, ApprovalStatus, Decision, judge_click
from bot.errors import FmccertError, RemediationBusyError, RemediationError
from bot.logs import bound
from bot.remediation.service import ProgressEvent
from bot.slack import blocks
from bot.slack.context import BotContext
from bot.slack.ids import APPROVE_ACTION, DENY_ACTION, parse_approval_value

log = logging.getLogger("bot.slack.actions")

Ack = Callable[..., Awaitable[None]]


def register(app: AsyncApp, ctx: BotContext) -> None:
    """Register the Approve and Deny button listeners."""

    @app.action(APPROVE_ACTION)
    async def on_approve(ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        ctx.tasks.spawn(handle_click(ctx, body, Decision.APPROVE), name="approve")

    @app.action(DENY_ACTION)
    async def on_deny(ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        ctx.tasks.spawn(handle_click(ctx, body, Decision.DENY), name="deny")


def _click_facts(body: dict[str, Any]) -> tuple[str, str | None, str, dict[str, Any] | None]:
    user = str((body.get("user") or {}).get("id", ""))
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    actions = body.get("actions") or [{}]
    value = str(actions[0].get("value", ""))
    message = body.get("message") if isinstance(body.get("message"), dict) else None
    return user, channel, value, message


async def _refuse(
    ctx: BotContext,
    *,
    user: str,
    channel: str | None,
    reason: str,
    decision: Decision,
    request: ApprovalRequest | None,
) -> None:
    if ctx.operations.metrics is not None:
        ctx.operations.metrics.observe_approval("refused")
    await ctx.operations.store.audit(
        actor=f"slack:{user}",
        action="approval.refused",
        fmc=request.fmc if request else None,
        detail={
            "approval_id": request.id if request else None,
            "decision": decision.value,
            "reason": reason,
        },
        now=ctx.clock(),
    )
    if channel:
        thread = request.thread_ts if request else None
        await ctx.poster.ephemeral(channel, user, blocks.build_error(reason), thread_ts=thread)


async def user_groups(ctx: BotContext, user: str) -> frozenset[str]:
    """The approver groups ``user`` belongs to (cached lookups; unreadable groups skipped)."""
    groups = set()
    for group in ctx.rules.approver_groups:
        try:
            if user in await ctx.poster.group_members(group):
                groups.add(group)
        except FmccertError as exc:
            log.warning("cannot read user group %s: %s", group, exc)
    return frozenset(groups)


async def handle_click(ctx: BotContext, body: dict[str, Any], decision: Decision) -> None:
    """Judge one click and carry it out; failures are logged, never raised."""
    try:
        await _handle_click(ctx, body, decision)
    except FmccertError as exc:
        log.error("handling a %s click failed: %s", decision.value, exc)


async def _handle_click(ctx: BotContext, body: dict[str, Any], decision: Decision) -> None:
    user, channel, value, original = _click_facts(body)
    store = ctx.operations.store
    try:
        approval_id = parse_approval_value(value)
    except ValueError:
        reason = "That button is not one of fmccert's requests."
        await _refuse(
            ctx, user=user, channel=channel, reason=reason, decision=decision, request=None
        )
        return
    request = await store.approval(approval_id)
    if request is None:
        reason = "fmccert has no such request (it may belong to another installation)."
        await _refuse(
            ctx, user=user, channel=channel, reason=reason, decision=decision, request=None
        )
        return
    verdict = judge_click(
        request,
        user=user,
        user_groups=await user_groups(ctx, user),
        channel=channel,
        decision=decision,
        rules=ctx.rules,
        now=ctx.clock(),
    )
    if not verdict.allowed:
        await _refuse(
            ctx, user=user, channel=channel, reason=verdict.reason, decision=decision,
            request=request,
        )  # fmt: skip
        return
    status = ApprovalStatus.APPROVED if decision is Decision.APPROVE else ApprovalStatus.DENIED
    decided = await store.decide_approval(approval_id, status=status, by=user, now=ctx.clock())
    if decided is None:  # someone decided it between our read and our write
        latest = await store.approval(approval_id) or request
        reason = judge_click(
            latest, user=user, user_groups=frozenset(), channel=channel, decision=decision,
            rules=ctx.rules, now=ctx.clock(),
        ).reason or "This request was already decided."  # fmt: skip
        await _refuse(ctx, user=user, channel=channel, reason=reason, decision=decision,
                      request=latest)  # fmt: skip
        return
    if ctx.operations.metrics is not None:
        ctx.operations.metrics.observe_approval(status.value)
    await store.audit(
        actor=f"slack:{user}",
        action=f"approval.{status.value}",
        fmc=decided.fmc,
        detail={
            "approval_id": decided.id,
            "action": decided.action,
            "requested_by": decided.requested_by,
        },
        now=ctx.clock(),
    )
    await _show_decision(ctx, decided, original)
    if decided.status is ApprovalStatus.APPROVED:
        await run_approved(ctx, decided)


async def _show_decision(
    ctx: BotContext, request: ApprovalRequest, original: dict[str, Any] | None
) -> None:
    if not request.channel or not request.message_ts:
        return
    before = None
    if original is not None:
        before = blocks.Message(
            text=str(original.get("text", "")), blocks=tuple(original.get("blocks") or ())
        )
    try:
        await ctx.poster.update(
            request.channel, request.message_ts, blocks.build_decided(before, request=request,
                                                                      now=ctx.clock())
        )  # fmt: skip
    except FmccertError as exc:
        log.warning("could not edit the decided request %s: %s", request.id, exc)


class _ProgressMessage:
    """A thread message edited in place as remediation steps progress."""

    def __init__(self, ctx: BotContext, request: ApprovalRequest, channel: str, ts: str) -> None:
        self.ctx, self.request, self.channel, self.ts = ctx, request, channel, ts
        self.steps: dict[str, str] = {}
        self.last = 0.0

    async def __call__(self, event: ProgressEvent) -> None:
        self.steps[event.step] = event.state.value
        now = time.monotonic()
        # "waiting" repeats every poll: edit at most once per progress_interval for it.
        if event.state.value == "waiting" and now - self.last < self.ctx.progress_interval:
            return
        self.last = now
        message = blocks.build_progress(
            event, fmc=self.request.fmc, action=self.request.action,
            steps_done=list(self.steps.items()),
        )  # fmt: skip
        try:
            await self.ctx.poster.update(self.channel, self.ts, message)
        except FmccertError as exc:
            log.warning("progress edit failed: %s", exc)


async def run_approved(ctx: BotContext, request: ApprovalRequest) -> None:
    """Run an approved fix, show progress and the verified outcome in its thread."""
    with bound(fmc=request.fmc):  # every log line of this remediation names its FMC
        await _run_approved(ctx, request)


async def _run_approved(ctx: BotContext, request: ApprovalRequest) -> None:
    channel = request.channel
    thread = request.thread_ts or request.message_ts
    if not channel:
        log.error("approval %s has no channel to report to", request.id)
        return
    progress_ts = await ctx.poster.post(
        channel,
        blocks.build_working(f"Starting {request.action} on {request.fmc}…"),
        thread_ts=thread,
    )
    try:
        prepared = await ctx.operations.prepare(request.fmc, request.action)
        requester = request.requested_by
        result = await ctx.operations.remediate(
            prepared,
            requested_by=requester if ":" in requester else f"slack:{requester}",
            approved_by=f"slack:{request.decided_by}",
            on_progress=_ProgressMessage(ctx, request, channel, progress_ts),
        )
    except (RemediationBusyError, RemediationError) as exc:
        await ctx.poster.post(channel, blocks.build_error(str(exc)), thread_ts=thread)
        return
    if ctx.operations.metrics is not None:
        ctx.operations.metrics.observe_remediation(result.action, result.status.value)
    await ctx.operations.store.attach_run(request.id, result.run_id)
    await ctx.poster.post(
        channel, blocks.build_result(result), thread_ts=thread, reply_broadcast=True
    )
