"""The Slack stand-in's model of a workspace: its identity, messages, threads and views.

:class:`Workspace` holds what a person would see in Slack: channel messages with their
thread replies, ephemeral messages (each shown to one person), the App Home view
published for each person and the modal open in each person's client
(:class:`OpenModal`). Messages are :class:`StoredMessage` snapshots, replaced on edit.
Every change bumps :attr:`Workspace.revision`, so a reader can wait for the next one.

Message timestamps (``ts``) are, as in Slack, the Unix time of the post with six
decimals, unique and increasing within the workspace.

The constants are the workspace's identity (team, app, bot user) shared by the server's
answers and the payloads Slack sends.
"""

# Waits take a ``timeout`` (like Slack's 3-second ack window), as the server's do.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "API_APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "TEAM_NAME",
    "OpenModal",
    "StoredMessage",
    "Workspace",
]

TEAM_ID = "T0001"
TEAM_NAME = "fmccert-test"
TEAM_DOMAIN = "fmccert-test"
API_APP_ID = "A0FMCCERT"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"

_TS_STEP_MICROS = 1


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A snapshot of one message in the model; ``ephemeral_to`` is set for ephemeral ones."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    user: str = BOT_USER_ID
    ephemeral_to: str | None = None
    reply_broadcast: bool = False
    edits: int = 0

    @property
    def is_reply(self) -> bool:
        """Whether the message is a reply inside a thread."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_payload(self) -> dict[str, Any]:
        """The message as Slack shows it to apps (``message`` in a block_actions payload)."""
        message: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "ts": self.ts,
            "text": self.text,
            "team": TEAM_ID,
            "blocks": copy.deepcopy(self.blocks),
        }
        if self.user == BOT_USER_ID:
            message["bot_id"] = BOT_ID
            message["app_id"] = API_APP_ID
        if self.thread_ts is not None:
            message["thread_ts"] = self.thread_ts
        return message


@dataclass(frozen=True, slots=True)
class OpenModal:
    """A modal open in one person's client: the view as Slack keeps it, and its field errors.

    ``view`` carries Slack's ``id`` and, after a submission, the ``state`` submitted;
    ``errors`` are the bot's ``response_action: errors`` by block id, shown under fields.
    """

    user: str
    view: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Slack's view id (``V...``)."""
        return str(self.view.get("id", ""))


class Workspace:
    """The mutable model: messages (with threads), ephemerals, App Home views, open modals."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._messages: dict[str, list[StoredMessage]] = {}
        self._ephemerals: list[StoredMessage] = []
        self.home_views: dict[str, dict[str, Any]] = {}
        self.modals: dict[str, OpenModal] = {}  # by user: the modal open in their client
        self._clock = clock
        self._ts_micros = 0
        self.revision = 0
        self._changed = asyncio.Event()

    def next_ts(self) -> str:
        """Issue a unique, increasing Slack timestamp: now, such as ``1767225600.000100``.

        As in Slack, the part before the dot is the Unix time of the post (clients show it
        as the message's time); posts within one microsecond get the next microsecond.
        """
        now = int(self._clock() * 1_000_000)
        self._ts_micros = max(now, self._ts_micros + _TS_STEP_MICROS)
        seconds, micros = divmod(self._ts_micros, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def touch(self) -> None:
        """Count a change and wake whoever waits for one."""
        self.revision += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_changed(self, after: int, timeout: float) -> int:
        """Wait until the revision passes ``after`` (or the timeout ends); return it."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.revision <= after:
                    await self._changed.wait()
        return self.revision

    def post(self, message: StoredMessage) -> StoredMessage:
        """Add a channel message or thread reply."""
        self._messages.setdefault(message.channel, []).append(message)
        self.touch()
        return message

    def post_ephemeral(self, message: StoredMessage) -> StoredMessage:
        """Add an ephemeral message, visible only to ``message.ephemeral_to``."""
        self._ephemerals.append(message)
        self.touch()
        return message

    def find(self, channel: str, ts: str) -> StoredMessage | None:
        """The channel message with this ts, if any."""
        return next((m for m in self._messages.get(channel, []) if m.ts == ts), None)

    def find_ephemeral(self, channel: str, ts: str, user: str) -> StoredMessage | None:
        """The ephemeral message with this ts shown to this user, if any."""
        return next(
            (
                m
                for m in self._ephemerals
                if m.channel == channel and m.ts == ts and m.ephemeral_to == user
            ),
            None,
        )

    def replace(self, old: StoredMessage, new: StoredMessage) -> StoredMessage:
        """Swap a stored message (channel or ephemeral) for its edited version."""
        store = self._ephemerals if old.ephemeral_to else self._messages[old.channel]
        store[store.index(old)] = new
        self.touch()
        return new

    def delete(self, message: StoredMessage) -> None:
        """Remove a stored message (channel or ephemeral)."""
        store = self._ephemerals if message.ephemeral_to else self._messages[message.channel]
        store.remove(message)
        self.touch()

    def show_modal(self, modal: OpenModal) -> None:
        """Open (or replace) the modal in ``modal.user``'s client."""
        self.modals[modal.user] = modal
        self.touch()

    def close_modal(self, user: str) -> OpenModal | None:
        """Close the modal open for ``user``, if any; return it."""
        modal = self.modals.pop(user, None)
        if modal is not None:
            self.touch()
        return modal

    def channels(self) -> list[str]:
        """Channels that hold messages, in order of first use."""
        return list(self._messages)

    def messages(self, channel: str) -> list[StoredMessage]:
        """Top-level messages of a channel in order, with replies sent to the channel too."""
        return [m for m in self._messages.get(channel, []) if not m.is_reply or m.reply_broadcast]

    def thread(self, channel: str, ts: str) -> list[StoredMessage]:
        """The replies in the thread whose parent has this ts (the parent excluded), in order."""
        return [m for m in self._messages.get(channel, []) if m.is_reply and m.thread_ts == ts]

    def ephemerals(self, user: str | None = None) -> list[StoredMessage]:
        """Ephemeral messages in order, optionally only those shown to one user."""
        return [m for m in self._ephemerals if user is None or m.ephemeral_to == user]

    def describe(self) -> str:
        """A short text summary of the model, for failure messages."""
        parts = [f"{ch}: {len(self.messages(ch))} top-level" for ch in self._messages]
        parts.append(f"{len(self._ephemerals)} ephemeral")
        parts.append(f"home views for {sorted(self.home_views)}")
        parts.append(f"modals open for {sorted(self.modals)}")
        return "; ".join(parts)
