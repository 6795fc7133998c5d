"""The database tables, as SQLAlchemy ORM classes; the migrations create exactly these."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from bot.core.approval import ApprovalStatus
from bot.core.incidents import IncidentKind, IncidentState

# Stable constraint names, so later migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUNNING_LOCK_INDEX = "uq_remediation_runs_running_fmc"
OPEN_INCIDENT_INDEX = "uq_incidents_open_fmc"
PENDING_APPROVAL_INDEX = "uq_approval_requests_pending_fmc_action"


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite stores them naive, PostgreSQL as timestamptz."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; normalise to UTC (naive UTC for SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the backend handed back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


class ProbeResultRow(Base):
    """One finding of one scan: the JSON object plus columns worth querying."""

    __tablename__ = "probe_results"
    __table_args__ = (
        Index("ix_probe_results_fmc_checked_at", "fmc", "checked_at"),
        Index("ix_probe_results_scan_id", "scan_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fmc: Mapped[str] = mapped_column(String(255))
    host: Mapped[str] = mapped_column(String(255))
    checked_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    days_left: Mapped[int | None]
    not_after: Mapped[datetime | None]
    error_kind: Mapped[str | None] = mapped_column(String(32))
    scan_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]


class RemediationRunRow(Base):
    """One remediation attempt; the partial unique index is the per-FMC lock."""

    __tablename__ = "remediation_runs"
    __table_args__ = (
        # At most one RUNNING run per FMC, enforced by the database across processes.
        Index(
            RUNNING_LOCK_INDEX,
            "fmc",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
        Index("ix_remediation_runs_fmc_started_at", "fmc", "started_at"),
        Index("ix_remediation_runs_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fmc: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(255))
    approved_by: Mapped[str | None] = mapped_column(String(255))
    owner: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    failed_step: Mapped[str | None] = mapped_column(String(255))
    summary: Mapped[str | None] = mapped_column(Text)
    old_not_after: Mapped[datetime | None]
    new_not_after: Mapped[datetime | None]
    plan: Mapped[dict[str, Any]]


class RemediationStepRow(Base):
    """One executed step of a run; (run_id, seq) is the key."""

    __tablename__ = "remediation_steps"

    run_id: Mapped[int] = mapped_column(ForeignKey("remediation_runs.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    output: Mapped[str] = mapped_column(Text)


class AuditRow(Base):
    """One audit record; triggers in the migration refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_fmc_at", "fmc", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    fmc: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]]


class ApprovalRequestRow(Base):
    """One request to run a fix, and its decision; Slack buttons carry only the id."""

    __tablename__ = "approval_requests"
    __table_args__ = (
        CheckConstraint(
            # Raw SQL cannot store a status the code does not know either.
            "status IN (" + ", ".join(f"'{status.value}'" for status in ApprovalStatus) + ")",
            name="status",
        ),
        # pending_approvals(): the few pending rows, oldest first, without a table scan.
        Index("ix_approval_requests_status_created_at", "status", "created_at"),
        Index("ix_approval_requests_fmc_created_at", "fmc", "created_at"),
        # One live request per FMC and action: a Deny cannot leave an older copy to approve.
        Index(
            PENDING_APPROVAL_INDEX,
            "fmc",
            "action",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fmc: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(64))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[datetime | None]
    run_id: Mapped[int | None] = mapped_column(ForeignKey("remediation_runs.id"))
    closed_reason: Mapped[str | None] = mapped_column(Text)
    message: Mapped[dict[str, Any] | None]  # the Slack message carrying the buttons
    plan_sha256: Mapped[str | None] = mapped_column(String(64))  # the package it was shown


def _one_of(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{value.value}'" for value in values) + ")"


class IncidentRow(Base):
    """One incident; the partial unique index keeps one OPEN incident per FMC."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(_one_of("kind", IncidentKind), name="kind"),
        CheckConstraint(_one_of("state", IncidentState), name="state"),
        # At most one OPEN incident per FMC, whatever its trouble or process inserts it.
        Index(
            OPEN_INCIDENT_INDEX,
            "fmc",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
        # open_incidents(): the few open rows without a table scan.
        Index("ix_incidents_state_fmc", "state", "fmc"),
        Index("ix_incidents_fmc_opened_at", "fmc", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fmc: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    channel: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    last_notified_at: Mapped[datetime | None]
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"))
    detail: Mapped[dict[str, Any]]
    last_checked_at: Mapped[datetime | None]  # the FMC's last successful check (0006)


class SnoozeRow(Base):
    """One snooze of one FMC's reminders; append-only, the newest per FMC wins."""

    __tablename__ = "snoozes"
    __table_args__ = (Index("ix_snoozes_fmc_created_at", "fmc", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fmc: Mapped[str] = mapped_column(String(255))
    until: Mapped[datetime]
    snoozed_by: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class ScheduleFireRow(Base):
    """When a scheduled job last fired, so a restart neither skips nor repeats it."""

    __tablename__ = "schedule_fires"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_fire_at: Mapped[datetime]


class HomeViewerRow(Base):
    """A user who opened the App Home: republished after scans, by whichever replica scans."""

    __tablename__ = "home_viewers"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    opened_at: Mapped[datetime]
