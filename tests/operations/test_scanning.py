"""Tests of recorded scans, the hourly fleet-scan limit and the fleet overview."""

from __future__ import annotations

from datetime import timedelta

from bot.core.audit import AuditAction
from bot.core.expiry import Status
from bot.core.incidents import IncidentKind
from bot.metrics import Metrics
from bot.operations import Operations
from bot.storage.sql import SqlStore
from tests.operations.helpers import NOW, Clock, finding, report


async def test_a_recorded_scan_is_one_audit_entry_named_by_its_kind(
    operations: Operations, store: SqlStore
) -> None:
    """record_scan stores the findings and one entry whose action is the scan's kind."""
    scan_id = await operations.record_scan(
        report(finding("fmc-east")), actor="cli:alice", kind=AuditAction.CHECK, tag=None
    )

    assert scan_id is not None
    [entry] = await store.audit_log()
    assert (entry.actor, entry.action, entry.fmc) == ("cli:alice", "check", "fmc-east")
    assert entry.detail["scan_id"] == scan_id
    assert entry.detail["counts"] == {"warning": 1}
    assert [stored.fmc for stored in await store.latest_findings()] == ["fmc-east"]


async def test_fleet_scans_are_limited_per_hour_by_their_audit_entries(
    operations: Operations, store: SqlStore, clock: Clock
) -> None:
    """Two fleet scans an hour: the third waits until the first is an hour old."""
    first = await operations.start_fleet_scan(actor="slack:U1", channel="C1", per_hour=2)
    clock.now = NOW + timedelta(minutes=10)
    second = await operations.start_fleet_scan(actor="slack:U1", channel="C1", per_hour=2)
    clock.now = NOW + timedelta(minutes=20)
    third = await operations.start_fleet_scan(actor="slack:U1", channel="C1", per_hour=2)
    someone_else = await operations.start_fleet_scan(actor="slack:U2", channel="C1", per_hour=2)
    clock.now = NOW + timedelta(minutes=61)
    later = await operations.start_fleet_scan(actor="slack:U1", channel="C1", per_hour=2)

    assert (first.started, first.recent) == (True, 0)
    assert (second.started, second.recent) == (True, 1)
    assert (third.started, third.recent, third.wait) == (False, 2, timedelta(minutes=40))
    assert someone_else.started
    assert (later.started, later.recent) == (True, 1)
    started = [e for e in await store.audit_log() if e.action == "scan.started"]
    assert [(e.actor, e.detail) for e in reversed(started)] == [
        ("slack:U1", {"channel": "C1"}),
        ("slack:U1", {"channel": "C1"}),
        ("slack:U2", {"channel": "C1"}),
        ("slack:U1", {"channel": "C1"}),
    ]


async def test_a_refused_fleet_scan_is_audited_with_why(
    operations: Operations, store: SqlStore
) -> None:
    """refuse_fleet_scan records scan.refused and the reason."""
    await operations.refuse_fleet_scan(actor="slack:U1", reason="not a scan requester")

    [entry] = await store.audit_log()
    assert (entry.actor, entry.action, entry.fmc) == ("slack:U1", "scan.refused", None)
    assert entry.detail == {"reason": "not a scan requester"}


async def test_the_overview_shows_configured_fmcs_incidents_and_pending_requests(
    operations: Operations, store: SqlStore, clock: Clock
) -> None:
    """overview: configured FMCs' results as of now, open incidents, pending requests."""
    await store.record_findings(
        [finding("fmc-east", days=3), finding("fmc-gone", Status.CRITICAL)], scan_id="s1"
    )
    await store.create_incident(
        fmc="fmc-east", kind=IncidentKind.CERTIFICATE, severity="warning", detail={}, now=NOW
    )
    request = await operations.request_fix(
        "fmc-east", "restart", requested_by="U0REQ", channel="C1", ttl=timedelta(hours=4)
    )
    clock.now = NOW + timedelta(days=4)  # the certificate checked 3 days before expiry

    fleet = await operations.overview()

    assert [(s.fmc, s.status) for s in fleet.latest] == [("fmc-east", "expired")]
    assert fleet.last_scan == NOW
    assert fleet.incident_severities == [("fmc-east", "warning")]
    assert [r.id for r in fleet.pending_requests] == [request.id]


async def test_an_empty_overview_has_no_last_scan(operations: Operations) -> None:
    """With nothing recorded the overview is empty and has no last scan."""
    fleet = await operations.overview()

    assert (fleet.latest, fleet.open_incidents, fleet.pending_requests) == ((), (), ())
    assert fleet.last_scan is None


async def test_metrics_are_seeded_from_the_stored_results(
    operations: Operations, store: SqlStore, metrics: Metrics
) -> None:
    """seed_metrics sets the status gauge of each FMC from its newest stored result."""
    await store.record_findings([finding("fmc-east")], scan_id="s1")

    await operations.seed_metrics()

    status = {"fmc": "fmc-east", "kind": "fmc", "status": "warning"}
    assert metrics.registry.get_sample_value("fmccert_status", status) == 1.0
