"""Every Slack message fmccert sends, built by pure functions (no I/O, no clock).

Blocks are built with ``slack_sdk.models.blocks`` and converted with ``to_dict()``, so
Slack's documented limits are checked offline. Text that comes from an FMC or a user
(names, error messages, command output) is escaped for mrkdwn (``& < >``) and cut to
fit, so no message can exceed a limit, mention a channel or break its formatting.
User data never goes into ``plain_text`` objects (headers, buttons): those carry only
fmccert's own wording and numbers.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.core.advisory import FIXED_VDB_BUILD, Action, kind_note
from bot.core.approval import ApprovalRequest, ApprovalStatus
from bot.core.devices import DeviceKind
from bot.core.expiry import Status
from bot.core.expiry import days_left as days_until
from bot.core.findings import Finding
from bot.core.incidents import Incident, is_unchecked, needs_attention, still_at_risk
from bot.remediation.plan import SNORT_NOTICE, Plan
from bot.remediation.service import ProgressEvent, ProgressState, RemediationResult
from bot.scanning import ScanReport
from bot.slack.ids import (
    APPROVE_ACTION,
    DECIDED_BLOCK,
    DECISION_BLOCK,
    DENY_ACTION,
    INCIDENT_BLOCK,
    SNOOZE_ACTION,
    SNOOZE_CHOICES,
    SNOOZE_DURATION_ACTION,
    SNOOZE_DURATION_BLOCK,
    SNOOZE_REASON_ACTION,
    SNOOZE_REASON_BLOCK,
    SNOOZE_VIEW,
    approval_value,
    incident_value,
)
from bot.storage.records import AuditEntry, RemediationRun, RunStatus, StoredFinding

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks).
MAX_BLOCKS = 50
SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
MAX_FIELDS = 10
HEADER_TEXT_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
# Our own bounds: Slack cuts a message's ``text`` at 40,000 characters, but a fallback is
# a notification line; context elements have no documented limit, so keep them modest.
FALLBACK_TEXT_LIMIT = 3000
CONTEXT_TEXT_LIMIT = 2000
# Sections of the attention list: one in the parent keeps the channel readable; the
# thread's continuation messages hold more each, far below the block limit.
PARENT_LIST_SECTIONS = 1
CONTINUATION_LIST_SECTIONS = 10
# How much of one FMC's data a single line may show.
NAME_LIMIT = 80
DETAIL_LIMIT = 160
MESSAGE_LIMIT = 500
ELLIPSIS = "…"

STATUS_EMOJI: Mapping[Status, str] = {
    Status.OK: ":white_check_mark:",
    Status.WARNING: ":warning:",
    Status.CRITICAL: ":red_circle:",
    Status.EXPIRED: ":x:",
    Status.UNKNOWN: ":grey_question:",
    Status.AT_RISK: ":large_orange_diamond:",
}
# Worst first: expired, critical, could-not-check, warning, at risk, ok.
_SEVERITY: Mapping[Status, int] = {
    Status.EXPIRED: 0,
    Status.CRITICAL: 1,
    Status.UNKNOWN: 2,
    Status.WARNING: 3,
    Status.AT_RISK: 4,
    Status.OK: 5,
}
_STATE_EMOJI: Mapping[str, str] = {
    ProgressState.STARTED: ":hourglass_flowing_sand:",
    ProgressState.WAITING: ":hourglass_flowing_sand:",
    ProgressState.OK: ":white_check_mark:",
    ProgressState.SKIPPED: ":fast_forward:",
    ProgressState.FAILED: ":x:",
}
_RUN_EMOJI: Mapping[RunStatus, str] = {
    RunStatus.RUNNING: ":gear:",
    RunStatus.RENEWED: ":white_check_mark:",
    RunStatus.NOT_RENEWED: ":warning:",
    RunStatus.FAILED: ":x:",
    RunStatus.INTERRUPTED: ":octagonal_sign:",
}
_ACTION_LABEL: Mapping[str, str] = {
    Action.VDB_UPDATE: "VDB update",
    Action.RESTART: "restart",
    Action.UPGRADE: "upgrade",
    Action.INVESTIGATE: "investigation",
    Action.NONE: "no action",
}
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,20}", re.ASCII)
_SLACK_ACTOR = re.compile(r"slack:([UW][A-Z0-9]{1,20})", re.ASCII)


@dataclass(frozen=True, slots=True)
class Message:
    """One Slack message: ``text`` is the notification fallback, ``blocks`` the layout."""

    text: str
    blocks: tuple[dict[str, Any], ...]

    def as_kwargs(self) -> dict[str, Any]:
        """``text`` and ``blocks`` ready for ``chat.postMessage`` / ``chat.update``."""
        return {"text": self.text, "blocks": list(self.blocks)}


# ---------------------------------------------------------------- text helpers


def escape(text: str) -> str:
    """Text from an FMC or a user, safe in mrkdwn: ``&``, ``<`` and ``>`` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ESCAPED_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,20})&gt;", re.ASCII)


def with_mentions(text: str) -> str:
    """fmccert's own wording, escaped, with its user mentions (``<@U…>``) kept as mentions.

    Only for text fmccert composed (its refusal reasons, a closed request's reason): text
    from an FMC or a user goes through :func:`escape` alone, so it can mention nobody.
    """
    return _ESCAPED_MENTION.sub(r"<@\1>", escape(text))


