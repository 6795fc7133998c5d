"""An approval is bound to the package it was shown with: ``plan_sha256``.

A request made for a VDB update remembers the sha256 of the package configured then; an
Approve whose package has changed since is refused. Older requests have none (NULL):
they are judged as before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add approval_requests.plan_sha256 (nullable)."""
    op.add_column("approval_requests", sa.Column("plan_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop approval_requests.plan_sha256."""
    with op.batch_alter_table("approval_requests") as batch:
        batch.drop_column("plan_sha256")
