"""The HTTP front for `/fmccert` (bot.slack.front) answers exactly as Bolt's listener does."""

from __future__ import annotations

import asyncio

from bot.lab.slack.payloads import encode_form
from bot.lab.slack.payloads import slash_command_form as form
from tests.support.slack_fixtures import CHANNEL, REQUESTER, SECRET, Site, ack_json


async def test_help_and_mistakes_are_answered_alike_over_http_and_socket_mode(
    site: Site,
) -> None:
    """The front (HTTP) and Bolt's listener (Socket Mode) give the same acknowledgement."""
    http_bot = await site.start_bot()
    over_http = {}
    for text in ("help", "chek lab-fmc-01", "check no-such-fmc"):
        status, body, _ = await site.command(http_bot, text)
        assert status == 200
        over_http[text] = ack_json(body)
    await http_bot.close()
    await site.start_bot(socket_mode=True)
    await site.standin.wait_connected()
    for text, answer in over_http.items():
        ack = await site.standin.run_command(text, user_id=REQUESTER, channel_id=CHANNEL)
        assert ack["payload"] == answer, text
    assert "remediate NAME" in str(over_http["help"])
    assert "did you mean" in over_http["chek lab-fmc-01"]["text"]


async def test_a_command_from_another_workspace_is_ignored_without_work(site: Site) -> None:
    """A validly signed `/fmccert` from another team is acknowledged empty and does nothing."""
    bot = await site.start_bot()
    body = encode_form(
        form(text="scan", user_id=REQUESTER, channel_id=CHANNEL, response_url="x", team_id="TOTHER")
    )
    status, text, _ = await site.standin.post_signed(site.url(bot), body, secret=SECRET)
    assert (status, text) == (200, "")
    await asyncio.sleep(0.3)
    assert bot.tasks.running == 0
    assert site.standin.calls_to("chat.postMessage") == []


async def test_other_slash_commands_are_left_to_bolt(site: Site) -> None:
    """A command the bot does not register gets Bolt's own answer (404), not the front's."""
    bot = await site.start_bot()
    body = encode_form(
        form(text="scan", user_id=REQUESTER, channel_id=CHANNEL, response_url="x", command="/other")
    )
    status, _, _ = await site.standin.post_signed(site.url(bot), body, secret=SECRET)
    assert status == 404
    assert site.standin.calls_to("chat.postMessage") == []
