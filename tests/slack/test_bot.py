"""The Slack bot end to end: signed HTTP and Socket Mode into the real app, the lab behind it.

Slack's servers are the one part replaced, by the local stand-in (bot.lab.slack.server).
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from bot.lab.slack.payloads import encode_form, find_action
from bot.lab.slack.payloads import slash_command_form as form
from bot.lab.slack.server import SlackStandIn
from bot.lab.slack.workspace import StoredMessage
from bot.slack.ids import APPROVE_ACTION, DENY_ACTION
from tests.support.slack_fixtures import (
    APPROVER,
    CHANNEL,
    GROUPIE,
    REQUESTER,
    SECRET,
    STRANGER,
    Site,
    SiteFactory,
    ack_json,
)


async def _parent_done(standin: SlackStandIn, contains: str, wait: float = 30) -> StoredMessage:
    """The top-level message whose text contains ``contains`` once it appears."""

    def find() -> StoredMessage | None:
        for message in standin.messages(CHANNEL):
            if contains in message.text:
                return message
        return None

    return await standin.wait_for(find, timeout=wait)


async def _button_reply(standin: SlackStandIn, parent: StoredMessage, fmc: str) -> StoredMessage:
    def find() -> StoredMessage | None:
        for reply in standin.thread(CHANNEL, parent.ts):
            if fmc in reply.text and find_action(reply.blocks, APPROVE_ACTION):
                return reply
        return None

    return await standin.wait_for(find, timeout=30)


async def _scan(site: Site, bot: object) -> StoredMessage:
    status, _, _ = await site.command(bot, "scan")  # type: ignore[arg-type]
    assert status == 200
    return await _parent_done(site.standin, "need attention")


async def test_healthz_help_and_unknown_names(site: Site) -> None:
    """/healthz is up; help and mistakes are answered in the acknowledgement itself."""
    bot = await site.start_bot()
    async with aiohttp.ClientSession() as session, session.get(site.url(bot, "/healthz")) as r:
        assert r.status == 200
        assert (await r.json())["ok"] is True
    status, body, _ = await site.command(bot, "help")
    assert status == 200
    assert "remediate NAME" in str(ack_json(body))
    status, body, _ = await site.command(bot, "check lab-fmc-1")
    assert status == 200
    assert "did you mean `lab-fmc-01`" in ack_json(body)["text"]
    assert site.standin.calls_to("chat.postMessage") == []


async def test_forged_or_stale_requests_get_401_and_do_nothing(site: Site) -> None:
    """A wrong signature or a timestamp older than five minutes is refused with 401."""
    bot = await site.start_bot()
    body = encode_form(form(text="scan", user_id=APPROVER, channel_id=CHANNEL, response_url="x"))
    forged = await site.standin.post_signed(site.url(bot), body, secret="not-the-secret")
    stale = await site.standin.post_signed(
        site.url(bot), body, secret=SECRET, timestamp=int(time.time()) - 6 * 60
    )
    assert forged[0] == 401
    assert stale[0] == 401
    await asyncio.sleep(0.3)
    assert site.standin.calls_to("chat.postMessage") == []


async def test_check_answers_in_the_thread_it_created(site: Site) -> None:
    """/fmccert check posts a parent, edits it into results, and offers the fix in its thread."""
    bot = await site.start_bot()
    fmc = site.names()["affected-760-warning"]
    status, _, _ = await site.command(bot, f"check {fmc}")
    assert status == 200
    parent = await _parent_done(site.standin, fmc)
    await site.standin.wait_for(lambda: site.standin.thread(CHANNEL, parent.ts), timeout=30)
    reply = await _button_reply(site.standin, parent, fmc)
    assert "warning" in reply.text
    assert [s for s in site.standin.calls_to("chat.update")]


async def test_scan_alert_approve_renews_and_reports_in_thread(site: Site) -> None:
    """Scan -> alert with buttons -> approve -> VDB update -> certificate re-read in thread."""
    bot = await site.start_bot()
    fmc = site.names()["affected-760-warning"]
    parent = await _scan(site, bot)
    assert "need attention" in parent.text
    reply = await _button_reply(site.standin, parent, fmc)
    status, _, _ = await site.click(bot, reply, APPROVE_ACTION, user=APPROVER)
    assert status == 200

    def renewed() -> StoredMessage | None:
        return next(
            (m for m in site.standin.thread(CHANNEL, parent.ts) if "renewed" in m.text.lower()
             and "not renewed" not in m.text.lower()),
            None,
        )  # fmt: skip

    result = await site.standin.wait_for(renewed, timeout=60)
    assert site.lab.vdb_build(fmc) == 406
    edited = next(m for m in site.standin.thread(CHANNEL, parent.ts) if m.ts == reply.ts)
    assert find_action(edited.blocks, APPROVE_ACTION) is None  # buttons gone
    assert f"Approved by <@{APPROVER}>" in str(edited.blocks)
    assert "New" in str(result.blocks) or "new" in result.text
    audit = await bot.store.audit_log(fmc)
    actions = [entry.action for entry in audit]
    assert "approval.approved" in actions
    assert "remediation.finished" in actions


async def test_refused_clicks_change_nothing_and_are_audited(site: Site) -> None:
    """Strangers, the requester (two-person rule) and clicks on decided requests are refused."""
    bot = await site.start_bot()
    fmc = site.names()["affected-770-critical"]
    await site.command(bot, f"remediate {fmc}", user=REQUESTER)
    request = await _parent_done(site.standin, "Approval needed")
    assert find_action(request.blocks, APPROVE_ACTION)

    await site.click(bot, request, APPROVE_ACTION, user=STRANGER)
    await site.click(bot, request, APPROVE_ACTION, user=REQUESTER)
    await site.standin.wait_for(lambda: len(site.standin.ephemerals()) >= 2, timeout=10)
    texts = [m.text for m in site.standin.ephemerals()]
    assert any("approvers" in text for text in texts)
    assert any("Two-person rule" in text for text in texts)

    await site.click(bot, request, DENY_ACTION, user=APPROVER)
    await site.standin.wait_for(
        lambda: "Denied by" in str(site.standin.messages(CHANNEL)[0].blocks), 10
    )
    await site.click(bot, request, APPROVE_ACTION, user=GROUPIE)
    await site.standin.wait_for(lambda: len(site.standin.ephemerals()) >= 3, timeout=10)
    assert "already denied" in site.standin.ephemerals()[-1].text

    await bot.tasks.wait_idle(10)
    assert await bot.store.runs(fmc) == []
    assert site.lab.vdb_build(fmc) == 400
    refused = [e for e in await bot.store.audit_log(fmc) if e.action == "approval.refused"]
    assert len(refused) == 3


async def test_expired_request_is_refused(site_factory: SiteFactory) -> None:
    """A click after the approval TTL is refused, starts nothing, and expires the request."""
    site = await site_factory(approval_ttl_hours=0.0002)  # under a second
    bot = await site.start_bot()
    fmc = site.names()["affected-770-critical"]
    await site.command(bot, f"remediate {fmc}", user=REQUESTER)
    request = await _parent_done(site.standin, "Approval needed")
    await asyncio.sleep(1.0)
    await site.click(bot, request, APPROVE_ACTION, user=APPROVER)
    ephemeral = await site.standin.wait_for(lambda: site.standin.ephemerals(APPROVER), 10)
    assert "expired" in ephemeral[0].text
    assert await bot.store.runs(fmc) == []
    # The request stops being pending: its buttons go and the message says when it expired.
    await site.standin.wait_for(
        lambda: "Expired at" in str(site.standin.messages(CHANNEL)[0].blocks), 10
    )
    assert find_action(site.standin.messages(CHANNEL)[0].blocks, APPROVE_ACTION) is None
    assert await bot.store.pending_approvals() == []


async def test_double_click_and_two_approvers_start_exactly_one_run(site: Site) -> None:
    """Two approvers clicking at once (and one of them twice) start one remediation."""
    bot = await site.start_bot()
    fmc = site.names()["affected-770-critical"]
    parent = await _scan(site, bot)
    reply = await _button_reply(site.standin, parent, fmc)
    await asyncio.gather(
        site.click(bot, reply, APPROVE_ACTION, user=APPROVER),
        site.click(bot, reply, APPROVE_ACTION, user=APPROVER),
        site.click(bot, reply, APPROVE_ACTION, user=GROUPIE),
    )
    await site.standin.wait_for(
        lambda: any("renewed" in m.text.lower() for m in site.standin.thread(CHANNEL, parent.ts)),
        timeout=60,
    )
    await bot.tasks.wait_idle(30)
    assert len(await bot.store.runs(fmc)) == 1
    assert len(site.standin.ephemerals()) == 2  # the two losing clicks were told


async def test_click_after_restart_still_works(site: Site) -> None:
    """Approval requests live in the database: a new bot process honours old buttons."""
    first = await site.start_bot()
    fmc = site.names()["affected-760-warning"]
    parent = await _scan(site, first)
    reply = await _button_reply(site.standin, parent, fmc)
    await site.stop_bot(first)

    second = await site.start_bot()
    await site.click(second, reply, APPROVE_ACTION, user=APPROVER)
    await site.standin.wait_for(
        lambda: any("renewed" in m.text.lower() for m in site.standin.thread(CHANNEL, parent.ts)),
        timeout=60,
    )
    assert site.lab.vdb_build(fmc) == 406


async def test_rate_limited_post_is_retried_after_retry_after(site: Site) -> None:
    """A 429 from Slack is retried once Retry-After has passed; the message still arrives."""
    bot = await site.start_bot()
    site.standin.fail_next("chat.postMessage", status=429, retry_after=1)
    await site.command(bot, "status")
    await _parent_done(site.standin, "status")
    calls = site.standin.calls_to("chat.postMessage")
    assert [call.status for call in calls[:2]] == [429, 200]
    assert calls[1].at - calls[0].at >= 0.95


async def test_commands_only_in_configured_channels(site_factory: SiteFactory) -> None:
    """With command_channels set, /fmccert elsewhere is refused in the acknowledgement."""
    site = await site_factory(command_channels=[CHANNEL])
    bot = await site.start_bot()
    status, body, _ = await site.command(bot, "scan", channel="CRANDOM")
    assert status == 200
    assert "does not take commands in this channel" in ack_json(body)["text"]
    await asyncio.sleep(0.3)
    assert site.standin.calls_to("chat.postMessage") == []


async def test_socket_mode_command_and_click(site: Site) -> None:
    """Over a real websocket: a command is acked, and an approval click runs the fix."""
    bot = await site.start_bot(socket_mode=True)
    await site.standin.wait_connected()
    fmc = site.names()["affected-770-critical"]
    ack = await site.standin.run_command("scan", user_id=REQUESTER, channel_id=CHANNEL)
    assert "envelope_id" in ack
    parent = await _parent_done(site.standin, "need attention")
    reply = await _button_reply(site.standin, parent, fmc)
    await site.standin.click(reply, APPROVE_ACTION, user_id=APPROVER)
    await site.standin.wait_for(
        lambda: any("renewed" in m.text.lower() for m in site.standin.thread(CHANNEL, parent.ts)),
        timeout=60,
    )
    assert site.lab.vdb_build(fmc) == 406
    assert bot.ready


async def test_fleet_scans_need_a_scan_requester_and_are_rate_limited(
    site_factory: SiteFactory,
) -> None:
    """A stranger's scan is refused privately; an approver's second scan in an hour is too."""
    site = await site_factory(scans_per_user_per_hour=1)
    bot = await site.start_bot()
    await site.command(bot, "scan", user=STRANGER)
    refused = await site.standin.wait_for(lambda: site.standin.ephemerals(STRANGER), 10)
    assert "scan requesters" in refused[0].text
    assert site.standin.calls_to("chat.postMessage") == []

    await site.command(bot, "scan", user=REQUESTER)
    await _parent_done(site.standin, "need attention")
    await site.command(bot, "scan", user=REQUESTER)
    limited = await site.standin.wait_for(lambda: site.standin.ephemerals(REQUESTER), 10)
    assert "the limit is 1" in limited[0].text
    await bot.tasks.wait_idle(30)
    scans = [e for e in await bot.store.audit_log() if e.action == "scan"]
    assert len(scans) == 1
    refusals = [e for e in await bot.store.audit_log() if e.action == "scan.refused"]
    assert [e.actor for e in refusals] == [f"slack:{REQUESTER}", f"slack:{STRANGER}"]


async def test_a_refusal_mentions_the_decider_as_a_mention(site: Site) -> None:
    """fmccert's own mentions stay mentions: the refusal names the denier, the post the asker."""
    bot = await site.start_bot()
    fmc = site.names()["affected-770-critical"]
    await site.command(bot, f"remediate {fmc}", user=REQUESTER)
    request = await _parent_done(site.standin, "Approval needed")
    await site.click(bot, request, DENY_ACTION, user=APPROVER)
    await site.standin.wait_for(
        lambda: "Denied by" in str(site.standin.messages(CHANNEL)[0].blocks), 10
    )
    await site.click(bot, request, APPROVE_ACTION, user=GROUPIE)
    shown = await site.standin.wait_for(lambda: site.standin.ephemerals(GROUPIE), 10)
    assert f"already denied by <@{APPROVER}>" in str(shown[0].blocks)
    assert "&lt;@" not in str(shown[0].blocks)
    parent = site.standin.messages(CHANNEL)[0]
    assert parent.text.startswith("Approval needed") or f"<@{REQUESTER}>" in str(parent.blocks)


