"""Incident delivery that survives Slack: lost messages are posted again, failures contained.

Scheduled scans driven by a controllable clock against the lab, with the stand-in told to
lose or refuse messages: a deleted message, an archived channel, a post that failed, and
an error that is not about a missing message.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from bot.config import ScheduledScanSettings, ScheduleSettings
from bot.core.advisory import Action
from bot.core.certificate import CertificateFacts
from bot.core.error_kinds import ErrorKind
from bot.core.expiry import Status
from bot.core.findings import ErrorInfo, Finding, FmcFacts
from bot.core.incidents import IncidentReason
from bot.lab.slack.workspace import StoredMessage
from bot.slack.alerts import stale_after
from bot.slack.blocks import build_incident, build_incident_note
from bot.slack.runtime import SlackBot
from tests.slack.test_schedule import (
    SCHEDULE,
    Clock,
    _incident_messages,
    _next_fire,
    _replies,
    _started,
    _tick,
    _top_level,
)
from tests.support.slack_fixtures import CHANNEL, Site, SiteFactory

SCENARIOS = ["affected-760-warning", "affected-770-critical"]


async def _first_scan(site_factory: SiteFactory) -> tuple[Site, SlackBot, Clock, str, str]:
    # Requests outlive the 15 days between scans: no expiry edits come before the incidents'.
    site = await site_factory(SCENARIOS, schedule=SCHEDULE, approval_ttl_hours=24 * 30)
    warn, crit = (site.names()[s] for s in SCENARIOS)
    clock = Clock(datetime.now(UTC))
    bot = await _started(site, clock)
    await _tick(bot, clock, _next_fire(clock.now))
    assert len(_top_level(site)) == 1
    return site, bot, clock, warn, crit


def _delivery_failures(bot: SlackBot) -> dict[str, float]:
    text = bot.metrics.render().decode()
    return {
        sample.labels["what"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "fmccert_slack_delivery_failures"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


def _in_thread(site: Site, parent: StoredMessage) -> list[str]:
    return [reply.text for reply in site.standin.thread(CHANNEL, parent.ts)]


async def test_a_deleted_incident_message_is_posted_again_with_its_notes(
    site_factory: SiteFactory,
) -> None:
    """The warning FMC's message was deleted: the escalation re-posts it in a new thread."""
    site, bot, clock, warn, crit = await _first_scan(site_factory)
    lost = _incident_messages(site, warn)[0]
    kept = _incident_messages(site, crit)[0]
    site.standin.workspace.delete(lost)

    await _tick(bot, clock, _next_fire(clock.now + timedelta(days=15)))

    tops = _top_level(site)
    assert len(tops) == 2  # the new scan's alert holds the incident posted again
    new_thread = _in_thread(site, tops[1])
    again = [text for text in new_thread if text.startswith(warn)]
    assert len(again) == 1
    reposted = next(r for r in site.standin.thread(CHANNEL, tops[1].ts) if r.text.startswith(warn))
    assert "Posted again: its earlier message is gone (" in str(reposted.blocks)
    assert any("escalated" in text for text in new_thread)  # the note followed it
    # The other FMC's incident is untouched by the loss: edited and noted where it was.
    assert any(r.ts == kept.ts for r in site.standin.thread(CHANNEL, tops[0].ts))
    assert any("escalated" in text or "expired" in text for text in _in_thread(site, tops[0]))
    incident = next(i for i in await bot.store.open_incidents() if i.fmc == warn)
    assert incident.message_ts == reposted.ts
    assert incident.thread_ts == tops[1].ts
    audit = [e.action for e in await bot.store.audit_log(warn)]
    assert "incident.reposted" in audit


async def test_an_archived_channel_on_edit_reposts_the_incident(site_factory: SiteFactory) -> None:
    """``is_archived`` on an edit counts as gone: the incident continues in a new thread."""
    site, bot, clock, _, _ = await _first_scan(site_factory)
    site.standin.fail_next("chat.update", status=200, error="is_archived", retry_after=None)

    await _tick(bot, clock, _next_fire(clock.now + timedelta(days=15)))

    tops = _top_level(site)
    assert len(tops) == 2
    assert (
        sum("Posted again" in str(r.blocks) for r in site.standin.thread(CHANNEL, tops[1].ts)) == 1
    )


