"""One FMC's finding: its facts, its fix, its line in a list, and the replies about it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from slack_sdk.models.blocks import Block, DividerBlock, SectionBlock

from bot.core.advisory import FIXED_VDB_BUILD, Action, kind_note
from bot.core.devices import DeviceKind
from bot.core.expiry import Status
from bot.core.findings import Finding
from bot.remediation.plan import SNORT_NOTICE
from bot.slack.blocks.kit import (
    Message,
    context,
    decision_actions,
    fields,
    lines_to_sections,
    message,
    section,
)
from bot.slack.blocks.notices import build_error
from bot.slack.blocks.status import STATUS_EMOJI, count_statuses, worst_first
from bot.slack.blocks.text import (
    DETAIL_LIMIT,
    MESSAGE_LIMIT,
    NAME_LIMIT,
    age,
    days_phrase,
    device_name,
    escape,
    escaped_text,
    oneline,
    plural,
    utc,
)


def _release(finding: Finding) -> str:
    version, build = finding.facts.version, finding.facts.build
    if not version:
        return "unknown"
    return oneline(f"{version}-{build}" if build else version, 60)


def _vdb(finding: Finding) -> str:
    build = finding.facts.vdb_build
    return "unknown" if build is None else str(build)


def _affected(finding: Finding) -> str:
    return {True: "yes", False: "no", None: "unknown"}[finding.affected]


def _kind_tag(finding: Finding) -> str:
    """`` (FTD)`` after an FTD's name; nothing for an FMC, the usual case."""
    return f" ({finding.kind.label})" if finding.kind is not DeviceKind.FMC else ""


def fix_in_words(finding: Finding) -> str:
    """The recommended fix for one FMC (or FTD) as a sentence (mrkdwn, escaped)."""
    action = finding.action
    note = kind_note(finding.kind)
    if note is not None and action is not Action.NONE:
        # An FTD's path differs (FDM installs its VDB): say so rather than offer a run.
        base = fix_in_words(replace(finding, kind=DeviceKind.FMC))
        return f"{base}. _{escape(note)}_"
    if action is Action.VDB_UPDATE:
        return f"Update the VDB to build {FIXED_VDB_BUILD} or later (renews the certificate)"
    if action is Action.UPGRADE:
        target = oneline(finding.upgrade_to, 40) if finding.upgrade_to else "a fixed release"
        return (
            f"Upgrade to {target} (VDB {FIXED_VDB_BUILD}+ is installed but did not renew "
            "the certificate)"
        )
    if action is Action.RESTART:
        return "Restart the FMC's services (the site's restart command), then check again"
    if action is Action.INVESTIGATE:
        return (
            "Investigate: this release should renew the certificate on its own; check cloud "
            "connectivity and telemetry, or contact Cisco TAC (CSCwo63951 / FN74272)"
        )
    return "None needed"


def _error_text(finding: Finding) -> str | None:
    error = finding.error
    if error is None:
        return None
    step = f", step {oneline(error.step, 40)}" if error.step else ""
    return f"{oneline(error.kind, 40)}{step}: {escaped_text(error.message, MESSAGE_LIMIT)}"


def attention_line(finding: Finding) -> str:
    """One compact line per FMC for lists: emoji, name, status, expiry, release, fix."""
    parts = [
        f"{STATUS_EMOJI[finding.status]} *{device_name(finding.name)}*{_kind_tag(finding)} "
        f"{finding.status.value}",
    ]
    if finding.days_left is not None:
        parts.append(days_phrase(finding.days_left))
    if finding.facts.version:
        parts.append(_release(finding))
    if finding.facts.vdb_build is not None:
        parts.append(f"VDB {finding.facts.vdb_build}")
    if finding.action is not Action.NONE:
        fix = finding.action.value
        if finding.action is Action.UPGRADE and finding.upgrade_to:
            fix += f" to {oneline(finding.upgrade_to, 20)}"
        parts.append(f"fix: {fix}")
    if finding.error is not None:
        detail = f"{finding.error.kind}: {finding.error.message}"
        parts.append(oneline(detail, DETAIL_LIMIT))
    return " · ".join(parts)


