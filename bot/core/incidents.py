"""Incident rules: an alert is an incident, not a message.

Each FMC has at most one open incident of each kind: CERTIFICATE (its certificate needs
attention) and UNCHECKED (it could not be checked). A scan's findings, the open incidents
and ``now`` go in; the effects to apply (open, edit, note in the thread, resolve) come out.
Pure: storage and Slack apply the effects.

Rules, per finding, in input order:

* A finding is *unchecked* when it carries an error whose kind is not ``cert_missing`` or
  ``cert_invalid`` (for those two the FMC answered, so the certificate *was* checked).
* Unchecked: no open UNCHECKED incident -> OPEN one ("could-not-check", severity = the
  error kind); one open with the same kind -> nothing; with another kind -> EDIT
  ("updated", the new kind). The CERTIFICATE incident is left alone: nothing was learned
  about the certificate.
* Checked: an open UNCHECKED incident is RESOLVEd ("recovered"). Then, when the finding
  needs attention (status warning/critical/expired/unknown, or a fix to make):

  - no open CERTIFICATE incident -> OPEN ("opened");
  - open, and the status got worse (ok < warning < critical < expired; unknown ranks as
    critical) -> EDIT and NOTE ("escalated");
  - open, otherwise -> EDIT ("updated") only if something a user sees changed (status,
    days_left, not_after, version, build, vdb_build, error), else nothing;
  - open, severity critical/expired/unknown, not just escalated, and nothing posted for
    ``renotify`` (since ``last_notified_at``, else ``opened_at``) -> NOTE ("reminder",
    also broadcast to the channel).

  When it does not need attention, an open CERTIFICATE incident is RESOLVEd: "renewed"
  when the new not_after is later than the incident's, else "resolved".
* Snooze: while ``snoozed[fmc] > now``, that FMC's NOTE effects and the OPEN of UNCHECKED
  incidents are dropped (silenced); EDIT, RESOLVE and OPEN of CERTIFICATE still happen,
  so the record stays true.

An effect's ``severity`` is the incident's severity once the effect is applied.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from bot.core.advisory import Action
from bot.core.expiry import Status
from bot.core.findings import Finding, finding_to_json

# The FMC answered for these; the certificate itself is what is wrong.
CHECKED_ERROR_KINDS: Final = frozenset({"cert_missing", "cert_invalid"})
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


class IncidentKind(enum.StrEnum):
    """What an incident is about."""

    CERTIFICATE = "certificate"
    UNCHECKED = "unchecked"  # could not check


class IncidentState(enum.StrEnum):
    """Life of an incident; at most one OPEN per (fmc, kind)."""

    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Incident:
    """One problem of one FMC, from the scan that found it to the one that saw it gone."""

    id: int
    fmc: str
    kind: IncidentKind
    state: IncidentState
    # CERTIFICATE: the Status value at the last scan; UNCHECKED: the error kind.
    severity: str
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    channel: str | None
    thread_ts: str | None
    message_ts: str | None  # the incident's Slack message (a thread reply)
    last_notified_at: datetime | None  # last post about it (open, escalation, reminder)
    approval_id: int | None
    detail: Mapping[str, Any]  # finding_to_json of the last finding


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
    # "opened" | "could-not-check" | "updated" | "escalated" | "reminder" | "renewed"
    # | "resolved" | "recovered"
    reason: str
    broadcast: bool = False  # reminders are also shown in the channel


def needs_attention(finding: Finding) -> bool:
    """True when the FMC is not plainly healthy: a worrying status, or a fix to make."""
    return finding.status in _ATTENTION or finding.action is not Action.NONE


def is_unchecked(finding: Finding) -> bool:
    """True when the FMC could not be checked (an error other than a bad certificate)."""
    return finding.error is not None and finding.error.kind not in CHECKED_ERROR_KINDS


def is_escalation(old: str, new: str) -> bool:
    """Did the certificate status get worse (unknown ranks as critical)?"""
    return _RANK.get(new, 0) > _RANK.get(old, 0)


def plan_incident_effects(
    findings: Sequence[Finding],
    open_incidents: Sequence[Incident],
    *,
    now: datetime,
    renotify: timedelta,
    snoozed: Mapping[str, datetime],
) -> list[Effect]:
    """The effects a scan's findings have on the open incidents (rules in the docstring)."""
    current: dict[tuple[str, IncidentKind], Incident | None] = {
        (i.fmc, i.kind): i for i in open_incidents if i.state is IncidentState.OPEN
    }
    effects: list[Effect] = []
    for finding in findings:
        planned = _plan_one(finding, current, now=now, renotify=renotify)
        until = snoozed.get(finding.name)
        if until is not None and until > now:
            planned = [e for e in planned if not _silenced(e)]
        for effect in planned:
            key = (effect.fmc, effect.incident_kind)
            if effect.kind is EffectKind.OPEN:
                current[key] = None  # opened by this plan: a second finding must not reopen
            elif effect.kind is EffectKind.RESOLVE:
                current.pop(key, None)
        effects.extend(planned)
    return effects


