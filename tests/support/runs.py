"""Remediation runs begun straight in the store, for tests of what happens to them."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.storage.records import RemediationRun
from bot.storage.sql import SqlStore


async def begin_run(store: SqlStore, owner: str, fmc: str = "fmc-east") -> RemediationRun:
    """A VDB-update run of ``fmc`` held by ``owner``, begun now by cli:alice."""
    return await store.begin_run(
        fmc=fmc,
        action="vdb-update",
        requested_by="cli:alice",
        approved_by=None,
        owner=owner,
        plan={},
        now=datetime.now(UTC),
    )
