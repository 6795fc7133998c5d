"""Fix requests in Slack: one live request per FMC and action, and messages that stay true.

Every message that carries Approve/Deny is remembered with its request (channel, ts and
what it says). When a request closes (a newer alert superseded it, a Deny, a renewal seen
by a scan, a finished run, its FMC left the config) its message is edited: the buttons
go and a line says why. A message that cannot be edited is logged and counted; the
request is closed all the same, and a click on it is refused with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.core.approval import ApprovalRequest, ApprovalStatus
from bot.core.findings import Finding
from bot.errors import FmccertError
from bot.logs import bound
from bot.remediation.plan import executable_on, settings_problem
from bot.slack import blocks
from bot.slack.context import BotContext

log = logging.getLogger("bot.slack.requests")

SCAN_REQUESTER = "system:scan"  # fixes recommended by a scan were requested by nobody in person


def fix_offered(ctx: BotContext, finding: Finding) -> str | None:
    """The action fmccert can run for this finding (and so offer buttons for), if any.

    None for a device read over REST only: a fix runs over SSH.
    """
    action = finding.action
    if not finding.access.uses_ssh:
        return None
    # An FTD's VDB goes in through FDM: fmccert shows the steps but runs nothing there.
    runnable = executable_on(finding.kind, action)
    if runnable and settings_problem(action, ctx.config.remediation) is None:
        return action.value
    return None


async def open_fix_request(
    ctx: BotContext, finding: Finding, *, channel: str, requested_by: str
) -> int | None:
    """The live request for the fix fmccert can run for ``finding``; its id, or None.

    An older request of the same FMC and action is superseded (its buttons go).
    """
    action = fix_offered(ctx, finding)
    if action is None:
        return None
    request = await ctx.operations.request_fix(
        finding.name, action, requested_by=requested_by, channel=channel, ttl=ctx.rules.ttl
    )
    return request.id


async def pending_approval_id(ctx: BotContext, approval_id: int | None) -> int | None:
    """``approval_id`` while that request still waits for a decision (buttons stay), else None."""
    if approval_id is None:
        return None
    request = await ctx.operations.find_request(approval_id)
    if request is None or request.status is not ApprovalStatus.PENDING:
        return None
    return request.id


async def remember_message(
    ctx: BotContext,
    approval_id: int,
    *,
    channel: str,
    ts: str,
    thread_ts: str,
    message: blocks.Message,
) -> None:
    """Record which message carries a request's buttons, and what it says (for later edits)."""
    await ctx.operations.remember_request_message(
        approval_id,
        channel=channel,
        message_ts=ts,
        thread_ts=thread_ts,
        message=message.as_kwargs(),
    )


def stored_message(request: ApprovalRequest) -> blocks.Message | None:
    """The message a request's buttons were posted in, as recorded, if it was."""
    if not request.message:
        return None
    return blocks.Message(
        text=str(request.message.get("text", "")),
        blocks=tuple(request.message.get("blocks") or ()),
    )


async def show_closed(ctx: BotContext, requests: Sequence[ApprovalRequest]) -> None:
    """Edit the message of each closed request: buttons gone, why it closed. Never raises."""
    for request in requests:
        if not request.channel or not request.message_ts:
            continue
        message = blocks.build_decided(stored_message(request), request=request, now=ctx.clock())
        with bound(fmc=request.fmc):
            try:
                await ctx.poster.update(request.channel, request.message_ts, message)
            except FmccertError as exc:
                ctx.operations.count_delivery_failure("request-closed")
                log.warning("could not edit closed request #%s: %s", request.id, exc)
