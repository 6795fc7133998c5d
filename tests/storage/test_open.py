"""Tests of opening a store: URLs, migrations to head, SQLite settings, and errors."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, Connection, insert, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.core.approval import ApprovalStatus
from bot.core.incidents import IncidentKind
from bot.errors import StorageError
from bot.operations.ports import Store
from bot.storage.sql import MIGRATIONS_DIR, SqlStore, alembic_config, mask_url, open_store
from bot.storage.tables import (
    OPEN_INCIDENT_INDEX,
    ApprovalRequestRow,
    AuditRow,
    Base,
    RemediationRunRow,
)
from tests.storage.pg import postgres_url, skip_or_fail

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
TABLES = {
    "probe_results",
    "remediation_runs",
    "remediation_steps",
    "audit_log",
    "approval_requests",
    "incidents",
    "snoozes",
    "schedule_fires",
}


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def test_open_creates_schema_and_records_version(db_url: str) -> None:
    """Opening an empty database creates every table and records the head revision."""
    store = await open_store(db_url)
    try:
        async with store.engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    finally:
        await store.close()
    assert tables >= TABLES | {"alembic_version"}
    assert version == [(_head(),)]


async def test_reopen_is_a_no_op_that_keeps_data(db_url: str) -> None:
    """Opening an up-to-date database again changes nothing and keeps what was written."""
    first = await open_store(db_url)
    entry = await first.audit(actor="cli:alice", action="scan", fmc=None, detail={}, now=NOW)
    await first.close()

    second = await open_store(db_url)
    try:
        assert [e.id for e in await second.audit_log()] == [entry.id]
        async with second.engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert version == [(_head(),)]
    finally:
        await second.close()


async def test_two_processes_opening_an_empty_database_both_succeed(db_url: str) -> None:
    """Concurrent first opens (bot and CLI starting together) migrate once, without errors."""
    stores = await asyncio.gather(open_store(db_url), open_store(db_url), open_store(db_url))
    try:
        async with stores[0].engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert version == [(_head(),)]
    finally:
        for store in stores:
            await store.close()


async def test_database_from_a_newer_fmccert_is_refused(db_url: str) -> None:
    """A schema revision this fmccert does not know is a StorageError, not a silent downgrade."""
    store = await open_store(db_url)
    async with store.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    await store.close()

    with pytest.raises(StorageError, match="9999"):
        await open_store(db_url)


async def test_migrations_match_the_models(db_url: str) -> None:
    """The migrated schema equals the ORM tables, so autogenerate would find nothing to do."""

    def diff(conn: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))

    def check_names(conn: Connection) -> dict[str, set[str]]:
        # Autogenerate ignores CHECK constraints, so compare their names here.
        inspector = inspect(conn)
        return {
            table: {str(ck["name"]) for ck in inspector.get_check_constraints(table)}
            for table in Base.metadata.tables
        }

    expected_checks = {
        name: {str(c.name) for c in table.constraints if isinstance(c, CheckConstraint)}
        for name, table in Base.metadata.tables.items()
    }
    store = await open_store(db_url)
    try:
        async with store.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
            assert await conn.run_sync(check_names) == expected_checks
    finally:
        await store.close()
    assert expected_checks["approval_requests"] == {"ck_approval_requests_status"}
    assert expected_checks["incidents"] == {"ck_incidents_kind", "ck_incidents_state"}


async def test_open_incident_index_is_partial_and_unique(db_url: str) -> None:
    """The one-open-incident index exists on (fmc), unique, limited to open rows."""

    def indexes(conn: Connection) -> dict[str, tuple[list[str], bool]]:
        return {
            str(ix["name"]): ([str(c) for c in ix["column_names"]], bool(ix["unique"]))
            for ix in inspect(conn).get_indexes("incidents")
        }

    store = await open_store(db_url)
    try:
        async with store.engine.connect() as conn:
            found = await conn.run_sync(indexes)
            if conn.dialect.name == "postgresql":
                sql = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
            else:
                sql = "SELECT sql FROM sqlite_master WHERE name = :name"
            definition = (await conn.execute(text(sql), {"name": OPEN_INCIDENT_INDEX})).scalar()
    finally:
        await store.close()
    assert found[OPEN_INCIDENT_INDEX] == (["fmc"], True)
    assert "state = 'open'" in str(definition).replace("(", "").replace(")", "").replace(
        "::text", ""
    )


async def _upgrade_to(url: str, revision: str) -> None:
    """Migrate ``url`` to exactly ``revision``, as an older fmccert would have left it."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), revision))
    finally:
        await engine.dispose()


