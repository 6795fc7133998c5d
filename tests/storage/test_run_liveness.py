"""Who may mark a run abandoned: the sweep alone, by owner token and the database's clock."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from bot.config import load_config
from bot.operations import STALE_AFTER, AuditTrail, Operations
from bot.remediation.service import THIS_PROCESS, ProcessRuns, sweep_interrupted
from bot.storage.records import RunStatus
from bot.storage.sql import SqlStore
from bot.storage.tables import RemediationRunRow
from tests.support.runs import begin_run

CONFIG = """
defaults: {username: admin, password_env: FMC_PASSWORD, known_hosts: known_hosts}
fmcs:
  - {name: fmc-east, host: 10.1.2.3}
"""


def _same_host_and_pid_restarted() -> ProcessRuns:
    """What a bot restarted as PID 1 under the same hostname looks like: only the token differs."""
    return ProcessRuns(socket.gethostname(), os.getpid(), "before-the-crash")


async def _age_heartbeat(store: SqlStore, run_id: int, by: timedelta) -> None:
    """Set the run's heartbeat ``by`` before the database's now (as if it stopped beating)."""
    stamp = await store.database_now() - by
    async with store.engine.begin() as conn:
        await conn.execute(
            update(RemediationRunRow)
            .where(RemediationRunRow.id == run_id)
            .values(heartbeat_at=stamp)
        )


async def test_database_now_is_aware_utc_and_near_real_time(store: SqlStore) -> None:
    """database_now() is an aware UTC instant within seconds of this host's clock."""
    now = await store.database_now()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


async def test_begin_and_heartbeat_stamp_the_database_time(store: SqlStore) -> None:
    """A run started with a caller clock a day off still has a heartbeat at the database's now."""
    skewed = datetime.now(UTC) - timedelta(days=1)
    run = await store.begin_run(
        fmc="fmc-east",
        action="vdb-update",
        requested_by="cli:alice",
        approved_by=None,
        owner="elsewhere:1:t",
        plan={},
        now=skewed,
    )
    assert run.started_at == skewed
    assert abs(run.heartbeat_at - datetime.now(UTC)) < timedelta(seconds=5)
    beat = await store.heartbeat(run.id)
    stored = await store.run(run.id)
    assert stored is not None
    assert stored.heartbeat_at == beat >= run.heartbeat_at


async def test_same_host_and_pid_with_another_token_is_swept_once_stale(store: SqlStore) -> None:
    """A run of this host and pid from an earlier process start is dead once its beat is stale."""
    earlier = _same_host_and_pid_restarted()
    run = await begin_run(store, earlier.owner)
    assert earlier.owner.rsplit(":", 1)[0] == THIS_PROCESS.owner.rsplit(":", 1)[0]

    assert (
        await sweep_interrupted(store, audit=AuditTrail(store), stale_after=STALE_AFTER) == []
    )  # fresh: alive
    await _age_heartbeat(store, run.id, STALE_AFTER + timedelta(seconds=5))
    swept = await sweep_interrupted(store, audit=AuditTrail(store), stale_after=STALE_AFTER)
    assert [(r.id, r.status) for r in swept] == [(run.id, RunStatus.INTERRUPTED)]
    assert "before-the-crash" in (swept[0].summary or "")
    assert "before the database's time" in (swept[0].summary or "")


async def test_fresh_run_of_another_process_survives_a_caller_ten_minutes_ahead(
    store: SqlStore, tmp_path: Path
) -> None:
    """Operations.sweep with a clock 10 minutes ahead never takes a run with a fresh heartbeat."""
    other = ProcessRuns("bot-2", 1, "live-one")
    run = await begin_run(store, other.owner)
    path = tmp_path / "fmccert.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    config = load_config(path, {"FMC_PASSWORD": "pw-123456"})
    ahead = Operations(config, store, clock=lambda: datetime.now(UTC) + timedelta(minutes=10))

    assert await ahead.sweep() == []
    stored = await store.run(run.id)
    assert stored is not None
    assert stored.status is RunStatus.RUNNING


async def test_own_run_this_process_no_longer_executes_is_swept_at_once(store: SqlStore) -> None:
    """A run under this process's token that it does not run (a storage error) frees at once."""
    run = await begin_run(store, THIS_PROCESS.owner)
    swept = await sweep_interrupted(store, audit=AuditTrail(store), stale_after=STALE_AFTER)
    assert [r.id for r in swept] == [run.id]
    assert "this process stopped running it" in (swept[0].summary or "")


async def test_own_live_run_is_never_swept_even_with_a_stale_heartbeat(store: SqlStore) -> None:
    """A run this process still executes stays RUNNING, however old its heartbeat."""
    mine = ProcessRuns("bot-1", 1, "mine")
    run = await begin_run(store, mine.owner)
    mine._live.add(run.id)
    await _age_heartbeat(store, run.id, timedelta(hours=1))
    assert (
        await sweep_interrupted(
            store, audit=AuditTrail(store), process=mine, stale_after=STALE_AFTER
        )
        == []
    )


async def test_sweep_leaves_a_run_whose_heartbeat_moved_meanwhile(store: SqlStore) -> None:
    """abandon_run is compare-and-set: a heartbeat after the look keeps the run RUNNING."""
    run = await begin_run(store, "bot-2:1:t")
    looked = await store.run(run.id)
    assert looked is not None
    await store.heartbeat(run.id)
    await _age_heartbeat(store, run.id, -timedelta(seconds=1))  # a beat after the look
    assert (
        await store.abandon_run(
            run.id, heartbeat_at=looked.heartbeat_at, now=datetime.now(UTC), summary="x"
        )
        is None
    )
    stored = await store.run(run.id)
    assert stored is not None
    assert stored.status is RunStatus.RUNNING


async def test_late_outcome_replaces_the_interrupted_mark_of_a_sweep(store: SqlStore) -> None:
    """finish_run(late=True) records the real outcome over a sweep's INTERRUPTED."""
    run = await begin_run(store, "bot-2:1:t")
    await _age_heartbeat(store, run.id, STALE_AFTER * 2)
    [swept] = await sweep_interrupted(store, audit=AuditTrail(store), stale_after=STALE_AFTER)
    assert swept.status is RunStatus.INTERRUPTED
    finished = await store.finish_run(
        run.id, status=RunStatus.RENEWED, now=datetime.now(UTC), summary="renewed", late=True
    )
    assert finished.status is RunStatus.RENEWED
