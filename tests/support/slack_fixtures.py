"""Fixtures: a lab fleet, the Slack stand-in, and the real bot on a free loopback port.

``standin`` is a running stand-in for Slack; ``site_factory`` makes a ``Site`` (a lab
fleet with its config) whose bots point at it, and ``site`` is the default one. The
conftests of tests/slack and tests/lab/slack import them; tests import the constants and
helpers from here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import AppConfig, load_config
from bot.lab.scenarios import pick_scenarios
from bot.lab.server import RunningLab, start_lab
from bot.lab.slack.payloads import (
    block_actions_payload,
    encode_form,
    find_action,
    interactive_form,
    slash_command_form,
)
from bot.lab.slack.server import SlackStandIn
from bot.lab.slack.workspace import StoredMessage
from bot.secrets import Secret
from bot.slack.env import SlackEnv
from bot.slack.runtime import SWEEP_INTERVAL, SlackBot
from bot.storage.leadership import Leadership
from bot.storage.sql import open_store

SECRET = "test-signing-secret"
CHANNEL = "COPS"
APPROVER, GROUPIE, REQUESTER, STRANGER = "UAPPROVER", "UGROUPIE", "UREQUESTER", "USTRANGER"
SCENARIOS = ["healthy-742", "affected-760-warning", "affected-770-critical", "expires-today"]


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


@dataclass
class Site:
    """A lab fleet with its config (Slack section added) and helpers to run bots on it."""

    lab: RunningLab
    config_path: Path
    standin: SlackStandIn
    bots: list[SlackBot] = field(default_factory=list)

    def names(self) -> dict[str, str]:
        """Lab host names by scenario."""
        return {host.scenario.name: host.name for host in self.lab.hosts}

    def config(self) -> AppConfig:
        """The loaded config."""
        return load_config(self.config_path, {})

    async def start_bot(
        self,
        *,
        socket_mode: bool = False,
        clock: Callable[[], datetime] = utc_now,
        leadership: Leadership | None = None,
        sweep_interval: float = SWEEP_INTERVAL,
    ) -> SlackBot:
        """Start a real bot on this site's database, pointed at the stand-in."""
        config = self.config()
        store = await open_store(config.storage_url, base_dir=config.base_dir)
        env = SlackEnv(
            bot_token=Secret("xoxb-test"),
            app_token=Secret("xapp-test") if socket_mode else None,
            signing_secret=Secret(SECRET),
            api_url=self.standin.base_url,
        )
        bot = SlackBot(
            config, store, env, clock=clock, port=0, post_interval=0.05, progress_interval=0.1,
            leadership=leadership, sweep_interval=sweep_interval,
        )  # fmt: skip
        await bot.start()
        self.bots.append(bot)
        return bot

    async def stop_bot(self, bot: SlackBot) -> None:
        """Close a bot and its store."""
        await bot.close()
        await bot.store.close()
        self.bots.remove(bot)

    def url(self, bot: SlackBot, path: str = "/slack/events") -> str:
        """An address on the bot's HTTP server."""
        return f"http://127.0.0.1:{bot.port}{path}"

    async def command(
        self, bot: SlackBot, text: str, *, user: str = REQUESTER, channel: str = CHANNEL
    ) -> tuple[int, str, float]:
        """Send `/fmccert TEXT` to the bot as a signed HTTP request, as Slack does."""
        form = slash_command_form(
            text=text,
            user_id=user,
            channel_id=channel,
            response_url=self.standin.response_url(channel=channel, user_id=user),
        )
        return await self.standin.post_signed(self.url(bot), encode_form(form), secret=SECRET)

    async def click(
        self, bot: SlackBot, message: StoredMessage, action_id: str, *, user: str
    ) -> tuple[int, str, float]:
        """Click a button of a stored message as a signed HTTP request, as Slack does."""
        found = find_action(message.blocks, action_id)
        assert found is not None, f"no {action_id} button in {message.text!r}"
        block_id, element = found
        payload = block_actions_payload(
            user_id=user,
            action_id=action_id,
            value=element.get("value"),
            block_id=block_id,
            channel_id=message.channel,
            message=message.to_payload(),
            response_url=self.standin.response_url(channel=message.channel, user_id=user),
        )
        return await self.standin.post_signed(
            self.url(bot), interactive_form(payload), secret=SECRET
        )


def slack_section(**changes: Any) -> dict[str, Any]:
    """The test workspace's slack: section."""
    section = {
        "alert_channel": CHANNEL,
        "approvers": [APPROVER, REQUESTER],
        "approver_groups": ["SNETSEC"],
        "command_channels": [],
        "two_person_rule": True,
        "approval_ttl_hours": 24,
    }
    section.update(changes)
    return section


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandIn]:
    """A running Slack stand-in whose user group SNETSEC holds UGROUPIE."""
    async with SlackStandIn(usergroups={"SNETSEC": [GROUPIE]}) as running:
        yield running


SiteFactory = Callable[..., Awaitable[Site]]


@pytest.fixture
async def site_factory(
    tmp_path: Path, standin: SlackStandIn
) -> AsyncIterator[Callable[..., Awaitable[Site]]]:
    """Make a Site from scenario names and slack-section changes; everything closes after."""
    made: list[Site] = []

    async def make(
        scenarios: list[str] = SCENARIOS,
        *,
        schedule: dict[str, Any] | None = None,
        access: str = "ssh",
        **slack: Any,
    ) -> Site:
        lab = await start_lab(
            pick_scenarios(len(scenarios), scenarios), now=utc_now(), install_delay=0.3,
            rest=access != "ssh",
        )  # fmt: skip
        path = tmp_path / f"site{len(made)}" / "fmccert.yaml"
        lab.write_config(path, connect_timeout=3, command_timeout=5, host_timeout=60, access=access)
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["slack"] = slack_section(**slack)
        data["remediation"]["vdb_poll_interval_seconds"] = 0.1
        if schedule is not None:
            data["schedule"] = schedule
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        site = Site(lab, path, standin)
        made.append(site)
        return site

    try:
        yield make
    finally:
        for site in made:
            for bot in list(site.bots):
                await site.stop_bot(bot)
            await site.lab.close()


@pytest.fixture
async def site(site_factory: Callable[..., Awaitable[Site]]) -> Site:
    """The default site: four lab FMCs, approvers UAPPROVER/UREQUESTER and group SNETSEC."""
    return await site_factory()


def ack_json(text: str) -> dict[str, Any]:
    """An acknowledgement's body as JSON (Bolt sends a text-only ack as plain text)."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {"text": text}
    return data if isinstance(data, dict) else {"text": text}