def _clip(mrkdwn: str, limit: int) -> str:
    """Cut escaped mrkdwn to ``limit`` characters without splitting an entity or a token."""
    if len(mrkdwn) <= limit:
        return mrkdwn
    cut = mrkdwn[: max(0, limit - len(ELLIPSIS))]
    amp = cut.rfind("&")
    if amp >= 0 and ";" not in cut[amp:]:
        cut = cut[:amp]  # half an entity (&am) would show as text
    opening = cut.rfind("<")
    if opening > cut.rfind(">"):
        cut = cut[:opening]  # half a mention (<@U12) would show as text
    return cut + ELLIPSIS


def _text(raw: str, limit: int) -> str:
    """User or FMC data, escaped and cut to ``limit`` escaped characters."""
    # Cutting the raw text first keeps a 10 MB error message cheap to escape.
    return _clip(escape(raw[: limit + 1]), limit)


def _own_text(raw: str, limit: int) -> str:
    """fmccert's own wording, escaped with its mentions kept, cut to ``limit`` characters."""
    return _clip(with_mentions(raw[: limit + 1]), limit)


def _oneline(raw: str, limit: int) -> str:
    """Like :func:`_text`, on one line (for list items)."""
    return _text(" ".join(raw[: limit * 2].split()), limit)


def _name(raw: str) -> str:
    return _oneline(raw, NAME_LIMIT) or "(no name)"


def _code_block(raw: str, limit: int) -> str:
    """The tail of ``raw`` (where errors are) in a code block of at most ``limit`` chars."""
    # A ``` inside the output would end the block early.
    body = escape(raw[-(limit * 2) :].replace("```", "'''")).strip("\n")
    budget = limit - len("```\n\n```") - len(ELLIPSIS) - 1
    if len(body) > budget:
        tail = body[-budget:]
        newline = tail.find("\n")
        if 0 <= newline < len(tail) - 1:
            tail = tail[newline + 1 :]  # start at a line start
        else:
            semi = tail.find(";")
            if 0 <= semi < 5 and "&" not in tail[:semi]:
                tail = tail[semi + 1 :]  # drop the end of a cut entity
        body = f"{ELLIPSIS}\n{tail}"
    return f"```\n{body or ' '}\n```"


def _plain(text: str, limit: int) -> str:
    """fmccert's own wording for a plain_text object, cut to ``limit``."""
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)] + ELLIPSIS


def _plain_safe(text: str) -> str:
    """Caller text for a plain_text object: one line, no ``<``/``>`` that could look like markup."""
    return " ".join(text.replace("<", "").replace(">", "").split())


def _utc(moment: datetime | None) -> str:
    if moment is None:
        return "unknown"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _age(moment: datetime, now: datetime) -> str:
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _days_phrase(days: int | None) -> str:
    if days is None:
        return "expiry unknown"
    if days < 0:
        return f"expired {_plural(-days, 'day')} ago"
    if days == 0:
        return "expires within a day"
    return f"expires in {_plural(days, 'day')}"


def _who(user: str | None) -> str:
    """A Slack user id as a mention; anything else (``system:scan``) as escaped text."""
    if user is None:
        return "someone"
    if _USER_ID.fullmatch(user):
        return f"<@{user}>"
    actor = _SLACK_ACTOR.fullmatch(user)
    if actor:
        return f"<@{actor.group(1)}>"
    if user.startswith("system"):
        return "fmccert (scheduled)"
    return _oneline(user, NAME_LIMIT)


def _action_label(action: str) -> str:
    return _ACTION_LABEL.get(action) or _plain(_plain_safe(action), 40)


def _status_of(raw: str) -> Status:
    try:
        return Status(raw)
    except ValueError:
        return Status.UNKNOWN


# ---------------------------------------------------------------- block helpers


def _md(text: str, limit: int = SECTION_TEXT_LIMIT) -> MarkdownTextObject:
    return MarkdownTextObject(text=_clip(text, limit))


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=_md(text))


def _fields(pairs: Iterable[tuple[str, str]]) -> SectionBlock:
    """A section of ``*label*\\nvalue`` fields (at most ten); values are mrkdwn."""
    fields = [_md(f"*{label}*\n{value}", FIELD_TEXT_LIMIT) for label, value in pairs]
    return SectionBlock(fields=fields[:MAX_FIELDS])


def _context(*parts: str) -> ContextBlock:
    return ContextBlock(elements=[_md(part, CONTEXT_TEXT_LIMIT) for part in parts[:10]])


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=_plain(text, HEADER_TEXT_LIMIT), emoji=True))


def _message(text: str, blocks: Sequence[Block | dict[str, Any]]) -> Message:
    """Convert (and so validate) the blocks; at most 50 of them."""
    converted = tuple(block if isinstance(block, dict) else block.to_dict() for block in blocks)
    if len(converted) > MAX_BLOCKS:
        raise ValueError(f"{len(converted)} blocks; Slack takes at most {MAX_BLOCKS}")
    return Message(text=_clip(text, FALLBACK_TEXT_LIMIT) or " ", blocks=converted)


def _lines_to_sections(lines: Sequence[str]) -> list[str]:
    """Pack lines into section texts of at most 3000 characters, never splitting a line."""
    sections: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = _clip(line, SECTION_TEXT_LIMIT)
        extra = len(line) + (1 if current else 0)
        if current and size + extra > SECTION_TEXT_LIMIT:
            sections.append("\n".join(current))
            current, size = [], 0
            extra = len(line)
        current.append(line)
        size += extra
    if current:
        sections.append("\n".join(current))
    return sections


