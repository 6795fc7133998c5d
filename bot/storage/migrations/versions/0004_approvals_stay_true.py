"""Approvals that stay true: one PENDING request per (fmc, action), and CLOSED with a reason.

Before this revision every alert, scan and check added another pending request for the
same FMC; one could be denied while an older copy was approved. The upgrade closes all
but the newest pending request of each (fmc, action), then lets the database refuse a
second one. It adds ``closed_reason`` and ``message`` (the Slack message carrying the
buttons, so it can be edited to say why a request closed).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: a migration must not change when the enum does.
_OLD_STATUSES = "status IN ('pending', 'approved', 'denied', 'expired')"
_NEW_STATUSES = "status IN ('pending', 'approved', 'denied', 'expired', 'closed')"
_CHECK = "ck_approval_requests_status"
PENDING_INDEX = "uq_approval_requests_pending_fmc_action"

# SQLite cannot alter a CHECK constraint: the table is rebuilt (this DDL is 0002's table
# with the wider check and the two new columns).
_SQLITE_TABLE = """
CREATE TABLE _approval_requests_new (
    id INTEGER NOT NULL,
    fmc VARCHAR(255) NOT NULL,
    action VARCHAR(64) NOT NULL,
    requested_by VARCHAR(255) NOT NULL,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    status VARCHAR(32) NOT NULL,
    channel VARCHAR(64),
    message_ts VARCHAR(32),
    thread_ts VARCHAR(32),
    decided_by VARCHAR(255),
    decided_at DATETIME,
    run_id INTEGER,
    closed_reason TEXT,
    message JSON,
    CONSTRAINT pk_approval_requests PRIMARY KEY (id),
    CONSTRAINT ck_approval_requests_status CHECK ({check}),
    CONSTRAINT fk_approval_requests_run_id_remediation_runs
        FOREIGN KEY(run_id) REFERENCES remediation_runs (id)
)
"""
_COLUMNS = (
    "id, fmc, action, requested_by, created_at, expires_at, status, channel, message_ts, "
    "thread_ts, decided_by, decided_at, run_id"
)


def _rebuild_sqlite_table(check: str, *, with_new_columns: bool) -> None:
    # incidents.approval_id points here and foreign keys are enforced (they cannot be
    # switched off inside the migration's transaction): park those links, rebuild the
    # table, then restore them, so DROP TABLE deletes no referenced row.
    op.execute(
        "CREATE TEMPORARY TABLE _incident_links AS "
        "SELECT id, approval_id FROM incidents WHERE approval_id IS NOT NULL"
    )
    op.execute("UPDATE incidents SET approval_id = NULL")
    ddl = _SQLITE_TABLE.format(check=check)
    if not with_new_columns:
        ddl = ddl.replace("    closed_reason TEXT,\n    message JSON,\n", "")
    op.execute(ddl)
    # Fixed column names, no input: nothing here comes from outside the migration.
    copy = f"INSERT INTO _approval_requests_new ({_COLUMNS}) SELECT {_COLUMNS} FROM "  # noqa: S608
    op.execute(copy + "approval_requests")
    op.execute("DROP TABLE approval_requests")
    op.execute("ALTER TABLE _approval_requests_new RENAME TO approval_requests")
    op.create_index(
        "ix_approval_requests_status_created_at", "approval_requests", ["status", "created_at"]
    )
    op.create_index(
        "ix_approval_requests_fmc_created_at", "approval_requests", ["fmc", "created_at"]
    )
    op.execute(
        "UPDATE incidents SET approval_id = "
        "(SELECT approval_id FROM _incident_links WHERE _incident_links.id = incidents.id) "
        "WHERE id IN (SELECT id FROM _incident_links)"
    )
    op.execute("DROP TABLE _incident_links")


def upgrade() -> None:
    """Widen the status check, add the columns, close duplicates, add the unique index."""
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_table(_NEW_STATUSES, with_new_columns=True)
    else:
        op.drop_constraint(op.f(_CHECK), "approval_requests", type_="check")
        op.create_check_constraint(op.f(_CHECK), "approval_requests", _NEW_STATUSES)
        op.add_column("approval_requests", sa.Column("closed_reason", sa.Text(), nullable=True))
        op.add_column("approval_requests", sa.Column("message", sa.JSON(), nullable=True))
    # Every pending request but the newest of its (fmc, action) was a stale copy.
    op.execute(
        "UPDATE approval_requests SET status = 'closed', decided_at = created_at, "
        "closed_reason = 'superseded by request #' || CAST(("
        "  SELECT MAX(newer.id) FROM approval_requests AS newer"
        "  WHERE newer.fmc = approval_requests.fmc AND newer.action = approval_requests.action"
        "  AND newer.status = 'pending') AS VARCHAR(20)) "
        "WHERE status = 'pending' AND id < ("
        "  SELECT MAX(newer.id) FROM approval_requests AS newer"
        "  WHERE newer.fmc = approval_requests.fmc AND newer.action = approval_requests.action"
        "  AND newer.status = 'pending')"
    )
    # At most one PENDING request per FMC and action, enforced by the database.
    op.create_index(
        PENDING_INDEX,
        "approval_requests",
        ["fmc", "action"],
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    """Closed requests become expired (the old schema knows no closed), columns go."""
    op.drop_index(PENDING_INDEX, table_name="approval_requests")
    op.execute("UPDATE approval_requests SET status = 'expired' WHERE status = 'closed'")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_table(_OLD_STATUSES, with_new_columns=False)
    else:
        op.drop_column("approval_requests", "message")
        op.drop_column("approval_requests", "closed_reason")
        op.drop_constraint(op.f(_CHECK), "approval_requests", type_="check")
        op.create_check_constraint(op.f(_CHECK), "approval_requests", _OLD_STATUSES)