def _silenced(effect: Effect) -> bool:
    return effect.kind is EffectKind.NOTE or (
        effect.kind is EffectKind.OPEN and effect.incident_kind is IncidentKind.UNCHECKED
    )


def _plan_one(
    finding: Finding,
    current: Mapping[tuple[str, IncidentKind], Incident | None],
    *,
    now: datetime,
    renotify: timedelta,
) -> list[Effect]:
    fmc = finding.name
    unchecked_key, cert_key = (fmc, IncidentKind.UNCHECKED), (fmc, IncidentKind.CERTIFICATE)

    def effect(
        kind: EffectKind,
        incident_kind: IncidentKind,
        incident: Incident | None,
        severity: str,
        reason: str,
        *,
        broadcast: bool = False,
    ) -> Effect:
        return Effect(kind, fmc, incident_kind, incident, finding, severity, reason, broadcast)

    unchecked = current.get(unchecked_key)
    if finding.error is not None and is_unchecked(finding):
        error_kind = finding.error.kind
        if unchecked_key not in current:
            return [
                effect(EffectKind.OPEN, IncidentKind.UNCHECKED, None, error_kind, "could-not-check")
            ]
        if unchecked is not None and unchecked.severity != error_kind:
            return [
                effect(EffectKind.EDIT, IncidentKind.UNCHECKED, unchecked, error_kind, "updated")
            ]
        return []

    effects: list[Effect] = []
    if unchecked is not None:
        effects.append(
            effect(
                EffectKind.RESOLVE,
                IncidentKind.UNCHECKED,
                unchecked,
                unchecked.severity,
                "recovered",
            )
        )
    severity = finding.status.value
    cert = current.get(cert_key)
    if not needs_attention(finding):
        if cert is not None:
            reason = "renewed" if _renewed(cert, finding) else "resolved"
            effects.append(
                effect(EffectKind.RESOLVE, IncidentKind.CERTIFICATE, cert, severity, reason)
            )
        return effects
    if cert_key not in current:
        effects.append(effect(EffectKind.OPEN, IncidentKind.CERTIFICATE, None, severity, "opened"))
        return effects
    if cert is None:  # opened earlier in this same plan
        return effects
    if is_escalation(cert.severity, severity):
        effects.append(
            effect(EffectKind.EDIT, IncidentKind.CERTIFICATE, cert, severity, "escalated")
        )
        effects.append(
            effect(EffectKind.NOTE, IncidentKind.CERTIFICATE, cert, severity, "escalated")
        )
        return effects
    if _visible_change(cert, finding):
        effects.append(effect(EffectKind.EDIT, IncidentKind.CERTIFICATE, cert, severity, "updated"))
    last_post = cert.last_notified_at or cert.opened_at
    if finding.status in _REMIND and last_post + renotify <= now:
        effects.append(
            effect(
                EffectKind.NOTE,
                IncidentKind.CERTIFICATE,
                cert,
                severity,
                "reminder",
                broadcast=True,
            )
        )
    return effects


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
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # Stored details are always aware; a naive value is not comparable, so not trusted.
    return parsed if parsed.tzinfo is not None else None
