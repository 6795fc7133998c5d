"""Scheduled scans in Slack: an alert is an incident, not a message.

The first scan that finds an FMC needing attention opens an incident: a reply, with the
approval buttons, in the thread of that scan's alert. Later scans edit it in place and
post in its thread only when something changes (escalation, a failure to check, a
recovery, a renewal that resolves it) or when a critical incident is due a reminder.
The rules are pure (``bot.core.incidents``); this module carries their effects out.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.core.findings import Finding, finding_to_record
from bot.core.incidents import Effect, EffectKind, Incident, IncidentKind, plan_incident_effects
from bot.scanning import ScanReport
from bot.slack import blocks
from bot.slack.commands import SCAN_REQUESTER, open_fix_request, pending_approval_id
from bot.slack.context import BotContext

log = logging.getLogger("bot.slack.alerts")


def _resolved_line(effect: Effect) -> str:
    if effect.reason == "recovered":
        return "Resolved: the FMC answers again."
    if effect.reason == "renewed":
        return "Resolved: the certificate was renewed."
    return "Resolved: no longer needs attention."


async def _open(ctx: BotContext, effect: Effect, *, channel: str, thread_ts: str) -> None:
    store = ctx.operations.store
    now = ctx.clock()
    approval_id = None
    if effect.incident_kind is IncidentKind.CERTIFICATE:
        approval_id = await open_fix_request(
            ctx, effect.finding, channel=channel, requested_by=SCAN_REQUESTER
        )
    incident = await store.create_incident(
        fmc=effect.fmc,
        kind=effect.incident_kind,
        severity=effect.severity,
        detail=finding_to_record(effect.finding),
        now=now,
        channel=channel,
        thread_ts=thread_ts,
        approval_id=approval_id,
    )
    message = blocks.build_incident(
        effect.finding, incident_id=incident.id, approval_id=approval_id
    )
    ts = await ctx.poster.post(channel, message, thread_ts=thread_ts)
    await store.update_incident(incident.id, now=now, message_ts=ts, notified=True)
    if approval_id is not None:
        await store.set_approval_message(
            approval_id, channel=channel, message_ts=ts, thread_ts=thread_ts
        )
    await store.audit(
        actor="system:schedule",
        action="incident.opened",
        fmc=effect.fmc,
        detail={"incident_id": incident.id, "kind": effect.incident_kind.value,
                "severity": effect.severity},
        now=now,
    )  # fmt: skip


async def _edit(ctx: BotContext, incident: Incident, finding: Finding, *, state_line: str | None,
                resolved: bool) -> None:  # fmt: skip
    if not incident.channel or not incident.message_ts:
        return
    approval_id = await pending_approval_id(ctx, incident.approval_id)
    message = blocks.build_incident(
        finding, incident_id=incident.id, approval_id=approval_id, state_line=state_line,
        resolved=resolved,
    )  # fmt: skip
    await ctx.poster.update(incident.channel, incident.message_ts, message)


async def _apply(ctx: BotContext, effect: Effect) -> None:
    store = ctx.operations.store
    incident = effect.incident
    assert incident is not None  # only OPEN effects come without one
    now = ctx.clock()
    if effect.kind is EffectKind.EDIT:
        await _edit(ctx, incident, effect.finding, state_line=None, resolved=False)
        await store.update_incident(
            incident.id, now=now, severity=effect.severity, detail=finding_to_record(effect.finding)
        )
    elif effect.kind is EffectKind.NOTE:
        if incident.channel and incident.thread_ts:
            note = blocks.build_incident_note(
                effect.reason, effect.finding, previous=incident.severity
            )
            await ctx.poster.post(
                incident.channel, note, thread_ts=incident.thread_ts,
                reply_broadcast=effect.broadcast,
            )  # fmt: skip
        await store.update_incident(incident.id, now=now, notified=True)
    elif effect.kind is EffectKind.RESOLVE:
        await _edit(ctx, incident, effect.finding, state_line=_resolved_line(effect), resolved=True)
        if incident.channel and incident.thread_ts:
            note = blocks.build_incident_note(
                effect.reason, effect.finding, previous=incident.severity
            )
            await ctx.poster.post(incident.channel, note, thread_ts=incident.thread_ts)
        await store.resolve_incident(incident.id, now=now, detail=finding_to_record(effect.finding))
        await store.audit(
            actor="system:schedule",
            action="incident.resolved",
            fmc=effect.fmc,
            detail={"incident_id": incident.id, "reason": effect.reason},
            now=now,
        )


async def publish_scheduled_scan(
    ctx: BotContext, report: ScanReport, *, channel: str, title: str, renotify: timedelta
) -> None:
    """Carry out the incident rules for one scheduled scan's findings in ``channel``."""
    store = ctx.operations.store
    now = ctx.clock()
    effects = plan_incident_effects(
        report.findings,
        await store.open_incidents(),
        now=now,
        renotify=renotify,
        snoozed=await store.active_snoozes(now),
    )
    opening = [effect for effect in effects if effect.kind is EffectKind.OPEN]
    if opening:  # new incidents live in the thread of this scan's alert
        messages = blocks.build_scan_messages(report, title=title, now=now)
        parent = await ctx.poster.post(channel, messages[0])
        await ctx.poster.post_all(channel, messages[1:], thread_ts=parent)
        for effect in opening:
            await _open(ctx, effect, channel=channel, thread_ts=parent)
    for effect in effects:
        if effect.kind is not EffectKind.OPEN:
            await _apply(ctx, effect)
