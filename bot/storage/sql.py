"""The real Store: SQLAlchemy on SQLite (aiosqlite) or PostgreSQL (asyncpg).

``open_store`` creates or migrates the schema to the newest Alembic revision shipped in
``bot/storage/migrations`` before returning. Every database failure leaves this module as
a one-line :class:`~bot.errors.StorageError` that never shows the URL's password.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Connection, event, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.core.approval import ApprovalRequest, ApprovalStatus
from bot.core.findings import Finding, finding_to_json
from bot.core.incidents import Incident, IncidentKind, IncidentState
from bot.errors import RemediationBusyError, StorageError
from bot.storage.records import (
    AuditEntry,
    RemediationRun,
    RemediationStep,
    RunStatus,
    StepStatus,
    StoredFinding,
)
from bot.storage.tables import (
    OPEN_INCIDENT_INDEX,
    PENDING_APPROVAL_INDEX,
    RUNNING_LOCK_INDEX,
    ApprovalRequestRow,
    AuditRow,
    Base,
    HomeViewerRow,
    IncidentRow,
    ProbeResultRow,
    RemediationRunRow,
    RemediationStepRow,
    ScheduleFireRow,
    SnoozeRow,
)

log = logging.getLogger("bot.storage")

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
# A result dated later than the database's now by more than this came from a clock that
# had jumped ahead: a warning is logged. It cannot outrank the results recorded after it
# anyway: "newest" is the order of recording (the row id), not the stated checked_at.
CLOCK_SLACK: Final = timedelta(minutes=1)
SQLITE_BUSY_TIMEOUT_S: Final = 10.0
POSTGRES_CONNECT_TIMEOUT_S: Final = 10.0
# Any constant works; it only has to be the same in every fmccert process.
_MIGRATION_LOCK_KEY: Final = 0x666D_6363_6D69_6772  # "fmccmigr"
_SECRET_KEYS: Final = frozenset(
    {"password", "passwd", "secret", "token", "passphrase", "private_key", "api_key"}
)
_DRIVERS: Final = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (works on unparseable text too)."""
    return re.sub(r"(://[^:/@]*:).*@", r"\1***@", url)


async def open_store(url: str, *, base_dir: Path | None = None) -> SqlStore:
    """Connect to ``url``, create or migrate the schema to head, and return the store."""
    masked = mask_url(url)
    parsed = _parse_url(url, masked, base_dir)
    secret = parsed.password if isinstance(parsed.password, str) else None
    engine = _create_engine(parsed)
    try:
        with _storage_errors(f"cannot open database {masked}", secret):
            try:
                if parsed.get_backend_name() == "sqlite" and parsed.database:
                    await asyncio.to_thread(_enable_wal, parsed.database)
                await _migrate(engine)
            except TypeError as exc:
                # asyncpg.connect() refusing an unknown URL query parameter.
                raise StorageError(
                    f"cannot open database {masked}: {_reason(exc, secret)}"
                ) from exc
    except BaseException:
        await engine.dispose()
        raise
    return SqlStore(engine, masked_url=masked, secret=secret)


def _parse_url(url: str, masked: str, base_dir: Path | None) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # Only the scheme: an unparseable URL may hide a password where the mask cannot see.
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        raise StorageError(f"invalid database URL (scheme {scheme!r})") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise StorageError(
            f"unsupported database URL {masked!r}: "
            "use sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://user@host/db"
        )
    parsed = parsed.set(drivername=driver)
    if driver != "sqlite+aiosqlite":
        return parsed
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise StorageError(f"SQLite URL {masked!r} must name a database file")
    path = Path(database).expanduser()
    if not path.is_absolute():
        # Relative to the config file's folder, so the bot and the CLI find the same file.
        path = (base_dir if base_dir is not None else Path.cwd()) / path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create folder {path.parent}: {exc.strerror}") from None
    return parsed.set(database=str(path))


def _create_engine(url: URL) -> AsyncEngine:
    if url.get_backend_name() == "postgresql":
        # asyncpg waits 60 s by default; an unreachable database should fail sooner.
        timeout = url.query.get("timeout", str(POSTGRES_CONNECT_TIMEOUT_S))
        try:
            # URL query values are strings; asyncpg needs a number (connect_args win).
            connect_args: dict[str, Any] = {"timeout": float(str(timeout))}
        except ValueError:
            raise StorageError(f"invalid timeout {timeout!r} in the database URL") from None
        return create_async_engine(url, connect_args=connect_args, pool_pre_ping=True)

    raw_busy = url.query.get("timeout", str(SQLITE_BUSY_TIMEOUT_S))
    try:
        # How long a write waits for another writer's lock before it fails.
        busy = float(str(raw_busy))
    except ValueError:
        raise StorageError(f"invalid timeout {raw_busy!r} in the database URL") from None
    url = url.difference_update_query(["timeout"])
    engine = create_async_engine(url, connect_args={"timeout": busy})

    @event.listens_for(engine.sync_engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (below), so the driver must not.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        # Take the write lock up front: a deferred transaction that later writes can fail
        # with SQLITE_BUSY at once instead of waiting, and migrations must be atomic.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _enable_wal(path: str) -> None:
    """Put the SQLite file in WAL mode (persistent), so readers and a writer coexist."""
    # Done once before the pool exists: switching modes needs an exclusive lock, and SQLite
    # answers "database is locked" at once (no busy wait) while another opener migrates.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            with closing(sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S)) as conn:
                mode = str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    if mode.lower() != "wal":
        raise StorageError(f"SQLite file {path} cannot use WAL journal mode (it stays {mode})")


async def _migrate(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two processes opening a fresh database at once: the second waits, then sees head.
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _migration_key()}
            )
        await conn.run_sync(_upgrade_to_head)


