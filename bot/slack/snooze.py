"""Snooze: an approver silences one FMC's reminders and escalations for a while, saying why.

The button opens a modal (how long, why); the submission is re-checked (approver, open
incident), recorded with who and why, audited, and shown on the incident's message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core.approval import is_approver
from bot.core.incidents import Incident, IncidentState, last_known_finding, shown_finding
from bot.errors import FmccertError
from bot.slack import blocks
from bot.slack.context import BotContext, user_groups
from bot.slack.ids import (
    SNOOZE_ACTION,
    SNOOZE_CHOICES,
    SNOOZE_DURATION_ACTION,
    SNOOZE_DURATION_BLOCK,
    SNOOZE_REASON_ACTION,
    SNOOZE_REASON_BLOCK,
    SNOOZE_VIEW,
    parse_incident_value,
)
from bot.slack.requests import pending_approval_id

log = logging.getLogger("bot.slack.snooze")
Ack = Callable[..., Awaitable[None]]
ALLOWED_SECONDS = {seconds for seconds, _ in SNOOZE_CHOICES}


def register(app: AsyncApp, ctx: BotContext) -> None:
    """Register the Snooze button and the snooze modal's submission."""

    @app.action(SNOOZE_ACTION)
    async def on_snooze(ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id", ""))
        channel = (body.get("channel") or {}).get("id")
        try:
            incident_id = parse_incident_value((body.get("actions") or [{}])[0].get("value"))
        except ValueError:
            return
        incident = await ctx.operations.find_open_incident(incident_id)
        refusal = None
        if incident is None:
            refusal = "That incident is already resolved."
        elif not is_approver(user, await user_groups(ctx, user), ctx.rules):
            refusal = "Only fmccert approvers may snooze alerts."
        if refusal is not None:
            await _refuse(ctx, user, channel, refusal, incident)
            return
        assert incident is not None
        view = blocks.build_snooze_modal(incident_id=incident.id, fmc=incident.fmc)
        try:
            await ctx.poster.open_view(str(body.get("trigger_id", "")), view)
        except FmccertError as exc:
            log.warning("could not open the snooze dialog: %s", exc)

    @app.view(SNOOZE_VIEW)
    async def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values") or {}
        choice = (values.get(SNOOZE_DURATION_BLOCK) or {}).get(SNOOZE_DURATION_ACTION) or {}
        seconds_raw = str((choice.get("selected_option") or {}).get("value", ""))
        reason = str(
            ((values.get(SNOOZE_REASON_BLOCK) or {}).get(SNOOZE_REASON_ACTION) or {}).get("value")
            or ""
        ).strip()
        if not seconds_raw.isdigit() or int(seconds_raw) not in ALLOWED_SECONDS:
            await ack(response_action="errors", errors={SNOOZE_DURATION_BLOCK: "Pick a duration."})
            return
        if not reason:
            await ack(response_action="errors", errors={SNOOZE_REASON_BLOCK: "Say why."})
            return
        await ack()
        user = str((body.get("user") or {}).get("id", ""))
        ctx.tasks.spawn(
            _snooze(ctx, view.get("private_metadata"), user, int(seconds_raw), reason),
            name="snooze",
        )


async def _refuse(
    ctx: BotContext, user: str, channel: str | None, reason: str, incident: Incident | None
) -> None:
    await ctx.operations.refuse_snooze(actor=f"slack:{user}", reason=reason, incident=incident)
    if channel:
        thread = incident.thread_ts if incident else None
        await ctx.poster.ephemeral(channel, user, blocks.build_error(reason), thread_ts=thread)


async def _snooze(ctx: BotContext, metadata: object, user: str, seconds: int, reason: str) -> None:
    try:
        incident_id = parse_incident_value(metadata)
    except ValueError:
        return
    incident = await ctx.operations.find_open_incident(incident_id)
    if incident is None or incident.state is not IncidentState.OPEN:
        return
    if not is_approver(user, await user_groups(ctx, user), ctx.rules):  # re-checked on submit
        await _refuse(ctx, user, incident.channel, "Only fmccert approvers may snooze.", incident)
        return
    now = ctx.clock()
    until = now + timedelta(seconds=seconds)
    await ctx.operations.snooze_incident(
        incident, until=until, by=user, actor=f"slack:{user}", reason=reason
    )
    if incident.channel and incident.message_ts:
        finding = shown_finding(incident)
        if finding is not None:
            line = f"Snoozed by <@{user}> until {until:%Y-%m-%d %H:%M} UTC: {blocks.escape(reason)}"
            approval_id = await pending_approval_id(ctx, incident.approval_id)
            message = blocks.build_incident(
                finding, incident_id=incident.id, approval_id=approval_id, state_line=line,
                last_known=last_known_finding(incident.detail),
                last_checked_at=incident.last_checked_at, now=now,
            )  # fmt: skip
            await ctx.poster.update(incident.channel, incident.message_ts, message)
