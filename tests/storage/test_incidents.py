"""Tests of incidents, snoozes and schedule fires on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.core.incidents import Incident, IncidentKind, IncidentState
from bot.errors import StorageError
from bot.storage.sql import SqlStore

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
PARIS_WINTER = timezone(timedelta(hours=1))
DETAIL = {"name": "fmc-east", "status": "warning", "days_left": 20, "error": None}


async def _open(
    store: SqlStore,
    fmc: str = "fmc-east",
    kind: IncidentKind = IncidentKind.CERTIFICATE,
    *,
    now: datetime = NOW,
) -> Incident:
    return await store.create_incident(
        fmc=fmc, kind=kind, severity="warning", detail=DETAIL, now=now
    )


async def test_created_incident_is_open_and_reads_back_in_utc(store: SqlStore) -> None:
    """create_incident stores an OPEN incident whose times come back as aware UTC."""
    request = await store.create_approval(
        fmc="fmc-east", action="vdb-update", requested_by="system:scan", now=NOW, expires_at=NOW
    )
    created = await store.create_incident(
        fmc="fmc-east",
        kind=IncidentKind.CERTIFICATE,
        severity="warning",
        detail=DETAIL,
        now=NOW.astimezone(PARIS_WINTER),
        channel="C0FMCCERT",
        thread_ts="1.0",
        message_ts="1.1",
        approval_id=request.id,
    )

    assert created == Incident(
        id=created.id,
        fmc="fmc-east",
        kind=IncidentKind.CERTIFICATE,
        state=IncidentState.OPEN,
        severity="warning",
        opened_at=NOW,
        updated_at=NOW,
        resolved_at=None,
        channel="C0FMCCERT",
        thread_ts="1.0",
        message_ts="1.1",
        last_notified_at=None,
        approval_id=request.id,
        detail=DETAIL,
    )
    assert created.opened_at.tzinfo is UTC
    assert await store.open_incidents() == [created]
    assert await store.incidents() == [created]


async def test_update_changes_only_given_fields(store: SqlStore) -> None:
    """update_incident leaves None fields alone, bumps updated_at, and notified marks a post."""
    incident = await _open(store)
    later = NOW + timedelta(hours=1)

    updated = await store.update_incident(
        incident.id, now=later, severity="critical", message_ts="2.2", notified=True
    )

    assert (updated.severity, updated.message_ts, updated.channel) == ("critical", "2.2", None)
    assert (updated.updated_at, updated.last_notified_at) == (later, later)
    assert updated.detail == DETAIL
    quiet = await store.update_incident(
        incident.id, now=later + timedelta(hours=1), detail={"days_left": 19}
    )
    assert quiet.last_notified_at == later
    assert quiet.severity == "critical"
    assert quiet.detail == {"days_left": 19}
    assert await store.open_incidents() == [quiet]
    with pytest.raises(StorageError, match="no such incident"):
        await store.update_incident(incident.id + 1000, now=later)


async def test_one_open_incident_per_fmc_whatever_its_kind(store: SqlStore) -> None:
    """A second OPEN incident of the same FMC is refused, of any kind; other FMCs are fine."""
    first = await _open(store)

    with pytest.raises(StorageError, match="already open"):
        await _open(store)
    with pytest.raises(StorageError, match="already open"):
        await _open(store, kind=IncidentKind.UNCHECKED)

    other_fmc = await _open(store, "fmc-west", IncidentKind.UNCHECKED)
    assert {i.id for i in await store.open_incidents()} == {first.id, other_fmc.id}


async def test_update_changes_the_trouble_and_last_check(store: SqlStore) -> None:
    """update_incident moves the one incident between troubles and keeps the last check."""
    first = await _open(store)
    checked = NOW - timedelta(hours=3)

    moved = await store.update_incident(
        first.id, now=NOW, kind=IncidentKind.UNCHECKED, severity="unreachable",
        last_checked_at=checked,
    )  # fmt: skip

    assert (moved.kind, moved.severity, moved.last_checked_at) == (
        IncidentKind.UNCHECKED, "unreachable", checked,
    )  # fmt: skip
    assert await store.open_incidents() == [moved]


async def test_resolve_then_reopen_is_allowed(store: SqlStore) -> None:
    """A resolved incident frees its (fmc, kind): a new one can open, the old one stays."""
    first = await _open(store)
    resolved = await store.resolve_incident(
        first.id, now=NOW + timedelta(days=1), detail={"status": "ok"}
    )

    assert resolved.state is IncidentState.RESOLVED
    assert resolved.resolved_at == NOW + timedelta(days=1)
    assert resolved.detail == {"status": "ok"}
    assert await store.open_incidents() == []
    with pytest.raises(StorageError, match="already resolved"):
        await store.resolve_incident(first.id, now=NOW, detail={})
    with pytest.raises(StorageError, match="no such incident"):
        await store.resolve_incident(first.id + 1000, now=NOW, detail={})

    second = await _open(store, now=NOW + timedelta(days=2))
    assert await store.open_incidents() == [second]
    assert await store.incidents("fmc-east") == [second, resolved]


async def test_incidents_lists_newest_first_with_filter_and_limit(store: SqlStore) -> None:
    """incidents() orders by opened_at descending, filters by FMC and honours the limit."""
    old = await _open(store, "fmc-east", now=NOW)
    new = await _open(store, "fmc-west", now=NOW + timedelta(hours=1))
    await store.resolve_incident(old.id, now=NOW + timedelta(minutes=10), detail={})
    old = (await store.incidents("fmc-east"))[0]
    mid = await _open(store, "fmc-east", IncidentKind.UNCHECKED, now=NOW + timedelta(minutes=30))

    assert await store.incidents() == [new, mid, old]
    assert await store.incidents("fmc-east") == [mid, old]
    assert await store.incidents(limit=1) == [new]
    assert await store.open_incidents() == [mid, new]


async def test_naive_datetimes_are_refused(store: SqlStore) -> None:
    """Naive datetimes are a StorageError for incidents, snoozes and fires alike."""
    naive = datetime(2026, 11, 27, 9, 30)
    with pytest.raises(StorageError, match="naive datetime"):
        await _open(store, now=naive)
    incident = await _open(store)
    with pytest.raises(StorageError, match="naive datetime"):
        await store.update_incident(incident.id, now=naive)
    with pytest.raises(StorageError, match="naive datetime"):
        await store.snooze(fmc="fmc-east", until=naive, by="U0A", reason="", now=NOW)
    with pytest.raises(StorageError, match="naive datetime"):
        await store.active_snoozes(naive)
    with pytest.raises(StorageError, match="naive datetime"):
        await store.record_fire("daily-scan", naive)
    assert await store.open_incidents() == [incident]


async def test_secret_keys_are_refused_in_detail(store: SqlStore) -> None:
    """A detail with a password key is a caller bug and is never stored."""
    with pytest.raises(ValueError, match="password"):
        await store.create_incident(
            fmc="fmc-east",
            kind=IncidentKind.CERTIFICATE,
            severity="warning",
            detail={"password": "x"},
            now=NOW,
        )
    assert await store.incidents() == []


async def test_database_refuses_an_unknown_kind_or_state(store: SqlStore) -> None:
    """CHECK constraints keep kinds and states outside the enums out, even from raw SQL."""
    incident = await _open(store)

    for statement in (
        "UPDATE incidents SET kind = 'maybe' WHERE id = :id",
        "UPDATE incidents SET state = 'maybe' WHERE id = :id",
    ):
        with pytest.raises(IntegrityError):
            async with store.engine.begin() as conn:
                await conn.execute(text(statement), {"id": incident.id})

    assert await store.open_incidents() == [incident]


async def test_newest_snooze_wins_and_expires(store: SqlStore) -> None:
    """The newest snooze of an FMC wins (even a shorter one), and ends at its until."""
    await store.snooze(fmc="fmc-east", until=NOW + timedelta(days=2), by="U0A", reason="x", now=NOW)
    await store.snooze(
        fmc="fmc-east",
        until=NOW + timedelta(hours=4),
        by="U0B",
        reason="shorter",
        now=NOW + timedelta(minutes=1),
    )
    await store.snooze(
        fmc="fmc-west",
        until=(NOW + timedelta(hours=8)).astimezone(PARIS_WINTER),
        by="U0A",
        reason="maintenance",
        now=NOW,
    )

    active = await store.active_snoozes(NOW + timedelta(hours=1))
    assert active == {"fmc-east": NOW + timedelta(hours=4), "fmc-west": NOW + timedelta(hours=8)}
    assert all(until.tzinfo is UTC for until in active.values())
    assert await store.active_snoozes(NOW + timedelta(hours=4)) == {
        "fmc-west": NOW + timedelta(hours=8)
    }
    assert await store.active_snoozes(NOW + timedelta(hours=8)) == {}


async def test_snooze_until_now_ends_a_snooze(store: SqlStore) -> None:
    """Snoozing until now (an unsnooze) ends an earlier, longer snooze at once."""
    await store.snooze(fmc="fmc-east", until=NOW + timedelta(days=1), by="U0A", reason="", now=NOW)
    later = NOW + timedelta(hours=1)
    await store.snooze(fmc="fmc-east", until=later, by="U0A", reason="unsnooze", now=later)

    assert await store.active_snoozes(later) == {}


async def test_schedule_fires_upsert(store: SqlStore) -> None:
    """record_fire inserts, then overwrites; last_fire reads it back in UTC, None if never."""
    assert await store.last_fire("daily-scan") is None

    await store.record_fire("daily-scan", NOW.astimezone(PARIS_WINTER))
    assert await store.last_fire("daily-scan") == NOW
    await store.record_fire("daily-scan", NOW + timedelta(days=1))
    await store.record_fire("weekly-digest", NOW)

    fired = await store.last_fire("daily-scan")
    assert fired == NOW + timedelta(days=1)
    assert fired is not None
    assert fired.tzinfo is UTC
    assert await store.last_fire("weekly-digest") == NOW