def finding_fields(finding: Finding) -> SectionBlock:
    """The facts of one FMC as fields: status, expiry, release, VDB, whether affected."""
    cert = finding.facts.certificate
    days = "unknown" if finding.days_left is None else str(finding.days_left)
    pairs = [
        ("Status", f"{STATUS_EMOJI[finding.status]} {finding.status.value}"),
        ("Days left", days),
        ("Expires", utc(cert.not_after) if cert else "unknown"),
        ("Release", _release(finding)),
        ("VDB build", _vdb(finding)),
        ("Affected by CSCwo63951", _affected(finding)),
    ]
    if finding.upgrade_to:
        pairs.append(("Fixed in", oneline(finding.upgrade_to, 40)))
    if finding.kind is DeviceKind.FTD:
        pairs.append(("Device", "FTD managed by FDM (FN74284)"))
    return fields(pairs)


def _finding_blocks(finding: Finding) -> list[Block]:
    """Title, facts, fix and (when unknown) the error of one FMC: at most four blocks."""
    host = f" ({oneline(finding.host, NAME_LIMIT)})" if finding.host else ""
    title = (
        f"{STATUS_EMOJI[finding.status]} *{device_name(finding.name)}*{_kind_tag(finding)}"
        f"{host}: *{finding.status.value}*, {days_phrase(finding.days_left)}"
    )
    blocks: list[Block] = [section(title), finding_fields(finding)]
    blocks.append(section(f"*Recommended fix:* {fix_in_words(finding)}"))
    error = _error_text(finding)
    if error is not None:
        blocks.append(section(f"*Could not check:* {error}"))
    return blocks


def _finding_fallback(finding: Finding) -> str:
    text = (
        f"{device_name(finding.name)}{_kind_tag(finding)}: {finding.status.value}, "
        f"{days_phrase(finding.days_left)}"
    )
    if finding.action is not Action.NONE:
        text += f"; fix: {finding.action.value}"
    return text


def build_finding_reply(
    finding: Finding, *, approval_id: int | None, action_label: str | None = None
) -> Message:
    """One thread reply per FMC needing attention; with Approve/Deny when a fix can run."""
    blocks: list[Block] = _finding_blocks(finding)
    checked = f"Checked {utc(finding.checked_at)}"
    if approval_id is not None:
        if finding.action is Action.VDB_UPDATE:
            checked += f" · {SNORT_NOTICE}"
        blocks.append(context(checked))
        blocks.append(decision_actions(approval_id, finding.action.value, action_label))
    else:
        blocks.append(context(checked))
    return message(_finding_fallback(finding), blocks)


def build_check_results(findings: Sequence[Finding], *, now: datetime) -> Message:
    """The answer to ``/fmccert check NAME``: one FMC in full, or a few (the rest listed)."""
    if not findings:
        return build_error("No FMC was checked.")
    ordered = worst_first(findings)
    shown, listed = ordered[:8], ordered[8:]  # 8 x (4 blocks + divider) stays under 50
    blocks: list[Block] = []
    for index, finding in enumerate(shown):
        if index:
            blocks.append(DividerBlock())
        blocks += _finding_blocks(finding)
    if listed:
        sections = lines_to_sections([attention_line(f) for f in listed])
        blocks.append(section(sections[0]))
        if len(sections) > 1:
            omitted = len(listed) - (sections[0].count("\n") + 1)
            blocks.append(context(f"…and {omitted} more; use /fmccert scan for a fleet."))
    newest = max(f.checked_at for f in findings)
    blocks.append(context(f"Checked {utc(newest)} ({age(newest, now)})"))
    if len(findings) == 1:
        text = _finding_fallback(findings[0])
    else:
        counts = count_statuses(f.status for f in findings)
        text = f"{plural(len(findings), 'FMC')} checked: " + ", ".join(
            f"{counts[s]} {s.value}" for s in Status if counts[s]
        )
    return message(text, blocks)
