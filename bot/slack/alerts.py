"""Scheduled scans in Slack: an alert is an incident, not a message.

The first scan that finds an FMC needing attention opens an incident: a reply, with the
approval buttons, in the thread of that scan's alert. Later scans edit it in place and
post in its thread only when its state changes (escalation, a failure to check, staleness,
answering again, a renewal) or when a critical incident is due a reminder. An FMC has
one open incident whatever its trouble, so one thread.
The rules are pure (``bot.core.incidents``); this module carries their effects out.

Delivery survives Slack. The store is written first (it is the truth); Slack follows.
One message that fails never stops the rest of a scan's posts: the failure is logged
with its FMC and counted (``fmccert_slack_delivery_failures_total``). An incident whose
message is gone (deleted, its channel archived or not found, or never posted because a
post failed) is posted again in the thread of this scan's alert, saying so, and its
stored ids move there; notes due in the old thread follow it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from bot.config import ScheduleSettings
from bot.core.approval import ApprovalStatus
from bot.core.cron import shortest_period
from bot.core.findings import Finding
from bot.core.incidents import (
    Effect,
    EffectKind,
    Incident,
    IncidentKind,
    IncidentReason,
    is_unchecked,
    last_known_finding,
    plan_incident_effects,
)
from bot.errors import FmccertError, SlackError
from bot.logs import bound
from bot.scanning import ScanReport
from bot.slack import blocks
from bot.slack.context import BotContext
from bot.slack.requests import (
    SCAN_REQUESTER,
    open_fix_request,
    remember_message,
)

log = logging.getLogger("bot.slack.alerts")

# Slack's answers meaning the message (or its whole channel) is no longer there to edit.
GONE_ERRORS: Final = frozenset(
    {"message_not_found", "channel_not_found", "is_archived", "thread_not_found"}
)


def is_gone(exc: FmccertError) -> bool:
    """Did Slack say the message or its channel no longer exists?"""
    return isinstance(exc, SlackError) and exc.error in GONE_ERRORS


# Without scheduled scans, an FMC unchecked this long is stale.
DEFAULT_STALE_AFTER: Final = timedelta(hours=48)


def stale_after(schedule: ScheduleSettings, *, now: datetime) -> timedelta:
    """``schedule.stale_after``, else 2 x the shortest scan period, else 48 h."""
    if schedule.stale_after is not None:
        return schedule.stale_after
    periods = [
        period
        for scan in schedule.scans
        if (period := shortest_period(scan.cron, scan.timezone, now=now)) is not None
    ]
    return 2 * min(periods) if periods else DEFAULT_STALE_AFTER


def _resolved_line(effect: Effect) -> str:
    if effect.reason is IncidentReason.RECOVERED:
        return "Resolved: the FMC answers again."
    if effect.reason is IncidentReason.RENEWED:
        return "Resolved: the certificate was renewed."
    return "Resolved: no longer needs attention."


@dataclass
class _Delivery:
    """One scheduled scan's Slack work: what must be posted again, and the notes it owes."""

    ctx: BotContext
    channel: str
    gone: dict[int, tuple[Incident, Finding, str]] = field(default_factory=dict)
    owed_notes: dict[int, list[Effect]] = field(default_factory=dict)

    def failed(self, what: str, fmc: str, exc: FmccertError) -> None:
        self.ctx.operations.count_delivery_failure(what)
        log.warning("%s of %s failed: %s", what, fmc, exc, extra={"fmc": fmc})

    def lost(self, incident: Incident, finding: Finding, why: str) -> None:
        self.gone.setdefault(incident.id, (incident, finding, why))


async def _open(ctx: BotContext, effect: Effect, *, channel: str, thread_ts: str | None) -> None:
    """Store the incident, then post it (when there is a thread to post in)."""
    now = ctx.clock()
    approval_id = None
    if effect.incident_kind is IncidentKind.CERTIFICATE:
        approval_id = await open_fix_request(
            ctx, effect.finding, channel=channel, requested_by=SCAN_REQUESTER
        )
    incident = await ctx.operations.open_incident(effect, approval_id=approval_id)
    if thread_ts is None:
        return  # the alert could not be posted: the next scan posts it (its ids are missing)
    message = blocks.build_incident(
        effect.finding, incident_id=incident.id, approval_id=approval_id,
        last_known=effect.last_known, last_checked_at=effect.last_checked_at, now=now,
    )  # fmt: skip
    await _post_incident(ctx, incident, message, approval_id, channel=channel, thread_ts=thread_ts)


