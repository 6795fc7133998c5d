"""Incident rules: an alert is an incident, and an incident belongs to its FMC.

Each FMC has at most one OPEN incident, whatever its trouble. Its ``kind`` is the trouble
*now*: CERTIFICATE (it answered; its certificate or release needs attention) or UNCHECKED
(it could not be checked; ``severity`` is the error kind, or ``stale``). The incident
moves between states in its one thread: attention <-> could-not-check <-> escalated,
and stale, until resolved. A scan's findings, the open incidents and ``now`` go in; the
effects to apply (open, edit, note in the thread, resolve) come out. Pure: storage and
Slack apply the effects.

Rules, per finding, in input order:

* A finding is *unchecked* when it carries an error whose kind is not ``cert_missing`` or
  ``cert_invalid`` (for those two the FMC answered, so the certificate *was* checked).
* Unchecked, no open incident -> OPEN (UNCHECKED, "could-not-check").
* Unchecked, open CERTIFICATE incident -> EDIT and NOTE ("could-not-check"); the
  certificate facts it had stay as the *last known state*.
* Unchecked, open UNCHECKED incident -> EDIT and NOTE ("stale") when it now becomes
  stale; else EDIT ("updated") when the error or the whole hours since the last
  successful check changed (the message shows them); else nothing.
* *Stale*: the last successful check (the incident's ``last_checked_at``, else the
  caller's ``last_checked``) is more than ``stale_after`` before ``now``.
* Checked, open UNCHECKED incident (it answers again): when it needs attention (status
  warning/critical/expired/unknown/at_risk, or a fix to make) -> EDIT and NOTE
  ("recovered"), the incident is a CERTIFICATE one again; else RESOLVE ("recovered").
* Checked, open CERTIFICATE incident, needs attention:

  - the certificate was renewed (its not_after is later than the incident's) -> EDIT and
    NOTE ("renewed"): renewed by other means, yet still needing attention (an affected
    release whose VDB is below 406 will fail its next renewal);
  - the status got worse (ok < warning < critical < expired; unknown ranks as critical)
    -> EDIT and NOTE ("escalated");
  - otherwise -> EDIT ("updated") only if something a user sees changed (status,
    days_left, not_after, version, build, vdb_build, error), else nothing;
  - severity critical/expired/unknown, not just escalated, and nothing posted for
    ``renotify`` (since ``last_notified_at``, else ``opened_at``) -> NOTE ("reminder",
    also broadcast to the channel).

* Checked, open CERTIFICATE incident, no longer needing attention -> RESOLVE: "renewed"
  when the new not_after is later than the incident's, else "resolved".
* Checked, no open incident, needs attention -> OPEN (CERTIFICATE, "opened").
* Snooze: while ``snoozed[fmc] > now``, that FMC's NOTE effects and the OPEN of an
  UNCHECKED incident are dropped (silenced); EDIT, RESOLVE and OPEN of CERTIFICATE still
  happen, so the record stays true.

An effect's ``severity`` and ``incident_kind`` are the incident's once it is applied;
its ``detail`` is what the incident stores: the last *checked* finding (the last known
state) and, while unchecked, the error under ``"unchecked"``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from bot.core.advisory import Action, vdb_fixes_defect
from bot.core.error_kinds import ErrorKind
from bot.core.expiry import Status
from bot.core.findings import (
    ErrorInfo,
    Finding,
    finding_from_record,
    finding_to_json,
    finding_to_record,
    iso_utc,
)

# The FMC answered for these; the certificate itself is what is wrong.
CHECKED_ERROR_KINDS: Final = frozenset({ErrorKind.CERT_MISSING, ErrorKind.CERT_INVALID})
# What a user sees in an incident message; a change in any of these is worth an edit.
VISIBLE_FIELDS: Final = (
    "status",
    "days_left",
    "not_after",
    "version",
    "build",
    "vdb_build",
    "error",
)
# The severity of an UNCHECKED incident whose last successful check is too old.
STALE: Final = "stale"
# Where an incident's detail keeps why the FMC could not be checked.
UNCHECKED_KEY: Final = "unchecked"

_ATTENTION: Final = frozenset(
    {Status.WARNING, Status.CRITICAL, Status.EXPIRED, Status.UNKNOWN, Status.AT_RISK}
)
_REMIND: Final = frozenset({Status.CRITICAL, Status.EXPIRED, Status.UNKNOWN})
_RANK: Final[Mapping[str, int]] = {
    Status.OK: 0,
    Status.WARNING: 1,
    Status.AT_RISK: 1,
    Status.CRITICAL: 2,
    Status.UNKNOWN: 2,
    Status.EXPIRED: 3,
}
_HOUR: Final = timedelta(hours=1)


class IncidentKind(enum.StrEnum):
    """An incident's trouble now (one open incident per FMC, whatever the trouble)."""

    CERTIFICATE = "certificate"
    UNCHECKED = "unchecked"  # could not check (or stale)


