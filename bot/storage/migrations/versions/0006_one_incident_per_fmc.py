"""An incident belongs to its FMC: one OPEN incident per FMC, whatever its trouble.

The partial unique index becomes ``(fmc) WHERE state = 'open'`` and ``last_checked_at``
(the FMC's last successful check) is added. Before 0006 an FMC could have two open
incidents, one ``certificate`` and one ``unchecked``: the certificate one is kept (its
thread stays the FMC's thread) and takes the unchecked one's state (``kind`` unchecked,
its severity, the error under ``detail.unchecked``); the unchecked one is resolved with a
note in its ``detail`` naming the incident it was merged into.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_INDEX = "uq_incidents_open_fmc_kind"
_NEW_INDEX = "uq_incidents_open_fmc"
_OPEN = sa.text("state = 'open'")

# Frozen here on purpose: a migration must not change when the models do.
_incidents = sa.table(
    "incidents",
    sa.column("id", sa.Integer()),
    sa.column("fmc", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("state", sa.String()),
    sa.column("severity", sa.String()),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("resolved_at", sa.DateTime(timezone=True)),
    sa.column("detail", sa.JSON()),
    sa.column("last_checked_at", sa.DateTime(timezone=True)),
)


def _checked_at(detail: Mapping[str, Any]) -> datetime | None:
    """The detail's checked_at when it records a successful check."""
    error = detail.get("error")
    if isinstance(error, Mapping) and error.get("kind") not in ("cert_missing", "cert_invalid"):
        return None
    raw = detail.get("checked_at")
    try:
        parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def _merge_open_pairs(conn: sa.Connection) -> None:
    """Fold each FMC's open unchecked incident into its open certificate incident."""
    t = _incidents
    rows = conn.execute(
        sa.select(t.c.id, t.c.fmc, t.c.kind, t.c.severity, t.c.detail, t.c.updated_at)
        .where(t.c.state == "open")
        .order_by(t.c.id)
    ).all()
    by_fmc: dict[str, dict[str, Any]] = {}
    for row in rows:
        by_fmc.setdefault(row.fmc, {})[row.kind] = row
    now = datetime.now(UTC)
    for kinds in by_fmc.values():
        cert, unchecked = kinds.get("certificate"), kinds.get("unchecked")
        detail = dict(cert.detail or {}) if cert is not None else {}
        if cert is not None:
            conn.execute(
                t.update().where(t.c.id == cert.id).values(last_checked_at=_checked_at(detail))
            )
        if cert is None or unchecked is None:
            continue
        old = dict(unchecked.detail or {})
        error = old.get("error") if isinstance(old.get("error"), Mapping) else {}
        detail["unchecked"] = {
            "kind": unchecked.severity,
            "message": str((error or {}).get("message") or ""),
            "at": old.get("checked_at") or unchecked.updated_at.isoformat(),
        }
        note = (
            f"merged into incident #{cert.id} by revision 0006: one open incident per FMC; "
            "its state continues there"
        )
        conn.execute(
            t.update()
            .where(t.c.id == unchecked.id)
            .values(
                state="resolved",
                resolved_at=now,
                updated_at=now,
                detail={**old, "merged_into": cert.id, "note": note},
            )
        )
        # Only now: the (fmc, kind) index still holds until the pair is one.
        conn.execute(
            t.update()
            .where(t.c.id == cert.id)
            .values(kind="unchecked", severity=unchecked.severity, detail=detail)
        )


def upgrade() -> None:
    """Add last_checked_at, merge open pairs, then index one open incident per FMC."""
    op.add_column("incidents", sa.Column("last_checked_at", sa.DateTime(timezone=True)))
    _merge_open_pairs(op.get_bind())
    op.drop_index(_OLD_INDEX, table_name="incidents")
    op.create_index(
        _NEW_INDEX,
        "incidents",
        ["fmc"],
        unique=True,
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )


def downgrade() -> None:
    """Index (fmc, kind) again and drop last_checked_at; merged incidents stay merged."""
    op.drop_index(_NEW_INDEX, table_name="incidents")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE incidents DROP COLUMN last_checked_at")
    else:
        op.drop_column("incidents", "last_checked_at")
    op.create_index(
        _OLD_INDEX,
        "incidents",
        ["fmc", "kind"],
        unique=True,
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )
