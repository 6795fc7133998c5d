"""The fleet from stored results: ``/fmccert status`` and one FMC's history."""

from __future__ import annotations

from datetime import timedelta

from bot.core.error_kinds import ErrorKind
from bot.core.findings import ErrorInfo
from bot.slack.blocks.fleet import build_history, build_status
from bot.storage.records import AuditEntry, RemediationRun, RunStatus
from tests.slack.blocks.helpers import (
    BIG,
    HOSTILE,
    NOW,
    all_text,
    assert_valid,
    make_finding,
    make_stored,
)


def test_status_counts_and_soonest_expiries() -> None:
    """Status counts by status and lists the five soonest expiries with the last check."""
    findings = [make_finding(f"fmc-{i}", days=10 * i + 1) for i in range(8)]
    findings.append(make_finding("fmc-lost", days=None, error=ErrorInfo(ErrorKind.AUTH, "no")))
    latest = [make_stored(f, i) for i, f in enumerate(findings)]
    message = build_status(latest, now=NOW + timedelta(days=1), pending_approvals=2)
    assert_valid(message)
    text = all_text(message)
    soonest = text.split("*Soonest expiries:*\n")[1].split("\n")[:5]
    assert [line.split("*")[1] for line in soonest] == [f"fmc-{i}" for i in range(5)]
    assert "expires within a day" in soonest[0]
    assert "Last check 2026-11-27 10:00 UTC (24 h ago)" in text
    assert "2 approvals pending" in text
    assert "9 FMCs" in message.text


def test_status_empty() -> None:
    """With no stored results, status says to run a scan."""
    message = build_status([], now=NOW)
    assert_valid(message)
    assert "/fmccert scan" in all_text(message)


def test_history_runs_and_audit() -> None:
    """History lists runs (newest first) and audit entries, with mentions for Slack actors."""
    runs = [
        RemediationRun(
            id=i,
            fmc="fmc-east",
            action="vdb-update",
            status=RunStatus.FAILED if i % 2 else RunStatus.RENEWED,
            requested_by="U0ALICE",
            approved_by="U0BOB",
            owner="host:1",
            started_at=NOW + timedelta(hours=i),
            heartbeat_at=NOW,
            finished_at=NOW,
            failed_step="install-vdb" if i % 2 else None,
            summary=BIG,
            old_not_after=None,
            new_not_after=None,
            plan={},
        )
        for i in range(1, 13)
    ]
    audit = [
        AuditEntry(
            id=i,
            at=NOW + timedelta(minutes=i),
            actor="slack:U0ALICE",
            action="remediation.requested",
            fmc="fmc-east",
            detail={"run_id": i, "note": HOSTILE},
        )
        for i in range(20)
    ]
    message = build_history("fmc-east", runs, audit)
    assert_valid(message)
    text = all_text(message)
    assert text.index("#12") < text.index("#11")
    assert "#2 " not in text  # only the ten newest runs
    assert "by <@U0ALICE>, approved by <@U0BOB>" in text
    assert "failed at install-vdb" in text
    assert "Showing 10 of 12 runs, 15 of 20 entries" in text
    empty = build_history(HOSTILE, [], [])
    assert_valid(empty)
    assert "none yet" in all_text(empty)


def test_open_incidents_in_status_are_escaped_once() -> None:
    """An FMC called ``a&b<x>`` shows as such in Slack: escaped once, not twice."""
    latest = [make_stored(make_finding("a&b<x>", days=3), 0)]
    message = build_status(latest, now=NOW, open_incidents=[("a&b<x>", "critical")])
    assert_valid(message)
    text = all_text(message)
    assert "*a&amp;b&lt;x&gt;* (critical)" in text
    assert "&amp;amp;" not in text
    assert "&amp;lt;" not in text