async def _post_incident(
    ctx: BotContext,
    incident: Incident,
    message: blocks.Message,
    approval_id: int | None,
    *,
    channel: str,
    thread_ts: str,
) -> Incident:
    """Post an incident's message; only then are its Slack ids stored."""
    ts = await ctx.poster.post(channel, message, thread_ts=thread_ts)
    updated = await ctx.operations.record_incident_message(
        incident.id, channel=channel, thread_ts=thread_ts, message_ts=ts
    )
    if approval_id is not None:
        await remember_message(
            ctx, approval_id, channel=channel, ts=ts, thread_ts=thread_ts, message=message
        )
    return updated


async def _incident_message(
    ctx: BotContext, incident: Incident, finding: Finding, *, state_line: str | None,
    resolved: bool = False, effect: Effect | None = None,
) -> tuple[blocks.Message, int | None]:  # fmt: skip
    """The incident's message now: buttons while its request is pending, else how it ended."""
    request = None
    if incident.approval_id is not None:
        request = await ctx.operations.find_request(incident.approval_id)
    approval_id = request.id if request and request.status is ApprovalStatus.PENDING else None
    lines = [state_line] if state_line else []
    if request is not None and approval_id is None:
        lines.insert(0, blocks.decision_line(request, now=ctx.clock()))
    if effect is not None:
        last_known, last_checked_at = effect.last_known, effect.last_checked_at
    else:
        last_known, last_checked_at = last_known_finding(incident.detail), incident.last_checked_at
    if is_unchecked(finding):
        approval_id = None  # nothing is known to fix until it answers again
    message = blocks.build_incident(
        finding, incident_id=incident.id, approval_id=approval_id,
        state_line="\n".join(lines) or None, resolved=resolved,
        last_known=last_known, last_checked_at=last_checked_at, now=ctx.clock(),
    )  # fmt: skip
    return message, approval_id


async def _edit(ctx: BotContext, incident: Incident, effect: Effect, *, state_line: str | None,
                resolved: bool) -> None:  # fmt: skip
    if not incident.channel or not incident.message_ts:
        raise SlackError("the incident has no message to edit", error="message_not_found")
    message, _ = await _incident_message(
        ctx, incident, effect.finding, state_line=state_line, resolved=resolved, effect=effect
    )
    await ctx.poster.update(incident.channel, incident.message_ts, message)


async def _note(ctx: BotContext, incident: Incident, effect: Effect) -> None:
    if not incident.channel or not incident.thread_ts:
        raise SlackError("the incident has no thread", error="message_not_found")
    note = blocks.build_incident_note(
        effect.reason, effect.finding, previous=effect.previous or incident.severity,
        last_known=effect.last_known, last_checked_at=effect.last_checked_at, now=ctx.clock(),
    )  # fmt: skip
    await ctx.poster.post(
        incident.channel, note, thread_ts=incident.thread_ts, reply_broadcast=effect.broadcast
    )


async def _apply(delivery: _Delivery, effect: Effect) -> None:
    """Carry out one EDIT/NOTE/RESOLVE: the store first, then Slack, failures contained."""
    ctx = delivery.ctx
    incident = effect.incident
    assert incident is not None  # only OPEN effects come without one
    if effect.kind is EffectKind.EDIT:
        await ctx.operations.apply_incident_edit(effect)
        if incident.id in delivery.gone:
            delivery.gone[incident.id] = (incident, effect.finding, delivery.gone[incident.id][2])
            return
        try:
            await _edit(ctx, incident, effect, state_line=None, resolved=False)
        except FmccertError as exc:
            if not is_gone(exc):
                raise
            delivery.lost(incident, effect.finding, str(exc))
    elif effect.kind is EffectKind.NOTE:
        if incident.id in delivery.gone:
            delivery.owed_notes.setdefault(incident.id, []).append(effect)
            return
        try:
            await _note(ctx, incident, effect)
        except FmccertError as exc:
            if not is_gone(exc):
                raise
            delivery.lost(incident, effect.finding, str(exc))
            delivery.owed_notes.setdefault(incident.id, []).append(effect)
            return
        await ctx.operations.mark_incident_notified(incident.id)
    elif effect.kind is EffectKind.RESOLVE:
        await ctx.operations.resolve_incident(effect)
        # Resolved: even if its message is gone, it needs no new thread.
        delivery.gone.pop(incident.id, None)
        try:
            await _edit(ctx, incident, effect, state_line=_resolved_line(effect),
                        resolved=True)  # fmt: skip
        except FmccertError as exc:
            delivery.failed("incident-edit", effect.fmc, exc)
        await _note(ctx, incident, effect)


