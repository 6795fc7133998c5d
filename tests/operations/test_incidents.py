"""Tests of the incident effects in storage: opened, edited, resolved, moved, snoozed."""

from __future__ import annotations

from datetime import timedelta

from bot.core.expiry import Status
from bot.core.findings import Finding
from bot.core.incidents import (
    Effect,
    EffectKind,
    Incident,
    IncidentKind,
    IncidentState,
    plan_incident_effects,
)
from bot.operations import Operations
from bot.storage.sql import SqlStore
from tests.operations.helpers import NOW, Clock, finding, unreachable


def _effect(found: Finding, incident: Incident | None = None) -> Effect:
    """The one effect the rules plan for ``found`` (RESOLVE/EDIT/OPEN), notes left out."""
    effects = plan_incident_effects(
        [found], [incident] if incident else [], now=NOW, renotify=timedelta(hours=24), snoozed={}
    )
    [effect] = [e for e in effects if e.kind is not EffectKind.NOTE]
    return effect


async def _opened(operations: Operations) -> Incident:
    return await operations.open_incident(_effect(finding("fmc-east")), approval_id=None)


async def test_an_opened_incident_is_stored_and_audited(
    operations: Operations, store: SqlStore
) -> None:
    """open_incident stores what the OPEN effect says and records incident.opened."""
    request = await operations.request_fix(
        "fmc-east", "restart", requested_by="system:scan", channel="C1", ttl=timedelta(hours=4)
    )

    incident = await operations.open_incident(_effect(finding("fmc-east")), approval_id=request.id)

    assert incident.fmc == "fmc-east"
    assert (incident.kind, incident.severity) == (IncidentKind.CERTIFICATE, "warning")
    assert (incident.state, incident.approval_id) == (IncidentState.OPEN, request.id)
    [entry] = [e for e in await store.audit_log("fmc-east") if e.action == "incident.opened"]
    assert entry.actor == "system:schedule"
    assert entry.detail == {
        "incident_id": incident.id,
        "kind": "certificate",
        "severity": "warning",
    }


async def test_an_edit_changes_the_severity(operations: Operations) -> None:
    """apply_incident_edit stores the severity an escalation brings."""
    incident = await _opened(operations)

    edited = await operations.apply_incident_edit(
        _effect(finding("fmc-east", Status.CRITICAL, days=5), incident)
    )

    assert (edited.id, edited.severity) == (incident.id, "critical")


async def test_a_resolved_incident_is_audited_with_its_reason(
    operations: Operations, store: SqlStore
) -> None:
    """resolve_incident resolves it (no longer findable as open) and records why."""
    incident = await _opened(operations)
    effect = _effect(finding("fmc-east", Status.OK, days=300), incident)

    resolved = await operations.resolve_incident(effect)

    assert resolved.state is IncidentState.RESOLVED
    assert await operations.find_open_incident(incident.id) is None
    [entry] = [e for e in await store.audit_log("fmc-east") if e.action == "incident.resolved"]
    assert entry.actor == "system:schedule"
    assert entry.detail == {"incident_id": incident.id, "reason": effect.reason}


async def test_an_open_incident_is_found_by_its_id(operations: Operations) -> None:
    """find_open_incident returns the open incident with that id, None for another id."""
    incident = await _opened(operations)

    assert await operations.find_open_incident(incident.id) == incident
    assert await operations.find_open_incident(incident.id + 1) is None


async def test_a_moved_incident_is_audited_with_both_messages(
    operations: Operations, store: SqlStore
) -> None:
    """record_incident_moved records incident.reposted: why, and the old and new message."""
    incident = await _opened(operations)
    posted = await operations.record_incident_message(
        incident.id, channel="C1", thread_ts="1.0", message_ts="1.1"
    )
    moved = await operations.record_incident_message(
        incident.id, channel="C1", thread_ts="2.0", message_ts="2.1"
    )

    await operations.record_incident_moved(posted, moved, reason="message_not_found")

    [entry] = [e for e in await store.audit_log("fmc-east") if e.action == "incident.reposted"]
    assert entry.detail == {
        "incident_id": incident.id,
        "reason": "message_not_found",
        "old_message_ts": "1.1",
        "message_ts": "2.1",
    }


async def test_a_snooze_is_recorded_and_audited(
    operations: Operations, store: SqlStore, clock: Clock
) -> None:
    """snooze_incident silences the FMC until then and records who, until when and why."""
    incident = await _opened(operations)
    until = NOW + timedelta(hours=8)

    await operations.snooze_incident(
        incident, until=until, by="U0APP", actor="slack:U0APP", reason="change window"
    )

    assert await operations.active_snoozes() == {"fmc-east": until}
    clock.now = until + timedelta(seconds=1)
    assert await operations.active_snoozes() == {}
    [entry] = [e for e in await store.audit_log("fmc-east") if e.action == "incident.snoozed"]
    assert (entry.actor, entry.detail) == (
        "slack:U0APP",
        {"incident_id": incident.id, "until": until.isoformat(), "reason": "change window"},
    )


async def test_a_refused_snooze_is_audited(operations: Operations, store: SqlStore) -> None:
    """refuse_snooze records incident.snooze_refused, naming the FMC when there is one."""
    incident = await _opened(operations)

    await operations.refuse_snooze(actor="slack:U0X", reason="not an approver", incident=incident)
    await operations.refuse_snooze(actor="slack:U0X", reason="resolved", incident=None)

    refused = [e for e in await store.audit_log() if e.action == "incident.snooze_refused"]
    assert [(e.fmc, e.detail) for e in reversed(refused)] == [
        ("fmc-east", {"reason": "not an approver"}),
        (None, {"reason": "resolved"}),
    ]


async def test_the_last_checked_finding_skips_failed_checks(
    operations: Operations, store: SqlStore
) -> None:
    """last_checked_finding is the newest stored finding of a check that read the FMC."""
    assert await operations.last_checked_finding("fmc-east") is None
    await store.record_findings([finding("fmc-east", days=20)], scan_id="s1")
    await store.record_findings([unreachable("fmc-east")], scan_id="s2")

    known = await operations.last_checked_finding("fmc-east")

    assert known is not None
    assert (known.name, known.status, known.days_left) == ("fmc-east", Status.WARNING, 20)
    assert await operations.last_checked_finding("fmc-west") is None
