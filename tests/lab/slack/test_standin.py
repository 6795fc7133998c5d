"""The Slack stand-in, driven by the real slack-sdk over loopback HTTP and websockets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.lab.slack.payloads import (
    block_actions_payload,
    encode_form,
    interactive_form,
    slash_command_form,
)
from bot.lab.slack.server import SlackStandIn
from bot.lab.slack.workspace import BOT_ID, BOT_USER_ID, Workspace

CHANNEL = "C0CERTS"
ALICE = "UALICE"
SECRET = "test-signing-secret"
BUTTONS: list[dict[str, Any]] = [
    {"type": "section", "block_id": "b1", "text": {"type": "mrkdwn", "text": "FMC fmc1"}},
    {
        "type": "actions",
        "block_id": "b2",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "value": "plan-7",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Approve"},
            }
        ],
    },
]


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandIn]:
    """A started stand-in with one user group."""
    async with SlackStandIn(usergroups={"S0APPROVERS": [ALICE, "UBOB"]}) as s:
        yield s


@pytest.fixture
def client(standin: SlackStandIn) -> AsyncWebClient:
    """A real slack-sdk Web API client pointed at the stand-in."""
    return AsyncWebClient(token="xoxb-test", base_url=standin.base_url)


@pytest.fixture
async def signed_endpoint() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A loopback endpoint that checks Slack signatures like Bolt does and keeps the bodies."""
    verifier = SignatureVerifier(SECRET)
    seen: list[dict[str, str]] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.text()
        ts = request.headers.get("X-Slack-Request-Timestamp")
        sig = request.headers.get("X-Slack-Signature")
        if not verifier.is_valid(body=body, timestamp=ts, signature=sig):
            return web.Response(status=401, text="invalid signature")
        seen.append({k: v[0] for k, v in parse_qs(body).items()})
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/slack/events", seen
    await runner.cleanup()


async def connect_socket_client(
    standin: SlackStandIn, ack_payload: dict[str, Any] | None = None
) -> tuple[SocketModeClient, list[SocketModeRequest], list[dict[str, Any]]]:
    """Connect slack-sdk's aiohttp Socket Mode client; it acks every request it gets."""
    web_client = AsyncWebClient(base_url=standin.base_url)
    sm = SocketModeClient(app_token="xapp-test", web_client=web_client, ping_interval=1)
    requests: list[SocketModeRequest] = []
    messages: list[dict[str, Any]] = []

    async def on_request(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        requests.append(req)
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=ack_payload)
        )

    async def on_message(
        client: AsyncBaseSocketModeClient, message: dict[str, Any], raw: str | None
    ) -> None:
        messages.append(message)

    sm.socket_mode_request_listeners.append(on_request)
    sm.message_listeners.append(on_message)
    await sm.connect()  # type: ignore[no-untyped-call]  # slack-sdk leaves connect() unannotated
    await standin.wait_connected(5)
    return sm, requests, messages


