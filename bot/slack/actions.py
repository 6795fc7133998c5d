"""Approve / Deny clicks: acknowledged at once, every rule re-checked, decided exactly once.

A click carries only an approval id; the request is looked up in the database, so a click
after a restart works, and the atomic decision in the store makes a double click (or two
approvers at once) start exactly one remediation. A refused click changes nothing, is
explained privately, and is audited.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core.approval import (
    ApprovalRequest,
    ApprovalStatus,
    Decision,
    denied_reason,
    judge_click,
    package_changed_reason,
    removed_reason,
)
from bot.errors import FmccertError, NothingToDoError, RemediationBusyError, RemediationError
from bot.logs import bound
from bot.remediation.service import Prepared, ProgressEvent
from bot.slack import blocks
from bot.slack.context import BotContext, user_groups
from bot.slack.ids import APPROVE_ACTION, DENY_ACTION, parse_approval_value
from bot.slack.requests import show_closed, stored_message
from bot.storage.records import RemediationRun

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
    own_words: bool = True,
) -> None:
    """Refuse a click: privately, audited, nothing changed.

    ``own_words``: the reason is all fmccert's wording (mentions kept); False when it
    carries text from the FMC (an error message), which then mentions nobody.
    """
    await ctx.operations.refuse_decision(
        actor=f"slack:{user}", decision=decision, reason=reason, request=request
    )
    if channel:
        thread = request.thread_ts if request else None
        message = blocks.build_error(reason, own_words=own_words)
        await ctx.poster.ephemeral(channel, user, message, thread_ts=thread)


async def handle_click(ctx: BotContext, body: dict[str, Any], decision: Decision) -> None:
    """Judge one click and carry it out; failures are logged, never raised."""
    try:
        await _handle_click(ctx, body, decision)
    except FmccertError as exc:
        log.error("handling a %s click failed: %s", decision.value, exc)


async def _handle_click(ctx: BotContext, body: dict[str, Any], decision: Decision) -> None:
    user, channel, value, original = _click_facts(body)
    try:
        approval_id = parse_approval_value(value)
    except ValueError:
        reason = "That button is not one of fmccert's requests."
        await _refuse(
            ctx, user=user, channel=channel, reason=reason, decision=decision, request=None
        )
        return
    request = await ctx.operations.find_request(approval_id)
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
        if request.status is ApprovalStatus.CLOSED:
            await show_closed(ctx, [request])  # its message may still show the buttons
        elif request.status is ApprovalStatus.PENDING and ctx.clock() >= request.expires_at:
            await ctx.operations.expire_requests()  # its buttons go now, not at the next scan
        return
    allowed, prepared = await _still_true(
        ctx, request, user=user, channel=channel, decision=decision
    )
    if not allowed:
        return
    status = ApprovalStatus.APPROVED if decision is Decision.APPROVE else ApprovalStatus.DENIED
    decided = await ctx.operations.decide_request(
        approval_id, status=status, by=user, actor=f"slack:{user}"
    )
    if decided is None:  # someone decided it between our read and our write
        latest = await ctx.operations.find_request(approval_id) or request
        reason = judge_click(
            latest, user=user, user_groups=frozenset(), channel=channel, decision=decision,
            rules=ctx.rules, now=ctx.clock(),
        ).reason or "This request was already decided."  # fmt: skip
        await _refuse(ctx, user=user, channel=channel, reason=reason, decision=decision,
                      request=latest)  # fmt: skip
        return
    await _show_decision(ctx, decided, original)
    if decided.status is ApprovalStatus.DENIED:
        # A Deny stops the fix: no other open request of this FMC can be approved now.
        await ctx.operations.close_requests(
            decided.fmc, reason=denied_reason(decided), actor=f"slack:{user}"
        )
    elif prepared is not None:
        await run_approved(ctx, decided, prepared)


async def _still_true(
    ctx: BotContext, request: ApprovalRequest, *, user: str, channel: str | None,
    decision: Decision,
) -> tuple[bool, Prepared | None]:  # fmt: skip
    """Before a decision counts: is the FMC still configured, and is there still a fix?

    Returns (allowed, the prepared plan of an Approve). A refused click is told privately
    and audited; a request that can never run is closed.
    """
    actor = f"slack:{user}"
    if request.fmc not in ctx.config.names():
        reason = removed_reason(request.fmc)
        await ctx.operations.close_requests(request.fmc, reason=reason, actor=actor)
        await _refuse(ctx, user=user, channel=channel, reason=f"This request was closed: {reason}.",
                      decision=decision, request=request)  # fmt: skip
        return False, None
    if decision is not Decision.APPROVE:
        return True, None
    try:
        prepared = await ctx.operations.prepare(request.fmc, request.action)
    except NothingToDoError as exc:
        # Renewed since the request was made: close it rather than send people to TAC.
        await ctx.operations.close_requests(request.fmc, reason=str(exc), actor=actor)
        await _refuse(ctx, user=user, channel=channel, reason=f"{exc}.", decision=decision,
                      request=request)  # fmt: skip
        return False, None
    except RemediationError as exc:
        reason = f"fmccert cannot run {request.action} on {request.fmc} now: {exc}"
        await _refuse(ctx, user=user, channel=channel, reason=reason, decision=decision,
                      request=request, own_words=False)  # fmt: skip
        return False, None
    package = prepared.plan.package
    changed = package_changed_reason(request, package.sha256) if package is not None else None
    if changed is not None:
        # Approvers saw another file: what runs must be what was approved.
        await ctx.operations.close_requests(
            request.fmc, reason=changed, actor=actor, ids=[request.id]
        )
        await _refuse(ctx, user=user, channel=channel, reason=f"Refused: {changed}.",
                      decision=decision, request=request)  # fmt: skip
        return False, None
    return True, prepared


async def _show_decision(
    ctx: BotContext, request: ApprovalRequest, original: dict[str, Any] | None
) -> None:
    if not request.channel or not request.message_ts:
        return
    before = stored_message(request)
    if before is None and original is not None:
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


# Seconds to wait before each new try of a run's final post (Slack's own retries came first).
RESULT_RETRY_DELAYS = (5.0, 30.0, 120.0, 600.0)


class _ProgressMessage:
    """Links the run to its request at its first event; edits a thread message as it goes.

    The link is what lets the sweep tell the right thread when this process dies mid-run.
    """

    def __init__(
        self, ctx: BotContext, request: ApprovalRequest, channel: str, ts: str | None
    ) -> None:
        self.ctx, self.request, self.channel, self.ts = ctx, request, channel, ts
        self.steps: dict[str, str] = {}
        self.last = 0.0
        self.attached = False

    async def link(self, run_id: int) -> None:
        """Record which run this request started (once; a failure is logged, never raised)."""
        if self.attached or not run_id:
            return
        try:
            await self.ctx.operations.link_run(self.request.id, run_id)
            self.attached = True
        except FmccertError as exc:
            log.warning("could not link run %s to request #%s: %s", run_id, self.request.id, exc)

    async def __call__(self, event: ProgressEvent) -> None:
        await self.link(event.run_id)
        if self.ts is None:
            return
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


async def run_approved(ctx: BotContext, request: ApprovalRequest, prepared: Prepared) -> None:
    """Run an approved fix, show progress and the verified outcome in its thread."""
    with bound(fmc=request.fmc):  # every log line of this remediation names its FMC
        await _run_approved(ctx, request, prepared)


async def _say(ctx: BotContext, what: str, channel: str, message: blocks.Message,
               **kwargs: Any) -> str | None:  # fmt: skip
    """Post in the run's thread; a Slack failure is logged and counted, never raised."""
    try:
        return await ctx.poster.post(channel, message, **kwargs)
    except FmccertError as exc:
        ctx.operations.count_delivery_failure(what)
        log.warning("could not post the %s: %s", what, exc)
        return None


