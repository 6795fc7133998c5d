"""Tests of the incident rules: which scans open, edit, note and resolve incidents."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from bot.core.advisory import Action
from bot.core.certificate import CertificateFacts
from bot.core.error_kinds import ErrorKind
from bot.core.expiry import Status
from bot.core.findings import ErrorInfo, Finding, FmcFacts, finding_to_json
from bot.core.incidents import (
    Effect,
    EffectKind,
    Incident,
    IncidentKind,
    IncidentReason,
    IncidentState,
    is_escalation,
    last_known_finding,
    needs_attention,
    plan_incident_effects,
    shown_finding,
)

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
OPENED = NOW - timedelta(days=3)
RENOTIFY = timedelta(hours=24)
NOT_AFTER = NOW + timedelta(days=20, hours=1)
FMC = "fmc-east"


def _finding(
    status: Status = Status.WARNING,
    *,
    days: int | None = 20,
    not_after: datetime | None = NOT_AFTER,
    error: ErrorInfo | None = None,
    action: Action = Action.NONE,
    fmc: str = FMC,
) -> Finding:
    cert = (
        None
        if not_after is None
        else CertificateFacts(
            not_before=NOW - timedelta(days=400),
            not_after=not_after,
            serial="0A",
            subject="CN=fmc",
            issuer="CN=Keymaster CA 2",
            sha256_fingerprint="AA:BB",
        )
    )
    return Finding(
        name=fmc,
        host="10.1.2.3",
        status=status,
        checked_at=NOW,
        facts=FmcFacts(version="7.6.0", build="36", vdb_build=400, certificate=cert),
        days_left=days,
        affected=True,
        action=action,
        upgrade_to="7.6.1",
        error=error,
    )


def _unreachable(kind: str = "unreachable") -> Finding:
    return _finding(
        Status.UNKNOWN,
        days=None,
        not_after=None,
        error=ErrorInfo(ErrorKind(kind), "no route", "connect"),
    )


def _incident(
    finding: Finding,
    kind: IncidentKind = IncidentKind.CERTIFICATE,
    *,
    severity: str | None = None,
    last_notified_at: datetime | None = None,
    opened_at: datetime = OPENED,
    last_checked_at: datetime | None = None,
) -> Incident:
    detail = finding_to_json(finding)
    if kind is IncidentKind.UNCHECKED and finding.error is not None:
        why = {"kind": finding.error.kind, "message": finding.error.message, "at": "2026-11-27"}
        detail = {**finding_to_json(_finding()), "unchecked": why}
    return Incident(
        id=7,
        fmc=finding.name,
        kind=kind,
        state=IncidentState.OPEN,
        severity=severity if severity is not None else finding.status.value,
        opened_at=opened_at,
        updated_at=opened_at,
        resolved_at=None,
        channel="C0FMCCERT",
        thread_ts="1.0",
        message_ts="1.1",
        last_notified_at=last_notified_at,
        approval_id=None,
        detail=detail,
        last_checked_at=last_checked_at,
    )


def _plan(
    findings: Sequence[Finding],
    incidents: Sequence[Incident] = (),
    *,
    now: datetime = NOW,
    snoozed: Mapping[str, datetime] | None = None,
) -> list[tuple[EffectKind, IncidentKind, str, str]]:
    effects = plan_incident_effects(
        findings, incidents, now=now, renotify=RENOTIFY, snoozed=snoozed or {}
    )
    return [(e.kind, e.incident_kind, e.severity, e.reason) for e in effects]


def test_first_warning_opens_a_certificate_incident() -> None:
    """A warning with no open incident opens one, with the finding and no incident attached."""
    finding = _finding()

    effects = plan_incident_effects([finding], [], now=NOW, renotify=RENOTIFY, snoozed={})

    [effect] = effects
    assert effect == Effect(
        EffectKind.OPEN, FMC, IncidentKind.CERTIFICATE, None, finding, "warning",
        IncidentReason.OPENED, detail=effect.detail, last_known=finding, last_checked_at=NOW,
    )  # fmt: skip
    assert effect.detail["status"] == "warning"


def test_healthy_fmc_without_incident_does_nothing() -> None:
    """An ok finding with no action and no open incident plans nothing."""
    assert _plan([_finding(Status.OK, days=200)]) == []


def test_action_alone_needs_attention() -> None:
    """An ok certificate with a fix to make (e.g. a VDB update) still opens an incident."""
    finding = _finding(Status.OK, days=200, action=Action.VDB_UPDATE)

    assert needs_attention(finding)
    assert _plan([finding]) == [(EffectKind.OPEN, IncidentKind.CERTIFICATE, "ok", "opened")]


def test_same_warning_again_does_nothing() -> None:
    """A scan that shows exactly what the open incident shows plans nothing."""
    finding = _finding()

    assert _plan([finding], [_incident(finding)]) == []


def test_days_left_change_edits() -> None:
    """One day less on the same warning edits the incident message, without a note."""
    old = _finding()
    new = _finding(days=19)

    assert _plan([new], [_incident(old)]) == [
        (EffectKind.EDIT, IncidentKind.CERTIFICATE, "warning", "updated")
    ]


def test_warning_to_critical_edits_and_notes() -> None:
    """Escalating from warning to critical edits the message and posts a note."""
    old = _finding()
    new = _finding(Status.CRITICAL, days=5)

    assert _plan([new], [_incident(old)]) == [
        (EffectKind.EDIT, IncidentKind.CERTIFICATE, "critical", "escalated"),
        (EffectKind.NOTE, IncidentKind.CERTIFICATE, "critical", "escalated"),
    ]


def test_escalation_ranks_unknown_as_critical() -> None:
    """ok < warning < critical = unknown < expired."""
    assert is_escalation("warning", "unknown")
    assert not is_escalation("critical", "unknown")
    assert not is_escalation("unknown", "critical")
    assert is_escalation("unknown", "expired")
    assert not is_escalation("expired", "critical")


def test_critical_for_25h_is_reminded() -> None:
    """A critical incident last posted 25 h ago gets a broadcast reminder (renotify 24 h)."""
    finding = _finding(Status.CRITICAL, days=5)
    incident = _incident(finding, last_notified_at=NOW - timedelta(hours=25))

    effects = plan_incident_effects([finding], [incident], now=NOW, renotify=RENOTIFY, snoozed={})

    assert [(e.kind, e.reason, e.broadcast, e.incident) for e in effects] == [
        (EffectKind.NOTE, "reminder", True, incident)
    ]


def test_critical_for_23h_is_not_reminded() -> None:
    """A critical incident last posted 23 h ago is left alone."""
    finding = _finding(Status.CRITICAL, days=5)
    incident = _incident(finding, last_notified_at=NOW - timedelta(hours=23))

    assert _plan([finding], [incident]) == []


def test_reminder_counts_from_opened_at_when_never_notified() -> None:
    """Without last_notified_at the reminder clock starts at opened_at."""
    finding = _finding(Status.EXPIRED, days=-1)

    fresh = _incident(finding, opened_at=NOW - timedelta(hours=23))
    stale = _incident(finding, opened_at=NOW - timedelta(hours=24))

    assert _plan([finding], [fresh]) == []
    assert _plan([finding], [stale]) == [
        (EffectKind.NOTE, IncidentKind.CERTIFICATE, "expired", "reminder")
    ]


def test_warning_is_never_reminded() -> None:
    """Only critical, expired and unknown incidents get reminders."""
    finding = _finding()
    incident = _incident(finding, last_notified_at=NOW - timedelta(days=10))

    assert _plan([finding], [incident]) == []


def test_renewed_certificate_resolves_as_renewed() -> None:
    """A later not_after with an ok status resolves the incident as renewed."""
    old = _finding(Status.CRITICAL, days=5, not_after=NOW + timedelta(days=5))
    new = _finding(Status.OK, days=365, not_after=NOW + timedelta(days=365))

    assert _plan([new], [_incident(old)]) == [
        (EffectKind.RESOLVE, IncidentKind.CERTIFICATE, "ok", "renewed")
    ]


def test_healthy_without_a_later_certificate_resolves_as_resolved() -> None:
    """An ok finding with the same not_after (e.g. thresholds changed) resolves as resolved."""
    old = _finding(action=Action.VDB_UPDATE)
    new = _finding(Status.OK)

    assert _plan([new], [_incident(old)]) == [
        (EffectKind.RESOLVE, IncidentKind.CERTIFICATE, "ok", "resolved")
    ]


def test_unreachable_opens_once_then_nothing_then_recovers() -> None:
    """Unreachable opens an UNCHECKED incident once; again is quiet; answering resolves it."""
    down = _unreachable()
    unchecked = _incident(down, IncidentKind.UNCHECKED, severity="unreachable")
    healthy = _finding(Status.OK, days=200)

    assert _plan([down]) == [
        (EffectKind.OPEN, IncidentKind.UNCHECKED, "unreachable", "could-not-check")
    ]
    assert _plan([down], [unchecked]) == []
    assert _plan([healthy], [unchecked]) == [
        (EffectKind.RESOLVE, IncidentKind.CERTIFICATE, "ok", "recovered")
    ]


def test_answering_again_with_a_warning_continues_the_same_incident() -> None:
    """A checked warning after an outage edits the one incident back and notes it: no new one."""
    unchecked = _incident(_unreachable(), IncidentKind.UNCHECKED, severity="unreachable")

    assert _plan([_finding()], [unchecked]) == [
        (EffectKind.EDIT, IncidentKind.CERTIFICATE, "warning", "recovered"),
        (EffectKind.NOTE, IncidentKind.CERTIFICATE, "warning", "recovered"),
    ]


def test_auth_after_unreachable_edits() -> None:
    """Another error kind edits the UNCHECKED incident with the new kind as severity."""
    unchecked = _incident(_unreachable(), IncidentKind.UNCHECKED, severity="unreachable")

    assert _plan([_unreachable("auth")], [unchecked]) == [
        (EffectKind.EDIT, IncidentKind.UNCHECKED, "auth", "updated")
    ]


def test_could_not_check_moves_the_certificate_incident_keeping_its_last_known_state() -> None:
    """An unreachable FMC with an open incident changes that incident's state: no second one."""
    critical = _finding(Status.CRITICAL, days=5)
    checked = NOW - timedelta(hours=6)
    incident = _incident(critical, last_notified_at=NOW - timedelta(days=3),
                         last_checked_at=checked)  # fmt: skip

    effects = plan_incident_effects(
        [_unreachable()], [incident], now=NOW, renotify=RENOTIFY, snoozed={}
    )

    assert [(e.kind, e.incident_kind, e.severity, e.reason) for e in effects] == [
        (EffectKind.EDIT, IncidentKind.UNCHECKED, "unreachable", "could-not-check"),
        (EffectKind.NOTE, IncidentKind.UNCHECKED, "unreachable", "could-not-check"),
    ]
    assert all(e.incident is incident for e in effects)
    assert effects[0].last_known is not None
    assert effects[0].last_known.status is Status.CRITICAL
    assert effects[0].last_checked_at == checked
    assert effects[0].detail["status"] == "critical"
    assert effects[0].detail["unchecked"]["kind"] == "unreachable"