async def test_0001_database_is_migrated_on_open_and_keeps_its_data(db_url: str) -> None:
    """A database left at 0001 gains approval_requests on open, and its rows survive."""
    await _upgrade_to(db_url, "0001")
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(AuditRow).values(
                    at=NOW, actor="cli:alice", action="scan", fmc=None, detail={"n": 1}
                )
            )
            run_id = (
                await conn.execute(
                    insert(RemediationRunRow)
                    .values(
                        fmc="fmc-east",
                        action="vdb-update",
                        status="renewed",
                        requested_by="cli:alice",
                        owner="bot-1:4242",
                        started_at=NOW,
                        heartbeat_at=NOW,
                        plan={},
                    )
                    .returning(RemediationRunRow.id)
                )
            ).scalar_one()
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert "approval_requests" not in tables
    finally:
        await engine.dispose()

    store = await open_store(db_url)
    try:
        async with store.engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert version == [(_head(),)]
        assert _head() == "0007"
        assert [(e.actor, dict(e.detail)) for e in await store.audit_log()] == [
            ("cli:alice", {"n": 1})
        ]
        old_run = await store.run(run_id)
        assert old_run is not None
        assert old_run.fmc == "fmc-east"
        request = await store.create_approval(
            fmc="fmc-east",
            action="vdb-update",
            requested_by="U0ALICE",
            now=NOW,
            expires_at=NOW,
        )
        await store.attach_run(request.id, run_id)
        stored = await store.approval(request.id)
        assert stored is not None
        assert (stored.status, stored.run_id) == (ApprovalStatus.PENDING, run_id)
    finally:
        await store.close()


async def test_0002_downgrades_and_upgrades_again(db_url: str) -> None:
    """Revision 0002's downgrade drops approval_requests cleanly, and opening restores it."""
    await _upgrade_to(db_url, "0002")
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0001"))
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    finally:
        await engine.dispose()
    assert "approval_requests" not in tables
    assert version == [("0001",)]

    store = await open_store(db_url)
    try:
        assert await store.pending_approvals() == []
    finally:
        await store.close()


async def test_0002_database_is_migrated_on_open_and_keeps_its_data(db_url: str) -> None:
    """A database left at 0002 gains the incident tables on open, and its rows survive."""
    await _upgrade_to(db_url, "0002")
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(AuditRow).values(
                    at=NOW, actor="cli:alice", action="scan", fmc=None, detail={"n": 2}
                )
            )
            approval_id = (
                await conn.execute(
                    insert(ApprovalRequestRow)
                    .values(
                        fmc="fmc-east",
                        action="vdb-update",
                        requested_by="U0ALICE",
                        created_at=NOW,
                        expires_at=NOW,
                        status="pending",
                    )
                    .returning(ApprovalRequestRow.id)
                )
            ).scalar_one()
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert not tables & {"incidents", "snoozes", "schedule_fires"}
    finally:
        await engine.dispose()

    store = await open_store(db_url)
    try:
        async with store.engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert version == [(_head(),)]
        assert [dict(e.detail) for e in await store.audit_log()] == [{"n": 2}]
        assert [r.id for r in await store.pending_approvals()] == [approval_id]
        incident = await store.create_incident(
            fmc="fmc-east",
            kind=IncidentKind.CERTIFICATE,
            severity="warning",
            detail={},
            now=NOW,
            approval_id=approval_id,
        )
        assert await store.open_incidents() == [incident]
        await store.record_fire("daily-scan", NOW)
        assert await store.last_fire("daily-scan") == NOW
    finally:
        await store.close()