async def test_a_check_keeps_its_results_when_storage_refuses_the_request(site: Site) -> None:
    """Storage refuses new requests: the check's answer stays; the reply says why no buttons."""
    from sqlalchemy import text

    bot = await site.start_bot()
    fmc = site.names()["affected-760-warning"]
    async with bot.store.engine.begin() as conn:  # type: ignore[attr-defined]
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_requests BEFORE INSERT ON approval_requests "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
            )
        )
    await site.command(bot, f"check {fmc}")
    parent = await _parent_done(site.standin, fmc)
    await bot.tasks.wait_idle(30)

    shown = next(m for m in site.standin.messages(CHANNEL) if m.ts == parent.ts)
    assert "Checked" in str(shown.blocks)  # the results, not an error, stay in the parent
    assert ":warning:" not in shown.text
    thread = site.standin.thread(CHANNEL, parent.ts)
    assert any(fmc in m.text and find_action(m.blocks, APPROVE_ACTION) is None for m in thread)
    assert any("could not record the request" in m.text for m in thread)


async def test_an_approved_fix_runs_even_when_slack_fails_the_first_post(site: Site) -> None:
    """Slack answers 5xx to "Starting…" (after retries): the fix runs, the outcome arrives."""
    bot = await site.start_bot()
    fmc = site.names()["affected-760-warning"]
    parent = await _scan(site, bot)
    reply = await _button_reply(site.standin, parent, fmc)
    await bot.tasks.wait_idle(30)
    # The client tries three times (two retries on server errors): all three fail.
    site.standin.fail_next("chat.postMessage", status=500, error="internal_error", times=3)

    await site.click(bot, reply, APPROVE_ACTION, user=APPROVER)
    await site.standin.wait_for(
        lambda: any("renewed" in m.text.lower() for m in site.standin.thread(CHANNEL, parent.ts)),
        timeout=60,
    )

    runs = await bot.store.runs(fmc)
    assert [run.status.value for run in runs] == ["renewed"]
    assert site.lab.vdb_build(fmc) == 406
    assert [c.status for c in site.standin.calls_to("chat.postMessage")].count(500) == 3