def test_unchecked_becomes_stale_once_after_stale_after() -> None:
    """Unchecked longer than stale_after since the last good check: one stale note, then quiet."""
    checked = NOW - timedelta(hours=3)
    unchecked = _incident(_unreachable(), IncidentKind.UNCHECKED, severity="unreachable",
                          last_checked_at=checked)  # fmt: skip
    stale = dataclasses.replace(unchecked, severity="stale", updated_at=NOW)

    def plan(incident: Incident) -> list[tuple[EffectKind, str, str, bool]]:
        effects = plan_incident_effects(
            [_unreachable()], [incident], now=NOW, renotify=RENOTIFY, snoozed={},
            stale_after=timedelta(hours=2),
        )  # fmt: skip
        return [(e.kind, e.severity, e.reason, e.broadcast) for e in effects]

    assert plan(unchecked) == [
        (EffectKind.EDIT, "stale", "stale", False),
        (EffectKind.NOTE, "stale", "stale", True),
    ]
    assert plan(stale) == []


def test_first_could_not_check_uses_the_last_known_finding() -> None:
    """Without an incident, the caller's last good finding dates the check and can be stale."""
    known = dataclasses.replace(_finding(Status.OK, days=200), checked_at=NOW - timedelta(days=3))

    [effect] = plan_incident_effects(
        [_unreachable()], [], now=NOW, renotify=RENOTIFY, snoozed={},
        stale_after=timedelta(hours=48), last_known={FMC: known},
    )  # fmt: skip

    assert (effect.kind, effect.severity) == (EffectKind.OPEN, "stale")
    assert effect.last_known == known
    assert effect.last_checked_at == known.checked_at


