"""Replicas share what one process used to keep in memory: ``home_viewers``.

Users who opened the bot's App Home are republished after each scan; with several
replicas the one that runs the scan is rarely the one that saw the user open the tab, so
the list lives in the database.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create home_viewers (user id, when the tab was last opened)."""
    op.create_table(
        "home_viewers",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop home_viewers."""
    op.drop_table("home_viewers")