class IncidentState(enum.StrEnum):
    """Life of an incident; at most one OPEN per FMC."""

    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Incident:
    """One FMC's trouble, from the scan that found it to the one that saw it gone."""

    id: int
    fmc: str
    kind: IncidentKind
    state: IncidentState
    # CERTIFICATE: the Status value at the last scan; UNCHECKED: the error kind or "stale".
    severity: str
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    channel: str | None
    thread_ts: str | None
    message_ts: str | None  # the incident's Slack message (a thread reply)
    last_notified_at: datetime | None  # last post about it (open, escalation, reminder)
    approval_id: int | None
    # finding_to_record of the last checked finding; while UNCHECKED also "unchecked".
    detail: Mapping[str, Any]
    last_checked_at: datetime | None = None  # the last successful check of the FMC


class IncidentReason(enum.StrEnum):
    """Why an effect happens to an incident: what its note says, what the audit records."""

    OPENED = "opened"
    COULD_NOT_CHECK = "could-not-check"
    UPDATED = "updated"
    ESCALATED = "escalated"
    REMINDER = "reminder"
    STALE = "stale"
    RENEWED = "renewed"
    RESOLVED = "resolved"
    RECOVERED = "recovered"


class EffectKind(enum.StrEnum):
    """What to do about an incident."""

    OPEN = "open"
    EDIT = "edit"
    NOTE = "note"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class Effect:
    """One planned change to an incident, with the finding that caused it."""

    kind: EffectKind
    fmc: str
    incident_kind: IncidentKind
    incident: Incident | None  # None only for OPEN
    finding: Finding
    severity: str
    reason: IncidentReason
    broadcast: bool = False  # reminders and staleness are also shown in the channel
    # What the incident stores once applied (see the module docstring).
    detail: Mapping[str, Any] = field(default_factory=dict)
    last_known: Finding | None = None  # the last checked finding, shown while unchecked
    last_checked_at: datetime | None = None
    previous: str | None = None  # the incident's severity before this effect


def needs_attention(finding: Finding) -> bool:
    """True when the FMC is not plainly healthy: a worrying status, or a fix to make."""
    return finding.status in _ATTENTION or finding.action is not Action.NONE


def is_unchecked(finding: Finding) -> bool:
    """True when the FMC could not be checked (an error other than a bad certificate)."""
    return finding.error is not None and finding.error.kind not in CHECKED_ERROR_KINDS


def is_escalation(old: str, new: str) -> bool:
    """Did the certificate status get worse (unknown ranks as critical)?"""
    return _RANK.get(new, 0) > _RANK.get(old, 0)


def still_at_risk(finding: Finding) -> bool:
    """An affected release without VDB 406+: its next certificate renewal will fail."""
    return finding.affected is True and not vdb_fixes_defect(finding.facts.vdb_build)


def last_known_finding(detail: Mapping[str, Any]) -> Finding | None:
    """The last *checked* finding an incident's detail holds, None when none is known."""
    try:
        finding = finding_from_record(detail)
    except (KeyError, TypeError, ValueError):
        return None
    return None if is_unchecked(finding) else finding


def shown_finding(incident: Incident) -> Finding | None:
    """The finding an incident's message shows: the last known one, or why it is unchecked."""
    known = last_known_finding(incident.detail)
    why = incident.detail.get(UNCHECKED_KEY)
    if incident.kind is not IncidentKind.UNCHECKED or not isinstance(why, Mapping):
        return known
    try:
        base = finding_from_record(incident.detail)
        checked_at = datetime.fromisoformat(str(why["at"]).replace("Z", "+00:00"))
        error = ErrorInfo(ErrorKind(why["kind"]), str(why["message"]))
    except (KeyError, TypeError, ValueError):
        return known
    return Finding(
        name=base.name, host=base.host, status=Status.UNKNOWN, checked_at=checked_at,
        facts=base.facts, days_left=None, affected=base.affected, action=Action.NONE,
        upgrade_to=None, error=error, kind=base.kind, access=base.access,
    )  # fmt: skip