async def _run_approved(ctx: BotContext, request: ApprovalRequest, prepared: Prepared) -> None:
    channel = request.channel
    thread = request.thread_ts or request.message_ts
    if not channel:
        log.error("approval %s has no channel to report to", request.id)
        return
    # Slack never decides whether an approved fix runs: a failed post only loses progress.
    progress_ts = await _say(
        ctx, "run-progress", channel,
        blocks.build_working(f"Starting {request.action} on {request.fmc}…"), thread_ts=thread,
    )  # fmt: skip
    on_progress = _ProgressMessage(ctx, request, channel, progress_ts)
    try:
        requester = request.requested_by
        result = await ctx.operations.remediate(
            prepared,
            requested_by=requester if ":" in requester else f"slack:{requester}",
            approved_by=f"slack:{request.decided_by}",
            on_progress=on_progress,
        )
    except (RemediationBusyError, RemediationError) as exc:
        await _say(ctx, "run-result", channel, blocks.build_error(str(exc)), thread_ts=thread)
        return
    if ctx.operations.metrics is not None:
        ctx.operations.metrics.observe_remediation(result.action, result.status.value)
    await on_progress.link(result.run_id)  # linked at its first event unless that failed
    await deliver(ctx, "run-result", channel, blocks.build_result(result), thread_ts=thread,
                  reply_broadcast=True)  # fmt: skip


async def deliver(
    ctx: BotContext, what: str, channel: str, message: blocks.Message, **kwargs: Any
) -> None:
    """Post a message that must arrive (a run's outcome): failed posts are tried again later.

    Tries at once, then after each of RESULT_RETRY_DELAYS in a tracked task (so a slow
    Slack never holds up the caller); every failure is logged and counted.
    """
    if await _say(ctx, what, channel, message, **kwargs) is not None:
        return

    async def again() -> None:
        for delay in RESULT_RETRY_DELAYS:
            await asyncio.sleep(delay)
            if await _say(ctx, what, channel, message, **kwargs) is not None:
                log.info("the %s was delivered after %.0f s", what, delay)
                return
        log.error("the %s was never delivered to %s", what, channel)

    ctx.tasks.spawn(again(), name=f"deliver-{what}")


async def report_interrupted(ctx: BotContext, runs: Sequence[RemediationRun]) -> None:
    """The sweep's verdict in each interrupted run's thread (the thread said "waiting")."""
    for run in runs:
        request = await ctx.operations.request_for_run(run.id)
        if request is None or not request.channel:
            continue  # a run from the CLI: nobody waits in Slack
        thread = request.thread_ts or request.message_ts
        with bound(fmc=run.fmc):
            await deliver(ctx, "run-interrupted", request.channel,
                          blocks.build_interrupted(run), thread_ts=thread,
                          reply_broadcast=True)  # fmt: skip
