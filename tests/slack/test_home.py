"""App Home: the fleet overview published on app_home_opened, and its pure builder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slack_sdk.models.blocks import Block

from bot.core.approval import ApprovalRequest, ApprovalStatus
from bot.core.incidents import Incident, IncidentKind, IncidentState
from bot.lab.slack.workspace import StoredMessage
from bot.slack.blocks import MAX_HOME_BLOCKS, build_home
from bot.slack.home import refresh_homes
from bot.storage.records import StoredFinding
from tests.support.slack_fixtures import APPROVER, CHANNEL, REQUESTER, Site

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _stored(index: int, status: str, days: int | None) -> StoredFinding:
    not_after = NOW + timedelta(days=days) if days is not None else None
    data = {"not_after": not_after.isoformat() if not_after else None}
    return StoredFinding(index, f"fmc-{index:03d}", NOW, status, "s", data, not_after)


def _incident(index: int) -> Incident:
    return Incident(
        id=index, fmc=f"fmc-{index:03d}", kind=IncidentKind.CERTIFICATE,
        state=IncidentState.OPEN, severity="critical", opened_at=NOW, updated_at=NOW,
        resolved_at=None, channel=CHANNEL, thread_ts=None, message_ts=None,
        last_notified_at=None, approval_id=None, detail={},
    )  # fmt: skip


def _approval(index: int) -> ApprovalRequest:
    return ApprovalRequest(
        id=index, fmc=f"fmc-{index:03d}", action="vdb-update", requested_by="system:scan",
        created_at=NOW, expires_at=NOW + timedelta(days=1), status=ApprovalStatus.PENDING,
    )  # fmt: skip


def test_home_of_a_large_fleet_stays_within_slack_limits() -> None:
    """A thousand FMCs, incidents and approvals still make at most 100 valid blocks."""
    statuses = ["ok", "warning", "critical", "expired", "unknown"]
    latest = [_stored(i, statuses[i % 5], None if i % 5 == 4 else i % 40) for i in range(1000)]
    home = build_home(
        latest,
        now=NOW,
        open_incidents=[_incident(i) for i in range(1000)],
        pending_approvals=[_approval(i) for i in range(1000)],
        last_scan=NOW - timedelta(hours=2),
    )
    assert len(home) <= MAX_HOME_BLOCKS
    for block in Block.parse_all(home):
        assert block is not None
        block.to_dict()  # validates Slack's limits
    text = str(home)
    assert "Open incidents (1000)" in text
    assert "Pending approvals (1000)" in text
    assert "more" in text
    assert "2 h ago" in text


def test_home_without_results_says_so() -> None:
    """An empty store gives a short view that asks for a scan."""
    home = build_home([], now=NOW)
    assert "No results yet" in str(home)
    assert "No scan yet" in str(home)


async def test_opening_home_publishes_the_fleet_overview(site: Site) -> None:
    """app_home_opened over Socket Mode -> views.publish with counts, incidents and approvals."""
    bot = await site.start_bot(socket_mode=True)
    await site.standin.wait_connected()
    await site.standin.run_command("scan", user_id=REQUESTER, channel_id=CHANNEL)

    def alert() -> StoredMessage | None:
        return next((m for m in site.standin.messages(CHANNEL) if "need attention" in m.text), None)

    await site.standin.wait_for(alert, timeout=30)
    await bot.tasks.wait_idle(30)
    await site.standin.open_home(APPROVER)
    view = await site.standin.wait_for(lambda: site.standin.home_view(APPROVER), timeout=10)
    assert view["type"] == "home"
    calls = site.standin.calls_to("views.publish")
    assert [call.params["user_id"] for call in calls] == [APPROVER]
    fields = {
        field["text"].split("*")[1]: field["text"].rsplit("\n", 1)[1]
        for block in view["blocks"]
        if block["type"] == "section" and "fields" in block
        for field in block["fields"]
    }
    counts = {label.split(" ", 1)[1]: int(count) for label, count in fields.items()}
    expected = [scenario.expect_status for scenario in site.lab.expected_findings().values()]
    assert counts == {status: expected.count(status) for status in counts}
    assert sum(counts.values()) == len(site.names())
    text = str(view["blocks"])
    pending = await bot.store.pending_approvals()
    assert pending
    assert f"Pending approvals ({len(pending)})" in text
    open_incidents = await bot.store.open_incidents()
    assert f"Open incidents ({len(open_incidents)})" in text
    assert "Last scan" in text
    for fmc in site.names().values():
        assert fmc in text

    assert bot.ctx is not None
    await refresh_homes(bot.ctx)  # what a scheduled scan does when it is done
    assert [c.params["user_id"] for c in site.standin.calls_to("views.publish")] == [APPROVER] * 2