def _migration_key() -> int:
    # pg_advisory_xact_lock takes a signed bigint.
    return (
        _MIGRATION_LOCK_KEY - (1 << 64) if _MIGRATION_LOCK_KEY >= 1 << 63 else _MIGRATION_LOCK_KEY
    )


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the shipped migrations, without any alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade_to_head(connection: Connection) -> None:
    try:
        command.upgrade(alembic_config(connection), "head")
    except CommandError as exc:
        if "Can't locate revision" in str(exc):
            # Never guess at a schema we do not know: an older fmccert must not write to it.
            raise CommandError(f"{exc} (the database was migrated by a newer fmccert)") from exc
        raise


@contextmanager
def _storage_errors(doing: str, secret: str | None) -> Iterator[None]:
    """Turn driver, SQLAlchemy and Alembic failures into a one-line StorageError."""
    try:
        yield
    except (
        SQLAlchemyError,
        CommandError,
        OSError,
        sqlite3.Error,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
    ) as exc:
        raise StorageError(f"{doing}: {_reason(exc, secret)}") from exc


def _reason(exc: BaseException, secret: str | None) -> str:
    cause: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        cause = exc.orig  # the driver's words, without SQLAlchemy's [SQL: ...] block
    text_ = str(cause).strip() or type(cause).__name__
    line = text_.splitlines()[0].split(" [SQL:")[0].strip()
    if secret:
        line = line.replace(secret, "***")
    return line[:300]


def _refuse_secret_keys(data: Any, where: str) -> None:
    """Guard: callers redact, but a mapping key that names a secret is a bug to catch."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            if isinstance(key, str) and key.lower() in _SECRET_KEYS:
                raise ValueError(f"{where} has a {key!r} key; secrets are never stored")
            _refuse_secret_keys(value, where)
    elif isinstance(data, list | tuple):
        for item in data:
            _refuse_secret_keys(item, where)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _to_run(row: RemediationRunRow) -> RemediationRun:
    return RemediationRun(
        id=row.id,
        fmc=row.fmc,
        action=row.action,
        status=RunStatus(row.status),
        requested_by=row.requested_by,
        approved_by=row.approved_by,
        owner=row.owner,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        finished_at=row.finished_at,
        failed_step=row.failed_step,
        summary=row.summary,
        old_not_after=row.old_not_after,
        new_not_after=row.new_not_after,
        plan=row.plan,
    )


def _to_step(row: RemediationStepRow) -> RemediationStep:
    return RemediationStep(
        run_id=row.run_id,
        seq=row.seq,
        name=row.name,
        status=StepStatus(row.status),
        started_at=row.started_at,
        finished_at=row.finished_at,
        output=row.output,
    )


def _to_audit(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id, at=row.at, actor=row.actor, action=row.action, fmc=row.fmc, detail=row.detail
    )


def _to_finding(row: ProbeResultRow) -> StoredFinding:
    return StoredFinding(
        id=row.id,
        fmc=row.fmc,
        checked_at=row.checked_at,
        status=row.status,
        scan_id=row.scan_id,
        data=row.data,
        not_after=row.not_after,
    )


def _to_approval(row: ApprovalRequestRow) -> ApprovalRequest:
    return ApprovalRequest(
        id=row.id,
        fmc=row.fmc,
        action=row.action,
        requested_by=row.requested_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        status=ApprovalStatus(row.status),
        channel=row.channel,
        message_ts=row.message_ts,
        thread_ts=row.thread_ts,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        run_id=row.run_id,
        closed_reason=row.closed_reason,
        message=row.message,
        plan_sha256=row.plan_sha256,
    )


def _to_incident(row: IncidentRow) -> Incident:
    return Incident(
        id=row.id,
        fmc=row.fmc,
        kind=IncidentKind(row.kind),
        state=IncidentState(row.state),
        severity=row.severity,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        channel=row.channel,
        thread_ts=row.thread_ts,
        message_ts=row.message_ts,
        last_notified_at=row.last_notified_at,
        approval_id=row.approval_id,
        detail=row.detail,
        last_checked_at=row.last_checked_at,
    )


def _is_open_incident_conflict(exc: BaseException | None) -> bool:
    """Whether an insert was refused by the one-open-incident index."""
    if not isinstance(exc, IntegrityError):
        return False
    words = str(exc.orig)
    # PostgreSQL names the index; SQLite names the indexed columns.
    return OPEN_INCIDENT_INDEX in words or "UNIQUE constraint failed: incidents.fmc" in words


def _is_pending_conflict(exc: BaseException | None) -> bool:
    """Whether an insert was refused by the one-pending-request-per-(fmc, action) index."""
    if not isinstance(exc, IntegrityError):
        return False
    words = str(exc.orig)
    # PostgreSQL names the index; SQLite names the indexed columns.
    return PENDING_APPROVAL_INDEX in words or "approval_requests.fmc, approval_requests.action" in (
        words
    )


def _is_lock_conflict(exc: BaseException | None) -> bool:
    """Whether an insert was refused by the per-FMC lock index (not another constraint)."""
    if not isinstance(exc, IntegrityError):
        return False
    words = str(exc.orig)
    # PostgreSQL names the index; SQLite names the indexed column.
    return RUNNING_LOCK_INDEX in words or "remediation_runs.fmc" in words


def describe_holder(run: RemediationRun) -> str:
    """Who holds an FMC's lock, for people: requester, approver and owning process."""
    approved = f", approved by {run.approved_by}" if run.approved_by else ""
    return f"{run.requested_by}{approved}, running on {run.owner}"


