"""Incidents and snoozes: what the incident rules' effects and the Snooze button store.

The rules are pure (:mod:`bot.core.incidents`); the Slack bot carries their effects out,
the store first: it opens, edits, notes and resolves incidents through these methods,
which audit what changes. A snooze silences one FMC's reminders for a while.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.audit import AuditAction
from bot.core.findings import Finding, finding_from_record
from bot.core.incidents import Effect, Incident, is_unchecked
from bot.operations.base import OperationsBase

SCHEDULE_ACTOR = "system:schedule"  # incidents follow scheduled scans: nobody in person

LAST_KNOWN_LOOKBACK = 50  # stored findings searched for the last successful check


class IncidentOperations(OperationsBase):
    """Open, edit, resolve and snooze incidents; every state change audited."""

    async def open_incidents(self) -> list[Incident]:
        """Every OPEN incident (at most one per FMC)."""
        return await self.store.open_incidents()

    async def find_open_incident(self, incident_id: int) -> Incident | None:
        """The OPEN incident with this id; None once it is resolved (or never was)."""
        for incident in await self.store.open_incidents():
            if incident.id == incident_id:
                return incident
        return None

    async def active_snoozes(self) -> dict[str, datetime]:
        """FMC -> until when its reminders are snoozed, for the snoozes still running now."""
        return await self.store.active_snoozes(self.clock())

    async def last_checked_finding(self, fmc: str) -> Finding | None:
        """The FMC's newest stored finding of a successful check, None when there is none."""
        for stored in await self.store.findings(fmc, limit=LAST_KNOWN_LOOKBACK):
            data = dict(stored.data)
            # The stored JSON has no not_before; the expiry is what the message shows.
            data.setdefault("not_before", data.get("not_after"))
            try:
                finding = finding_from_record(data)
            except (KeyError, TypeError, ValueError):
                continue
            if not is_unchecked(finding):
                return finding
        return None

    async def open_incident(self, effect: Effect, *, approval_id: int | None) -> Incident:
        """Store the incident an OPEN effect asks for (with its fix request, if any); audited."""
        now = self.clock()
        incident = await self.store.create_incident(
            fmc=effect.fmc,
            kind=effect.incident_kind,
            severity=effect.severity,
            detail=effect.detail,
            now=now,
            approval_id=approval_id,
            last_checked_at=effect.last_checked_at,
        )
        await self._audit(
            AuditAction.INCIDENT_OPENED,
            actor=SCHEDULE_ACTOR,
            fmc=effect.fmc,
            detail={"incident_id": incident.id, "kind": effect.incident_kind.value,
                    "severity": effect.severity},
            now=now,
        )  # fmt: skip
        return incident

    async def record_incident_message(
        self, incident_id: int, *, channel: str, thread_ts: str, message_ts: str
    ) -> Incident:
        """The incident's message was posted: store where (it counts as a notification)."""
        return await self.store.update_incident(
            incident_id,
            now=self.clock(),
            channel=channel,
            thread_ts=thread_ts,
            message_ts=message_ts,
            notified=True,
        )

    async def apply_incident_edit(self, effect: Effect) -> Incident:
        """Store what an EDIT effect changes: severity, detail, kind, last successful check."""
        assert effect.incident is not None  # only OPEN effects come without one
        return await self.store.update_incident(
            effect.incident.id, now=self.clock(), severity=effect.severity, detail=effect.detail,
            kind=effect.incident_kind, last_checked_at=effect.last_checked_at,
        )  # fmt: skip

    async def mark_incident_notified(self, incident_id: int) -> Incident:
        """A note was posted in the incident's thread: reminders count from now."""
        return await self.store.update_incident(incident_id, now=self.clock(), notified=True)

    async def resolve_incident(self, effect: Effect) -> Incident:
        """Resolve the incident of a RESOLVE effect; audited with the reason."""
        assert effect.incident is not None  # only OPEN effects come without one
        now = self.clock()
        resolved = await self.store.resolve_incident(
            effect.incident.id, now=now, detail=effect.detail
        )
        await self._audit(
            AuditAction.INCIDENT_RESOLVED,
            actor=SCHEDULE_ACTOR,
            fmc=effect.fmc,
            detail={"incident_id": effect.incident.id, "reason": effect.reason},
            now=now,
        )
        return resolved

    async def record_incident_moved(self, old: Incident, moved: Incident, *, reason: str) -> None:
        """Audit an incident posted again in a new thread (its message was gone)."""
        await self._audit(
            AuditAction.INCIDENT_REPOSTED,
            actor=SCHEDULE_ACTOR,
            fmc=old.fmc,
            detail={"incident_id": old.id, "reason": reason, "old_message_ts": old.message_ts,
                    "message_ts": moved.message_ts},
        )  # fmt: skip

    async def snooze_incident(
        self, incident: Incident, *, until: datetime, by: str, actor: str, reason: str
    ) -> None:
        """Silence the reminders of ``incident``'s FMC until ``until``; recorded and audited."""
        now = self.clock()
        await self.store.snooze(fmc=incident.fmc, until=until, by=by, reason=reason, now=now)
        await self._audit(
            AuditAction.INCIDENT_SNOOZED,
            actor=actor,
            fmc=incident.fmc,
            detail={"incident_id": incident.id, "until": until.isoformat(), "reason": reason},
            now=now,
        )

    async def refuse_snooze(self, *, actor: str, reason: str, incident: Incident | None) -> None:
        """Audit a snooze refused (not an approver, or the incident is resolved)."""
        await self._audit(
            AuditAction.INCIDENT_SNOOZE_REFUSED,
            actor=actor,
            fmc=incident.fmc if incident else None,
            detail={"reason": reason},
        )
