"""Tests of the append-only audit log, enforced by the store and by the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.storage.sql import SqlStore

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


async def test_audit_appends_and_lists_newest_first_by_fmc(store: SqlStore) -> None:
    """Audit records come back newest first, with details intact, and filter by FMC."""
    scan = await store.audit(actor="cli:alice", action="scan", fmc=None, detail={"n": 2}, now=NOW)
    east = await store.audit(
        actor="slack:U0123",
        action="remediation.requested",
        fmc="fmc-east",
        detail={"action": "vdb-update", "steps": ["upload", "install"]},
        now=NOW + timedelta(minutes=1),
    )
    west = await store.audit(
        actor="cli:bob", action="trust", fmc="fmc-west", detail={}, now=NOW + timedelta(minutes=2)
    )

    assert east.at == NOW + timedelta(minutes=1)
    assert east.at.tzinfo is UTC
    assert dict(east.detail) == {"action": "vdb-update", "steps": ["upload", "install"]}
    assert [e.id for e in await store.audit_log()] == [west.id, east.id, scan.id]
    assert [e.id for e in await store.audit_log("fmc-east")] == [east.id]
    assert [e.id for e in await store.audit_log(limit=1)] == [west.id]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'cli:mallory'",
        "DELETE FROM audit_log",
    ],
)
async def test_database_refuses_update_and_delete_of_audit_log(
    store: SqlStore, statement: str
) -> None:
    """Raw UPDATE and DELETE on audit_log fail in the database itself, leaving the record."""
    entry = await store.audit(actor="cli:alice", action="scan", fmc=None, detail={}, now=NOW)

    with pytest.raises(DBAPIError, match="append-only"):
        async with store.engine.begin() as conn:
            await conn.execute(text(statement))

    assert await store.audit_log() == [entry]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_postgres_refuses_truncate_of_audit_log(store: SqlStore) -> None:
    """On PostgreSQL, TRUNCATE (which skips row triggers) is refused as well."""
    entry = await store.audit(actor="cli:alice", action="scan", fmc=None, detail={}, now=NOW)

    with pytest.raises(DBAPIError, match="append-only"):
        async with store.engine.begin() as conn:
            await conn.execute(text("TRUNCATE audit_log"))

    assert await store.audit_log() == [entry]


async def test_audit_detail_naming_a_secret_is_refused(store: SqlStore) -> None:
    """A detail with a password key is a caller bug: refused before anything is written."""
    with pytest.raises(ValueError, match="password"):
        await store.audit(
            actor="cli:alice",
            action="trust",
            fmc="fmc-east",
            detail={"target": {"password": "hunter2"}},
            now=NOW,
        )
    assert await store.audit_log() == []
