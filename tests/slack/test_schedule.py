"""Scheduled scans and the incident lifecycle, driven by a controllable clock (no sleeping).

Three scans against the lab: one FMC escalates from warning to critical, one is renewed
by an approved VDB update, one becomes unreachable and recovers. The recorded Slack
calls must show one incident per FMC, edits in place, and only the posts the rules call
for; restarting the bot between scans must change none of that.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.lab.slack.payloads import find_action
from bot.lab.slack.workspace import StoredMessage
from bot.scheduling import schedules_from_config
from bot.slack.ids import APPROVE_ACTION, SNOOZE_ACTION
from bot.slack.runtime import SlackBot
from tests.support.slack_fixtures import APPROVER, CHANNEL, Site, SiteFactory

SCHEDULE = {"scans": [{"cron": "0 */6 * * *", "timezone": "UTC"}], "renotify_hours": 24}
SCENARIOS = ["affected-760-warning", "affected-770-critical", "healthy-742"]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _next_fire(after: datetime) -> datetime:
    """The next 6-hourly fire time strictly after ``after``."""
    base = after.replace(minute=0, second=0, microsecond=0)
    return base + timedelta(hours=6 - base.hour % 6)


def _top_level(site: Site) -> list[StoredMessage]:
    return [m for m in site.standin.messages(CHANNEL) if not m.is_reply]


def _replies(site: Site) -> list[StoredMessage]:
    return [r for parent in _top_level(site) for r in site.standin.thread(CHANNEL, parent.ts)]


def _incident_messages(site: Site, fmc: str) -> list[StoredMessage]:
    """Messages that are (or were, until resolved) the incident of ``fmc``."""
    found = []
    for reply in _replies(site):
        is_incident = find_action(reply.blocks, SNOOZE_ACTION) is not None
        was_incident = "Resolved:" in str(reply.blocks)
        if (is_incident or was_incident) and reply.text.startswith(fmc):
            found.append(reply)
    return found


async def _maybe_restart(site: Site, bot: SlackBot, clock: Clock, restart: bool) -> SlackBot:
    """The same bot, or (with ``restart``) a new one on the same database."""
    if not restart:
        return bot
    await site.stop_bot(bot)
    return await _started(site, clock)


async def _started(site: Site, clock: Clock) -> SlackBot:
    """A bot on the site's database, once its start-up catch-up has run. Without the wait
    the catch-up could read the clock after the test moved it to the next fire, record that
    instant as the start, and leave the tick's fire nothing to claim (or race the tick,
    which would be reported as an overlapping scan)."""
    bot = await site.start_bot(clock=clock)
    await bot.tasks.wait_idle(60)
    return bot


async def _tick(bot: SlackBot, clock: Clock, when: datetime) -> None:
    clock.now = when
    assert bot.scheduler is not None
    await bot.scheduler.tick(when)
    await bot.tasks.wait_idle(60)


@pytest.mark.parametrize("restart", [False, True], ids=["one-bot", "restart-between-scans"])
async def test_three_scans_one_incident_per_fmc(site_factory: SiteFactory, restart: bool) -> None:
    """Escalation, renewal and an unreachable-then-recovered FMC, each in its own incident."""
    site = await site_factory(SCENARIOS, schedule=SCHEDULE)
    names = site.names()
    warn, crit, healthy = (names[s] for s in SCENARIOS)
    clock = Clock(datetime.now(UTC))
    bot = await _started(site, clock)

    # Scan 1: two incidents open, in the thread of one alert.
    first = _next_fire(clock.now)
    await _tick(bot, clock, first)
    assert len(_top_level(site)) == 1
    incidents = {r.text.split(":")[0]: r for r in _replies(site)}
    assert set(incidents) == {warn, crit}
    # Approve the critical FMC's fix; the VDB update renews its certificate.
    await site.click(bot, incidents[crit], APPROVE_ACTION, user=APPROVER)
    await site.standin.wait_for(
        lambda: any("renewed" in m.text.lower() for m in _replies(site)), timeout=60
    )
    await bot.tasks.wait_idle(60)
    posts_before = len(site.standin.calls_to("chat.postMessage"))

    # Scan 2, 15 days later: warning -> critical; the renewed one resolves; one stops answering.
    bot = await _maybe_restart(site, bot, clock, restart)
    await site.lab.stop_host(healthy)
    await _tick(bot, clock, _next_fire(first + timedelta(days=15)))
    posts = [c.params for c in site.standin.calls_to("chat.postMessage")][posts_before:]
    texts = [str(p.get("text", "")) for p in posts]
    assert sum("escalated" in t for t in texts) == 1
    assert sum("renewed" in t for t in texts) == 1
    # Opening the unreachable FMC's incident needs this scan's alert plus its reply.
    assert sum(t.startswith(healthy) for t in texts) == 1
    assert sum("Scheduled scan" in t for t in texts) == 1
    assert len(posts) == 4
    assert len(_top_level(site)) == 2
    posts_before += len(posts)

    # Scan 3, six hours later: it answers again; nothing else is worth a post.
    bot = await _maybe_restart(site, bot, clock, restart)
    await site.lab.start_host(healthy)
    await _tick(bot, clock, _next_fire(clock.now))
    posts = [c.params for c in site.standin.calls_to("chat.postMessage")][posts_before:]
    assert [("answers again" in str(p.get("text"))) for p in posts] == [True]
    assert len(_top_level(site)) == 2

    # One incident message per FMC, edited in place rather than posted again.
    for fmc in (warn, crit, healthy):
        assert len(_incident_messages(site, fmc)) == 1, fmc
    edited = {c.params["ts"] for c in site.standin.calls_to("chat.update")}
    assert incidents[warn].ts in edited
    store = (site.bots[-1]).store
    open_now = {(i.fmc, i.kind.value) for i in await store.open_incidents()}
    assert open_now == {(warn, "certificate")}


async def test_missed_scan_after_downtime_runs_once_and_is_reported(
    site_factory: SiteFactory,
) -> None:
    """Three days of downtime: one catch-up scan, announced, not one per missed fire."""
    site = await site_factory(SCENARIOS, schedule=SCHEDULE)
    config = site.config()
    schedule = schedules_from_config(config)[0][0]
    clock = Clock(datetime.now(UTC))
    from bot.storage.sql import open_store

    store = await open_store(config.storage_url, base_dir=config.base_dir)
    await store.record_fire(schedule.key, clock.now - timedelta(days=3))
    await store.close()
    bot = await _started(site, clock)
    await bot.tasks.wait_idle(60)
    notices = [m for m in _top_level(site) if "was missed" in m.text]
    assert len(notices) == 1
    scans = [e for e in await bot.store.audit_log() if e.action == "scheduled-scan"]
    assert len(scans) == 1


def _view_submission(user: str, view: dict[str, object], seconds: int, reason: str) -> str:
    """The form body Slack posts when a user submits the snooze modal."""
    from bot.lab.slack.payloads import interactive_form
    from bot.lab.slack.workspace import API_APP_ID, TEAM_ID
    from bot.slack.ids import (
        SNOOZE_DURATION_ACTION,
        SNOOZE_DURATION_BLOCK,
        SNOOZE_REASON_ACTION,
        SNOOZE_REASON_BLOCK,
    )

    state = {
        "values": {
            SNOOZE_DURATION_BLOCK: {
                SNOOZE_DURATION_ACTION: {
                    "type": "static_select",
                    "selected_option": {"value": str(seconds)},
                }
            },
            SNOOZE_REASON_BLOCK: {SNOOZE_REASON_ACTION: {"type": "plain_text_input",
                                                         "value": reason}},
        }
    }  # fmt: skip
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "fmccert"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": "verification-token",
        "trigger_id": "1.2.3",
        "view": {**view, "id": "V0001", "team_id": TEAM_ID, "state": state, "hash": "h"},
    }
    return interactive_form(payload)


async def test_snooze_silences_escalation_and_is_recorded(site_factory: SiteFactory) -> None:
    """An approver snoozes an FMC with a reason: no escalation post, who and why recorded."""
    from tests.support.slack_fixtures import SECRET, STRANGER

    site = await site_factory(SCENARIOS[:1], schedule=SCHEDULE)
    fmc = site.names()[SCENARIOS[0]]
    clock = Clock(datetime.now(UTC) + timedelta(days=10))  # 10 days left: a warning
    bot = await _started(site, clock)
    await _tick(bot, clock, _next_fire(clock.now))
    incident = _incident_messages(site, fmc)[0]

    await site.click(bot, incident, SNOOZE_ACTION, user=STRANGER)
    refused = await site.standin.wait_for(lambda: site.standin.ephemerals(STRANGER), 10)
    assert "approvers" in refused[0].text
    await site.click(bot, incident, SNOOZE_ACTION, user=APPROVER)
    opened = await site.standin.wait_for(lambda: site.standin.calls_to("views.open"), 10)
    view = opened[0].params["view"]
    body = _view_submission(APPROVER, view, 7 * 86400, "change freeze until Monday")
    status, _, _ = await site.standin.post_signed(site.url(bot), body, secret=SECRET)
    assert status == 200
    await bot.tasks.wait_idle(10)
    edited = next(m for m in _replies(site) if m.ts == incident.ts)
    assert f"Snoozed by <@{APPROVER}>" in str(edited.blocks)

    posts_before = len(site.standin.calls_to("chat.postMessage"))
    await _tick(bot, clock, _next_fire(clock.now + timedelta(days=4)))  # critical, snoozed
    assert len(site.standin.calls_to("chat.postMessage")) == posts_before
    assert [i.severity for i in await bot.store.open_incidents()] == ["critical"]
    audit = [e for e in await bot.store.audit_log(fmc) if e.action == "incident.snoozed"]
    assert audit[0].actor == f"slack:{APPROVER}"
    assert audit[0].detail["reason"] == "change freeze until Monday"


async def test_daily_digest_posts_the_fleet_state(site_factory: SiteFactory) -> None:
    """The optional digest posts one message with counts and open incidents."""
    schedule = {**SCHEDULE, "digest": {"cron": "30 7 * * *", "timezone": "UTC"}}
    site = await site_factory(SCENARIOS[:2], schedule=schedule)
    clock = Clock(datetime.now(UTC))
    bot = await _started(site, clock)
    await _tick(bot, clock, _next_fire(clock.now))  # a scan opens two incidents
    before = len(_top_level(site))
    digest_at = (clock.now + timedelta(days=1)).replace(hour=7, minute=30)
    clock.now = digest_at
    assert bot.scheduler is not None
    await bot.scheduler.tick(digest_at)
    await bot.tasks.wait_idle(60)
    new = _top_level(site)[before:]
    digest = [m for m in new if "fmccert status" in m.text]
    assert len(digest) == 1
    assert "Open incidents (2)" in str(digest[0].blocks)


async def test_a_failed_scheduled_scan_is_said_in_the_alert_channel(
    site_factory: SiteFactory,
) -> None:
    """A scheduled scan that cannot run (its tag matches no FMC) posts why, not only logs it."""
    schedule = {"scans": [{"cron": "0 */6 * * *", "timezone": "UTC", "tag": "no-such-tag"}]}
    site = await site_factory(SCENARIOS[:1], schedule=schedule)
    clock = Clock(datetime.now(UTC))
    bot = await _started(site, clock)

    await _tick(bot, clock, _next_fire(clock.now))

    notices = [m.text for m in _top_level(site)]
    assert len(notices) == 1
    assert "failed: no FMC has the tag 'no-such-tag'" in notices[0]


@pytest.mark.parametrize("restart", [False, True], ids=["one-bot", "restart-between-scans"])
async def test_fmc_with_an_incident_that_stops_answering_keeps_its_one_thread(
    site_factory: SiteFactory, restart: bool
) -> None:
    """Could-not-check and answering again are posts in the FMC's own thread, never a new alert."""
    site = await site_factory(SCENARIOS, schedule=SCHEDULE)
    warn = site.names()[SCENARIOS[0]]
    clock = Clock(datetime.now(UTC))
    bot = await _started(site, clock)

    await _tick(bot, clock, _next_fire(clock.now))
    [incident] = [r for r in _replies(site) if r.text.startswith(warn)]
    posts_before = len(site.standin.calls_to("chat.postMessage"))

    # Scan 2: the FMC with an open incident stops answering.
    bot = await _maybe_restart(site, bot, clock, restart)
    await site.lab.stop_host(warn)
    await _tick(bot, clock, _next_fire(clock.now))
    posts = [c.params for c in site.standin.calls_to("chat.postMessage")][posts_before:]
    assert len(posts) == 1
    assert "could not check: unreachable" in str(posts[0]["text"])
    assert "last known state: warning, expires" in str(posts[0]["text"])
    assert posts[0]["thread_ts"] == incident.thread_ts
    assert len(_top_level(site)) == 1
    edited = next(m for m in _replies(site) if m.ts == incident.ts)
    assert "could not check: unreachable" in str(edited.blocks)
    assert "Recommended fix" not in str(edited.blocks)
    posts_before += len(posts)

    # Scan 3: it answers again; the same message is edited back, one note.
    bot = await _maybe_restart(site, bot, clock, restart)
    await site.lab.start_host(warn)
    await _tick(bot, clock, _next_fire(clock.now))
    posts = [c.params for c in site.standin.calls_to("chat.postMessage")][posts_before:]
    assert [("answers again" in str(p["text"])) for p in posts] == [True]
    assert posts[0]["thread_ts"] == incident.thread_ts
    assert len(_top_level(site)) == 1
    edited = next(m for m in _replies(site) if m.ts == incident.ts)
    assert "could not check" not in str(edited.blocks)
    assert "Recommended fix" in str(edited.blocks)
    store = site.bots[-1].store
    open_now = [(i.fmc, i.kind.value) for i in await store.open_incidents()]
    assert sorted(open_now) == sorted([(warn, "certificate"), (site.names()[SCENARIOS[1]],
                                                               "certificate")])  # fmt: skip


