"""Every Slack message fmccert sends, built by pure functions (no I/O, no clock).

Blocks are built with ``slack_sdk.models.blocks`` and converted with ``to_dict()``, so
Slack's documented limits are checked offline. Text that comes from an FMC or a user
(names, error messages, command output) is escaped for mrkdwn (``& < >``) and cut to
fit, so no message can exceed a limit, mention a channel or break its formatting.
User data never goes into ``plain_text`` objects (headers, buttons): those carry only
fmccert's own wording.

One module per family of messages, on top of :mod:`~bot.slack.blocks.text` (escaping,
cutting, phrases), :mod:`~bot.slack.blocks.kit` (the message, blocks, buttons) and
:mod:`~bot.slack.blocks.status` (status emoji, order, counts). This package exports
what the rest of fmccert uses: ``from bot.slack import blocks`` then ``blocks.build_…``.
"""

from __future__ import annotations

from bot.slack.blocks.approvals import build_approval_request, build_decided, decision_line
from bot.slack.blocks.findings import build_check_results, build_finding_reply
from bot.slack.blocks.fleet import build_history, build_status
from bot.slack.blocks.home import MAX_HOME_BLOCKS, build_home
from bot.slack.blocks.incidents import build_incident, build_incident_note, build_snooze_modal
from bot.slack.blocks.kit import Message
from bot.slack.blocks.notices import build_error, build_help, build_notice, build_working
from bot.slack.blocks.runs import build_interrupted, build_progress, build_result
from bot.slack.blocks.scans import build_scan_messages
from bot.slack.blocks.text import escape

__all__ = [
    "MAX_HOME_BLOCKS",
    "Message",
    "build_approval_request",
    "build_check_results",
    "build_decided",
    "build_error",
    "build_finding_reply",
    "build_help",
    "build_history",
    "build_home",
    "build_incident",
    "build_incident_note",
    "build_interrupted",
    "build_notice",
    "build_progress",
    "build_result",
    "build_scan_messages",
    "build_snooze_modal",
    "build_status",
    "build_working",
    "decision_line",
    "escape",
]