async def test_0003_downgrades_and_upgrades_again(db_url: str) -> None:
    """Revision 0003's downgrade drops its three tables cleanly, and opening restores them."""
    await _upgrade_to(db_url, "0003")
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0002"))
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    finally:
        await engine.dispose()
    assert not tables & {"incidents", "snoozes", "schedule_fires"}
    assert "approval_requests" in tables
    assert version == [("0002",)]

    store = await open_store(db_url)
    try:
        assert await store.open_incidents() == []
        assert await store.active_snoozes(NOW) == {}
    finally:
        await store.close()


def test_migrations_ship_inside_the_package() -> None:
    """The Alembic scripts live in bot/storage/migrations, where package-data installs them."""
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0003_incidents.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0002_approvals.py").is_file()


async def test_sqlite_relative_path_is_under_base_dir_in_wal_mode(tmp_path: Path) -> None:
    """A relative SQLite path is resolved against base_dir, folders are created, WAL is on."""
    store = await open_store("sqlite+aiosqlite:///state/db/fmccert.db", base_dir=tmp_path)
    try:
        async with store.engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
            busy = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
    finally:
        await store.close()
    assert (tmp_path / "state" / "db" / "fmccert.db").is_file()
    assert (mode, foreign_keys, busy) == ("wal", 1, 10_000)


async def test_sqlite_url_without_driver_is_accepted(tmp_path: Path) -> None:
    """A plain sqlite:/// URL gets the async driver instead of an error."""
    store = await open_store(f"sqlite:///{tmp_path / 'plain.db'}")
    await store.close()
    assert (tmp_path / "plain.db").is_file()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


@pytest.mark.parametrize(
    "url",
    [
        "definitely not a url",
        "postgresql+asyncpg://fmccert:hunter2-secret",
        "mysql+aiomysql://fmccert:hunter2-secret@127.0.0.1/fmccert",
        "sqlite+aiosqlite://",
        "postgresql+asyncpg://fmccert:hunter2-secret@127.0.0.1:{closed}/fmccert_test",
        "postgresql+asyncpg://fmccert:hunter2-secret@127.0.0.1:{closed}/db?timeout=2",
        "postgresql+asyncpg://fmccert:hunter2-secret@127.0.0.1:{closed}/db?timeout=soon",
        "postgresql+asyncpg://fmccert:hunter2-secret@127.0.0.1:{closed}/db?no_such_option=1",
    ],
)
async def test_bad_or_unreachable_url_is_a_one_line_storage_error(url: str) -> None:
    """A malformed, unsupported or unreachable database is a one-line StorageError, no password."""
    with pytest.raises(StorageError) as caught:
        await open_store(url.format(closed=_closed_port()))
    message = str(caught.value)
    assert "hunter2-secret" not in message
    assert "\n" not in message


async def test_wrong_postgres_password_is_not_shown() -> None:
    """A refused PostgreSQL login is a StorageError that does not repeat the password tried."""
    url = postgres_url()
    store = None
    try:
        store = await open_store(url)
    except StorageError as exc:
        skip_or_fail(f"PostgreSQL at {mask_url(url)} is unavailable: {exc}")
    finally:
        if store is not None:
            await store.close()
    head, _, rest = url.partition("://")
    user = rest.split(":", 1)[0]
    host = rest.split("@", 1)[1]
    with pytest.raises(StorageError) as caught:
        await open_store(f"{head}://{user}:Wr0ng-pa55word@{host}")
    assert "Wr0ng-pa55word" not in str(caught.value)
    assert "***" in str(caught.value)


