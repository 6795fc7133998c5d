"""The bot's voice in Slack: posts, edits and ephemerals through one paced Web API client.

Slack allows about one ``chat.postMessage`` a second per channel; the poster spaces its
own posts per channel instead of relying on 429s, and the client retries 429 (honouring
``Retry-After``) and server errors on top of that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import SlackError
from bot.slack.blocks import Message

if TYPE_CHECKING:
    from bot.metrics import Metrics

log = logging.getLogger("bot.slack")

API_TIMEOUT = 15  # seconds for one Web API call (before the retry handlers' retries)


def build_web_client(
    token: str, base_url: str | None, *, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """An AsyncWebClient that retries rate limits and server errors.

    Pass a long-lived ``session`` (the bot does): without one, slack-sdk opens a new
    connection for every call, which costs the event loop the acknowledgements need.
    """
    client = AsyncWebClient(
        token=token,
        base_url=base_url or AsyncWebClient.BASE_URL,
        timeout=API_TIMEOUT,
        session=session,
    )
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    client.retry_handlers.append(AsyncServerErrorRetryHandler(max_retry_count=2))
    return client


class Poster:
    """Posts and edits messages, pacing posts per channel; failures become SlackError."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        post_interval: float = 1.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.post_interval = post_interval
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_post: dict[str, float] = {}
        self._group_cache: dict[str, tuple[float, frozenset[str]]] = {}

    def _count_error(self, method: str, error: str) -> None:
        if self.metrics is not None:
            self.metrics.observe_slack_error(method, error)

    async def _call(self, method: str, **params: Any) -> dict[str, Any]:
        try:
            response = await self.client.api_call(method, json=params)
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown error") if exc.response else "error"
            self._count_error(method, str(error))
            raise SlackError(f"Slack refused {method}: {error}", error=str(error)) from None
        except (SlackClientError, OSError, TimeoutError) as exc:
            self._count_error(method, type(exc).__name__)
            raise SlackError(f"Slack {method} failed: {type(exc).__name__}: {exc}") from None
        data = response.data
        return data if isinstance(data, dict) else {}

    async def post(
        self,
        channel: str,
        message: Message,
        *,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
    ) -> str:
        """Post ``message`` (in a thread when ``thread_ts``); returns its ts."""
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            wait = self._last_post.get(channel, 0.0) + self.post_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            params: dict[str, Any] = {
                "channel": channel,
                "text": message.text,
                "blocks": list(message.blocks),
                "unfurl_links": False,
            }
            if thread_ts:
                params["thread_ts"] = thread_ts
                if reply_broadcast:
                    params["reply_broadcast"] = True
            try:
                data = await self._call("chat.postMessage", **params)
            finally:
                self._last_post[channel] = time.monotonic()
        return str(data.get("ts", ""))

    async def post_all(
        self, channel: str, messages: Sequence[Message], *, thread_ts: str | None = None
    ) -> list[str]:
        """Post several messages in order (e.g. a split fleet list)."""
        return [await self.post(channel, message, thread_ts=thread_ts) for message in messages]

    async def update(self, channel: str, ts: str, message: Message) -> None:
        """Edit a message the bot posted."""
        await self._call(
            "chat.update", channel=channel, ts=ts, text=message.text, blocks=list(message.blocks)
        )

    async def ephemeral(
        self, channel: str, user: str, message: Message, *, thread_ts: str | None = None
    ) -> None:
        """A message only ``user`` sees."""
        params: dict[str, Any] = {
            "channel": channel,
            "user": user,
            "text": message.text,
            "blocks": list(message.blocks),
        }
        if thread_ts:
            params["thread_ts"] = thread_ts
        await self._call("chat.postEphemeral", **params)

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        """Open a modal for the user whose click gave ``trigger_id`` (valid for 3 seconds)."""
        await self._call("views.open", trigger_id=trigger_id, view=view)

    async def publish_home(self, user: str, view: dict[str, Any]) -> None:
        """Publish ``user``'s App Home tab."""
        await self._call("views.publish", user_id=user, view=view)

    async def group_members(self, group: str, *, ttl: float = 300.0) -> frozenset[str]:
        """Members of a user group, cached for ``ttl`` seconds."""
        cached = self._group_cache.get(group)
        if cached is not None and time.monotonic() - cached[0] < ttl:
            return cached[1]
        try:
            response = await self.client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown error") if exc.response else "error"
            self._count_error("usergroups.users.list", str(error))
            raise SlackError(f"Slack refused usergroups.users.list: {error}") from None
        except (SlackClientError, OSError, TimeoutError) as exc:
            self._count_error("usergroups.users.list", type(exc).__name__)
            raise SlackError(f"usergroups.users.list failed: {exc}") from None
        members = frozenset(str(user) for user in response.get("users") or [])
        self._group_cache[group] = (time.monotonic(), members)
        return members