def test_renewed_by_other_means_but_still_at_risk_is_noted() -> None:
    """A later not_after while a VDB update is still due: one "renewed" edit and note."""
    incident = _incident(_finding(Status.WARNING, days=20))
    renewed = _finding(Status.OK, days=700, not_after=NOW + timedelta(days=700),
                       action=Action.VDB_UPDATE)  # fmt: skip

    assert _plan([renewed], [incident]) == [
        (EffectKind.EDIT, IncidentKind.CERTIFICATE, "ok", "renewed"),
        (EffectKind.NOTE, IncidentKind.CERTIFICATE, "ok", "renewed"),
    ]


def test_shown_finding_rebuilds_why_it_is_unchecked() -> None:
    """An UNCHECKED incident shows its error; its detail still holds the last known state."""
    unchecked = _incident(_unreachable(), IncidentKind.UNCHECKED, severity="unreachable")

    shown = shown_finding(unchecked)
    known = last_known_finding(unchecked.detail)

    assert shown is not None
    assert shown.error == ErrorInfo(ErrorKind.UNREACHABLE, "no route")
    assert known is not None
    assert known.status is Status.WARNING


def test_cert_missing_counts_as_checked() -> None:
    """cert_missing means the FMC answered: the UNCHECKED incident becomes a certificate one."""
    missing = _finding(
        Status.UNKNOWN,
        days=None,
        not_after=None,
        error=ErrorInfo(ErrorKind.CERT_MISSING, "no certificate file", "read"),
    )
    unchecked = _incident(_unreachable(), IncidentKind.UNCHECKED, severity="unreachable")

    assert _plan([missing], [unchecked]) == [
        (EffectKind.EDIT, IncidentKind.CERTIFICATE, "unknown", "recovered"),
        (EffectKind.NOTE, IncidentKind.CERTIFICATE, "unknown", "recovered"),
    ]