# ---------------------------------------------------------------- findings


def _worst_first(findings: Iterable[Finding]) -> list[Finding]:
    def key(finding: Finding) -> tuple[int, int, str]:
        days = finding.days_left if finding.days_left is not None else 1_000_000
        return (_SEVERITY[finding.status], days, finding.name)

    return sorted(findings, key=key)


def _release(finding: Finding) -> str:
    version, build = finding.facts.version, finding.facts.build
    if not version:
        return "unknown"
    return _oneline(f"{version}-{build}" if build else version, 60)


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
        target = _oneline(finding.upgrade_to, 40) if finding.upgrade_to else "a fixed release"
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
    step = f", step {_oneline(error.step, 40)}" if error.step else ""
    return f"{_oneline(error.kind, 40)}{step}: {_text(error.message, MESSAGE_LIMIT)}"


def _attention_line(finding: Finding) -> str:
    """One compact line per FMC for lists: emoji, name, status, expiry, release, fix."""
    parts = [
        f"{STATUS_EMOJI[finding.status]} *{_name(finding.name)}*{_kind_tag(finding)} "
        f"{finding.status.value}",
    ]
    if finding.days_left is not None:
        parts.append(_days_phrase(finding.days_left))
    if finding.facts.version:
        parts.append(_release(finding))
    if finding.facts.vdb_build is not None:
        parts.append(f"VDB {finding.facts.vdb_build}")
    if finding.action is not Action.NONE:
        fix = finding.action.value
        if finding.action is Action.UPGRADE and finding.upgrade_to:
            fix += f" to {_oneline(finding.upgrade_to, 20)}"
        parts.append(f"fix: {fix}")
    if finding.error is not None:
        detail = f"{finding.error.kind}: {finding.error.message}"
        parts.append(_oneline(detail, DETAIL_LIMIT))
    return " · ".join(parts)


def _finding_fields(finding: Finding) -> SectionBlock:
    cert = finding.facts.certificate
    days = "unknown" if finding.days_left is None else str(finding.days_left)
    pairs = [
        ("Status", f"{STATUS_EMOJI[finding.status]} {finding.status.value}"),
        ("Days left", days),
        ("Expires", _utc(cert.not_after) if cert else "unknown"),
        ("Release", _release(finding)),
        ("VDB build", _vdb(finding)),
        ("Affected by CSCwo63951", _affected(finding)),
    ]
    if finding.upgrade_to:
        pairs.append(("Fixed in", _oneline(finding.upgrade_to, 40)))
    if finding.kind is DeviceKind.FTD:
        pairs.append(("Device", "FTD managed by FDM (FN74284)"))
    return _fields(pairs)


def _finding_blocks(finding: Finding) -> list[Block]:
    """Title, facts, fix and (when unknown) the error of one FMC: at most four blocks."""
    host = f" ({_oneline(finding.host, NAME_LIMIT)})" if finding.host else ""
    title = (
        f"{STATUS_EMOJI[finding.status]} *{_name(finding.name)}*{_kind_tag(finding)}{host}: "
        f"*{finding.status.value}*, {_days_phrase(finding.days_left)}"
    )
    blocks: list[Block] = [_section(title), _finding_fields(finding)]
    blocks.append(_section(f"*Recommended fix:* {fix_in_words(finding)}"))
    error = _error_text(finding)
    if error is not None:
        blocks.append(_section(f"*Could not check:* {error}"))
    return blocks


def _finding_fallback(finding: Finding) -> str:
    text = (
        f"{_name(finding.name)}{_kind_tag(finding)}: {finding.status.value}, "
        f"{_days_phrase(finding.days_left)}"
    )
    if finding.action is not Action.NONE:
        text += f"; fix: {finding.action.value}"
    return text


# ---------------------------------------------------------------- buttons


def _decision_actions(approval_id: int, action: str, label: str | None) -> ActionsBlock:
    """Approve (primary, with a confirm dialog) and Deny (danger); values carry only the id."""
    wanted = _plain_safe(label) if label else ""
    shown = _plain(wanted or _action_label(action), BUTTON_TEXT_LIMIT - len("Approve "))
    if action == Action.VDB_UPDATE:
        warning = f"{SNORT_NOTICE} Approve only in a maintenance window that allows it."
    elif action == Action.RESTART:
        warning = (
            "Running the site's restart command may interrupt services on the FMC; "
            "if it restarts Snort on managed devices, traffic inspection is interrupted."
        )
    else:
        warning = "This runs a fix on the FMC. It may restart Snort and interrupt inspection."
    value = approval_value(approval_id)
    approve = ButtonElement(
        text=PlainTextObject(text=f"Approve {shown}", emoji=True),
        action_id=APPROVE_ACTION,
        value=value,
        style="primary",
        confirm=ConfirmObject(
            title=_plain(f"Approve {shown}?", 100),
            text=PlainTextObject(text=_plain(warning, 300)),
            confirm="Approve",
            deny="Cancel",
        ),
    )
    deny = ButtonElement(
        text=PlainTextObject(text="Deny", emoji=True),
        action_id=DENY_ACTION,
        value=value,
        style="danger",
    )
    return ActionsBlock(block_id=DECISION_BLOCK, elements=[approve, deny])


# ---------------------------------------------------------------- scans


def _counts(statuses: Iterable[Status]) -> Counter[Status]:
    return Counter(statuses)


