"""Tests of storing probe results and reading them back, newest first and per FMC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.advisory import Action
from bot.core.certificate import CertificateFacts
from bot.core.error_kinds import ErrorKind
from bot.core.expiry import Status
from bot.core.findings import ErrorInfo, Finding, FmcFacts, finding_to_json
from bot.storage.sql import SqlStore

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
PARIS_WINTER = timezone(timedelta(hours=1))


def _finding(name: str, checked_at: datetime, *, broken: bool = False) -> Finding:
    cert = CertificateFacts(
        not_before=NOW - timedelta(days=400),
        not_after=NOW + timedelta(days=20),
        serial="0A",
        subject=f"CN={name}",
        issuer="CN=Keymaster CA 2",
        sha256_fingerprint="AA:BB",
    )
    return Finding(
        name=name,
        host=f"{name}.example.net",
        status=Status.UNKNOWN if broken else Status.WARNING,
        checked_at=checked_at,
        facts=FmcFacts(version="7.4.1", vdb_build=400, certificate=None if broken else cert),
        days_left=None if broken else 20,
        affected=True,
        action=Action.INVESTIGATE if broken else Action.VDB_UPDATE,
        upgrade_to="7.4.2.1",
        error=ErrorInfo(kind=ErrorKind.AUTH, message="login refused") if broken else None,
    )


async def test_findings_round_trip_with_aware_utc_datetimes(store: SqlStore) -> None:
    """A finding comes back as its JSON object with an aware UTC checked_at and its scan id."""
    local_time = NOW.astimezone(PARIS_WINTER)
    finding = _finding("fmc-east", local_time)
    await store.record_findings([finding], scan_id="scan-1")

    [stored] = await store.findings()
    assert stored.fmc == "fmc-east"
    assert stored.checked_at == NOW
    assert stored.checked_at.tzinfo is UTC
    assert stored.status == "warning"
    assert stored.scan_id == "scan-1"
    assert dict(stored.data) == finding_to_json(finding)


async def test_findings_are_newest_first_and_filtered_by_fmc(store: SqlStore) -> None:
    """findings() lists newest first and, given an FMC, only that FMC's rows."""
    await store.record_findings(
        [_finding("fmc-east", NOW), _finding("fmc-west", NOW + timedelta(minutes=1))],
        scan_id="scan-1",
    )
    await store.record_findings(
        [_finding("fmc-east", NOW + timedelta(hours=1), broken=True)], scan_id=None
    )

    assert [(f.fmc, f.checked_at) for f in await store.findings()] == [
        ("fmc-east", NOW + timedelta(hours=1)),
        ("fmc-west", NOW + timedelta(minutes=1)),
        ("fmc-east", NOW),
    ]
    east = await store.findings("fmc-east", limit=1)
    assert [(f.status, f.scan_id) for f in east] == [("unknown", None)]
    assert east[0].data["error"] == {"kind": "auth", "message": "login refused"}


async def test_latest_findings_has_the_newest_of_each_fmc(store: SqlStore) -> None:
    """latest_findings() gives one row per FMC: its newest, ordered by FMC name."""
    await store.record_findings(
        [_finding("fmc-west", NOW), _finding("fmc-east", NOW)], scan_id="scan-1"
    )
    await store.record_findings(
        [_finding("fmc-east", NOW + timedelta(days=1), broken=True)], scan_id="scan-2"
    )

    latest = await store.latest_findings()
    assert [(f.fmc, f.scan_id, f.status) for f in latest] == [
        ("fmc-east", "scan-2", "unknown"),
        ("fmc-west", "scan-1", "warning"),
    ]


async def test_a_result_dated_ahead_by_a_clock_jump_does_not_outrank_fresher_ones(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    """After a clock jumped a day ahead and was put right, the fresh result is the latest."""
    real_now = await store.database_now()
    await store.record_findings(
        [_finding("fmc-east", real_now + timedelta(days=1))], scan_id="jumped"
    )
    assert "ahead of the database's time" in caplog.text
    await store.record_findings([_finding("fmc-east", real_now, broken=True)], scan_id="fresh")

    assert [f.scan_id for f in await store.latest_findings()] == ["fresh"]
    assert [f.scan_id for f in await store.findings("fmc-east")] == ["fresh", "jumped"]


async def test_recording_no_findings_is_a_no_op(store: SqlStore) -> None:
    """An empty scan stores nothing and raises nothing."""
    await store.record_findings([], scan_id="empty")
    assert await store.findings() == []
    assert await store.latest_findings() == []
