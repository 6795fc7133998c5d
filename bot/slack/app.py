"""Assemble the Bolt AsyncApp: one module per Slack surface registers its listeners."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import REQUEST_ID
from bot.slack import actions, commands, home, snooze
from bot.slack.context import BotContext

log = logging.getLogger("bot.slack")


class _KnownNotices(logging.Filter):
    """Drop Bolt's notices that the token in the environment is unused: by design here.

    Bolt reads SLACK_BOT_TOKEN itself and warns when ``client`` and ``authorize`` are given,
    which is how the bot hands it the pooled client and the identity checked at start.
    """

    PREFIXES = ("As you gave `client` as well", "As `installation_store` or `authorize`")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.PREFIXES)


BOLT_LOG = logging.getLogger("bot.slack.bolt")
BOLT_LOG.addFilter(_KnownNotices())


def _team_of(body: Mapping[str, Any]) -> str | None:
    team = body.get("team_id") or (body.get("team") or {}).get("id")
    return str(team) if team else None


def _request_id(body: Mapping[str, Any]) -> str:
    """An id for one Slack delivery: its trigger or event id, else a fresh one."""
    for key in ("trigger_id", "event_id", "envelope_id"):
        if body.get(key):
            return str(body[key])
    return uuid.uuid4().hex[:16]


def admit(ctx: BotContext, body: Mapping[str, Any]) -> bool:
    """Label this delivery for the log; False for one from another workspace (ignored).

    The request id is set, not reset: Bolt runs the listener after the middleware chain
    returns, in this delivery's own task; tasks the listener spawns copy it with the context.
    """
    REQUEST_ID.set(_request_id(body))
    team = _team_of(body)
    if ctx.team_id and team and team != ctx.team_id:
        log.warning("ignoring a request from another workspace (%s)", team)
        return False
    return True


def build_app(
    ctx: BotContext, client: AsyncWebClient, *, signing_secret: str, identity: AuthorizeResult
) -> AsyncApp:
    """The bot: signature checks on (Bolt's default), listeners registered, other teams ignored.

    ``identity`` comes from the ``auth.test`` done at start-up. Bolt's own single-workspace
    authorization calls ``auth.test`` until its first answer is cached, so a burst of
    deliveries at start would each make that call before being acknowledged.
    """

    async def authorize() -> AuthorizeResult:
        return identity

    app = AsyncApp(
        client=client,
        authorize=authorize,
        signing_secret=signing_secret,
        logger=BOLT_LOG,
        # Every listener only acks and hands slow work to ctx.tasks, so it returns at once:
        # answering when it returns spares Bolt's poll for the ack (10 ms sleeps a request).
        process_before_response=True,
    )

    # One middleware, not two: each costs Bolt an argument-injection pass per request.
    @app.middleware
    async def label_and_filter(
        body: dict[str, Any],
        next: Callable[[], Awaitable[BoltResponse]],  # Bolt passes it by this name
    ) -> BoltResponse | None:
        if not admit(ctx, body):
            return BoltResponse(status=200, body="")
        return await next()

    commands.register(app, ctx)
    actions.register(app, ctx)
    snooze.register(app, ctx)
    home.register(app, ctx)
    return app