def _count_fields(counts: Counter[Status]) -> SectionBlock:
    # at_risk only comes from REST reads: shown when some FMC has it.
    shown = [s for s in Status if s is not Status.AT_RISK or counts[s]]
    return _fields(
        (f"{STATUS_EMOJI[status]} {status.value}", str(counts[status])) for status in shown
    )


def build_scan_messages(report: ScanReport, *, title: str, now: datetime) -> list[Message]:
    """The parent of a scan's thread, then continuation lists when the fleet is large."""
    findings = report.findings
    attention = _worst_first(f for f in findings if needs_attention(f))
    counts = _counts(f.status for f in findings)
    total = len(findings)
    if attention:
        severe = counts[Status.CRITICAL] + counts[Status.EXPIRED]
        emoji = ":rotating_light:" if severe else ":warning:"
        verb = "needs" if len(attention) == 1 else "need"
        summary = f"{_plural(len(attention), 'FMC')} {verb} attention"
    elif total:
        emoji = ":white_check_mark:"
        summary = "all FMCs healthy" if total != 1 else "1 FMC healthy"
        if total > 1:
            summary = f"all {total} FMCs healthy"
    else:
        emoji, summary = ":grey_question:", "no FMCs checked"
    # The header is plain_text (never parsed for mentions); the fallback is mrkdwn.
    headline = f"{emoji} {_plain_safe(title)}: {summary}"
    safe_title = _oneline(title, 100)
    breakdown = ", ".join(f"{counts[s]} {s.value}" for s in Status if counts[s])
    context = (
        f"{_plural(total, 'FMC')} checked · finished {_utc(report.finished_at)} "
        f"({_age(report.finished_at, now)}) · took {_duration(report.duration_seconds)}"
    )
    sections = _lines_to_sections([_attention_line(f) for f in attention])
    parent_sections = sections[:PARENT_LIST_SECTIONS]
    rest = sections[PARENT_LIST_SECTIONS:]
    blocks: list[Block] = [_header(headline), _count_fields(counts), _context(context)]
    if parent_sections:
        blocks.append(DividerBlock())
        blocks.append(_section("*Needs attention, worst first:*"))
        blocks += [_section(text) for text in parent_sections]
    if rest:
        shown = sum(text.count("\n") + 1 for text in parent_sections)
        blocks.append(_context(f"…and {len(attention) - shown} more in the thread."))
    text = f"{emoji} {safe_title}: {summary}" + (f" ({breakdown})" if breakdown else "")
    messages = [_message(text, blocks)]
    chunks = [
        rest[i : i + CONTINUATION_LIST_SECTIONS]
        for i in range(0, len(rest), CONTINUATION_LIST_SECTIONS)
    ]
    for number, chunk in enumerate(chunks, start=2):
        part = f"{number}/{len(chunks) + 1}"
        more: list[Block] = [_context(f"{safe_title}: needs attention, part {part}")]
        more += [_section(text) for text in chunk]
        messages.append(_message(f"{safe_title}: FMCs needing attention, part {part}", more))
    return messages


# ---------------------------------------------------------------- one FMC


def build_finding_reply(
    finding: Finding, *, approval_id: int | None, action_label: str | None = None
) -> Message:
    """One thread reply per FMC needing attention; with Approve/Deny when a fix can run."""
    blocks: list[Block] = _finding_blocks(finding)
    checked = f"Checked {_utc(finding.checked_at)}"
    if approval_id is not None:
        if finding.action is Action.VDB_UPDATE:
            checked += f" · {SNORT_NOTICE}"
        blocks.append(_context(checked))
        blocks.append(_decision_actions(approval_id, finding.action.value, action_label))
    else:
        blocks.append(_context(checked))
    return _message(_finding_fallback(finding), blocks)


def build_check_results(findings: Sequence[Finding], *, now: datetime) -> Message:
    """The answer to ``/fmccert check NAME``: one FMC in full, or a few (the rest listed)."""
    if not findings:
        return build_error("No FMC was checked.")
    ordered = _worst_first(findings)
    shown, listed = ordered[:8], ordered[8:]  # 8 x (4 blocks + divider) stays under 50
    blocks: list[Block] = []
    for index, finding in enumerate(shown):
        if index:
            blocks.append(DividerBlock())
        blocks += _finding_blocks(finding)
    if listed:
        sections = _lines_to_sections([_attention_line(f) for f in listed])
        blocks.append(_section(sections[0]))
        if len(sections) > 1:
            omitted = len(listed) - (sections[0].count("\n") + 1)
            blocks.append(_context(f"…and {omitted} more; use /fmccert scan for a fleet."))
    newest = max(f.checked_at for f in findings)
    blocks.append(_context(f"Checked {_utc(newest)} ({_age(newest, now)})"))
    if len(findings) == 1:
        text = _finding_fallback(findings[0])
    else:
        counts = _counts(f.status for f in findings)
        text = f"{_plural(len(findings), 'FMC')} checked: " + ", ".join(
            f"{counts[s]} {s.value}" for s in Status if counts[s]
        )
    return _message(text, blocks)


# ---------------------------------------------------------------- approvals