async def test_a_failed_result_post_is_tried_again(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outcome's post fails after Slack's retries: it is posted again a little later."""
    from bot.slack import actions

    monkeypatch.setattr(actions, "RESULT_RETRY_DELAYS", (0.5, 1.0))
    bot = await site.start_bot()
    fmc = site.names()["affected-760-warning"]
    parent = await _scan(site, bot)
    reply = await _button_reply(site.standin, parent, fmc)
    await bot.tasks.wait_idle(30)
    # "Starting…" goes through; the result post fails three times (the client's retries).
    site.standin.fail_next("chat.postMessage", status=500, error="internal_error", times=3,
                           after=1)  # fmt: skip

    await site.click(bot, reply, APPROVE_ACTION, user=APPROVER)
    result = await site.standin.wait_for(
        lambda: next(
            (m for m in site.standin.thread(CHANNEL, parent.ts)
             if "renewed" in m.text.lower() and m.reply_broadcast), None,
        ),
        timeout=60,
    )  # fmt: skip

    assert result is not None
    assert [c.status for c in site.standin.calls_to("chat.postMessage")].count(500) == 3


async def test_a_run_left_by_a_dead_process_is_reported_in_its_thread(site: Site) -> None:
    """The sweep's verdict reaches the thread that was waiting for the run's outcome."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    from bot.core.approval import ApprovalStatus
    from bot.storage.sql import open_store

    fmc = site.names()["affected-760-warning"]
    config = site.config()
    store = await open_store(config.storage_url, base_dir=config.base_dir)
    long_ago = datetime.now(UTC) - timedelta(minutes=30)
    try:
        request = await store.create_approval(
            fmc=fmc, action="vdb-update", requested_by=REQUESTER, now=long_ago,
            expires_at=long_ago + timedelta(days=1), channel=CHANNEL,
        )  # fmt: skip
        await store.set_approval_message(
            request.id, channel=CHANNEL, message_ts="1700000000.000100",
            thread_ts="1700000000.000100",
        )  # fmt: skip
        await store.decide_approval(
            request.id, status=ApprovalStatus.APPROVED, by=APPROVER, now=long_ago
        )
        run = await store.begin_run(
            fmc=fmc, action="vdb-update", requested_by=f"slack:{REQUESTER}",
            approved_by=f"slack:{APPROVER}", owner="gone-host:1:dead", plan={}, now=long_ago,
        )  # fmt: skip
        await store.attach_run(request.id, run.id)
        async with store.engine.begin() as conn:  # its owner stopped beating 30 minutes ago
            await conn.execute(
                text("UPDATE remediation_runs SET heartbeat_at = :at WHERE id = :id"),
                {"at": long_ago.replace(tzinfo=None), "id": run.id},
            )
    finally:
        await store.close()

    bot = await site.start_bot()
    told = await site.standin.wait_for(
        lambda: site.standin.thread(CHANNEL, "1700000000.000100"), timeout=30
    )

    assert f"run #{run.id}" in told[0].text
    assert "was interrupted" in told[0].text
    assert f"/fmccert check {fmc}" in told[0].text
    stored = await bot.store.run(run.id)
    assert stored is not None
    assert stored.status.value == "interrupted"


async def test_a_bot_probing_in_a_worker_answers_a_check_and_stops_the_worker(site: Site) -> None:
    """With probe_in_worker, /fmccert check is read by the child process and its worker ends."""
    from bot.probe_worker import ProcessProber
    from bot.secrets import Secret
    from bot.slack.env import SlackEnv
    from bot.slack.runtime import SlackBot
    from bot.storage.sql import open_store
    from tests.support.slack_fixtures import utc_now

    config = site.config()
    store = await open_store(config.storage_url, base_dir=config.base_dir)
    env = SlackEnv(Secret("xoxb-test"), None, Secret(SECRET), site.standin.base_url)
    bot = SlackBot(
        config, store, env, clock=utc_now, port=0, post_interval=0.05, probe_in_worker=True
    )
    await bot.start()
    site.bots.append(bot)
    prober = bot.operations.probe
    assert isinstance(prober, ProcessProber)
    fmc = site.names()["affected-760-warning"]
    status, _, _ = await site.command(bot, f"check {fmc}")
    assert status == 200
    parent = await _parent_done(site.standin, fmc)
    reply = await _button_reply(site.standin, parent, fmc)
    assert "warning" in reply.text
    worker = prober._process
    assert worker is not None
    await site.stop_bot(bot)
    assert worker.returncode is not None
