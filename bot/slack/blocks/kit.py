"""The Block Kit pieces every message is made of: the message itself, blocks, buttons.

Blocks are built with ``slack_sdk.models.blocks`` and converted with ``to_dict()``, so
Slack's documented limits are checked offline; every text is clipped to its limit first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.core.advisory import Action
from bot.remediation.plan import SNORT_NOTICE
from bot.slack.blocks.text import (
    BUTTON_TEXT_LIMIT,
    CONTEXT_TEXT_LIMIT,
    FALLBACK_TEXT_LIMIT,
    FIELD_TEXT_LIMIT,
    HEADER_TEXT_LIMIT,
    MAX_BLOCKS,
    MAX_FIELDS,
    SECTION_TEXT_LIMIT,
    action_label,
    clip,
    plain,
    plain_safe,
)
from bot.slack.ids import APPROVE_ACTION, DECISION_BLOCK, DENY_ACTION, approval_value


@dataclass(frozen=True, slots=True)
class Message:
    """One Slack message: ``text`` is the notification fallback, ``blocks`` the layout."""

    text: str
    blocks: tuple[dict[str, Any], ...]

    def as_kwargs(self) -> dict[str, Any]:
        """``text`` and ``blocks`` ready for ``chat.postMessage`` / ``chat.update``."""
        return {"text": self.text, "blocks": list(self.blocks)}


# ---------------------------------------------------------------- blocks


def md(text: str, limit: int = SECTION_TEXT_LIMIT) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, limit))


def section(text: str) -> SectionBlock:
    return SectionBlock(text=md(text))


def fields(pairs: Iterable[tuple[str, str]]) -> SectionBlock:
    """A section of ``*label*\\nvalue`` fields (at most ten); values are mrkdwn."""
    texts = [md(f"*{label}*\n{value}", FIELD_TEXT_LIMIT) for label, value in pairs]
    return SectionBlock(fields=texts[:MAX_FIELDS])


def context(*parts: str) -> ContextBlock:
    return ContextBlock(elements=[md(part, CONTEXT_TEXT_LIMIT) for part in parts[:10]])


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=plain(text, HEADER_TEXT_LIMIT), emoji=True))


def message(text: str, blocks: Sequence[Block | dict[str, Any]]) -> Message:
    """Convert (and so validate) the blocks; at most 50 of them."""
    converted = tuple(block if isinstance(block, dict) else block.to_dict() for block in blocks)
    if len(converted) > MAX_BLOCKS:
        raise ValueError(f"{len(converted)} blocks; Slack takes at most {MAX_BLOCKS}")
    return Message(text=clip(text, FALLBACK_TEXT_LIMIT) or " ", blocks=converted)


def lines_to_sections(lines: Sequence[str]) -> list[str]:
    """Pack lines into section texts of at most 3000 characters, never splitting a line."""
    sections: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = clip(line, SECTION_TEXT_LIMIT)
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


# ---------------------------------------------------------------- buttons


def decision_actions(approval_id: int, action: str, label: str | None) -> ActionsBlock:
    """Approve (primary, with a confirm dialog) and Deny (danger); values carry only the id."""
    wanted = plain_safe(label) if label else ""
    shown = plain(wanted or action_label(action), BUTTON_TEXT_LIMIT - len("Approve "))
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
            title=plain(f"Approve {shown}?", 100),
            text=PlainTextObject(text=plain(warning, 300)),
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