def _plan_text(plan: Plan, max_steps: int = 12) -> str:
    lines = [f"*Plan:* {_plural(len(plan.steps), 'step')}"]
    for index, step in enumerate(plan.steps[:max_steps], start=1):
        lines.append(f"{index}. *{_oneline(step.name, 40)}*: {_oneline(step.description, 200)}")
    if len(plan.steps) > max_steps:
        lines.append(f"…and {len(plan.steps) - max_steps} more steps")
    if plan.package is not None:
        package = plan.package
        lines.append(
            f"Package: {_oneline(package.name, 120)} (VDB build {package.build}, "
            f"{package.size:,} bytes, sha256 `{package.sha256[:16]}…`)"
        )
    return "\n".join(lines)


def build_approval_request(
    *,
    fmc: str,
    action: str,
    requested_by: str,
    approval_id: int,
    plan: Plan,
    expires_at: datetime,
    finding: Finding | None,
) -> Message:
    """What ``/fmccert remediate NAME`` posts: who asks, the FMC, the plan, the buttons."""
    label = _action_label(action)
    blocks: list[Block] = [
        _header(f":lock: Approval needed: {label}"),
        _section(f"{_who(requested_by)} asks to run *{_oneline(action, 40)}* on *{_name(fmc)}*."),
    ]
    if finding is not None:
        blocks.append(_finding_fields(finding))
    blocks.append(_section(_plan_text(plan)))
    blocks.append(_section(f":warning: {_text(plan.notice, 1000)}"))
    blocks.append(
        _context(
            f"Request #{approval_id} · expires {_utc(expires_at)} · "
            "only fmccert approvers can decide"
        )
    )
    blocks.append(_decision_actions(approval_id, action, None))
    text = f"Approval needed: {label} on {_name(fmc)} (asked by {_who(requested_by)})"
    return _message(text, blocks)


def decision_line(request: ApprovalRequest, *, now: datetime) -> str:
    """One mrkdwn line: how a request was decided or closed (or that it still waits)."""
    when = request.decided_at
    if request.status is ApprovalStatus.APPROVED:
        return f":white_check_mark: Approved by {_who(request.decided_by)} at {_utc(when)}"
    if request.status is ApprovalStatus.DENIED:
        return f":no_entry: Denied by {_who(request.decided_by)} at {_utc(when)}"
    if request.status is ApprovalStatus.EXPIRED:
        return f":hourglass: Expired at {_utc(when or min(request.expires_at, now))}"
    if request.status is ApprovalStatus.CLOSED:
        # Closed reasons are fmccert's own wording (names from the config, user ids).
        reason = _own_text(request.closed_reason or "no reason given", 1500)
        return f":no_entry_sign: Request #{request.id} closed at {_utc(when)}: {reason}"
    return f":hourglass_flowing_sand: Waiting for a decision (as of {_utc(now)})"


def _is_decision_block(block: Mapping[str, Any]) -> bool:
    if block.get("block_id") == DECISION_BLOCK:
        return True
    # Messages stored before the block had an id: any actions block with Approve/Deny.
    elements = block.get("elements") if block.get("type") == "actions" else None
    return any(
        isinstance(element, Mapping) and element.get("action_id") in (APPROVE_ACTION, DENY_ACTION)
        for element in elements or ()
    )


def build_decided(original: Message | None, *, request: ApprovalRequest, now: datetime) -> Message:
    """The request message once decided or closed: Approve/Deny gone, what happened appended.

    Other buttons (an incident's Snooze) stay.
    """
    decided = ContextBlock(
        block_id=DECIDED_BLOCK,
        elements=[_md(decision_line(request, now=now), CONTEXT_TEXT_LIMIT)],
    )
    what = f"{_oneline(request.action, 40)} on {_name(request.fmc)}"
    if original is None:
        kept: list[dict[str, Any]] = [_section(f"Request #{request.id}: {what}").to_dict()]
        text = f"Request #{request.id}: {what}"
    else:
        kept = [
            dict(block)
            for block in original.blocks
            if not _is_decision_block(block) and block.get("block_id") != DECIDED_BLOCK
        ]
        text = original.text
    # The decided line goes before trailing buttons (Snooze), where it reads naturally.
    tail: list[dict[str, Any]] = []
    while kept and kept[-1].get("type") == "actions":
        tail.insert(0, kept.pop())
    kept = kept[: MAX_BLOCKS - 1 - len(tail)]
    suffix = f" ({request.status.value})"
    return _message(text if text.endswith(suffix) else f"{text}{suffix}", [*kept, decided, *tail])


# ---------------------------------------------------------------- remediation runs


def build_progress(
    event: ProgressEvent, *, fmc: str, action: str, steps_done: Sequence[tuple[str, str]]
) -> Message:
    """A run's checklist, edited in place: finished steps, then the current one."""
    lines: list[str] = []
    done = list(steps_done)[-30:]  # a checklist, not a log
    current_listed = False
    for name, state in done:
        emoji = _STATE_EMOJI.get(state, ":white_small_square:")
        line = f"{emoji} {_oneline(name, 60)}"
        if name == event.step:
            current_listed = True
            line = f"{_STATE_EMOJI.get(event.state, emoji)} *{_oneline(name, 60)}*"
            if event.message:
                line += f": {_oneline(event.message, MESSAGE_LIMIT)}"
        lines.append(line)
    if not current_listed:
        line = f"{_STATE_EMOJI.get(event.state, ':gear:')} *{_oneline(event.step, 60)}*"
        if event.message:
            line += f": {_oneline(event.message, MESSAGE_LIMIT)}"
        lines.append(line)
    if event.total and event.index < event.total:
        lines.append(f":white_small_square: {_plural(event.total - event.index, 'more step')}")
    position = f"step {event.index} of {event.total}" if event.total else "starting"
    title = f":gear: *{_oneline(action, 40)}* on *{_name(fmc)}* (run #{event.run_id}): {position}"
    blocks: list[Block] = [_section(title), _section("\n".join(lines))]
    text = (
        f"{_oneline(action, 40)} on {_name(fmc)}: {position}, "
        f"{_oneline(event.step, 60)} {event.state.value}"
    )
    return _message(text, blocks)