async def test_one_failing_message_never_stops_the_rest(site_factory: SiteFactory) -> None:
    """A refused edit is counted and logged; every other post of the scan still happens."""
    site, bot, clock, warn, crit = await _first_scan(site_factory)
    posts_before = len(site.standin.calls_to("chat.postMessage"))
    site.standin.fail_next("chat.update", status=200, error="fatal_error", retry_after=None)

    await _tick(bot, clock, _next_fire(clock.now + timedelta(days=15)))

    posts = [c.params for c in site.standin.calls_to("chat.postMessage")][posts_before:]
    notes = [str(p.get("text")) for p in posts]
    assert any(text.startswith(warn) or warn in text for text in notes)
    assert any(crit in text for text in notes)
    assert len(_top_level(site)) == 1  # an error other than "gone" re-posts nothing
    updates = site.standin.calls_to("chat.update")
    assert [c.status for c in updates][-1] == 200  # the second edit went through
    assert _delivery_failures(bot).get("incident-edit") == 1.0


async def test_an_incident_whose_post_failed_is_posted_by_the_next_scan(
    site_factory: SiteFactory,
) -> None:
    """The alert's post fails: the incident is stored without Slack ids, the next scan posts it."""
    site = await site_factory(SCENARIOS[:1], schedule=SCHEDULE)
    warn = site.names()[SCENARIOS[0]]
    clock = Clock(datetime.now(UTC))
    bot = await _started(site, clock)
    site.standin.fail_next("chat.postMessage", status=200, error="fatal_error", retry_after=None)

    await _tick(bot, clock, _next_fire(clock.now))

    incidents = await bot.store.open_incidents()
    assert [(i.fmc, i.message_ts) for i in incidents] == [(warn, None)]
    assert _top_level(site) == []
    assert _delivery_failures(bot).get("scan-alert") == 1.0

    await _tick(bot, clock, _next_fire(clock.now))

    reposted = [r for r in _replies(site) if r.text.startswith(warn)]
    assert len(reposted) == 1
    assert "it was never posted" in str(reposted[0].blocks)
    incident = (await bot.store.open_incidents())[0]
    assert incident.message_ts == reposted[0].ts
    assert len(await bot.store.pending_approvals()) == 1  # the same request, now with buttons


def _lab_finding(**changes: object) -> Finding:
    """An affected FMC below VDB 406, renewed: ok now, but its next renewal will fail."""
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    cert = CertificateFacts(
        not_before=now, not_after=now + timedelta(days=700), serial="0A", subject="CN=fmc",
        issuer="CN=Keymaster CA 2", sha256_fingerprint="AA",
    )  # fmt: skip
    finding = Finding(
        name="fmc-east", host="10.0.0.1", status=Status.OK, checked_at=now,
        facts=FmcFacts(version="7.6.0", vdb_build=400, certificate=cert), days_left=700,
        affected=True, action=Action.VDB_UPDATE, upgrade_to="7.6.1", error=None,
    )  # fmt: skip
    return dataclasses.replace(finding, **changes)  # type: ignore[arg-type]


def test_renewal_note_says_when_it_is_still_at_risk() -> None:
    """Renewed by other means on an affected release below VDB 406: the note says the risk."""
    note = build_incident_note(IncidentReason.RENEWED, _lab_finding())

    assert "the certificate was renewed until 2028-11-02 12:00 UTC" in note.text
    assert "Still at risk: the next renewal will fail again; update the VDB to 406+" in note.text
    assert "Incident resolved" not in note.text


def test_could_not_check_message_shows_the_last_known_state_and_no_fix() -> None:
    """An unchecked incident reads as unknown: why, the last known state, no recommended fix."""
    known = _lab_finding(status=Status.WARNING)
    down = _lab_finding(
        status=Status.UNKNOWN, error=ErrorInfo(ErrorKind.UNREACHABLE, "no route"),
        checked_at=known.checked_at + timedelta(hours=3),
    )  # fmt: skip

    message = build_incident(
        down, incident_id=1, approval_id=None, last_known=known,
        last_checked_at=known.checked_at, now=down.checked_at,
    )  # fmt: skip

    text = str(message.blocks)
    assert "could not check: unreachable no route; last known state: *warning*, expires " in text
    assert "(last checked 3 h ago)" in text
    assert "Recommended fix" not in text


def test_stale_after_defaults_to_two_scan_periods() -> None:
    """stale_after_hours unset: twice the shortest scan period; without scans 48 h; or as set."""
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    scans = (ScheduledScanSettings(cron="0 */6 * * *"), ScheduledScanSettings(cron="0 6 * * *"))

    assert stale_after(ScheduleSettings(scans=scans), now=now) == timedelta(hours=12)
    assert stale_after(ScheduleSettings(), now=now) == timedelta(hours=48)
    assert stale_after(
        ScheduleSettings(scans=scans, stale_after=timedelta(hours=3)), now=now
    ) == timedelta(hours=3)
