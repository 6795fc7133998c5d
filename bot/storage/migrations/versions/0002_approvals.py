"""Approval requests: a fix asked for in Slack, waiting for (or past) its decision.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create approval_requests with its status check and its two indexes."""
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fmc", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("thread_ts", sa.String(32), nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        # Frozen here on purpose: a migration must not change when the enum does.
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'denied', 'expired')",
            # op.f(): the name is final; the naming convention must not wrap it again.
            name=op.f("ck_approval_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["remediation_runs.id"],
            name=op.f("fk_approval_requests_run_id_remediation_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_requests")),
    )
    op.create_index(
        "ix_approval_requests_status_created_at", "approval_requests", ["status", "created_at"]
    )
    op.create_index(
        "ix_approval_requests_fmc_created_at", "approval_requests", ["fmc", "created_at"]
    )


def downgrade() -> None:
    """Drop approval_requests (its indexes go with it)."""
    op.drop_table("approval_requests")
