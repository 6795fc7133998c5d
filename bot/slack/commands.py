"""`/fmccert ...`: acknowledged at once; the work runs in tracked tasks and answers in a thread.

Each command (but help and mistakes, answered privately in the acknowledgement) posts a
parent message in the channel, edits it while work runs, and replies in its thread.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core.approval import channel_allowed, may_start_scan
from bot.core.audit import AuditAction
from bot.core.findings import Finding
from bot.core.incidents import needs_attention
from bot.errors import FmccertError, StorageError
from bot.scanning import ScanReport
from bot.slack import blocks
from bot.slack.context import BotContext, user_groups
from bot.slack.parsing import CommandProblem, CommandRequest, parse_command
from bot.slack.requests import SCAN_REQUESTER, open_fix_request, remember_message

log = logging.getLogger("bot.slack.commands")

Ack = Callable[..., Awaitable[None]]


def register(app: AsyncApp, ctx: BotContext) -> None:
    """Register the `/fmccert` slash command."""

    @app.command("/fmccert")
    async def on_fmccert(ack: Ack, command: dict[str, Any]) -> None:
        await ack(**acknowledge(ctx, command))


def acknowledge(ctx: BotContext, command: Mapping[str, Any]) -> dict[str, Any]:
    """What `/fmccert` answers at once (the ack's arguments); its slow work is queued.

    One function for both ways a command arrives: Bolt's listener (Socket Mode) and the
    HTTP front in `bot.slack.front`.
    """
    channel = str(command.get("channel_id", ""))
    user = str(command.get("user_id", ""))
    if not channel_allowed(channel, ctx.rules):
        return {"text": "fmccert does not take commands in this channel."}
    parsed = parse_command(str(command.get("text", "")), ctx.config.names())
    if isinstance(parsed, CommandProblem):
        return {"text": parsed.message}
    if parsed.verb == "help":
        help_message = _help(ctx.config.names())
        return {"text": help_message.text, "blocks": list(help_message.blocks)}
    ctx.tasks.spawn(
        run_command(ctx, parsed, channel=channel, user=user), name=parsed.verb, queued=True
    )
    return {}


@functools.lru_cache(maxsize=4)
def _help(names: tuple[str, ...]) -> blocks.Message:
    """The help message, built once per fleet: it lists (and escapes) every FMC name."""
    return blocks.build_help(fmc_names=names)


async def run_command(ctx: BotContext, request: CommandRequest, *, channel: str, user: str) -> None:
    """Do the work of one command; every expected failure is told in its thread."""
    handlers = {
        "check": _check,
        "scan": _scan,
        "status": _status,
        "remediate": _remediate,
        "history": _history,
    }
    parent: str | None = None
    try:
        if request.verb == "scan" and not await _may_scan(ctx, channel=channel, user=user):
            return
        working = blocks.build_working(_working_text(request), by=user)
        parent = await ctx.poster.post(channel, working)
        await handlers[request.verb](ctx, request, channel=channel, user=user, parent=parent)
    except FmccertError as exc:
        await _tell_failure(ctx, channel, parent, str(exc))
    except Exception:
        log.exception("/fmccert %s failed", request.verb)
        await _tell_failure(
            ctx, channel, parent, "Something went wrong inside fmccert (see its log)."
        )


async def _may_scan(ctx: BotContext, *, channel: str, user: str) -> bool:
    """A fleet scan touches every FMC: only scan requesters, and a few an hour each.

    A refusal is told privately and audited; an allowed scan is audited too, and the
    limit counts those records, so it holds across restarts and replicas.
    """
    actor = f"slack:{user}"
    rules = ctx.rules
    reason = None
    if not may_start_scan(user, await user_groups(ctx, user), rules):
        reason = "Only fmccert's scan requesters (slack.scan_requesters) may start a fleet scan."
    else:
        start = await ctx.operations.start_fleet_scan(
            actor=actor, channel=channel, per_hour=rules.scans_per_user_per_hour
        )
        if start.wait is None:
            return True
        minutes = max(1, -(-int(start.wait.total_seconds()) // 60))
        reason = (
            f"You started {start.recent} fleet scans in the last hour (the limit is "
            f"{rules.scans_per_user_per_hour}); try again in {minutes} min, or check one FMC."
        )
    await ctx.operations.refuse_fleet_scan(actor=actor, reason=reason)
    await ctx.poster.ephemeral(channel, user, blocks.build_error(reason))
    return False


async def _tell_failure(ctx: BotContext, channel: str, parent: str | None, text: str) -> None:
    # The one place a command's failure reaches Slack.
    try:
        if parent:
            await ctx.poster.update(channel, parent, blocks.build_error(text))
        else:
            await ctx.poster.post(channel, blocks.build_error(text))
    except FmccertError as exc:
        log.error("could not tell Slack that a command failed: %s", exc)


def _working_text(request: CommandRequest) -> str:
    what = {
        "check": f"checking {', '.join(request.names)}",
        "scan": f"scanning {'FMCs tagged ' + request.tag if request.tag else 'every FMC'}",
        "status": "reading the fleet's last results",
        "remediate": f"preparing {request.action} on {', '.join(request.names)}",
        "history": f"reading the history of {', '.join(request.names)}",
    }[request.verb]
    return f"`/fmccert {request.verb}`: {what}…"


async def post_findings_thread(
    ctx: BotContext,
    findings: Sequence[Finding],
    *,
    channel: str,
    thread_ts: str,
    requested_by: str,
) -> None:
    """One reply per FMC needing attention; those with a runnable fix get Approve/Deny.

    A storage failure costs one reply its buttons (it says so), never the results.
    """
    for finding in findings:
        if not needs_attention(finding):
            continue
        try:
            approval_id = await open_fix_request(
                ctx, finding, channel=channel, requested_by=requested_by
            )
        except StorageError as exc:
            log.warning("no fix request for %s: %s", finding.name, exc)
            reply = blocks.build_finding_reply(finding, approval_id=None)
            note = blocks.build_error(
                f"No Approve/Deny buttons: fmccert could not record the request ({exc})."
            )
            await ctx.poster.post_all(channel, [reply, note], thread_ts=thread_ts)
            continue
        reply = blocks.build_finding_reply(finding, approval_id=approval_id)
        ts = await ctx.poster.post(channel, reply, thread_ts=thread_ts)
        if approval_id is not None:
            try:
                await remember_message(
                    ctx, approval_id, channel=channel, ts=ts, thread_ts=thread_ts, message=reply
                )
            except StorageError as exc:  # the buttons work; only later edits lose their text
                log.warning("request #%s: message not recorded: %s", approval_id, exc)


async def post_scan(
    ctx: BotContext, report: ScanReport, *, channel: str, parent: str | None, title: str
) -> str:
    """The scan's parent (posted, or edited into ``parent``) and its thread of replies."""
    messages = blocks.build_scan_messages(report, title=title, now=ctx.clock())
    if parent is None:
        parent = await ctx.poster.post(channel, messages[0])
    else:
        await ctx.poster.update(channel, parent, messages[0])
    await ctx.poster.post_all(channel, messages[1:], thread_ts=parent)
    await post_findings_thread(
        ctx, report.findings, channel=channel, thread_ts=parent, requested_by=SCAN_REQUESTER
    )
    return parent


class _ProgressEditor:
    """Edits a working message with scan progress, at most once per progress_interval."""

    def __init__(self, ctx: BotContext, channel: str, ts: str, what: str) -> None:
        self.ctx, self.channel, self.ts, self.what = ctx, channel, ts, what
        self.last = 0.0

    def __call__(self, done: int, total: int, finding: Finding) -> None:
        import time

        now = time.monotonic()
        if done < total and now - self.last < self.ctx.progress_interval:
            return
        self.last = now
        message = blocks.build_working(f"{self.what}: {done}/{total} checked…")
        self.ctx.tasks.spawn(self._edit(message), name="progress-edit")

    async def _edit(self, message: blocks.Message) -> None:
        try:
            await self.ctx.poster.update(self.channel, self.ts, message)
        except FmccertError as exc:
            log.warning("progress edit failed: %s", exc)


async def _check(
    ctx: BotContext, request: CommandRequest, *, channel: str, user: str, parent: str
) -> None:
    report = await ctx.operations.scan(
        actor=f"slack:{user}", names=request.names, kind=AuditAction.CHECK
    )
    await ctx.poster.update(
        channel, parent, blocks.build_check_results(report.findings, now=ctx.clock())
    )
    await post_findings_thread(
        ctx, report.findings, channel=channel, thread_ts=parent, requested_by=SCAN_REQUESTER
    )


async def _scan(
    ctx: BotContext, request: CommandRequest, *, channel: str, user: str, parent: str
) -> None:
    editor = _ProgressEditor(ctx, channel, parent, "Scanning")
    report = await ctx.operations.scan(actor=f"slack:{user}", tag=request.tag, on_progress=editor)
    # A plain-text header cannot mention anyone; the command's own message names who asked.
    title = f"fmccert scan{' of FMCs tagged ' + request.tag if request.tag else ''}"
    await post_scan(ctx, report, channel=channel, parent=parent, title=title)


async def _status(
    ctx: BotContext, request: CommandRequest, *, channel: str, user: str, parent: str
) -> None:
    fleet = await ctx.operations.overview()
    message = blocks.build_status(
        fleet.latest, now=ctx.clock(), pending_approvals=len(fleet.pending_requests),
        open_incidents=fleet.incident_severities,
    )  # fmt: skip
    await ctx.poster.update(channel, parent, message)


async def _history(
    ctx: BotContext, request: CommandRequest, *, channel: str, user: str, parent: str
) -> None:
    fmc = request.names[0]
    history = await ctx.operations.history(fmc, runs=10, entries=20)
    await ctx.poster.update(channel, parent, blocks.build_history(fmc, history.runs, history.audit))


async def _remediate(
    ctx: BotContext, request: CommandRequest, *, channel: str, user: str, parent: str
) -> None:
    fmc, action = request.names[0], request.action or "vdb-update"
    prepared = await ctx.operations.plan_fix(fmc, action, actor=f"slack:{user}")
    package = prepared.plan.package
    request_record = await ctx.operations.request_fix(
        fmc, action, requested_by=user, channel=channel, ttl=ctx.rules.ttl,
        plan_sha256=package.sha256 if package is not None else None,
    )  # fmt: skip
    message = blocks.build_approval_request(
        fmc=fmc,
        action=action,
        requested_by=user,
        approval_id=request_record.id,
        plan=prepared.plan,
        expires_at=request_record.expires_at,
        finding=prepared.finding,
    )
    await ctx.poster.update(channel, parent, message)
    await remember_message(
        ctx, request_record.id, channel=channel, ts=parent, thread_ts=parent, message=message
    )
    await ctx.operations.record_fix_request(request_record, actor=f"slack:{user}")
