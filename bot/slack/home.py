"""The App Home tab: the fleet overview, published each time a user opens it.

Everything comes from the store (no SSH): the newest finding of each FMC, open incidents
and pending approvals. Publishing runs in a tracked task so the event is acknowledged at
once; a failure is logged (the user just sees the previous view). After each scheduled
scan the bot republishes the tab of everyone who ever opened it (kept in the database, so
the replica that scans knows the users another replica saw).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.errors import FmccertError
from bot.slack import blocks
from bot.slack.context import BotContext

log = logging.getLogger("bot.slack.home")


async def home_view(ctx: BotContext) -> dict[str, Any]:
    """The Home tab view built from the stored results."""
    fleet = await ctx.operations.overview()
    return {
        "type": "home",
        "blocks": blocks.build_home(
            fleet.latest,
            now=ctx.clock(),
            open_incidents=fleet.open_incidents,
            pending_approvals=fleet.pending_requests,
            last_scan=fleet.last_scan,
        ),
    }


async def publish_home(ctx: BotContext, user: str) -> None:
    """Publish ``user``'s Home tab; failures are logged, never raised."""
    try:
        await ctx.poster.publish_home(user, await home_view(ctx))
    except FmccertError as exc:
        log.warning("could not publish the App Home of %s: %s", user, exc)


async def refresh_homes(ctx: BotContext) -> None:
    """Republish the Home tab of every user who has opened it (after a scan)."""
    try:
        users = await ctx.operations.home_viewers()
    except FmccertError as exc:
        log.warning("could not read whose App Home to refresh: %s", exc)
        return
    if not users:
        return
    view = await home_view(ctx)
    for user in users:
        try:
            await ctx.poster.publish_home(user, view)
        except FmccertError as exc:
            log.warning("could not refresh the App Home of %s: %s", user, exc)


def register(app: AsyncApp, ctx: BotContext) -> None:
    """Register the ``app_home_opened`` listener."""

    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any]) -> None:
        user = str(event.get("user") or "")
        if not user or event.get("tab", "home") != "home":  # the Messages tab: nothing to do
            return
        ctx.tasks.spawn(_opened(ctx, user), name="home")


async def _opened(ctx: BotContext, user: str) -> None:
    """``user`` opened the tab: remember them for later refreshes, then publish it."""
    try:
        await ctx.operations.remember_home_viewer(user)
    except FmccertError as exc:
        log.warning("could not remember the App Home viewer %s: %s", user, exc)
    await publish_home(ctx, user)
