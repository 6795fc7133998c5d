"""Plain records the storage layer returns (the Store port is ``bot.operations.ports``)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class RunStatus(enum.StrEnum):
    """Life of a remediation run; only RUNNING holds the per-FMC lock."""

    RUNNING = "running"
    RENEWED = "renewed"  # fix ran and the certificate read back is newer
    NOT_RENEWED = "not_renewed"  # fix ran (e.g. VDB installed) but the certificate did not change
    FAILED = "failed"  # a step failed; see failed_step
    INTERRUPTED = "interrupted"  # the process died or was stopped mid-run


class StepStatus(enum.StrEnum):
    """Outcome of one plan step."""

    RUNNING = "running"
    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RemediationRun:
    """One remediation attempt of one FMC."""

    id: int
    fmc: str
    action: str
    status: RunStatus
    requested_by: str
    approved_by: str | None
    owner: str  # "host:pid:token" of the process running it (token: one per process start)
    started_at: datetime
    heartbeat_at: datetime  # the database's time of the last heartbeat
    finished_at: datetime | None
    failed_step: str | None
    summary: str | None  # the plain-language result
    old_not_after: datetime | None
    new_not_after: datetime | None
    plan: Mapping[str, Any]  # the plan as data (what was to run)


@dataclass(frozen=True, slots=True)
class RemediationStep:
    """One executed step of a run, with its redacted output."""

    run_id: int
    seq: int
    name: str
    status: StepStatus
    started_at: datetime
    finished_at: datetime | None
    output: str  # redacted; never holds a password


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One append-only audit record: who did what to which FMC, when."""

    id: int
    at: datetime
    actor: str  # "cli:alice", later "slack:U0123"
    action: str  # an AuditAction value (bot.core.audit); older rows keep their names
    fmc: str | None
    detail: Mapping[str, Any]  # JSON-safe; never secrets


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """A probe result as stored: the contract's JSON object plus its scan id."""

    id: int
    fmc: str
    checked_at: datetime
    status: str
    scan_id: str | None
    data: Mapping[str, Any]  # finding_to_json(finding)
    not_after: datetime | None  # the certificate expiry it recorded, if it read one (aware UTC)