def is_stale(last_checked_at: datetime | None, *, now: datetime, stale_after: timedelta) -> bool:
    """Was the FMC last checked successfully longer than ``stale_after`` ago?"""
    return last_checked_at is not None and now - last_checked_at > stale_after


def plan_incident_effects(
    findings: Sequence[Finding],
    open_incidents: Sequence[Incident],
    *,
    now: datetime,
    renotify: timedelta,
    snoozed: Mapping[str, datetime],
    stale_after: timedelta | None = None,
    last_known: Mapping[str, Finding] | None = None,
) -> list[Effect]:
    """The effects a scan's findings have on the open incidents (rules in the docstring).

    ``last_known`` maps an FMC to its last successfully checked finding (for FMCs without
    an open incident); ``stale_after`` None never makes an incident stale.
    """
    current: dict[str, Incident | None] = {
        i.fmc: i for i in open_incidents if i.state is IncidentState.OPEN
    }
    known = last_known or {}
    effects: list[Effect] = []
    for finding in findings:
        if finding.name in current and current[finding.name] is None:
            continue  # opened earlier in this same plan
        rules = _Rules(finding, current.get(finding.name), known.get(finding.name), now=now,
                       renotify=renotify, stale_after=stale_after)  # fmt: skip
        planned = rules.plan()
        until = snoozed.get(finding.name)
        if until is not None and until > now:
            planned = [e for e in planned if not _silenced(e)]
        for effect in planned:
            if effect.kind is EffectKind.OPEN:
                current[effect.fmc] = None
            elif effect.kind is EffectKind.RESOLVE:
                current.pop(effect.fmc, None)
        effects.extend(planned)
    return effects


def _silenced(effect: Effect) -> bool:
    return effect.kind is EffectKind.NOTE or (
        effect.kind is EffectKind.OPEN and effect.incident_kind is IncidentKind.UNCHECKED
    )


