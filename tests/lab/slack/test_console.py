"""The console's JSON API over real HTTP, with the real bot on Socket Mode behind the stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from bot.lab.slack.console import ConsoleServer, ConsoleUser, attach_console, console_asset
from bot.lab.slack.payloads import find_action
from bot.lab.slack.server import SlackStandIn
from bot.lab.slack.workspace import StoredMessage
from bot.scheduling import schedules_from_config
from bot.slack.ids import (
    APPROVE_ACTION,
    SNOOZE_ACTION,
    SNOOZE_DURATION_ACTION,
    SNOOZE_DURATION_BLOCK,
    SNOOZE_REASON_ACTION,
    SNOOZE_REASON_BLOCK,
)
from bot.slack.runtime import SlackBot
from tests.support.slack_fixtures import APPROVER, CHANNEL, REQUESTER, STRANGER, Site, SiteFactory

SCHEDULE = {"scans": [{"cron": "0 6 * * *", "timezone": "UTC"}]}

USERS = [
    ConsoleUser(APPROVER, "alice", "approver"),
    ConsoleUser(REQUESTER, "bob", "requester"),
    ConsoleUser(STRANGER, "mallory", "not an approver"),
]


@pytest.fixture
async def console(standin: SlackStandIn) -> AsyncIterator[ConsoleServer]:
    """A running console on the test stand-in's alert channel."""
    async with ConsoleServer(standin, channel=CHANNEL, users=USERS, poll_timeout=5) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session."""
    async with aiohttp.ClientSession() as session:
        yield session


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(url) as response:
        return response.status, await response.json()


async def _post(http: aiohttp.ClientSession, url: str, body: object) -> tuple[int, dict[str, Any]]:
    async with http.post(url, json=body) as response:
        return response.status, await response.json()


def _reply_with_approve(standin: SlackStandIn, fmc: str) -> StoredMessage | None:
    for parent in standin.messages(CHANNEL):
        for reply in standin.thread(CHANNEL, parent.ts):
            if fmc in reply.text and find_action(reply.blocks, APPROVE_ACTION):
                return reply
    return None


async def test_page_and_assets_are_served_with_a_strict_policy(
    console: ConsoleServer, http: aiohttp.ClientSession
) -> None:
    """GET / serves the page, its script and style come from the package, nothing else does."""
    async with http.get(console.url) as response:
        assert response.status == 200
        assert "text/html" in response.headers["Content-Type"]
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert "console.js" in await response.text()
    async with http.get(console.url + "console/console.js") as response:
        assert response.status == 200
        assert (await response.read()) == console_asset("console.js")
    async with http.get(console.url + "console/secret.py") as response:
        assert response.status == 404


async def test_attach_console_serves_the_page_on_the_standin_port(
    standin: SlackStandIn, http: aiohttp.ClientSession
) -> None:
    """attach_console puts the page and API on the stand-in's port beside the Web API."""
    url = attach_console(standin, channel=CHANNEL, users=USERS)
    assert url == standin.origin + "/"
    async with http.get(url) as response:
        assert response.status == 200
    status, state = await _get(http, url + "console/api/state")
    assert status == 200
    assert state["user"] == APPROVER
    async with http.post(standin.base_url + "auth.test", data={"token": "xoxb-x"}) as response:
        assert (await response.json())["ok"] is True


async def test_state_long_poll_wakes_on_a_change(
    console: ConsoleServer, standin: SlackStandIn, http: aiohttp.ClientSession
) -> None:
    """A poll after the current revision waits and returns once a message is posted."""
    status, first = await _get(http, console.url + f"console/api/state?user={APPROVER}")
    assert status == 200
    assert first["messages"] == []
    assert [u["id"] for u in first["users"]] == [APPROVER, REQUESTER, STRANGER]
    poll = asyncio.create_task(
        _get(http, console.url + f"console/api/state?after={first['revision']}&user={APPROVER}")
    )
    await asyncio.sleep(0.2)
    assert not poll.done()
    stored = standin.workspace.post(StoredMessage(channel=CHANNEL, ts="1.000100", text="hi"))
    standin.workspace.post(
        StoredMessage(channel=CHANNEL, ts="1.000200", text="reply", thread_ts=stored.ts)
    )
    status, state = await asyncio.wait_for(poll, 5)
    assert status == 200
    assert state["revision"] > first["revision"]
    assert state["messages"][0]["text"] == "hi"
    status, state = await _get(http, console.url + f"console/api/state?user={APPROVER}")
    assert [r["text"] for r in state["messages"][0]["replies"]] == ["reply"]


