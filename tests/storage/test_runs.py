"""Tests of remediation runs and steps, and of the per-FMC lock across two stores."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import RemediationBusyError, StorageError
from bot.storage.records import RemediationRun, RunStatus, StepStatus
from bot.storage.sql import SqlStore, open_store

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
PLAN = {"action": "vdb-update", "steps": ["upload", "install", "verify"]}


async def _begin(
    store: SqlStore, fmc: str = "fmc-east", who: str = "cli:alice", owner: str = "bot-1:4242"
) -> RemediationRun:
    return await store.begin_run(
        fmc=fmc,
        action="vdb-update",
        requested_by=who,
        approved_by="slack:U0BOSS",
        owner=owner,
        plan=PLAN,
        now=NOW,
    )


async def test_run_lifecycle_round_trips(store: SqlStore) -> None:
    """begin, heartbeat, a step inserted then updated, and finish all read back as written."""
    run = await _begin(store)
    assert run.status is RunStatus.RUNNING
    assert (run.started_at, run.finished_at) == (NOW, None)
    assert dict(run.plan) == PLAN
    assert await store.running_runs() == [run]

    beat = await store.heartbeat(run.id)  # stamped by the database's clock
    await store.record_step(
        run.id,
        seq=1,
        name="upload",
        status=StepStatus.RUNNING,
        started_at=NOW,
        finished_at=None,
        output="",
    )
    await store.record_step(
        run.id,
        seq=1,
        name="upload",
        status=StepStatus.OK,
        started_at=NOW,
        finished_at=NOW + timedelta(seconds=40),
        output="100% uploaded",
    )
    await store.record_step(
        run.id,
        seq=2,
        name="install",
        status=StepStatus.FAILED,
        started_at=NOW + timedelta(seconds=41),
        finished_at=NOW + timedelta(seconds=50),
        output="error: disk full",
    )
    heartbeat = await store.run(run.id)
    assert heartbeat is not None
    assert heartbeat.heartbeat_at == beat

    steps = await store.steps(run.id)
    assert [(s.seq, s.name, s.status, s.output) for s in steps] == [
        (1, "upload", StepStatus.OK, "100% uploaded"),
        (2, "install", StepStatus.FAILED, "error: disk full"),
    ]
    assert steps[0].finished_at == NOW + timedelta(seconds=40)
    assert steps[0].finished_at.tzinfo is UTC

    finished = await store.finish_run(
        run.id,
        status=RunStatus.FAILED,
        now=NOW + timedelta(minutes=1),
        summary="The VDB install failed: disk full.",
        failed_step="install",
        old_not_after=NOW + timedelta(days=3),
    )
    assert finished.status is RunStatus.FAILED
    assert finished.finished_at == NOW + timedelta(minutes=1)
    assert finished.finished_at.tzinfo is UTC
    assert (finished.failed_step, finished.old_not_after, finished.new_not_after) == (
        "install",
        NOW + timedelta(days=3),
        None,
    )
    assert await store.run(run.id) == finished
    assert await store.running_runs() == []
    assert await store.run(run.id + 1000) is None


async def test_two_stores_racing_for_one_fmc_let_exactly_one_win(db_url: str) -> None:
    """Two processes' begin_run for one FMC at once: one runs, the other is told who holds it."""
    first, second = await open_store(db_url), await open_store(db_url)
    try:
        results = await asyncio.gather(
            _begin(first, who="cli:alice", owner="host-a:1"),
            _begin(second, who="slack:U0BOB", owner="host-b:2"),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, RemediationRun)]
        lost = [r for r in results if isinstance(r, RemediationBusyError)]
        assert len(won) == 1, results
        assert len(lost) == 1, results
        winner, busy = won[0], lost[0]
        assert (busy.fmc, busy.run_id) == ("fmc-east", winner.id)
        assert winner.requested_by in busy.holder
        assert winner.owner in busy.holder
        assert f"fmc-east is already being remediated (run {winner.id}" in str(busy)
        assert await first.running_runs() == [winner]
    finally:
        await first.close()
        await second.close()


async def test_finished_run_frees_the_fmc_and_other_fmcs_are_never_blocked(
    store: SqlStore,
) -> None:
    """A second run of a busy FMC is refused, another FMC is not, and finishing frees it."""
    run = await _begin(store)
    other = await _begin(store, fmc="fmc-west")
    with pytest.raises(RemediationBusyError) as caught:
        await _begin(store, who="cli:bob")
    assert caught.value.holder == "cli:alice, approved by slack:U0BOSS, running on bot-1:4242"

    await store.finish_run(run.id, status=RunStatus.RENEWED, now=NOW, summary="Renewed.")
    again = await _begin(store, who="cli:bob")

    assert again.id not in (run.id, other.id)
    assert [r.id for r in await store.running_runs()] == sorted([other.id, again.id])
    assert [r.id for r in await store.runs("fmc-east")] == [again.id, run.id]


async def test_runs_are_listed_newest_first(store: SqlStore) -> None:
    """runs() orders by start time, newest first, across FMCs or for one."""
    old = await _begin(store)
    await store.finish_run(old.id, status=RunStatus.INTERRUPTED, now=NOW, summary="Stopped.")
    new = await store.begin_run(
        fmc="fmc-east",
        action="restart",
        requested_by="cli:alice",
        approved_by=None,
        owner="bot-1:4242",
        plan={},
        now=NOW + timedelta(hours=1),
    )
    assert [r.id for r in await store.runs()] == [new.id, old.id]
    assert [r.id for r in await store.runs(limit=1)] == [new.id]
    assert await store.runs("fmc-west") == []


async def test_finishing_twice_or_an_unknown_run_is_a_storage_error(store: SqlStore) -> None:
    """Only a running run can be finished; the error says why not."""
    run = await _begin(store)
    await store.finish_run(run.id, status=RunStatus.NOT_RENEWED, now=NOW, summary="Unchanged.")
    with pytest.raises(StorageError, match="already finished as not_renewed"):
        await store.finish_run(run.id, status=RunStatus.FAILED, now=NOW, summary="again")
    with pytest.raises(StorageError, match="no such run"):
        await store.finish_run(run.id + 99, status=RunStatus.FAILED, now=NOW, summary="x")


async def test_step_of_unknown_run_is_refused(store: SqlStore) -> None:
    """The foreign key holds on both backends: a step needs an existing run."""
    with pytest.raises(StorageError, match="recording step 1 of run 999"):
        await store.record_step(
            999,
            seq=1,
            name="upload",
            status=StepStatus.OK,
            started_at=NOW,
            finished_at=NOW,
            output="",
        )


async def test_heartbeat_after_finish_changes_nothing(store: SqlStore) -> None:
    """A late heartbeat from a finished run's process leaves the run as it was."""
    run = await _begin(store)
    finished = await store.finish_run(run.id, status=RunStatus.RENEWED, now=NOW, summary="ok")
    await store.heartbeat(run.id)
    assert await store.run(run.id) == finished


async def test_naive_datetime_is_refused(store: SqlStore) -> None:
    """Every datetime must be aware; a naive one is refused rather than guessed at."""
    with pytest.raises(StorageError, match="naive datetime"):
        await store.begin_run(
            fmc="fmc-east",
            action="restart",
            requested_by="cli:alice",
            approved_by=None,
            owner="bot-1:4242",
            plan={},
            now=datetime(2026, 11, 27, 9, 30),
        )