@dataclass(frozen=True, slots=True)
class _Rules:
    """The rules for one finding and the FMC's open incident (if any)."""

    finding: Finding
    incident: Incident | None
    known: Finding | None
    now: datetime
    renotify: timedelta
    stale_after: timedelta | None

    def effect(
        self,
        kind: EffectKind,
        incident_kind: IncidentKind,
        severity: str,
        reason: IncidentReason,
        *,
        broadcast: bool = False,
    ) -> Effect:
        incident = self.incident
        finding = self.finding
        if incident_kind is IncidentKind.UNCHECKED and is_unchecked(finding):
            last_known = self._last_known()
            base = finding_to_record(last_known) if last_known else finding_to_record(finding)
            assert finding.error is not None
            why = {"kind": finding.error.kind, "message": finding.error.message,
                   "at": iso_utc(finding.checked_at)}  # fmt: skip
            detail: dict[str, Any] = {**base, UNCHECKED_KEY: why}
            last_checked = self._last_checked()
        else:
            last_known = finding
            detail = finding_to_record(finding)
            last_checked = finding.checked_at
        return Effect(
            kind, finding.name, incident_kind, incident if kind is not EffectKind.OPEN else None,
            finding, severity, reason, broadcast, detail, last_known, last_checked,
            incident.severity if incident else None,
        )  # fmt: skip

    def _last_known(self) -> Finding | None:
        if self.incident is not None:
            return last_known_finding(self.incident.detail)
        return self.known

    def _last_checked(self) -> datetime | None:
        if self.incident is not None and self.incident.last_checked_at is not None:
            return self.incident.last_checked_at
        known = self._last_known()
        return known.checked_at if known else None

    def _unchecked_severity(self) -> str:
        assert self.finding.error is not None
        stale = self.stale_after is not None and is_stale(
            self._last_checked(), now=self.now, stale_after=self.stale_after
        )
        return STALE if stale else self.finding.error.kind

    def plan(self) -> list[Effect]:
        if is_unchecked(self.finding):
            return self._plan_unchecked()
        incident = self.incident
        if incident is not None and incident.kind is IncidentKind.UNCHECKED:
            return self._plan_answers_again(incident)
        return self._plan_certificate(incident)

    def _plan_unchecked(self) -> list[Effect]:
        severity = self._unchecked_severity()
        unchecked = IncidentKind.UNCHECKED
        incident = self.incident
        if incident is None:
            return [
                self.effect(EffectKind.OPEN, unchecked, severity, IncidentReason.COULD_NOT_CHECK)
            ]
        if incident.kind is IncidentKind.CERTIFICATE:
            return [
                self.effect(EffectKind.EDIT, unchecked, severity, IncidentReason.COULD_NOT_CHECK),
                self.effect(EffectKind.NOTE, unchecked, severity, IncidentReason.COULD_NOT_CHECK),
            ]
        if severity == STALE and incident.severity != STALE:
            return [
                self.effect(EffectKind.EDIT, unchecked, severity, IncidentReason.STALE),
                self.effect(
                    EffectKind.NOTE, unchecked, severity, IncidentReason.STALE, broadcast=True
                ),
            ]
        if severity != incident.severity or self._shown_changed(incident):
            return [self.effect(EffectKind.EDIT, unchecked, severity, IncidentReason.UPDATED)]
        return []

    def _shown_changed(self, incident: Incident) -> bool:
        """Did the error, or the whole hours since the last check, change on the message?"""
        assert self.finding.error is not None
        why = incident.detail.get(UNCHECKED_KEY)
        error = (self.finding.error.kind, self.finding.error.message)
        if not isinstance(why, Mapping) or (why.get("kind"), why.get("message")) != error:
            return True
        last = self._last_checked()
        if last is None:
            return False
        return _whole_hours(self.now - last) != _whole_hours(incident.updated_at - last)

    def _plan_answers_again(self, incident: Incident) -> list[Effect]:
        severity = self.finding.status.value
        certificate = IncidentKind.CERTIFICATE
        if not needs_attention(self.finding):
            return [
                self.effect(EffectKind.RESOLVE, certificate, severity, IncidentReason.RECOVERED)
            ]
        return [
            self.effect(EffectKind.EDIT, certificate, severity, IncidentReason.RECOVERED),
            self.effect(EffectKind.NOTE, certificate, severity, IncidentReason.RECOVERED),
        ]

    def _plan_certificate(self, incident: Incident | None) -> list[Effect]:
        finding = self.finding
        severity = finding.status.value
        certificate = IncidentKind.CERTIFICATE
        if not needs_attention(finding):
            if incident is None:
                return []
            reason = (
                IncidentReason.RENEWED if _renewed(incident, finding) else IncidentReason.RESOLVED
            )
            return [self.effect(EffectKind.RESOLVE, certificate, severity, reason)]
        if incident is None:
            return [self.effect(EffectKind.OPEN, certificate, severity, IncidentReason.OPENED)]
        if _renewed(incident, finding):
            return [
                self.effect(EffectKind.EDIT, certificate, severity, IncidentReason.RENEWED),
                self.effect(EffectKind.NOTE, certificate, severity, IncidentReason.RENEWED),
            ]
        if is_escalation(incident.severity, severity):
            return [
                self.effect(EffectKind.EDIT, certificate, severity, IncidentReason.ESCALATED),
                self.effect(EffectKind.NOTE, certificate, severity, IncidentReason.ESCALATED),
            ]
        effects: list[Effect] = []
        if _visible_change(incident, finding):
            effects.append(
                self.effect(EffectKind.EDIT, certificate, severity, IncidentReason.UPDATED)
            )
        last_post = incident.last_notified_at or incident.opened_at
        if finding.status in _REMIND and last_post + self.renotify <= self.now:
            effects.append(
                self.effect(
                    EffectKind.NOTE, certificate, severity, IncidentReason.REMINDER, broadcast=True
                )
            )
        return effects


def _whole_hours(delta: timedelta) -> int:
    return max(0, delta // _HOUR)


def _visible_change(incident: Incident, finding: Finding) -> bool:
    new = finding_to_json(finding)
    return any(new.get(key) != incident.detail.get(key) for key in VISIBLE_FIELDS)


def _renewed(incident: Incident, finding: Finding) -> bool:
    cert = finding.facts.certificate
    old = _parse_iso(incident.detail.get("not_after"))
    return cert is not None and old is not None and cert.not_after > old


def _parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # Stored details are always aware; a naive value is not comparable, so not trusted.
    return parsed if parsed.tzinfo is not None else None