async def _repost(
    delivery: _Delivery, incident: Incident, finding: Finding, why: str, *, thread_ts: str
) -> None:
    """Post a lost incident again in this scan's thread, then the notes it was owed."""
    ctx = delivery.ctx
    where = "its earlier message is gone" if incident.message_ts else "it was never posted"
    line = f"Posted again: {where} ({blocks.escape(why)}); this incident continues here."
    message, approval_id = await _incident_message(ctx, incident, finding, state_line=line)
    moved = await _post_incident(
        ctx, incident, message, approval_id, channel=delivery.channel, thread_ts=thread_ts
    )
    await ctx.operations.record_incident_moved(incident, moved, reason=why)
    for note in delivery.owed_notes.pop(incident.id, []):
        await _note(ctx, moved, note)


async def publish_scheduled_scan(
    ctx: BotContext,
    report: ScanReport,
    *,
    channel: str,
    title: str,
    renotify: timedelta,
    stale: timedelta | None = None,
) -> None:
    """Carry out the incident rules for one scheduled scan's findings in ``channel``.

    Staleness is judged here, at each scheduled scan, for the FMCs it could not check:
    ``stale`` (default :func:`stale_after` of the config) after the last successful check.
    """
    now = ctx.clock()
    open_before = await ctx.operations.open_incidents()
    with_incident = {incident.fmc for incident in open_before}
    last_known = {
        finding.name: known
        for finding in report.findings
        if is_unchecked(finding) and finding.name not in with_incident
        if (known := await ctx.operations.last_checked_finding(finding.name)) is not None
    }
    effects = plan_incident_effects(
        report.findings,
        open_before,
        now=now,
        renotify=renotify,
        snoozed=await ctx.operations.active_snoozes(),
        stale_after=stale if stale is not None else stale_after(ctx.config.schedule, now=now),
        last_known=last_known,
    )
    delivery = _Delivery(ctx, channel)
    for effect in effects:
        if effect.kind is EffectKind.OPEN:
            continue
        with bound(fmc=effect.fmc):
            try:
                await _apply(delivery, effect)
            except FmccertError as exc:
                delivery.failed(f"incident-{effect.kind.value}", effect.fmc, exc)
    # An incident whose post failed in an earlier scan has no message: post it now.
    findings = {finding.name: finding for finding in report.findings}
    touched = {e.incident.id for e in effects if e.incident and e.kind is EffectKind.RESOLVE}
    for incident in open_before:
        finding = findings.get(incident.fmc)
        if finding is not None and incident.id not in touched and not incident.message_ts:
            delivery.lost(incident, finding, "no message was recorded")

    opening = [effect for effect in effects if effect.kind is EffectKind.OPEN]
    if not opening and not delivery.gone:
        return
    # New incidents, and incidents posted again, live in the thread of this scan's alert.
    parent: str | None = None
    messages = blocks.build_scan_messages(report, title=title, now=now)
    try:
        parent = await ctx.poster.post(channel, messages[0])
        await ctx.poster.post_all(channel, messages[1:], thread_ts=parent)
    except FmccertError as exc:
        delivery.failed("scan-alert", "every FMC", exc)
    for effect in opening:
        with bound(fmc=effect.fmc):
            try:
                await _open(ctx, effect, channel=channel, thread_ts=parent)
            except FmccertError as exc:
                delivery.failed("incident-open", effect.fmc, exc)
    if parent is None:
        return
    for incident, finding, why in list(delivery.gone.values()):
        with bound(fmc=incident.fmc):
            try:
                await _repost(delivery, incident, finding, why, thread_ts=parent)
            except FmccertError as exc:
                delivery.failed("incident-repost", incident.fmc, exc)