async def test_command_click_and_home_reach_the_bot(
    site: Site, console: ConsoleServer, http: aiohttp.ClientSession
) -> None:
    """Command, approval click and App Home go over Socket Mode and their effects show."""
    await site.start_bot(socket_mode=True)
    await site.standin.wait_connected()
    fmc = site.names()["affected-760-warning"]

    status, body = await _post(
        http, console.url + "console/api/command", {"user": REQUESTER, "text": "/fmccert scan"}
    )
    assert status == 200
    assert body["ok"] is True
    reply = await site.standin.wait_for(lambda: _reply_with_approve(site.standin, fmc), 30)

    status, body = await _post(
        http,
        console.url + "console/api/click",
        {"user": APPROVER, "channel": CHANNEL, "ts": reply.ts, "action_id": APPROVE_ACTION},
    )
    assert status == 200

    def renewed() -> bool:
        return any(
            "renewed" in m.text.lower() and "not renewed" not in m.text.lower()
            for m in site.standin.thread(CHANNEL, reply.thread_ts or "")
        )

    await site.standin.wait_for(renewed, 60)
    status, state = await _get(http, console.url + f"console/api/state?user={APPROVER}")
    parent = next(m for m in state["messages"] if m["ts"] == reply.thread_ts)
    edited = next(r for r in parent["replies"] if r["ts"] == reply.ts)
    assert edited["edited"] is True
    assert f"Approved by <@{APPROVER}>" in str(edited["blocks"])

    status, body = await _post(http, console.url + "console/api/home", {"user": STRANGER})
    assert status == 200
    await site.standin.wait_for(lambda: site.standin.home_view(STRANGER), 10)
    status, state = await _get(http, console.url + f"console/api/state?user={STRANGER}")
    assert state["home"]["type"] == "home"


async def _incident_of_a_scheduled_scan(site: Site, bot: SlackBot) -> StoredMessage:
    """Run the site's schedule once now; return the incident reply carrying Snooze."""
    schedule = schedules_from_config(site.config())[0][0]
    await bot.scheduled_scan(schedule, datetime.now(UTC), False)
    await bot.tasks.wait_idle(60)

    def incident() -> StoredMessage | None:
        for parent in site.standin.messages(CHANNEL):
            for reply in site.standin.thread(CHANNEL, parent.ts):
                if find_action(reply.blocks, SNOOZE_ACTION):
                    return reply
        return None

    return await site.standin.wait_for(incident, 30)


async def test_snooze_dialog_is_the_clickers_and_submits_to_the_bot(
    site_factory: SiteFactory, console: ConsoleServer, http: aiohttp.ClientSession
) -> None:
    """Snooze's dialog is the clicker's; Cancel closes it, Submit shows errors or snoozes."""
    site = await site_factory(["affected-760-warning"], schedule=SCHEDULE)
    bot = await site.start_bot(socket_mode=True)
    await site.standin.wait_connected()
    incident = await _incident_of_a_scheduled_scan(site, bot)
    click = {"user": APPROVER, "channel": CHANNEL, "ts": incident.ts, "action_id": SNOOZE_ACTION}

    status, _ = await _post(http, console.url + "console/api/click", click)
    assert status == 200
    await site.standin.wait_for(lambda: site.standin.modal(APPROVER), 10)
    _, theirs = await _get(http, console.url + f"console/api/state?user={REQUESTER}")
    assert theirs["modal"] is None
    _, mine = await _get(http, console.url + f"console/api/state?user={APPROVER}")
    modal = mine["modal"]
    assert modal["view"]["title"]["text"] == "Snooze alerts"
    assert modal["errors"] == {}
    status, answer = await _post(
        http, console.url + "console/api/close", {"user": APPROVER, "view_id": modal["id"]}
    )
    assert (status, answer["closed"]) == (200, True)
    assert site.standin.modal(APPROVER) is None

    await _post(http, console.url + "console/api/click", click)
    opened = await site.standin.wait_for(lambda: site.standin.modal(APPROVER), 10)
    values = {
        SNOOZE_DURATION_BLOCK: {SNOOZE_DURATION_ACTION: "86400"},
        SNOOZE_REASON_BLOCK: {SNOOZE_REASON_ACTION: "   "},
    }
    submit = {"user": APPROVER, "view_id": opened.id, "values": values}
    status, answer = await _post(http, console.url + "console/api/submit", submit)
    assert status == 200
    assert answer["errors"] == {SNOOZE_REASON_BLOCK: "Say why."}
    _, mine = await _get(http, console.url + f"console/api/state?user={APPROVER}")
    assert mine["modal"]["errors"] == {SNOOZE_REASON_BLOCK: "Say why."}

    values[SNOOZE_REASON_BLOCK][SNOOZE_REASON_ACTION] = "change freeze"
    status, answer = await _post(http, console.url + "console/api/submit", submit)
    assert (status, answer["errors"]) == (200, None)
    await bot.tasks.wait_idle(30)
    edited = site.standin.workspace.find(CHANNEL, incident.ts)
    assert edited is not None
    assert f"Snoozed by <@{APPROVER}>" in str(edited.blocks)
    assert "change freeze" in str(edited.blocks)
    _, mine = await _get(http, console.url + f"console/api/state?user={APPROVER}")
    assert mine["modal"] is None
    status, answer = await _post(http, console.url + "console/api/submit", submit)
    assert status == 400
    assert answer["error"] == "that dialog is no longer open"