async def test_auth_test_answers_bot_identity(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    """auth.test answers the bot's user and bot ids and records the bearer token."""
    resp = await client.auth_test()
    assert resp["user_id"] == BOT_USER_ID
    assert resp["bot_id"] == BOT_ID
    assert resp["team_id"] == "T0001"
    [call] = standin.calls_to("auth.test")
    assert call.token == "xoxb-test"


async def test_post_thread_and_update_are_modelled(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    """A parent, a thread reply and an edit show up in messages() and thread()."""
    parent = await client.chat_postMessage(channel=CHANNEL, text="scan started", blocks=BUTTONS)
    reply = await client.chat_postMessage(channel=CHANNEL, text="fmc1 ok", thread_ts=parent["ts"])
    await client.chat_update(channel=CHANNEL, ts=parent["ts"], text="scan finished")

    assert float(reply["ts"]) > float(parent["ts"])
    assert parent["message"]["user"] == BOT_USER_ID
    [top] = standin.messages(CHANNEL)
    assert (top.ts, top.text, top.edits) == (parent["ts"], "scan finished", 1)
    assert top.blocks == BUTTONS  # chat.update without blocks keeps them
    assert [m.text for m in standin.thread(CHANNEL, parent["ts"])] == ["fmc1 ok"]
    assert standin.calls_to("chat.postMessage")[0].params["blocks"] == BUTTONS


async def test_update_of_unknown_message_fails(client: AsyncWebClient) -> None:
    """chat.update of a ts that was never posted answers message_not_found."""
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel=CHANNEL, ts="1.000001", text="x")
    assert err.value.response["error"] == "message_not_found"


async def test_rate_limit_is_retried_after_retry_after(standin: SlackStandIn) -> None:
    """A 429 with Retry-After: 1 is retried by the SDK's rate-limit handler a second later."""
    client = AsyncWebClient(
        token="xoxb-test",
        base_url=standin.base_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    standin.fail_next("chat.postMessage")
    resp = await client.chat_postMessage(channel=CHANNEL, text="hi")
    first, second = standin.calls_to("chat.postMessage")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0
    assert [m.ts for m in standin.messages(CHANNEL)] == [resp["ts"]]


async def test_server_error_is_retried(standin: SlackStandIn) -> None:
    """A programmed 503 is retried by the SDK's server-error handler."""
    client = AsyncWebClient(
        token="xoxb-test",
        base_url=standin.base_url,
        retry_handlers=[AsyncServerErrorRetryHandler(max_retry_count=1)],
    )
    standin.fail_next("auth.test", status=503, error="service_unavailable", retry_after=None)
    await client.auth_test()
    assert [c.status for c in standin.calls_to("auth.test")] == [503, 200]


async def test_usergroups_ephemeral_and_home(standin: SlackStandIn, client: AsyncWebClient) -> None:
    """usergroups.users.list, chat.postEphemeral and views.publish answer and are modelled."""
    users = await client.usergroups_users_list(usergroup="S0APPROVERS")
    assert users["users"] == [ALICE, "UBOB"]
    with pytest.raises(SlackApiError):
        await client.usergroups_users_list(usergroup="S0NOPE")
    eph = await client.chat_postEphemeral(channel=CHANNEL, user=ALICE, text="only you")
    [shown] = standin.ephemerals(ALICE)
    assert (shown.ts, shown.text) == (eph["message_ts"], "only you")
    assert standin.ephemerals("UBOB") == []
    view = {"type": "home", "blocks": BUTTONS[:1]}
    published = await client.views_publish(user_id=ALICE, view=view)
    assert published["view"]["type"] == "home"
    assert standin.home_view(ALICE) == published["view"]


async def test_response_url_applies_respond_bodies(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    """Ephemeral, in-channel and replace_original responses land where Slack shows them."""
    posted = await client.chat_postMessage(channel=CHANNEL, text="approve?", blocks=BUTTONS)
    url = standin.response_url(channel=CHANNEL, user_id=ALICE, message_ts=posted["ts"])
    hook = AsyncWebhookClient(url)
    await hook.send(text="working on it")
    await hook.send(text="approved by alice", response_type="in_channel")
    await hook.send(text="approved", blocks=[], replace_original=True)

    assert [m.text for m in standin.ephemerals(ALICE)] == ["working on it"]
    texts = [(m.text, m.blocks) for m in standin.messages(CHANNEL)]
    assert texts == [("approved", []), ("approved by alice", [])]
    assert [r.body.get("response_type") for r in standin.responses] == [None, "in_channel", None]


async def test_signed_post_passes_signature_check(
    standin: SlackStandIn, signed_endpoint: tuple[str, list[dict[str, str]]]
) -> None:
    """post_signed signs so that SignatureVerifier accepts it, and a wrong secret is refused."""
    url, seen = signed_endpoint
    form = slash_command_form(
        text="scan all", user_id=ALICE, channel_id=CHANNEL, response_url="http://x/r"
    )
    status, _, elapsed = await standin.post_signed(url, encode_form(form), secret=SECRET)
    assert status == 200
    assert elapsed >= 0
    assert seen == [form]
    bad, _, _ = await standin.post_signed(url, encode_form(form), secret="wrong")
    assert bad == 401


async def test_block_actions_form_carries_json_payload(
    standin: SlackStandIn, signed_endpoint: tuple[str, list[dict[str, str]]]
) -> None:
    """A click goes over HTTP as a signed payload=<json> form field with the clicked button."""
    url, seen = signed_endpoint
    message = {"ts": "1700000000.000100", "text": "approve?", "blocks": BUTTONS}
    payload = block_actions_payload(
        user_id=ALICE,
        action_id="approve",
        value="plan-7",
        channel_id=CHANNEL,
        message=message,
        response_url=standin.response_url(channel=CHANNEL, user_id=ALICE),
    )
    status, _, _ = await standin.post_signed(url, interactive_form(payload), secret=SECRET)
    assert status == 200
    sent = json.loads(seen[0]["payload"])
    assert sent["type"] == "block_actions"
    assert sent["user"]["id"] == ALICE
    assert sent["container"]["message_ts"] == message["ts"]
    assert sent["actions"][0]["value"] == "plan-7"


async def test_socket_mode_client_connects_and_acks(standin: SlackStandIn) -> None:
    """slack-sdk's Socket Mode client connects via apps.connections.open, gets hello, acks."""
    sm, requests, messages = await connect_socket_client(standin, {"text": "got it"})
    try:
        assert standin.calls_to("apps.connections.open")[0].token == "xapp-test"
        hello = await standin.wait_for(lambda: next(iter(messages), None))
        assert hello["type"] == "hello"
        assert hello["num_connections"] == 1
        ack = await standin.send_envelope("events_api", {"event": {"type": "x"}})
        assert ack["payload"] == {"text": "got it"}
        assert requests[0].type == "events_api"
        assert requests[0].retry_attempt == 0
    finally:
        await sm.close()  # type: ignore[no-untyped-call]  # unannotated in slack-sdk
    await standin.wait_for(lambda: standin.connections == 0)


async def test_run_command_shows_the_ack_text(standin: SlackStandIn) -> None:
    """A slash command's ack text appears as an ephemeral message to the person who typed it."""
    sm, requests, _ = await connect_socket_client(standin, {"text": "Scanning 3 FMCs"})
    try:
        await standin.run_command("scan all", user_id=ALICE, channel_id=CHANNEL)
        assert requests[0].payload["command"] == "/fmccert"
        assert requests[0].accepts_response_payload is True
        assert [m.text for m in standin.ephemerals(ALICE)] == ["Scanning 3 FMCs"]
    finally:
        await sm.close()  # type: ignore[no-untyped-call]  # unannotated in slack-sdk


async def test_click_sends_block_actions_for_the_button(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    """click() delivers block_actions naming the button, its value and the message."""
    sm, requests, _ = await connect_socket_client(standin)
    try:
        await client.chat_postMessage(channel=CHANNEL, text="approve?", blocks=BUTTONS)
        [message] = standin.messages(CHANNEL)
        await standin.click(message, "approve", user_id=ALICE)
        payload = requests[0].payload
        assert payload["actions"][0]["action_id"] == "approve"
        assert payload["actions"][0]["value"] == "plan-7"
        assert payload["actions"][0]["block_id"] == "b2"
        assert payload["message"]["ts"] == message.ts
        with pytest.raises(LookupError):
            await standin.click(message, "nope", user_id=ALICE)
    finally:
        await sm.close()  # type: ignore[no-untyped-call]  # unannotated in slack-sdk


async def test_send_envelope_without_ack_times_out(standin: SlackStandIn) -> None:
    """An envelope nobody acks raises TimeoutError, as does sending with no client at all."""
    with pytest.raises(TimeoutError):
        await standin.send_envelope("events_api", {}, timeout=0.2)


async def test_wait_for_reports_last_state(standin: SlackStandIn, client: AsyncWebClient) -> None:
    """wait_for returns the first truthy value and otherwise times out describing the state."""
    await client.chat_postMessage(channel=CHANNEL, text="one")
    found = await standin.wait_for(lambda: standin.messages(CHANNEL))
    assert found[0].text == "one"
    with pytest.raises(TimeoutError, match=r"chat\.postMessage"):
        await standin.wait_for(lambda: standin.calls_to("views.publish"), timeout=0.05)


async def test_wrong_token_types_and_reset(standin: SlackStandIn, client: AsyncWebClient) -> None:
    """apps.connections.open needs an xapp- token, and reset() forgets calls and messages."""
    with pytest.raises(SlackApiError) as err:
        await client.apps_connections_open(app_token="xoxb-test")
    assert err.value.response["error"] == "not_allowed_token_type"
    await client.chat_postMessage(channel=CHANNEL, text="one")
    standin.reset()
    assert standin.calls == []
    assert standin.messages(CHANNEL) == []


async def test_workspace_revision_wakes_waiters(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    """wait_changed returns as soon as a post bumps the workspace revision."""
    before = standin.workspace.revision
    waiter = asyncio.create_task(standin.workspace.wait_changed(before, timeout=5))
    await client.chat_postMessage(channel=CHANNEL, text="one")
    assert await waiter > before
    assert await standin.workspace.wait_changed(standin.workspace.revision, timeout=0.01) == (
        standin.workspace.revision
    )


def test_ts_is_the_unix_time_of_the_post() -> None:
    """A ts is the clock's Unix time with microseconds; posts in one microsecond stay unique."""
    workspace = Workspace(clock=lambda: 1767225600.25)
    assert workspace.next_ts() == "1767225600.250000"
    assert workspace.next_ts() == "1767225600.250001"


async def test_posted_messages_carry_the_time_of_posting(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    """chat.postMessage answers a ts whose seconds are now, increasing from post to post."""
    first = await client.chat_postMessage(channel=CHANNEL, text="one")
    second = await client.chat_postMessage(channel=CHANNEL, text="two")
    assert abs(float(first["ts"]) - time.time()) < 5
    assert float(second["ts"]) > float(first["ts"])


MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "pause",
    "private_metadata": "incident:7",
    "title": {"type": "plain_text", "text": "Pause"},
    "submit": {"type": "plain_text", "text": "Pause"},
    "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "How long, and why?"}},
        {
            "type": "input",
            "block_id": "when",
            "label": {"type": "plain_text", "text": "For how long"},
            "element": {
                "type": "static_select",
                "action_id": "pick",
                "options": [
                    {"text": {"type": "plain_text", "text": "1 hour"}, "value": "3600"},
                    {"text": {"type": "plain_text", "text": "1 day"}, "value": "86400"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "why",
            "label": {"type": "plain_text", "text": "Why"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        },
    ],
}


async def _modal_app(standin: SlackStandIn) -> tuple[SocketModeClient, list[dict[str, Any]]]:
    """A Socket Mode app: a click opens MODAL; a submission without a reason gets an error."""
    web_client = AsyncWebClient(token="xoxb-test", base_url=standin.base_url)
    sm = SocketModeClient(
        app_token="xapp-test", web_client=AsyncWebClient(base_url=standin.base_url)
    )
    payloads: list[dict[str, Any]] = []

    async def on_request(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        payload = req.payload
        payloads.append(payload)
        answer = None
        if payload["type"] == "view_submission":
            why = payload["view"]["state"]["values"]["why"]["text"]["value"]
            if not why:
                answer = {"response_action": "errors", "errors": {"why": "Say why."}}
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=answer)
        )
        if payload["type"] == "block_actions":
            await web_client.views_open(trigger_id=payload["trigger_id"], view=MODAL)

    sm.socket_mode_request_listeners.append(on_request)
    await sm.connect()  # type: ignore[no-untyped-call]  # slack-sdk leaves connect() unannotated
    await standin.wait_connected(5)
    return sm, payloads


async def test_modal_opens_for_the_clicker_and_submits_its_state(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    """views.open with a click's trigger opens for the clicker; submit_view sends its state."""
    sm, payloads = await _modal_app(standin)
    try:
        await client.chat_postMessage(channel=CHANNEL, text="approve?", blocks=BUTTONS)
        [message] = standin.messages(CHANNEL)
        await standin.click(message, "approve", user_id=ALICE)
        modal = await standin.wait_for(lambda: standin.modal(ALICE))
        assert modal.view["callback_id"] == "pause"
        assert modal.id.startswith("V")
        assert standin.modal("UBOB") is None
        with pytest.raises(LookupError):
            await standin.submit_view("UBOB", {"why": {"text": "x"}})
        with pytest.raises(ValueError, match="not an option"):
            await standin.submit_view(ALICE, {"when": {"pick": "999"}})
        with pytest.raises(ValueError, match="no input"):
            await standin.submit_view(ALICE, {"where": {"pick": "3600"}})

        await standin.submit_view(ALICE, {"when": {"pick": "86400"}}, view_id=modal.id)
        submitted = payloads[-1]
        assert submitted["type"] == "view_submission"
        assert submitted["user"]["id"] == ALICE
        assert submitted["view"]["id"] == modal.id
        assert submitted["view"]["private_metadata"] == "incident:7"
        values = submitted["view"]["state"]["values"]
        assert values["when"]["pick"]["selected_option"]["value"] == "86400"
        assert values["why"]["text"] == {"type": "plain_text_input", "value": None}
        kept = standin.modal(ALICE)
        assert kept is not None
        assert kept.errors == {"why": "Say why."}
        assert kept.view["state"]["values"]["when"]["pick"]["selected_option"]["value"] == "86400"

        await standin.submit_view(ALICE, {"when": {"pick": "3600"}, "why": {"text": "freeze"}})
        assert payloads[-1]["view"]["state"]["values"]["why"]["text"]["value"] == "freeze"
        assert standin.modal(ALICE) is None
    finally:
        await sm.close()  # type: ignore[no-untyped-call]  # unannotated in slack-sdk


async def test_closing_a_modal_and_triggers_nobody_issued(
    standin: SlackStandIn, client: AsyncWebClient
) -> None:
    """close_view closes the user's modal; views.open with a foreign trigger opens for no one."""
    sm, _ = await _modal_app(standin)
    try:
        await client.chat_postMessage(channel=CHANNEL, text="approve?", blocks=BUTTONS)
        [message] = standin.messages(CHANNEL)
        await standin.click(message, "approve", user_id=ALICE)
        modal = await standin.wait_for(lambda: standin.modal(ALICE))
        assert standin.close_view(ALICE, view_id="VOTHER") is False
        assert standin.close_view(ALICE, view_id=modal.id) is True
        assert standin.modal(ALICE) is None
        assert standin.close_view(ALICE) is False

        opened = await client.views_open(trigger_id="1.2.3", view=MODAL)
        assert opened["view"]["id"].startswith("V")
        assert standin.workspace.modals == {}
        with pytest.raises(SlackApiError):
            await client.views_open(trigger_id="1.2.3", view={"type": "home", "blocks": []})
    finally:
        await sm.close()  # type: ignore[no-untyped-call]  # unannotated in slack-sdk
