"""A scan's thread: the parent (counts and the worst FMCs), then continuation lists."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import Block, DividerBlock

from bot.core.expiry import Status
from bot.core.incidents import needs_attention
from bot.scanning import ScanReport
from bot.slack.blocks.findings import attention_line
from bot.slack.blocks.kit import Message, context, header, lines_to_sections, message, section
from bot.slack.blocks.status import count_fields, count_statuses, worst_first
from bot.slack.blocks.text import age, duration, oneline, plain_safe, plural, utc

# Sections of the attention list: one in the parent keeps the channel readable; the
# thread's continuation messages hold more each, far below the block limit.
PARENT_LIST_SECTIONS = 1
CONTINUATION_LIST_SECTIONS = 10


def build_scan_messages(report: ScanReport, *, title: str, now: datetime) -> list[Message]:
    """The parent of a scan's thread, then continuation lists when the fleet is large."""
    findings = report.findings
    attention = worst_first(f for f in findings if needs_attention(f))
    counts = count_statuses(f.status for f in findings)
    total = len(findings)
    if attention:
        severe = counts[Status.CRITICAL] + counts[Status.EXPIRED]
        emoji = ":rotating_light:" if severe else ":warning:"
        verb = "needs" if len(attention) == 1 else "need"
        summary = f"{plural(len(attention), 'FMC')} {verb} attention"
    elif total:
        emoji = ":white_check_mark:"
        summary = "all FMCs healthy" if total != 1 else "1 FMC healthy"
        if total > 1:
            summary = f"all {total} FMCs healthy"
    else:
        emoji, summary = ":grey_question:", "no FMCs checked"
    # The header is plain_text (never parsed for mentions); the fallback is mrkdwn.
    headline = f"{emoji} {plain_safe(title)}: {summary}"
    safe_title = oneline(title, 100)
    breakdown = ", ".join(f"{counts[s]} {s.value}" for s in Status if counts[s])
    footer = (
        f"{plural(total, 'FMC')} checked · finished {utc(report.finished_at)} "
        f"({age(report.finished_at, now)}) · took {duration(report.duration_seconds)}"
    )
    sections = lines_to_sections([attention_line(f) for f in attention])
    parent_sections = sections[:PARENT_LIST_SECTIONS]
    rest = sections[PARENT_LIST_SECTIONS:]
    blocks: list[Block] = [header(headline), count_fields(counts), context(footer)]
    if parent_sections:
        blocks.append(DividerBlock())
        blocks.append(section("*Needs attention, worst first:*"))
        blocks += [section(text) for text in parent_sections]
    if rest:
        shown = sum(text.count("\n") + 1 for text in parent_sections)
        blocks.append(context(f"…and {len(attention) - shown} more in the thread."))
    text = f"{emoji} {safe_title}: {summary}" + (f" ({breakdown})" if breakdown else "")
    messages = [message(text, blocks)]
    chunks = [
        rest[i : i + CONTINUATION_LIST_SECTIONS]
        for i in range(0, len(rest), CONTINUATION_LIST_SECTIONS)
    ]
    for number, chunk in enumerate(chunks, start=2):
        part = f"{number}/{len(chunks) + 1}"
        more: list[Block] = [context(f"{safe_title}: needs attention, part {part}")]
        more += [section(text) for text in chunk]
        messages.append(message(f"{safe_title}: FMCs needing attention, part {part}", more))
    return messages