async def test_help_ack_shows_as_ephemeral_for_that_user_only(
    site: Site, console: ConsoleServer, http: aiohttp.ClientSession
) -> None:
    """The acknowledgement of /fmccert help is an ephemeral for the sender alone."""
    await site.start_bot(socket_mode=True)
    status, _ = await _post(
        http, console.url + "console/api/command", {"user": STRANGER, "text": "help"}
    )
    assert status == 200
    _, mine = await _get(http, console.url + f"console/api/state?user={STRANGER}")
    _, theirs = await _get(http, console.url + f"console/api/state?user={APPROVER}")
    assert any("remediate" in str(e) for e in mine["ephemerals"])
    assert theirs["ephemerals"] == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("command", {"user": "UNOBODY", "text": "scan"}),
        ("command", {"user": APPROVER, "text": 42}),
        ("command", {"user": APPROVER, "text": "/remind me"}),
        ("command", ["not", "an", "object"]),
        ("click", {"user": APPROVER, "channel": CHANNEL, "ts": "9.9", "action_id": "x"}),
        ("click", {"user": APPROVER, "channel": CHANNEL, "ts": "", "action_id": "x"}),
        ("home", {}),
        ("submit", {"user": APPROVER, "view_id": "V1", "values": {"b": {"a": 3}}}),
        ("submit", {"user": APPROVER, "view_id": "V1", "values": ["x"]}),
        ("submit", {"user": APPROVER, "view_id": "V1", "values": {}}),
        ("close", {"user": APPROVER}),
    ],
)
async def test_bad_input_is_a_400_json_error(
    console: ConsoleServer, http: aiohttp.ClientSession, path: str, body: object
) -> None:
    """Unknown users, wrong types, unknown messages and other commands get a 400 JSON error."""
    status, answer = await _post(http, console.url + f"console/api/{path}", body)
    assert status == 400
    assert answer["ok"] is False
    assert "Traceback" not in answer["error"]


async def test_unknown_button_and_non_json_bodies_are_refused(
    console: ConsoleServer, standin: SlackStandIn, http: aiohttp.ClientSession
) -> None:
    """A real message without that button, a form body and a bad revision are all 400."""
    standin.workspace.post(StoredMessage(channel=CHANNEL, ts="1.000100", text="plain"))
    status, _ = await _post(
        http,
        console.url + "console/api/click",
        {"user": APPROVER, "channel": CHANNEL, "ts": "1.000100", "action_id": APPROVE_ACTION},
    )
    assert status == 400
    async with http.post(console.url + "console/api/home", data={"user": APPROVER}) as response:
        assert response.status == 400
        assert (await response.json())["ok"] is False
    status, _ = await _get(http, console.url + "console/api/state?after=x")
    assert status == 400
    status, _ = await _get(http, console.url + "console/api/state?user=UNOBODY")
    assert status == 400


async def test_no_bot_connected_is_a_502_not_a_hang(
    standin: SlackStandIn, http: aiohttp.ClientSession
) -> None:
    """Without a connected bot, a command answers 502 with a readable error."""
    async with ConsoleServer(standin, channel=CHANNEL, users=USERS, action_timeout=0.3) as console:
        status, answer = await _post(
            http, console.url + "console/api/command", {"user": APPROVER, "text": "help"}
        )
    assert status == 502
    assert "bot did not answer" in answer["error"]
