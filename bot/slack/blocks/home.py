"""The App Home tab: the fleet by status, soonest expiries, open incidents, pending approvals.

A view, not a message: it takes up to 100 blocks and is built from stored results only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block, DividerBlock

from bot.core.approval import ApprovalRequest
from bot.core.devices import DeviceKind
from bot.core.expiry import days_left as days_until
from bot.core.incidents import Incident
from bot.slack.blocks.kit import context, header, lines_to_sections, section
from bot.slack.blocks.status import STATUS_EMOJI, count_fields, count_statuses, status_of
from bot.slack.blocks.text import (
    action_label,
    age,
    days_phrase,
    device_name,
    oneline,
    plural,
    utc,
    who,
)
from bot.storage.records import StoredFinding

MAX_HOME_BLOCKS = 100  # App Home views take 100 blocks, messages 50
HOME_LIST_LIMIT = 25  # rows of each list on the Home tab; the rest are counted


def _stored_kind(stored: StoredFinding) -> DeviceKind:
    """The kind a stored finding records (records from before kinds existed are FMCs)."""
    try:
        return DeviceKind(stored.data.get("kind") or DeviceKind.FMC)
    except ValueError:
        return DeviceKind.FMC


def _capped_lines(lines: Sequence[str], empty: str) -> list[str]:
    if not lines:
        return [empty]
    shown = list(lines[:HOME_LIST_LIMIT])
    if len(lines) > HOME_LIST_LIMIT:
        shown.append(f"…and {len(lines) - HOME_LIST_LIMIT} more")
    return shown


def build_home(
    latest: Sequence[StoredFinding],
    *,
    now: datetime,
    open_incidents: Sequence[Incident] = (),
    pending_approvals: Sequence[ApprovalRequest] = (),
    last_scan: datetime | None = None,
) -> list[dict[str, Any]]:
    """The App Home tab: counts by status, soonest expiries, incidents, pending approvals."""
    counts = count_statuses(status_of(stored.status) for stored in latest)
    ftds = sum(1 for stored in latest if _stored_kind(stored) is DeviceKind.FTD)
    fleet = plural(len(latest) - ftds, "FMC") + (f", {plural(ftds, 'FTD')}" if ftds else "")
    blocks: list[Block] = [header(f":bar_chart: fmccert: {fleet}")]
    if not latest:
        blocks.append(section("No results yet. Run `/fmccert scan` to check the fleet."))
    else:
        blocks.append(count_fields(counts))
    expiring = sorted(
        ((moment, stored) for stored in latest if (moment := stored.not_after)),
        key=lambda pair: (pair[0], pair[1].fmc),
    )
    expiry_lines = [
        f"{STATUS_EMOJI[status_of(stored.status)]} *{device_name(stored.fmc)}*"
        f"{' (FTD)' if _stored_kind(stored) is DeviceKind.FTD else ''} {utc(moment)} "
        f"({days_phrase(days_until(moment, now))})"
        for moment, stored in expiring[:10]
    ]
    incident_lines = [
        f"*{device_name(incident.fmc)}* {oneline(incident.severity, 30)} "
        f"since {utc(incident.opened_at)}"
        for incident in sorted(open_incidents, key=lambda i: (i.opened_at, i.fmc))
    ]
    approval_lines = [
        f"*{device_name(request.fmc)}* {action_label(request.action)}, asked by "
        f"{who(request.requested_by)}, expires {utc(request.expires_at)}"
        for request in sorted(pending_approvals, key=lambda r: (r.created_at, r.id))
    ]
    lists = (
        ("Soonest expiries", expiry_lines, "none known"),
        (f"Open incidents ({len(incident_lines)})", incident_lines, "none"),
        (f"Pending approvals ({len(approval_lines)})", approval_lines, "none"),
    )
    for title, lines, empty in lists:
        blocks.append(DividerBlock())
        sections = lines_to_sections(_capped_lines(lines, empty))
        sections[0] = f"*{title}:*\n{sections[0]}"
        blocks.extend(section(text) for text in sections)
    scanned = "No scan yet"
    if last_scan is not None:
        scanned = f"Last scan {utc(last_scan)} ({age(last_scan, now)})"
    blocks.append(
        context(f"{scanned} · updated {utc(now)} · from stored results; no FMC was contacted")
    )
    converted = [block.to_dict() for block in blocks]
    if len(converted) > MAX_HOME_BLOCKS:  # bounded above by the list caps; never expected
        raise ValueError(f"{len(converted)} blocks; App Home takes at most {MAX_HOME_BLOCKS}")
    return converted
