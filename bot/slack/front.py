"""The HTTP front for `/fmccert`: Bolt's checks and answer without its generic dispatch.

A burst of slash commands is answered one after another by one event loop, so the cost of
each acknowledgement adds up; Bolt's dispatch (request object, middleware chain, argument
injection) is most of it. A `/fmccert` delivery gets exactly what Bolt would do for it:
the signature and timestamp checked (Bolt's own verifier and 401 answer), the delivery
labelled and other workspaces ignored (`admit`, the same function as Bolt's middleware), the
same answer (`acknowledge`, the same function as Bolt's listener), serialised by Bolt's
`AsyncAck`. Everything else (clicks, views, events, other commands) goes through Bolt.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

from bot.slack.app import admit
from bot.slack.commands import acknowledge
from bot.slack.context import BotContext

COMMAND = "/fmccert"


class CommandFront:
    """Answers signed `/fmccert` deliveries; anything else is left to Bolt."""

    def __init__(self, ctx: BotContext, *, signing_secret: str) -> None:
        self._ctx = ctx
        self._verifier = SignatureVerifier(signing_secret)

    async def answer(self, body: str, headers: Mapping[str, str]) -> BoltResponse | None:
        """The response to this delivery, or None when it is not a `/fmccert` command."""
        if body.startswith("{") or "payload=" in body or "command=" not in body:
            return None  # JSON events and interactive payloads: Bolt's
        form = dict(parse_qsl(body, keep_blank_values=True))
        if form.get("command") != COMMAND or "ssl_check" in form:
            return None
        timestamp = headers.get("X-Slack-Request-Timestamp", "0")
        signature = headers.get("X-Slack-Signature", "")
        if not self._verifier.is_valid(body, timestamp, signature):
            return BoltResponse(status=401, body={"error": "invalid request"})
        if not admit(self._ctx, form):
            return BoltResponse(status=200, body="")
        ack = AsyncAck()  # type: ignore[no-untyped-call]
        return await ack(**acknowledge(self._ctx, form))
