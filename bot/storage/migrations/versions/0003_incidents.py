"""Incidents, snoozes and schedule fires: alerts as incidents, and when jobs last ran.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create incidents (with its one-open-per-(fmc, kind) index), snoozes, schedule_fires."""
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fmc", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("opened_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("resolved_at", _utc(), nullable=True),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("thread_ts", sa.String(32), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("last_notified_at", _utc(), nullable=True),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        # Frozen here on purpose: a migration must not change when the enums do.
        sa.CheckConstraint("kind IN ('certificate', 'unchecked')", name=op.f("ck_incidents_kind")),
        sa.CheckConstraint("state IN ('open', 'resolved')", name=op.f("ck_incidents_state")),
        sa.ForeignKeyConstraint(
            ["approval_id"],
            ["approval_requests.id"],
            name=op.f("fk_incidents_approval_id_approval_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    # At most one OPEN incident per FMC and kind, enforced by the database.
    op.create_index(
        "uq_incidents_open_fmc_kind",
        "incidents",
        ["fmc", "kind"],
        unique=True,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    )
    op.create_index("ix_incidents_state_fmc", "incidents", ["state", "fmc"])
    op.create_index("ix_incidents_fmc_opened_at", "incidents", ["fmc", "opened_at"])

    op.create_table(
        "snoozes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fmc", sa.String(255), nullable=False),
        sa.Column("until", _utc(), nullable=False),
        sa.Column("snoozed_by", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snoozes")),
    )
    op.create_index("ix_snoozes_fmc_created_at", "snoozes", ["fmc", "created_at"])

    op.create_table(
        "schedule_fires",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("last_fire_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_schedule_fires")),
    )


def downgrade() -> None:
    """Drop the three tables (their indexes go with them)."""
    op.drop_table("schedule_fires")
    op.drop_table("snoozes")
    op.drop_table("incidents")
