"""Tests of the bot's Web API voice against the stand-in: pacing, errors, group cache."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest

from bot.errors import SlackError
from bot.lab.slack.server import SlackStandIn
from bot.slack.blocks import build_working
from bot.slack.poster import Poster, build_web_client


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandIn]:
    """A stand-in with one user group."""
    async with SlackStandIn(usergroups={"SNETSEC": ["U1", "U2"]}) as running:
        yield running


async def test_posts_are_paced_per_channel(standin: SlackStandIn) -> None:
    """Posts to one channel are spaced by the interval; another channel is not held up."""
    poster = Poster(build_web_client("xoxb-test", standin.base_url), post_interval=0.3)
    message = build_working("hello")
    await asyncio.gather(
        poster.post("CBUSY", message),
        poster.post("CBUSY", message),
        poster.post("CBUSY", message),
        poster.post("COTHER", message),
    )
    busy = [c.at for c in standin.calls_to("chat.postMessage") if c.params["channel"] == "CBUSY"]
    other = [c.at for c in standin.calls_to("chat.postMessage") if c.params["channel"] == "COTHER"]
    assert len(busy) == 3
    assert all(later - earlier >= 0.28 for earlier, later in itertools.pairwise(busy))
    assert other[0] < busy[-1]  # not queued behind the busy channel


async def test_refused_calls_become_slack_errors(standin: SlackStandIn) -> None:
    """Slack's `ok: false` answers become one-line SlackErrors naming the method and error."""
    poster = Poster(build_web_client("xoxb-test", standin.base_url), post_interval=0)
    with pytest.raises(SlackError, match=r"chat\.update: message_not_found"):
        await poster.update("C1", "1.000", build_working("edit"))


async def test_user_groups_are_cached(standin: SlackStandIn) -> None:
    """Group membership is read once and then served from the cache within the TTL."""
    poster = Poster(build_web_client("xoxb-test", standin.base_url))
    assert await poster.group_members("SNETSEC") == frozenset({"U1", "U2"})
    assert await poster.group_members("SNETSEC") == frozenset({"U1", "U2"})
    assert len(standin.calls_to("usergroups.users.list")) == 1