def build_interrupted(run: RemediationRun) -> Message:
    """A run the sweep found dead: say so where its progress stopped, and what to do."""
    fmc, action = _name(run.fmc), _oneline(run.action, 40)
    why = _text(run.summary or "the process running it stopped", 1000)
    text = (
        f":warning: *{action}* on *{fmc}* (run #{run.id}) was interrupted: {why}. "
        f"The FMC may be part-way through it: check it with `/fmccert check {fmc}`, "
        "then ask for the fix again if it is still needed."
    )
    return _message(text.replace("*", ""), [_section(text)])


def build_result(result: RemediationResult) -> Message:
    """The verified outcome of a run: renewed, not renewed, failed at a step, interrupted."""
    fmc, action = _name(result.fmc), _oneline(result.action, 40)
    emoji = _RUN_EMOJI.get(result.status, ":grey_question:")
    if result.status is RunStatus.RENEWED:
        headline = f"{emoji} *{fmc}*: the Talos certificate was renewed by *{action}*"
    elif result.status is RunStatus.NOT_RENEWED:
        headline = f"{emoji} *{fmc}*: *{action}* ran, but the certificate was not renewed"
    elif result.status is RunStatus.FAILED:
        step = _oneline(result.failed_step or "unknown", 60)
        headline = f"{emoji} *{fmc}*: *{action}* failed at step *{step}*"
    elif result.status is RunStatus.INTERRUPTED:
        headline = f"{emoji} *{fmc}*: *{action}* was interrupted; check the FMC first"
    else:
        headline = f"{emoji} *{fmc}*: *{action}* is {result.status.value}"
    blocks: list[Block] = [_section(headline)]
    blocks.append(
        _fields(
            [
                ("Old expiry", _utc(result.old_not_after)),
                ("New expiry", _utc(result.new_not_after)),
            ]
        )
    )
    if result.summary:
        blocks.append(_section(_text(result.summary, 2000)))
    if result.status is RunStatus.FAILED and result.step_output.strip():
        blocks.append(
            _section(f"*Output of the step (end):*\n{_code_block(result.step_output, 2900)}")
        )
    if result.next_steps:
        steps = [f"• {_oneline(step, 400)}" for step in result.next_steps[:10]]
        blocks.append(_section("*Next steps:*\n" + "\n".join(steps)))
    blocks.append(_context(f"Run #{result.run_id}"))
    text = f"{fmc}: {action} {result.status.value.replace('_', ' ')}"
    return _message(text, blocks)


# ---------------------------------------------------------------- fleet status, history


def build_status(
    latest: Sequence[StoredFinding],
    *,
    now: datetime,
    pending_approvals: int = 0,
    open_incidents: Sequence[tuple[str, str]] = (),
) -> Message:
    """The fleet from the last stored results (no SSH): counts, soonest expiries, incidents."""
    if not latest:
        return _message(
            "fmccert status: no results yet",
            [_section(":grey_question: No results yet. Run `/fmccert scan` to check the fleet.")],
        )
    counts = _counts(_status_of(stored.status) for stored in latest)
    expiring = sorted(
        ((moment, stored) for stored in latest if (moment := stored.not_after)),
        key=lambda pair: (pair[0], pair[1].fmc),
    )[:5]
    lines = []
    for moment, stored in expiring:
        emoji = STATUS_EMOJI[_status_of(stored.status)]
        lines.append(
            f"{emoji} *{_name(stored.fmc)}* {_utc(moment)} "
            f"({_days_phrase(days_until(moment, now))})"
        )
    newest = max(stored.checked_at for stored in latest)
    headline = f":bar_chart: fmccert status: {_plural(len(latest), 'FMC')}"
    blocks: list[Block] = [_header(headline), _count_fields(counts)]
    blocks.append(_section("*Soonest expiries:*\n" + ("\n".join(lines) or "none known")))
    if open_incidents:
        shown = [f"*{_name(fmc)}* ({_oneline(severity, 30)})" for fmc, severity in open_incidents]
        blocks.append(
            _section(_text(f"*Open incidents ({len(shown)}):* " + ", ".join(shown), 2900))
        )
    approvals = _plural(pending_approvals, "approval")
    blocks.append(
        _context(
            f"Last check {_utc(newest)} ({_age(newest, now)}) · {approvals} pending · "
            "from stored results; no FMC was contacted"
        )
    )
    text = f"{headline}: " + ", ".join(f"{counts[s]} {s.value}" for s in Status if counts[s])
    return _message(text, blocks)


def _detail_text(detail: Mapping[str, Any]) -> str:
    interesting = ("run_id", "status", "step", "reason", "approval_id", "action")
    parts = [f"{key} {detail[key]}" for key in interesting if detail.get(key) is not None]
    return _oneline(", ".join(parts), 120)