async def test_the_four_fmc_story_gives_one_thread_per_fmc_and_one_post_per_change(
    site_factory: SiteFactory,
) -> None:
    """Warning, critical, healthy and one that stops answering, restarts between scans.

    After the first scan's alert no top-level message appears: could-not-check, the
    renewal by other means and answering again are each one post in the FMC's own thread.
    """
    scenarios = ["affected-760-warning", "affected-770-critical", "healthy-742", "expires-today"]
    site = await site_factory(scenarios, schedule=SCHEDULE)
    warn, crit, healthy, flaky = (site.names()[s] for s in scenarios)
    clock = Clock(datetime.now(UTC))
    bot = await _started(site, clock)

    await _tick(bot, clock, _next_fire(clock.now))
    threads = {r.text.split(" ")[0].rstrip(":"): r.thread_ts for r in _replies(site)}
    assert set(threads) == {warn, crit, flaky}
    assert len(_top_level(site)) == 1

    def posts_since(before: int) -> list[dict[str, object]]:
        return [c.params for c in site.standin.calls_to("chat.postMessage")][before:]

    # Scan 2, after a restart: one stops answering, one was renewed by an operator.
    before = len(site.standin.calls_to("chat.postMessage"))
    await site.stop_bot(bot)
    bot = await _started(site, clock)
    await site.lab.stop_host(flaky)
    site.lab.install_vdb_by_hand(crit)
    await _tick(bot, clock, _next_fire(clock.now))
    posts = posts_since(before)
    assert len(posts) == 2, [p["text"] for p in posts]
    told = {fmc: [p for p in posts if fmc in str(p["text"])] for fmc in (flaky, crit)}
    assert "could not check: unreachable" in str(told[flaky][0]["text"])
    assert told[flaky][0]["thread_ts"] == threads[flaky]  # the thread its incident lives in
    assert "renewed" in str(told[crit][0]["text"])
    assert told[crit][0]["thread_ts"] == threads[crit]
    assert len(_top_level(site)) == 1

    # Scan 3, after another restart: it answers again; one post, in its thread.
    before = len(site.standin.calls_to("chat.postMessage"))
    await site.stop_bot(bot)
    bot = await _started(site, clock)
    await site.lab.start_host(flaky)
    await _tick(bot, clock, _next_fire(clock.now))
    posts = posts_since(before)
    assert [(p.get("thread_ts"), "answers again" in str(p["text"])) for p in posts] == [
        (threads[flaky], True)
    ]
    assert len(_top_level(site)) == 1
    open_now = sorted(i.fmc for i in await bot.store.open_incidents())
    assert open_now == sorted([warn, flaky])
    assert healthy not in threads
    for fmc in (warn, crit, flaky):  # one incident message each, edited in place
        assert len(_incident_messages(site, fmc)) == 1, fmc