def busy_error(run: RemediationRun) -> RemediationBusyError:
    """The error for a begin_run refused because ``run`` holds the FMC's lock."""
    approved = f", approved by {run.approved_by}" if run.approved_by else ""
    message = (
        f"{run.fmc} is already being remediated (run {run.id}, {run.action} requested by "
        f"{run.requested_by}{approved}, running on {run.owner} since {_iso(run.started_at)})"
    )
    return RemediationBusyError(message, fmc=run.fmc, holder=describe_holder(run), run_id=run.id)


class SqlStore:
    """The Store port (``bot.operations.ports``) on SQLAlchemy; made by :func:`open_store`."""

    def __init__(self, engine: AsyncEngine, *, masked_url: str, secret: str | None) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._secret = secret
        self.url = masked_url  # safe to show: the password is masked

    @property
    def engine(self) -> AsyncEngine:
        """The underlying engine (for tests and maintenance scripts)."""
        return self._engine

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _errors(self, doing: str) -> AbstractContextManager[None]:
        return _storage_errors(f"{doing} failed ({self.url})", self._secret)

    async def _now(self, session: AsyncSession) -> datetime:
        if self._engine.dialect.name == "postgresql":
            value = await session.scalar(text("SELECT now()"))
            assert isinstance(value, datetime)
            return value.astimezone(UTC)
        # SQLite answers naive UTC text, e.g. "2026-11-27 09:30:00.123".
        raw = await session.scalar(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"))
        return datetime.fromisoformat(str(raw)).replace(tzinfo=UTC)

    async def database_now(self) -> datetime:
        """The database's current time (aware UTC): the one clock every process shares."""
        with self._errors("reading the database's time"):
            async with self._sessions() as session:
                return await self._now(session)

    # probe results

    async def record_findings(self, findings: Sequence[Finding], *, scan_id: str | None) -> None:
        """Store one row per finding, with its JSON object."""
        if not findings:
            return
        rows = [
            ProbeResultRow(
                fmc=finding.name,
                host=finding.host,
                checked_at=finding.checked_at,
                status=finding.status.value,
                action=finding.action.value,
                days_left=finding.days_left,
                not_after=(
                    finding.facts.certificate.not_after if finding.facts.certificate else None
                ),
                error_kind=finding.error.kind if finding.error else None,
                scan_id=scan_id,
                data=finding_to_json(finding),
            )
            for finding in findings
        ]
        with self._errors("recording findings"):
            async with self._sessions() as session, session.begin():
                now = await self._now(session)
                for row in rows:
                    if row.checked_at > now + CLOCK_SLACK:
                        log.warning(
                            "fmc %s: result dated %s is ahead of the database's time %s "
                            "(a clock jumped ahead?); results recorded later still outrank it",
                            row.fmc,
                            _iso(row.checked_at),
                            _iso(now),
                        )
                session.add_all(rows)

    async def findings(self, fmc: str | None = None, limit: int = 100) -> list[StoredFinding]:
        """Stored findings, most recently recorded first, optionally of one FMC."""
        stmt = select(ProbeResultRow)
        if fmc is not None:
            stmt = stmt.where(ProbeResultRow.fmc == fmc)
        # By recording order, not checked_at: a result dated ahead by a clock that jumped
        # (and was put right) must not outrank the fresh ones recorded after it.
        stmt = stmt.order_by(ProbeResultRow.id.desc()).limit(limit)
        with self._errors("reading findings"):
            async with self._sessions() as session:
                return [_to_finding(row) for row in await session.scalars(stmt)]

    async def latest_findings(self) -> list[StoredFinding]:
        """The most recently recorded finding of each FMC, ordered by FMC name."""
        rank = (
            func.row_number()
            .over(partition_by=ProbeResultRow.fmc, order_by=ProbeResultRow.id.desc())
            .label("rank")
        )
        ranked = select(ProbeResultRow.id, rank).subquery()
        stmt = (
            select(ProbeResultRow)
            .join(ranked, ranked.c.id == ProbeResultRow.id)
            .where(ranked.c.rank == 1)
            .order_by(ProbeResultRow.fmc)
        )
        with self._errors("reading latest findings"):
            async with self._sessions() as session:
                return [_to_finding(row) for row in await session.scalars(stmt)]

    # remediation runs

    async def begin_run(
        self,
        *,
        fmc: str,
        action: str,
        requested_by: str,
        approved_by: str | None,
        owner: str,
        plan: Mapping[str, Any],
        now: datetime,
    ) -> RemediationRun:
        """Insert a RUNNING run; the database refuses it while another run of fmc runs."""
        _refuse_secret_keys(plan, "plan")
        # A holder can finish between our refused insert and the look-up: then try again.
        for _ in range(3):
            row = RemediationRunRow(
                fmc=fmc,
                action=action,
                status=RunStatus.RUNNING.value,
                requested_by=requested_by,
                approved_by=approved_by,
                owner=owner,
                started_at=now,
                heartbeat_at=now,
                plan=dict(plan),
            )
            try:
                with self._errors(f"starting a run of {fmc}"):
                    async with self._sessions() as session, session.begin():
                        row.heartbeat_at = await self._now(session)
                        session.add(row)
                        await session.flush()
                        await session.refresh(row)
                return _to_run(row)
            except StorageError as exc:
                if not _is_lock_conflict(exc.__cause__):
                    raise
            holder = await self._running_run(fmc)
            if holder is not None:
                raise busy_error(holder)
        raise StorageError(f"starting a run of {fmc} failed: the lock kept changing hands")

    async def _running_run(self, fmc: str) -> RemediationRun | None:
        stmt = select(RemediationRunRow).where(
            RemediationRunRow.fmc == fmc, RemediationRunRow.status == RunStatus.RUNNING.value
        )
        with self._errors(f"reading the running run of {fmc}"):
            async with self._sessions() as session:
                row = (await session.scalars(stmt)).first()
        return _to_run(row) if row is not None else None

    async def heartbeat(self, run_id: int) -> datetime:
        """Mark a running run alive at the database's now (returned); no-op once finished.

        The database's clock, not the caller's: a process whose clock is behind must not
        look dead to the others, nor one whose clock is ahead keep a dead run alive.
        """
        with self._errors(f"heartbeat of run {run_id}"):
            async with self._sessions() as session, session.begin():
                now = await self._now(session)
                await session.execute(
                    update(RemediationRunRow)
                    .where(
                        RemediationRunRow.id == run_id,
                        RemediationRunRow.status == RunStatus.RUNNING.value,
                    )
                    .values(heartbeat_at=now)
                )
        return now

    async def record_step(
        self,
        run_id: int,
        *,
        seq: int,
        name: str,
        status: StepStatus,
        started_at: datetime,
        finished_at: datetime | None,
        output: str,
    ) -> None:
        """Insert step ``seq`` of a run, or update it if it is already there."""
        values = {
            "run_id": run_id,
            "seq": seq,
            "name": name,
            "status": StepStatus(status).value,
            "started_at": started_at,
            "finished_at": finished_at,
            "output": output,
        }
        changing = ("name", "status", "started_at", "finished_at", "output")
        with self._errors(f"recording step {seq} of run {run_id}"):
            async with self._sessions() as session, session.begin():
                stmt = self._insert(RemediationStepRow).values(values)
                await session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["run_id", "seq"],
                        set_={key: stmt.excluded[key] for key in changing},
                    )
                )

    async def finish_run(
        self,
        run_id: int,
        *,
        status: RunStatus,
        now: datetime,
        summary: str,
        failed_step: str | None = None,
        old_not_after: datetime | None = None,
        new_not_after: datetime | None = None,
        late: bool = False,
    ) -> RemediationRun:
        """Close a running run with its outcome; this releases the FMC's lock.

        ``late``: an outcome recorded after a database outage also replaces INTERRUPTED,
        which another process's sweep may have set meanwhile (the run did finish).
        """
        status = RunStatus(status)
        if status is RunStatus.RUNNING:
            raise ValueError("finish_run needs a final status, not RUNNING")
        finishable = [RunStatus.RUNNING.value]
        if late:
            finishable.append(RunStatus.INTERRUPTED.value)
        stmt = (
            update(RemediationRunRow)
            .where(
                RemediationRunRow.id == run_id,
                RemediationRunRow.status.in_(finishable),
            )
            .values(
                status=status.value,
                finished_at=now,
                heartbeat_at=now,
                summary=summary,
                failed_step=failed_step,
                old_not_after=old_not_after,
                new_not_after=new_not_after,
            )
            .returning(RemediationRunRow)
        )
        with self._errors(f"finishing run {run_id}"):
            async with self._sessions() as session, session.begin():
                row = (await session.scalars(stmt)).first()
        if row is not None:
            return _to_run(row)
        existing = await self.run(run_id)
        if existing is None:
            raise StorageError(f"finishing run {run_id} failed: no such run")
        raise StorageError(
            f"finishing run {run_id} failed: it already finished as {existing.status.value}"
        )

    async def abandon_run(
        self, run_id: int, *, heartbeat_at: datetime, now: datetime, summary: str
    ) -> RemediationRun | None:
        """Mark a run INTERRUPTED if it still runs with this heartbeat; None otherwise."""
        stmt = (
            update(RemediationRunRow)
            .where(
                RemediationRunRow.id == run_id,
                RemediationRunRow.status == RunStatus.RUNNING.value,
                RemediationRunRow.heartbeat_at <= heartbeat_at,
            )
            .values(status=RunStatus.INTERRUPTED.value, finished_at=now, summary=summary)
            .returning(RemediationRunRow)
        )
        with self._errors(f"marking run {run_id} interrupted"):
            async with self._sessions() as session, session.begin():
                row = (await session.scalars(stmt)).first()
        return _to_run(row) if row is not None else None

    async def running_runs(self) -> list[RemediationRun]:
        """Every RUNNING run (at most one per FMC), oldest first."""
        stmt = (
            select(RemediationRunRow)
            .where(RemediationRunRow.status == RunStatus.RUNNING.value)
            .order_by(RemediationRunRow.started_at, RemediationRunRow.id)
        )
        with self._errors("reading running runs"):
            async with self._sessions() as session:
                return [_to_run(row) for row in await session.scalars(stmt)]

    async def runs(self, fmc: str | None = None, limit: int = 50) -> list[RemediationRun]:
        """Runs newest first, optionally of one FMC."""
        stmt = select(RemediationRunRow)
        if fmc is not None:
            stmt = stmt.where(RemediationRunRow.fmc == fmc)
        stmt = stmt.order_by(RemediationRunRow.started_at.desc(), RemediationRunRow.id.desc())
        with self._errors("reading runs"):
            async with self._sessions() as session:
                return [_to_run(row) for row in await session.scalars(stmt.limit(limit))]

    async def run(self, run_id: int) -> RemediationRun | None:
        """One run by id, or None."""
        with self._errors(f"reading run {run_id}"):
            async with self._sessions() as session:
                row = await session.get(RemediationRunRow, run_id)
        return _to_run(row) if row is not None else None

    async def steps(self, run_id: int) -> list[RemediationStep]:
        """The steps of a run in plan order."""
        stmt = (
            select(RemediationStepRow)
            .where(RemediationStepRow.run_id == run_id)
            .order_by(RemediationStepRow.seq)
        )
        with self._errors(f"reading steps of run {run_id}"):
            async with self._sessions() as session:
                return [_to_step(row) for row in await session.scalars(stmt)]

    # approval requests

    async def create_approval(
        self,
        *,
        fmc: str,
        action: str,
        requested_by: str,
        now: datetime,
        expires_at: datetime,
        channel: str | None = None,
        plan_sha256: str | None = None,
    ) -> ApprovalRequest:
        """Insert a PENDING request (superseding any of the same FMC and action); return it."""
        request, _ = await self.open_approval(
            fmc=fmc,
            action=action,
            requested_by=requested_by,
            now=now,
            expires_at=expires_at,
            channel=channel,
            plan_sha256=plan_sha256,
        )
        return request

    async def open_approval(
        self,
        *,
        fmc: str,
        action: str,
        requested_by: str,
        now: datetime,
        expires_at: datetime,
        channel: str | None = None,
        plan_sha256: str | None = None,
    ) -> tuple[ApprovalRequest, list[ApprovalRequest]]:
        """Insert a PENDING request; the pending one of the same (fmc, action) is CLOSED.

        Returns the new request and the superseded ones (at most one, but a list keeps the
        callers honest). One transaction: nobody can approve the old copy in between.
        """
        doing = f"creating an approval request for {fmc}"
        # Two writers superseding the same request at once: the loser's insert is refused
        # by the unique index (PostgreSQL); it simply tries again and supersedes the winner.
        for _ in range(3):
            try:
                with self._errors(doing):
                    return await self._supersede_and_insert(
                        fmc, action, requested_by, now, expires_at, channel, plan_sha256
                    )
            except StorageError as exc:
                if not _is_pending_conflict(exc.__cause__):
                    raise
        raise StorageError(f"{doing} failed: other requests kept arriving ({self.url})")

    async def _supersede_and_insert(
        self,
        fmc: str,
        action: str,
        requested_by: str,
        now: datetime,
        expires_at: datetime,
        channel: str | None,
        plan_sha256: str | None,
    ) -> tuple[ApprovalRequest, list[ApprovalRequest]]:
        pending = (ApprovalRequestRow.fmc == fmc, ApprovalRequestRow.action == action)
        async with self._sessions() as session, session.begin():
            if self._engine.dialect.name == "postgresql":
                # Writers for one (fmc, action) queue here; SQLite's BEGIN IMMEDIATE does that.
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": f"fmccert-approval:{fmc}:{action}"},
                )
            closing = (
                update(ApprovalRequestRow)
                .where(*pending, ApprovalRequestRow.status == ApprovalStatus.PENDING.value)
                .values(status=ApprovalStatus.CLOSED.value, decided_at=now)
                .returning(ApprovalRequestRow.id)
            )
            old_ids = list(await session.scalars(closing))
            row = ApprovalRequestRow(
                fmc=fmc,
                action=action,
                requested_by=requested_by,
                created_at=now,
                expires_at=expires_at,
                status=ApprovalStatus.PENDING.value,
                channel=channel,
                plan_sha256=plan_sha256,
            )
            session.add(row)
            await session.flush()
            await session.refresh(row)
            superseded: list[ApprovalRequest] = []
            if old_ids:
                reason = (
                    update(ApprovalRequestRow)
                    .where(ApprovalRequestRow.id.in_(old_ids))
                    .values(closed_reason=f"superseded by request #{row.id}")
                    .returning(ApprovalRequestRow)
                    .execution_options(synchronize_session=False)
                )
                superseded = [_to_approval(old) for old in await session.scalars(reason)]
        return _to_approval(row), superseded

    async def close_approvals(
        self,
        *,
        fmc: str,
        reason: str,
        now: datetime,
        ids: Sequence[int] | None = None,
    ) -> list[ApprovalRequest]:
        """CLOSE the PENDING requests of ``fmc`` (only ``ids`` when given); return them.

        Compare-and-set like :meth:`decide_approval`: a request decided meanwhile stays
        decided, and is not returned.
        """
        conditions = [
            ApprovalRequestRow.fmc == fmc,
            ApprovalRequestRow.status == ApprovalStatus.PENDING.value,
        ]
        if ids is not None:
            conditions.append(ApprovalRequestRow.id.in_(list(ids)))
        stmt = (
            update(ApprovalRequestRow)
            .where(*conditions)
            .values(status=ApprovalStatus.CLOSED.value, decided_at=now, closed_reason=reason)
            .returning(ApprovalRequestRow)
            .execution_options(synchronize_session=False)
        )
        with self._errors(f"closing the approval requests of {fmc}"):
            async with self._sessions() as session, session.begin():
                rows = list(await session.scalars(stmt))
        return sorted((_to_approval(row) for row in rows), key=lambda request: request.id)

    async def expire_approvals(self, *, now: datetime) -> list[ApprovalRequest]:
        """Mark PENDING requests whose time is up as EXPIRED (at their expiry); return them."""
        stmt = (
            update(ApprovalRequestRow)
            .where(
                ApprovalRequestRow.status == ApprovalStatus.PENDING.value,
                ApprovalRequestRow.expires_at <= now,
            )
            .values(status=ApprovalStatus.EXPIRED.value, decided_at=ApprovalRequestRow.expires_at)
            .returning(ApprovalRequestRow)
            .execution_options(synchronize_session=False)
        )
        with self._errors("expiring approval requests"):
            async with self._sessions() as session, session.begin():
                rows = list(await session.scalars(stmt))
        return sorted((_to_approval(row) for row in rows), key=lambda request: request.id)

    async def approval_for_run(self, run_id: int) -> ApprovalRequest | None:
        """The request whose approval started run ``run_id``, if one did."""
        stmt = select(ApprovalRequestRow).where(ApprovalRequestRow.run_id == run_id)
        with self._errors(f"reading the request of run {run_id}"):
            async with self._sessions() as session:
                row = (await session.scalars(stmt)).first()
        return _to_approval(row) if row is not None else None

    async def approval(self, approval_id: int) -> ApprovalRequest | None:
        """One approval request by id, or None."""
        with self._errors(f"reading approval request {approval_id}"):
            async with self._sessions() as session:
                row = await session.get(ApprovalRequestRow, approval_id)
        return _to_approval(row) if row is not None else None

    async def set_approval_message(
        self,
        approval_id: int,
        *,
        channel: str,
        message_ts: str,
        thread_ts: str,
        message: Mapping[str, Any] | None = None,
    ) -> None:
        """Remember the Slack message carrying the buttons (and what it says) and the thread."""
        await self._update_approval(
            approval_id,
            f"recording the message of approval request {approval_id}",
            channel=channel,
            message_ts=message_ts,
            thread_ts=thread_ts,
            message=dict(message) if message is not None else None,
        )

    async def decide_approval(
        self, approval_id: int, *, status: ApprovalStatus, by: str, now: datetime
    ) -> ApprovalRequest | None:
        """Decide a PENDING request; None if it was no longer pending (or does not exist).

        One compare-and-set UPDATE, so of any number of concurrent callers, in any process,
        exactly one gets the request back: PostgreSQL re-checks ``status`` after waiting
        for the row lock, and SQLite writers are serialised by ``BEGIN IMMEDIATE``.
        """
        status = ApprovalStatus(status)
        if status is ApprovalStatus.PENDING:
            raise ValueError("decide_approval needs a decision, not PENDING")
        stmt = (
            update(ApprovalRequestRow)
            .where(
                ApprovalRequestRow.id == approval_id,
                ApprovalRequestRow.status == ApprovalStatus.PENDING.value,
            )
            .values(status=status.value, decided_by=by, decided_at=now)
            .returning(ApprovalRequestRow)
        )
        with self._errors(f"deciding approval request {approval_id}"):
            async with self._sessions() as session, session.begin():
                row = (await session.scalars(stmt)).first()
        return _to_approval(row) if row is not None else None

    async def attach_run(self, approval_id: int, run_id: int) -> None:
        """Link an approved request to the remediation run it started."""
        await self._update_approval(
            approval_id, f"attaching run {run_id} to approval request {approval_id}", run_id=run_id
        )

    async def _update_approval(self, approval_id: int, doing: str, **values: Any) -> None:
        stmt = (
            update(ApprovalRequestRow)
            .where(ApprovalRequestRow.id == approval_id)
            .values(**values)
            .returning(ApprovalRequestRow.id)
        )
        with self._errors(doing):
            async with self._sessions() as session, session.begin():
                found = (await session.scalars(stmt)).first()
        if found is None:
            # A caller holding an id that was never stored is a bug worth hearing about.
            raise StorageError(f"{doing} failed: no such approval request")

    async def pending_approvals(self) -> list[ApprovalRequest]:
        """Every PENDING request, oldest first (expired ones too, until marked EXPIRED)."""
        stmt = (
            select(ApprovalRequestRow)
            .where(ApprovalRequestRow.status == ApprovalStatus.PENDING.value)
            .order_by(ApprovalRequestRow.created_at, ApprovalRequestRow.id)
        )
        with self._errors("reading pending approval requests"):
            async with self._sessions() as session:
                return [_to_approval(row) for row in await session.scalars(stmt)]

    # audit log

    async def audit(
        self, *, actor: str, action: str, fmc: str | None, detail: Mapping[str, Any], now: datetime
    ) -> AuditEntry:
        """Append one audit record and return it as stored."""
        _refuse_secret_keys(detail, "audit detail")
        row = AuditRow(at=now, actor=actor, action=action, fmc=fmc, detail=dict(detail))
        with self._errors(f"writing audit record {action}"):
            async with self._sessions() as session, session.begin():
                session.add(row)
                await session.flush()
                await session.refresh(row)
        return _to_audit(row)

    async def audited_since(self, *, actor: str, action: str, since: datetime) -> list[datetime]:
        """When ``actor`` did ``action`` at or after ``since``, oldest first."""
        stmt = (
            select(AuditRow.at)
            .where(AuditRow.actor == actor, AuditRow.action == action, AuditRow.at >= since)
            .order_by(AuditRow.at)
        )
        with self._errors(f"reading audit records {action}"):
            async with self._sessions() as session:
                return list(await session.scalars(stmt))

    async def audit_log(self, fmc: str | None = None, limit: int = 200) -> list[AuditEntry]:
        """Audit records newest first, optionally of one FMC."""
        stmt = select(AuditRow)
        if fmc is not None:
            stmt = stmt.where(AuditRow.fmc == fmc)
        stmt = stmt.order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
        with self._errors("reading the audit log"):
            async with self._sessions() as session:
                return [_to_audit(row) for row in await session.scalars(stmt)]

    # incidents

    async def open_incidents(self) -> list[Incident]:
        """Every OPEN incident (at most one per FMC), oldest first."""
        stmt = (
            select(IncidentRow)
            .where(IncidentRow.state == IncidentState.OPEN.value)
            .order_by(IncidentRow.opened_at, IncidentRow.id)
        )
        with self._errors("reading open incidents"):
            async with self._sessions() as session:
                return [_to_incident(row) for row in await session.scalars(stmt)]

    async def incidents(self, fmc: str | None = None, limit: int = 100) -> list[Incident]:
        """Incidents in any state, newest first, optionally of one FMC."""
        stmt = select(IncidentRow)
        if fmc is not None:
            stmt = stmt.where(IncidentRow.fmc == fmc)
        stmt = stmt.order_by(IncidentRow.opened_at.desc(), IncidentRow.id.desc()).limit(limit)
        with self._errors("reading incidents"):
            async with self._sessions() as session:
                return [_to_incident(row) for row in await session.scalars(stmt)]

    async def create_incident(
        self,
        *,
        fmc: str,
        kind: IncidentKind,
        severity: str,
        detail: Mapping[str, Any],
        now: datetime,
        channel: str | None = None,
        thread_ts: str | None = None,
        message_ts: str | None = None,
        approval_id: int | None = None,
        last_checked_at: datetime | None = None,
    ) -> Incident:
        """Insert an OPEN incident; StorageError while the FMC already has one open."""
        kind = IncidentKind(kind)
        _refuse_secret_keys(detail, "incident detail")
        row = IncidentRow(
            fmc=fmc,
            kind=kind.value,
            state=IncidentState.OPEN.value,
            severity=severity,
            opened_at=now,
            updated_at=now,
            channel=channel,
            thread_ts=thread_ts,
            message_ts=message_ts,
            approval_id=approval_id,
            detail=dict(detail),
            last_checked_at=last_checked_at,
        )
        doing = f"opening a {kind.value} incident of {fmc}"
        try:
            with self._errors(doing):
                async with self._sessions() as session, session.begin():
                    session.add(row)
                    await session.flush()
                    await session.refresh(row)
        except StorageError as exc:
            if _is_open_incident_conflict(exc.__cause__):
                raise StorageError(
                    f"{doing} failed: one is already open ({self.url})"
                ) from exc.__cause__
            raise
        return _to_incident(row)

    async def update_incident(
        self,
        incident_id: int,
        *,
        now: datetime,
        severity: str | None = None,
        detail: Mapping[str, Any] | None = None,
        channel: str | None = None,
        thread_ts: str | None = None,
        message_ts: str | None = None,
        approval_id: int | None = None,
        notified: bool = False,
        kind: IncidentKind | None = None,
        last_checked_at: datetime | None = None,
    ) -> Incident:
        """Change the given fields (None: unchanged) and updated_at; notified marks a post."""
        values: dict[str, Any] = {"updated_at": now}
        if detail is not None:
            _refuse_secret_keys(detail, "incident detail")
            values["detail"] = dict(detail)
        given = {
            "severity": severity,
            "channel": channel,
            "thread_ts": thread_ts,
            "message_ts": message_ts,
            "approval_id": approval_id,
            "kind": IncidentKind(kind).value if kind is not None else None,
            "last_checked_at": last_checked_at,
        }
        values.update({key: value for key, value in given.items() if value is not None})
        if notified:
            values["last_notified_at"] = now
        stmt = (
            update(IncidentRow)
            .where(IncidentRow.id == incident_id)
            .values(**values)
            .returning(IncidentRow)
        )
        doing = f"updating incident {incident_id}"
        with self._errors(doing):
            async with self._sessions() as session, session.begin():
                row = (await session.scalars(stmt)).first()
        if row is None:
            raise StorageError(f"{doing} failed: no such incident")
        return _to_incident(row)

    async def forget_incident_messages(self, *, now: datetime) -> int:
        """Drop the Slack ids of every OPEN incident (their workspace is gone); how many.

        The next scheduled scan then posts each of them again in a new thread.
        """
        stmt = (
            update(IncidentRow)
            .where(IncidentRow.state == IncidentState.OPEN.value)
            .values(channel=None, thread_ts=None, message_ts=None, updated_at=now)
        )
        with self._errors("forgetting the Slack messages of open incidents"):
            async with self._sessions() as session, session.begin():
                result = await session.execute(stmt)
        return _rowcount(result)

    async def resolve_incident(
        self, incident_id: int, *, now: datetime, detail: Mapping[str, Any]
    ) -> Incident:
        """Resolve an OPEN incident with the finding that showed it gone."""
        _refuse_secret_keys(detail, "incident detail")
        stmt = (
            update(IncidentRow)
            .where(
                IncidentRow.id == incident_id,
                IncidentRow.state == IncidentState.OPEN.value,
            )
            .values(
                state=IncidentState.RESOLVED.value,
                resolved_at=now,
                updated_at=now,
                detail=dict(detail),
            )
            .returning(IncidentRow)
        )
        doing = f"resolving incident {incident_id}"
        with self._errors(doing):
            async with self._sessions() as session, session.begin():
                row = (await session.scalars(stmt)).first()
                exists = row is not None or (
                    await session.get(IncidentRow, incident_id) is not None
                )
        if row is not None:
            return _to_incident(row)
        reason = "it is already resolved" if exists else "no such incident"
        raise StorageError(f"{doing} failed: {reason}")

    # snoozes

    async def snooze(
        self, *, fmc: str, until: datetime, by: str, reason: str, now: datetime
    ) -> None:
        """Record a snooze of ``fmc`` until ``until``; an until at or before now ends one."""
        row = SnoozeRow(fmc=fmc, until=until, snoozed_by=by, reason=reason, created_at=now)
        with self._errors(f"snoozing {fmc}"):
            async with self._sessions() as session, session.begin():
                session.add(row)

    async def active_snoozes(self, now: datetime) -> dict[str, datetime]:
        """FMC -> until of its newest snooze, for the FMCs whose newest snooze is not over."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise StorageError(f"reading snoozes failed: naive datetime {now.isoformat()}")
        newest = select(
            SnoozeRow.fmc,
            SnoozeRow.until,
            func.row_number()
            .over(
                partition_by=SnoozeRow.fmc,
                order_by=(SnoozeRow.created_at.desc(), SnoozeRow.id.desc()),
            )
            .label("rank"),
        ).subquery()
        stmt = select(newest.c.fmc, newest.c.until).where(newest.c.rank == 1)
        with self._errors("reading snoozes"):
            async with self._sessions() as session:
                rows = (await session.execute(stmt)).all()
        return {fmc: until for fmc, until in rows if until > now}

    # schedule fires

    async def last_fire(self, key: str) -> datetime | None:
        """When the scheduled job ``key`` last fired, or None if never."""
        with self._errors(f"reading the last fire of {key}"):
            async with self._sessions() as session:
                row = await session.get(ScheduleFireRow, key)
        return row.last_fire_at if row is not None else None

    async def record_fire(self, key: str, at: datetime) -> None:
        """Remember that the scheduled job ``key`` fired at ``at`` (insert or update)."""
        stmt = self._insert(ScheduleFireRow).values(key=key, last_fire_at=at)
        with self._errors(f"recording a fire of {key}"):
            async with self._sessions() as session, session.begin():
                await session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["key"], set_={"last_fire_at": stmt.excluded.last_fire_at}
                    )
                )

    def _insert(self, table: type[Base]) -> Any:
        """An INSERT with this dialect's ON CONFLICT clauses (PostgreSQL's or SQLite's)."""
        if self._engine.dialect.name == "postgresql":
            return postgresql_insert(table)
        return sqlite_insert(table)

    async def claim_fire(self, key: str, at: datetime) -> bool:
        """Take the fire of ``key`` at ``at``: True once, for one caller among replicas.

        One statement, so nothing can come between a read and a write: the first fire of
        a key inserts, a later one moves the stored fire forward, and anything else (the
        same fire, or an earlier one) changes no row.
        """
        stmt = self._insert(ScheduleFireRow).values(key=key, last_fire_at=at)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"last_fire_at": stmt.excluded.last_fire_at},
            where=ScheduleFireRow.last_fire_at < stmt.excluded.last_fire_at,
        )
        with self._errors(f"claiming the fire of {key}"):
            async with self._sessions() as session, session.begin():
                return bool(_rowcount(await session.execute(stmt)))

    # App Home viewers

    async def add_home_viewer(self, user: str, *, now: datetime) -> None:
        """Remember that ``user`` opened the App Home (insert or update)."""
        stmt = self._insert(HomeViewerRow).values(user_id=user, opened_at=now)
        with self._errors("recording an App Home viewer"):
            async with self._sessions() as session, session.begin():
                await session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["user_id"], set_={"opened_at": stmt.excluded.opened_at}
                    )
                )

    async def home_viewers(self) -> list[str]:
        """Every user who opened the App Home, by id."""
        stmt = select(HomeViewerRow.user_id).order_by(HomeViewerRow.user_id)
        with self._errors("reading App Home viewers"):
            async with self._sessions() as session:
                return list(await session.scalars(stmt))


def _rowcount(result: Any) -> int:
    """Rows an UPDATE or INSERT touched (the async result exposes it untyped)."""
    return int(getattr(result, "rowcount", 0) or 0)