def build_history(fmc: str, runs: Sequence[RemediationRun], audit: Sequence[AuditEntry]) -> Message:
    """Past remediation runs and audit entries of one FMC, newest first, capped."""
    run_lines = []
    for run in sorted(runs, key=lambda r: r.started_at, reverse=True)[:10]:
        approved = f", approved by {_who(run.approved_by)}" if run.approved_by else ""
        line = (
            f"{_RUN_EMOJI.get(run.status, ':grey_question:')} #{run.id} "
            f"*{_oneline(run.action, 40)}* {run.status.value.replace('_', ' ')} · "
            f"{_utc(run.started_at)} · by {_who(run.requested_by)}{approved}"
        )
        if run.failed_step:
            line += f" · failed at {_oneline(run.failed_step, 60)}"
        if run.summary:
            line += f"\n      {_oneline(run.summary, 120)}"
        run_lines.append(line)
    audit_lines = [
        f"{_utc(entry.at)} · {_who(entry.actor)} · {_oneline(entry.action, 60)}"
        + (f" · {detail}" if (detail := _detail_text(entry.detail)) else "")
        for entry in sorted(audit, key=lambda e: e.at, reverse=True)[:15]
    ]
    blocks: list[Block] = [
        _section(f":scroll: *History of {_name(fmc)}*"),
        _section("*Remediation runs:*\n" + ("\n".join(run_lines) or "none yet")),
        _section("*Audit log:*\n" + ("\n".join(audit_lines) or "nothing recorded")),
    ]
    shown = min(len(runs), 10), min(len(audit), 15)
    if shown != (len(runs), len(audit)):
        blocks.append(
            _context(f"Showing {shown[0]} of {len(runs)} runs, {shown[1]} of {len(audit)} entries")
        )
    text = f"History of {_name(fmc)}: {_plural(len(runs), 'run')}"
    return _message(text, blocks)


# ---------------------------------------------------------------- small messages


HELP_VERBS: tuple[tuple[str, str], ...] = (
    ("help", "this message"),
    ("check NAME", "read one FMC's certificate now"),
    ("scan [TAG]", "check every FMC (or those tagged TAG), answers in a thread"),
    ("status", "the fleet from the last results, without contacting any FMC"),
    ("remediate NAME [ACTION]", "ask approvers to run a fix (vdb-update or restart)"),
    ("history NAME", "past fixes and audit entries of one FMC"),
)


def build_help(*, fmc_names: Sequence[str]) -> Message:
    """The verbs of ``/fmccert`` and the FMC names it knows."""
    verbs = "\n".join(f"`/fmccert {verb}`: {what}" for verb, what in HELP_VERBS)
    blocks: list[Block] = [
        _section(
            "*fmccert* checks and fixes FMC Talos client certificates "
            "(CSCwo63951: FMC 7.6.0/7.7.0 does not auto-renew).\n" + verbs
        )
    ]
    names, budget = [], CONTEXT_TEXT_LIMIT - 100
    for name in fmc_names:
        shown = _name(name)
        budget -= len(shown) + 2
        if budget < 0:
            break
        names.append(shown)
    listed = ", ".join(names)
    if len(names) < len(fmc_names):
        listed += f" …and {len(fmc_names) - len(names)} more"
    blocks.append(_context(f"FMCs: {listed}" if fmc_names else "No FMCs configured."))
    return _message("fmccert help: " + ", ".join(verb for verb, _ in HELP_VERBS), blocks)


def build_error(text: str, *, own_words: bool = False) -> Message:
    """A short error for the user; ``text`` may hold user input (then nobody is mentioned).

    ``own_words``: fmccert composed all of ``text``; its ``<@U…>`` mentions stay mentions.
    """
    safe = _own_text(text, 1000) if own_words else _text(text, 1000)
    return _message(safe, [_section(f":warning: {safe}")])


def build_working(text: str, *, by: str | None = None) -> Message:
    """A placeholder ("Checking fmc-east…") that is edited once the work is done.

    ``text`` may hold user input (escaped); ``by``, a user id, is mentioned in front.
    """
    safe = _text(text, 1000)
    if by is not None:
        safe = f"{_who(by)} {safe}"
    return _message(safe, [_section(f":hourglass_flowing_sand: {safe}")])


# ---------------------------------------------------------------- incidents


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
        text = f"{_oneline(finding.name, NAME_LIMIT)}: {line}".replace("*", "")
        blocks: list[Block | dict[str, Any]] = [_section(f"*{_name(finding.name)}*: {line}")]
        blocks.append(_context(f"Tried {_utc(finding.checked_at)}"))
    else:
        reply = build_finding_reply(finding, approval_id=None if resolved else approval_id)
        text = reply.text
        blocks = list(reply.blocks)
        if still_at_risk(finding) and not resolved:
            blocks.append(_context(_AT_RISK))
    if state_line:  # mrkdwn composed by the caller, user text in it already escaped
        blocks.append(_context(_clip(state_line, 1900)))
    if not resolved:
        snooze = ButtonElement(
            text=PlainTextObject(text="Snooze", emoji=True),
            action_id=SNOOZE_ACTION,
            value=incident_value(incident_id),
        )
        blocks.append(ActionsBlock(block_id=INCIDENT_BLOCK, elements=[snooze]))
    return _message(text, blocks)


_AT_RISK = f"Still at risk: the next renewal will fail again; update the VDB to {FIXED_VDB_BUILD}+."


