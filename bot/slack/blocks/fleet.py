"""The fleet from stored results (no FMC contacted): ``/fmccert status`` and one FMC's history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block

from bot.core.expiry import Status
from bot.core.expiry import days_left as days_until
from bot.slack.blocks.kit import Message, context, header, message, section
from bot.slack.blocks.runs import RUN_EMOJI
from bot.slack.blocks.status import STATUS_EMOJI, count_fields, count_statuses, status_of
from bot.slack.blocks.text import (
    age,
    clip,
    days_phrase,
    device_name,
    oneline,
    plural,
    utc,
    who,
)
from bot.storage.records import AuditEntry, RemediationRun, StoredFinding


def build_status(
    latest: Sequence[StoredFinding],
    *,
    now: datetime,
    pending_approvals: int = 0,
    open_incidents: Sequence[tuple[str, str]] = (),
) -> Message:
    """The fleet from the last stored results (no SSH): counts, soonest expiries, incidents."""
    if not latest:
        return message(
            "fmccert status: no results yet",
            [section(":grey_question: No results yet. Run `/fmccert scan` to check the fleet.")],
        )
    counts = count_statuses(status_of(stored.status) for stored in latest)
    expiring = sorted(
        ((moment, stored) for stored in latest if (moment := stored.not_after)),
        key=lambda pair: (pair[0], pair[1].fmc),
    )[:5]
    lines = []
    for moment, stored in expiring:
        emoji = STATUS_EMOJI[status_of(stored.status)]
        lines.append(
            f"{emoji} *{device_name(stored.fmc)}* {utc(moment)} "
            f"({days_phrase(days_until(moment, now))})"
        )
    newest = max(stored.checked_at for stored in latest)
    headline = f":bar_chart: fmccert status: {plural(len(latest), 'FMC')}"
    blocks: list[Block] = [header(headline), count_fields(counts)]
    blocks.append(section("*Soonest expiries:*\n" + ("\n".join(lines) or "none known")))
    if open_incidents:
        shown = [
            f"*{device_name(fmc)}* ({oneline(severity, 30)})" for fmc, severity in open_incidents
        ]
        blocks.append(
            # The names and severities are escaped already: escaping the line again would
            # show an FMC called a&b as a&amp;b.
            section(clip(f"*Open incidents ({len(shown)}):* " + ", ".join(shown), 2900))
        )
    approvals = plural(pending_approvals, "approval")
    blocks.append(
        context(
            f"Last check {utc(newest)} ({age(newest, now)}) · {approvals} pending · "
            "from stored results; no FMC was contacted"
        )
    )
    text = f"{headline}: " + ", ".join(f"{counts[s]} {s.value}" for s in Status if counts[s])
    return message(text, blocks)


def _detail_text(detail: Mapping[str, Any]) -> str:
    interesting = ("run_id", "status", "step", "reason", "approval_id", "action")
    parts = [f"{key} {detail[key]}" for key in interesting if detail.get(key) is not None]
    return oneline(", ".join(parts), 120)


def build_history(fmc: str, runs: Sequence[RemediationRun], audit: Sequence[AuditEntry]) -> Message:
    """Past remediation runs and audit entries of one FMC, newest first, capped."""
    run_lines = []
    for run in sorted(runs, key=lambda r: r.started_at, reverse=True)[:10]:
        approved = f", approved by {who(run.approved_by)}" if run.approved_by else ""
        line = (
            f"{RUN_EMOJI.get(run.status, ':grey_question:')} #{run.id} "
            f"*{oneline(run.action, 40)}* {run.status.value.replace('_', ' ')} · "
            f"{utc(run.started_at)} · by {who(run.requested_by)}{approved}"
        )
        if run.failed_step:
            line += f" · failed at {oneline(run.failed_step, 60)}"
        if run.summary:
            line += f"\n      {oneline(run.summary, 120)}"
        run_lines.append(line)
    audit_lines = [
        f"{utc(entry.at)} · {who(entry.actor)} · {oneline(entry.action, 60)}"
        + (f" · {detail}" if (detail := _detail_text(entry.detail)) else "")
        for entry in sorted(audit, key=lambda e: e.at, reverse=True)[:15]
    ]
    blocks: list[Block] = [
        section(f":scroll: *History of {device_name(fmc)}*"),
        section("*Remediation runs:*\n" + ("\n".join(run_lines) or "none yet")),
        section("*Audit log:*\n" + ("\n".join(audit_lines) or "nothing recorded")),
    ]
    shown = min(len(runs), 10), min(len(audit), 15)
    if shown != (len(runs), len(audit)):
        blocks.append(
            context(f"Showing {shown[0]} of {len(runs)} runs, {shown[1]} of {len(audit)} entries")
        )
    text = f"History of {device_name(fmc)}: {plural(len(runs), 'run')}"
    return message(text, blocks)