def test_snoozed_fmc_gets_no_notes() -> None:
    """While snoozed, escalation notes, reminders and UNCHECKED opens are dropped; edits stay."""
    snoozed = {FMC: NOW + timedelta(hours=1)}
    warning = _finding()
    critical = _finding(Status.CRITICAL, days=5)
    stale = _incident(critical, last_notified_at=NOW - timedelta(days=3))

    assert _plan([critical], [_incident(warning)], snoozed=snoozed) == [
        (EffectKind.EDIT, IncidentKind.CERTIFICATE, "critical", "escalated")
    ]
    assert _plan([critical], [stale], snoozed=snoozed) == []
    assert _plan([_unreachable()], snoozed=snoozed) == []
    assert _plan([warning], snoozed=snoozed) == [
        (EffectKind.OPEN, IncidentKind.CERTIFICATE, "warning", "opened")
    ]


def test_expired_snooze_is_ignored() -> None:
    """A snooze that ended at or before now silences nothing."""
    critical = _finding(Status.CRITICAL, days=5)
    stale = _incident(critical, last_notified_at=NOW - timedelta(days=3))

    assert _plan([critical], [stale], snoozed={FMC: NOW}) == [
        (EffectKind.NOTE, IncidentKind.CERTIFICATE, "critical", "reminder")
    ]


def test_snooze_applies_only_to_its_fmc() -> None:
    """Snoozing one FMC leaves another FMC's reminders in place."""
    other = _finding(Status.CRITICAL, days=5, fmc="fmc-west")
    stale = _incident(other, last_notified_at=NOW - timedelta(days=3))

    assert _plan([other], [stale], snoozed={FMC: NOW + timedelta(hours=1)}) == [
        (EffectKind.NOTE, IncidentKind.CERTIFICATE, "critical", "reminder")
    ]


def test_duplicate_findings_open_only_once() -> None:
    """Two findings of one FMC in one scan open one incident, not two."""
    assert _plan([_finding(), _finding(days=19)]) == [
        (EffectKind.OPEN, IncidentKind.CERTIFICATE, "warning", "opened")
    ]


def test_resolved_incidents_given_in_are_ignored() -> None:
    """Only OPEN incidents count: a resolved one passed in does not stop a new open."""
    finding = _finding()
    resolved = dataclasses.replace(
        _incident(finding), state=IncidentState.RESOLVED, resolved_at=OPENED
    )

    assert _plan([finding], [resolved]) == [
        (EffectKind.OPEN, IncidentKind.CERTIFICATE, "warning", "opened")
    ]