def _hours_ago(moment: datetime, now: datetime | None) -> str:
    if now is None:
        return f"at {_utc(moment)}"
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
    kind = _oneline(error.kind, 40) if error else "unknown"
    message = _text(error.message, MESSAGE_LIMIT) if error else ""
    line = f"could not check: {kind} {message}".rstrip()
    if last_known is None:
        line += "; last known state: not known"
    else:
        cert = last_known.facts.certificate
        expires = f", expires {_utc(cert.not_after)}" if cert else ", expiry unknown"
        line += f"; last known state: *{last_known.status.value}*{expires}"
    if last_checked_at is not None:
        line += f" (last checked {_hours_ago(last_checked_at, now)})"
    else:
        line += " (never checked successfully)"
    return line


def build_incident_note(
    reason: str,
    finding: Finding,
    *,
    previous: str | None = None,
    last_known: Finding | None = None,
    last_checked_at: datetime | None = None,
    now: datetime | None = None,
) -> Message:
    """A short post in an incident's thread: a state change, a reminder or a resolution."""
    name = f"*{_name(finding.name)}*"
    status = finding.status.value
    expiry = _days_phrase(finding.days_left)
    resolved = " Incident resolved." if not needs_attention(finding) else ""
    if reason == "escalated":
        was = f" from {_oneline(previous, 40)}" if previous else ""
        text = f":arrow_double_up: {name} escalated{was} to *{status}*: {expiry}."
    elif reason == "reminder":
        text = (
            f":bell: {name} is still *{status}*: {expiry}. "
            "Approve the fix above, or snooze it with a reason."
        )
    elif reason == "could-not-check":
        line = _unchecked_line(finding, last_known, last_checked_at, now=now)
        text = f":warning: {name}: {line}."
    elif reason == "stale":
        since = (
            f"since {_utc(last_checked_at)} ({_hours_ago(last_checked_at, now)})"
            if last_checked_at is not None else "ever"
        )  # fmt: skip
        text = f":rotating_light: {name} has not been checked successfully {since}: *stale*."
    elif reason == "recovered":
        was = f" (it was {_oneline(previous, 40)})" if previous else ""
        text = f":white_check_mark: {name} answers again{was}: *{status}*, {expiry}.{resolved}"
    elif reason == "renewed":
        cert = finding.facts.certificate
        until = f" until {_utc(cert.not_after)}" if cert else ""
        text = f":white_check_mark: {name}: the certificate was renewed{until}.{resolved}"
    else:
        text = f":white_check_mark: {name} no longer needs attention. Incident resolved."
    if reason in ("renewed", "recovered") and still_at_risk(finding):
        text += f" {_AT_RISK}"
    return _message(text.replace("*", ""), [_section(text)])


def build_notice(text: str) -> Message:
    """A one-line notice from the bot itself (missed or skipped scheduled scans)."""
    return _message(text, [_section(f":alarm_clock: {_text(text, 2900)}")])


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
                    "text": f"Silence reminders and escalations for *{_name(fmc)}*.",
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


# ---------------------------------------------------------------- App Home

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
    counts = _counts(_status_of(stored.status) for stored in latest)
    ftds = sum(1 for stored in latest if _stored_kind(stored) is DeviceKind.FTD)
    fleet = _plural(len(latest) - ftds, "FMC") + (f", {_plural(ftds, 'FTD')}" if ftds else "")
    blocks: list[Block] = [_header(f":bar_chart: fmccert: {fleet}")]
    if not latest:
        blocks.append(_section("No results yet. Run `/fmccert scan` to check the fleet."))
    else:
        blocks.append(_count_fields(counts))
    expiring = sorted(
        ((moment, stored) for stored in latest if (moment := stored.not_after)),
        key=lambda pair: (pair[0], pair[1].fmc),
    )
    expiry_lines = [
        f"{STATUS_EMOJI[_status_of(stored.status)]} *{_name(stored.fmc)}*"
        f"{' (FTD)' if _stored_kind(stored) is DeviceKind.FTD else ''} {_utc(moment)} "
        f"({_days_phrase(days_until(moment, now))})"
        for moment, stored in expiring[:10]
    ]
    incident_lines = [
        f"*{_name(incident.fmc)}* {_oneline(incident.severity, 30)} "
        f"since {_utc(incident.opened_at)}"
        for incident in sorted(open_incidents, key=lambda i: (i.opened_at, i.fmc))
    ]
    approval_lines = [
        f"*{_name(request.fmc)}* {_action_label(request.action)}, asked by "
        f"{_who(request.requested_by)}, expires {_utc(request.expires_at)}"
        for request in sorted(pending_approvals, key=lambda r: (r.created_at, r.id))
    ]
    lists = (
        ("Soonest expiries", expiry_lines, "none known"),
        (f"Open incidents ({len(incident_lines)})", incident_lines, "none"),
        (f"Pending approvals ({len(approval_lines)})", approval_lines, "none"),
    )
    for title, lines, empty in lists:
        blocks.append(DividerBlock())
        sections = _lines_to_sections(_capped_lines(lines, empty))
        sections[0] = f"*{title}:*\n{sections[0]}"
        blocks.extend(_section(text) for text in sections)
    scanned = "No scan yet"
    if last_scan is not None:
        scanned = f"Last scan {_utc(last_scan)} ({_age(last_scan, now)})"
    blocks.append(
        _context(f"{scanned} · updated {_utc(now)} · from stored results; no FMC was contacted")
    )
    converted = [block.to_dict() for block in blocks]
    if len(converted) > MAX_HOME_BLOCKS:  # bounded above by the list caps; never expected
        raise ValueError(f"{len(converted)} blocks; App Home takes at most {MAX_HOME_BLOCKS}")
    return converted
