"""An FMC's incident: its message (with Snooze), the notes in its thread, the Snooze modal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, PlainTextObject

from bot.core.advisory import FIXED_VDB_BUILD
from bot.core.findings import Finding
from bot.core.incidents import IncidentReason, is_unchecked, needs_attention, still_at_risk
from bot.slack.blocks.findings import build_finding_reply
from bot.slack.blocks.kit import Message, context, message, section
from bot.slack.blocks.text import (
    MESSAGE_LIMIT,
    NAME_LIMIT,
    clip,
    days_phrase,
    device_name,
    escaped_text,
    oneline,
    utc,
)
from bot.slack.ids import (
    INCIDENT_BLOCK,
    SNOOZE_ACTION,
    SNOOZE_CHOICES,
    SNOOZE_DURATION_ACTION,
    SNOOZE_DURATION_BLOCK,
    SNOOZE_REASON_ACTION,
    SNOOZE_REASON_BLOCK,
    SNOOZE_VIEW,
    incident_value,
)

_AT_RISK = f"Still at risk: the next renewal will fail again; update the VDB to {FIXED_VDB_BUILD}+."


def build_incident(
    finding: Finding,
    *,
    incident_id: int,
    approval_id: int | None,
    state_line: str | None = None,
    resolved: bool = False,
    last_known: Finding | None = None,
    last_checked_at: datetime | None = None,
    now: datetime | None = None,
) -> Message:
    """An incident's message: the finding, Approve/Deny while pending, and Snooze while open.

    A finding that could not be checked shows why, the last known state and how long ago
    the last successful check was, and no recommended fix (nothing is known to fix).
    ``state_line`` is mrkdwn (it may mention users); escape any user text in it first.
    """
    if is_unchecked(finding):
        line = _unchecked_line(finding, last_known, last_checked_at, now=now)
        text = f"{oneline(finding.name, NAME_LIMIT)}: {line}".replace("*", "")
        blocks: list[Block | dict[str, Any]] = [section(f"*{device_name(finding.name)}*: {line}")]
        blocks.append(context(f"Tried {utc(finding.checked_at)}"))
    else:
        reply = build_finding_reply(finding, approval_id=None if resolved else approval_id)
        text = reply.text
        blocks = list(reply.blocks)
        if still_at_risk(finding) and not resolved:
            blocks.append(context(_AT_RISK))
    if state_line:  # mrkdwn composed by the caller, user text in it already escaped
        blocks.append(context(clip(state_line, 1900)))
    if not resolved:
        snooze = ButtonElement(
            text=PlainTextObject(text="Snooze", emoji=True),
            action_id=SNOOZE_ACTION,
            value=incident_value(incident_id),
        )
        blocks.append(ActionsBlock(block_id=INCIDENT_BLOCK, elements=[snooze]))
    return message(text, blocks)


def _hours_ago(moment: datetime, now: datetime | None) -> str:
    if now is None:
        return f"at {utc(moment)}"
    hours = max(0, int((now - moment).total_seconds() // 3600))
    return f"{hours} h ago"


def _unchecked_line(
    finding: Finding,
    last_known: Finding | None,
    last_checked_at: datetime | None,
    *,
    now: datetime | None,
) -> str:
    """ "could not check: KIND MESSAGE; last known state: ..., expires ... (last checked ...)"."""
    error = finding.error
    kind = oneline(error.kind, 40) if error else "unknown"
    said = escaped_text(error.message, MESSAGE_LIMIT) if error else ""
    line = f"could not check: {kind} {said}".rstrip()
    if last_known is None:
        line += "; last known state: not known"
    else:
        cert = last_known.facts.certificate
        expires = f", expires {utc(cert.not_after)}" if cert else ", expiry unknown"
        line += f"; last known state: *{last_known.status.value}*{expires}"
    if last_checked_at is not None:
        line += f" (last checked {_hours_ago(last_checked_at, now)})"
    else:
        line += " (never checked successfully)"
    return line


def build_incident_note(
    reason: IncidentReason,
    finding: Finding,
    *,
    previous: str | None = None,
    last_known: Finding | None = None,
    last_checked_at: datetime | None = None,
    now: datetime | None = None,
) -> Message:
    """A short post in an incident's thread: a state change, a reminder or a resolution."""
    name = f"*{device_name(finding.name)}*"
    status = finding.status.value
    expiry = days_phrase(finding.days_left)
    resolved = " Incident resolved." if not needs_attention(finding) else ""
    if reason is IncidentReason.ESCALATED:
        was = f" from {oneline(previous, 40)}" if previous else ""
        text = f":arrow_double_up: {name} escalated{was} to *{status}*: {expiry}."
    elif reason is IncidentReason.REMINDER:
        text = (
            f":bell: {name} is still *{status}*: {expiry}. "
            "Approve the fix above, or snooze it with a reason."
        )
    elif reason is IncidentReason.COULD_NOT_CHECK:
        line = _unchecked_line(finding, last_known, last_checked_at, now=now)
        text = f":warning: {name}: {line}."
    elif reason is IncidentReason.STALE:
        since = (
            f"since {utc(last_checked_at)} ({_hours_ago(last_checked_at, now)})"
            if last_checked_at is not None else "ever"
        )  # fmt: skip
        text = f":rotating_light: {name} has not been checked successfully {since}: *stale*."
    elif reason is IncidentReason.RECOVERED:
        was = f" (it was {oneline(previous, 40)})" if previous else ""
        text = f":white_check_mark: {name} answers again{was}: *{status}*, {expiry}.{resolved}"
    elif reason is IncidentReason.RENEWED:
        cert = finding.facts.certificate
        until = f" until {utc(cert.not_after)}" if cert else ""
        text = f":white_check_mark: {name}: the certificate was renewed{until}.{resolved}"
    else:
        text = f":white_check_mark: {name} no longer needs attention. Incident resolved."
    if reason in (IncidentReason.RENEWED, IncidentReason.RECOVERED) and still_at_risk(finding):
        text += f" {_AT_RISK}"
    return message(text.replace("*", ""), [section(text)])


def build_snooze_modal(*, incident_id: int, fmc: str) -> dict[str, Any]:
    """The modal asking for how long and why an FMC's incident is silenced."""
    options = [
        {"text": {"type": "plain_text", "text": label}, "value": str(seconds)}
        for seconds, label in SNOOZE_CHOICES
    ]
    return {
        "type": "modal",
        "callback_id": SNOOZE_VIEW,
        "private_metadata": incident_value(incident_id),
        "title": {"type": "plain_text", "text": "Snooze alerts"},
        "submit": {"type": "plain_text", "text": "Snooze"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Silence reminders and escalations for *{device_name(fmc)}*.",
                },
            },
            {
                "type": "input",
                "block_id": SNOOZE_DURATION_BLOCK,
                "label": {"type": "plain_text", "text": "For how long"},
                "element": {
                    "type": "static_select",
                    "action_id": SNOOZE_DURATION_ACTION,
                    "options": options,
                    "initial_option": options[2],
                },
            },
            {
                "type": "input",
                "block_id": SNOOZE_REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Why"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": SNOOZE_REASON_ACTION,
                    "max_length": 300,
                },
            },
        ],
    }