async def test_unwritable_sqlite_folder_is_a_storage_error(tmp_path: Path) -> None:
    """A SQLite path whose folder cannot be created is a StorageError, not an OSError."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="cannot create folder"):
        await open_store(f"sqlite+aiosqlite:///{blocker}/sub/fmccert.db")


def test_mask_url_hides_the_password() -> None:
    """mask_url replaces the password, even when it contains an @ or is in garbage."""
    assert mask_url("postgresql+asyncpg://u:p@ss@h:5432/d") == "postgresql+asyncpg://u:***@h:5432/d"
    assert mask_url("sqlite+aiosqlite:///rel.db") == "sqlite+aiosqlite:///rel.db"
    assert mask_url("x://u:secret@") == "x://u:***@"


def _as_store_port(store: SqlStore) -> Store:
    return store  # mypy proves SqlStore satisfies the Store protocol here


async def test_sql_store_is_a_store(tmp_path: Path) -> None:
    """SqlStore implements the Store port that services depend on."""
    store = _as_store_port(await open_store(f"sqlite+aiosqlite:///{tmp_path / 'port.db'}"))
    await store.close()


async def test_0004_closes_duplicate_pending_requests_and_keeps_incident_links(
    db_url: str,
) -> None:
    """Upgrading a 0003 database keeps the newest pending copy per FMC and action only.

    The older copies close as superseded (naming the newest), an incident keeps its link to
    a closed copy, and the database then refuses a second pending copy.
    """
    await _upgrade_to(db_url, "0003")
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            ids = []
            for fmc, minutes in [
                ("fmc-east", 0),
                ("fmc-east", 1),
                ("fmc-east", 2),
                ("fmc-west", 0),
            ]:
                created = NOW.replace(minute=minutes)
                ids.append(
                    (
                        await conn.execute(
                            insert(ApprovalRequestRow.__table__)  # type: ignore[arg-type]
                            .values(
                                fmc=fmc, action="vdb-update", requested_by="system:scan",
                                created_at=created, expires_at=created, status="pending",
                            )
                            .returning(ApprovalRequestRow.__table__.c.id)
                        )
                    ).scalar_one()
                )  # fmt: skip
            await conn.execute(
                text(
                    "INSERT INTO incidents (fmc, kind, state, severity, opened_at, updated_at, "
                    "approval_id, detail) VALUES ('fmc-east', 'certificate', 'open', 'warning', "
                    ":now, :now, :approval, '{}')"
                ),
                {"now": NOW.replace(tzinfo=None), "approval": ids[0]},
            )
    finally:
        await engine.dispose()

    store = await open_store(db_url)
    try:
        pending = {r.id for r in await store.pending_approvals()}
        assert pending == {ids[2], ids[3]}
        for old in ids[:2]:
            closed = await store.approval(old)
            assert closed is not None
            assert closed.status is ApprovalStatus.CLOSED
            assert closed.closed_reason == f"superseded by request #{ids[2]}"
        incidents = await store.open_incidents()
        assert [i.approval_id for i in incidents] == [ids[0]]
        with pytest.raises(IntegrityError):
            async with store.engine.begin() as conn:
                await conn.execute(text("UPDATE approval_requests SET status = 'pending'"))
    finally:
        await store.close()


async def test_0004_downgrades_and_upgrades_again(db_url: str) -> None:
    """Revision 0004's downgrade turns closed requests into expired ones and keeps every row."""
    store = await open_store(db_url)
    try:
        old = await store.create_approval(
            fmc="fmc-east", action="vdb-update", requested_by="U1", now=NOW, expires_at=NOW
        )
        new = await store.create_approval(
            fmc="fmc-east", action="vdb-update", requested_by="U1", now=NOW, expires_at=NOW
        )
        await store.create_incident(
            fmc="fmc-east", kind=IncidentKind.CERTIFICATE, severity="warning", detail={},
            now=NOW, approval_id=new.id,
        )  # fmt: skip
    finally:
        await store.close()
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0003"))
            rows = (
                await conn.execute(text("SELECT id, status FROM approval_requests ORDER BY id"))
            ).all()
            links = (await conn.execute(text("SELECT approval_id FROM incidents"))).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [(old.id, "expired"), (new.id, "pending")]
    assert [tuple(row) for row in links] == [(new.id,)]

    store = await open_store(db_url)
    try:
        assert [r.id for r in await store.pending_approvals()] == [new.id]
    finally:
        await store.close()


