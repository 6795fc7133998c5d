"""Text for Slack: escaping, cutting to a limit, and fmccert's small phrases.

Text that comes from an FMC or a user (names, error messages, command output) goes
through :func:`escape` (``& < >``) and is cut to fit, so it can mention nobody and break
no formatting. ``plain_text`` objects (headers, buttons) carry only fmccert's own wording.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from bot.core.advisory import Action

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
# How much of one FMC's data a single line may show.
NAME_LIMIT = 80
DETAIL_LIMIT = 160
MESSAGE_LIMIT = 500
ELLIPSIS = "…"

_ACTION_LABEL: Mapping[str, str] = {
    Action.VDB_UPDATE: "VDB update",
    Action.RESTART: "restart",
    Action.UPGRADE: "upgrade",
    Action.INVESTIGATE: "investigation",
    Action.NONE: "no action",
}
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,20}", re.ASCII)
_SLACK_ACTOR = re.compile(r"slack:([UW][A-Z0-9]{1,20})", re.ASCII)
_ESCAPED_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,20})&gt;", re.ASCII)


def escape(text: str) -> str:
    """Text from an FMC or a user, safe in mrkdwn: ``&``, ``<`` and ``>`` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def with_mentions(text: str) -> str:
    """fmccert's own wording, escaped, with its user mentions (``<@U…>``) kept as mentions.

    Only for text fmccert composed (its refusal reasons, a closed request's reason): text
    from an FMC or a user goes through :func:`escape` alone, so it can mention nobody.
    """
    return _ESCAPED_MENTION.sub(r"<@\1>", escape(text))


def clip(mrkdwn: str, limit: int) -> str:
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


def escaped_text(raw: str, limit: int) -> str:
    """User or FMC data, escaped and cut to ``limit`` escaped characters."""
    # Cutting the raw text first keeps a 10 MB error message cheap to escape.
    return clip(escape(raw[: limit + 1]), limit)


def own_text(raw: str, limit: int) -> str:
    """fmccert's own wording, escaped with its mentions kept, cut to ``limit`` characters."""
    return clip(with_mentions(raw[: limit + 1]), limit)


def oneline(raw: str, limit: int) -> str:
    """Like :func:`escaped_text`, on one line (for list items)."""
    return escaped_text(" ".join(raw[: limit * 2].split()), limit)


def device_name(raw: str) -> str:
    """An FMC's (or FTD's) name: escaped, on one line, bounded, never empty."""
    return oneline(raw, NAME_LIMIT) or "(no name)"


def code_block(raw: str, limit: int) -> str:
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


def plain(text: str, limit: int) -> str:
    """fmccert's own wording for a plain_text object, cut to ``limit``."""
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)] + ELLIPSIS


def plain_safe(text: str) -> str:
    """Caller text for a plain_text object: one line, no ``<``/``>`` that could look like markup."""
    return " ".join(text.replace("<", "").replace(">", "").split())


def utc(moment: datetime | None) -> str:
    if moment is None:
        return "unknown"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def age(moment: datetime, now: datetime) -> str:
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


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def days_phrase(days: int | None) -> str:
    if days is None:
        return "expiry unknown"
    if days < 0:
        return f"expired {plural(-days, 'day')} ago"
    if days == 0:
        return "expires within a day"
    return f"expires in {plural(days, 'day')}"


def who(user: str | None) -> str:
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
    return oneline(user, NAME_LIMIT)


def action_label(action: str) -> str:
    """A fix's name for a header or a button (plain text)."""
    return _ACTION_LABEL.get(action) or plain(plain_safe(action), 40)