async def test_0006_merges_each_fmcs_open_pair_into_one_incident(db_url: str) -> None:
    """A 0005 database's open certificate + unchecked pair becomes one open incident.

    The certificate incident (and its thread) is kept and takes the unchecked state; the
    unchecked one is resolved with a note naming it; the database then refuses a second.
    """
    await _upgrade_to(db_url, "0005")
    insert_sql = text(
        "INSERT INTO incidents (fmc, kind, state, severity, opened_at, updated_at, "
        "thread_ts, detail) VALUES (:fmc, :kind, 'open', :severity, :now, :now, :thread, "
        ":detail)"
    )
    cert_detail = '{"status": "warning", "checked_at": "2026-11-27T08:00:00Z", "error": null}'
    down_detail = '{"status": "unknown", "error": {"kind": "unreachable", "message": "no route"}}'
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            for fmc, kind, severity, thread, detail in [
                ("fmc-east", "certificate", "warning", "1.0", cert_detail),
                ("fmc-east", "unchecked", "unreachable", "2.0", down_detail),
                ("fmc-west", "unchecked", "auth", "3.0", down_detail),
            ]:
                await conn.execute(
                    insert_sql,
                    {"fmc": fmc, "kind": kind, "severity": severity, "thread": thread,
                     "detail": detail, "now": NOW.replace(tzinfo=None)},
                )  # fmt: skip
    finally:
        await engine.dispose()

    store = await open_store(db_url)
    try:
        east, west = sorted(await store.open_incidents(), key=lambda i: i.fmc)
        assert (east.fmc, east.kind, east.severity, east.thread_ts) == (
            "fmc-east", IncidentKind.UNCHECKED, "unreachable", "1.0",
        )  # fmt: skip
        assert east.detail["status"] == "warning"  # the last known state stays
        assert east.detail["unchecked"]["kind"] == "unreachable"
        assert east.detail["unchecked"]["message"] == "no route"
        assert east.last_checked_at == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
        assert (west.kind, west.severity) == (IncidentKind.UNCHECKED, "auth")
        merged = [i for i in await store.incidents("fmc-east") if i.id != east.id]
        assert [i.state.value for i in merged] == ["resolved"]
        assert merged[0].detail["merged_into"] == east.id
        assert f"merged into incident #{east.id}" in merged[0].detail["note"]
        with pytest.raises(StorageError, match="already open"):
            await store.create_incident(
                fmc="fmc-east", kind=IncidentKind.CERTIFICATE, severity="warning", detail={},
                now=NOW,
            )  # fmt: skip
    finally:
        await store.close()


async def test_0006_downgrades_and_upgrades_again(db_url: str) -> None:
    """Revision 0006's downgrade restores the (fmc, kind) index, keeping every row."""
    store = await open_store(db_url)
    try:
        await store.create_incident(
            fmc="fmc-east", kind=IncidentKind.UNCHECKED, severity="auth", detail={}, now=NOW,
            last_checked_at=NOW,
        )  # fmt: skip
    finally:
        await store.close()
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0005"))
            rows = (await conn.execute(text("SELECT fmc, kind FROM incidents"))).all()
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("incidents")}
            )
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [("fmc-east", "unchecked")]
    assert "last_checked_at" not in columns

    store = await open_store(db_url)
    try:
        [incident] = await store.open_incidents()
        assert incident.last_checked_at is None
    finally:
        await store.close()
