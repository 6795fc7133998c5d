"""Remediation end to end: real SSH and SFTP against the lab, a real SQLite file, no mocks."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import os
import shutil
import socket
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.expiry import Thresholds
from bot.errors import RemediationBusyError, RemediationError
from bot.fmc.target import ProbeTarget, ProbeTimeouts
from bot.lab.packages import write_vdb_package
from bot.lab.scenarios import CATALOG, Scenario
from bot.lab.server import LabHost, RunningLab, start_lab
from bot.operations import AuditTrail
from bot.remediation.plan import RESTART_STEPS, VDB_UPDATE_STEPS
from bot.remediation.service import (
    THIS_PROCESS,
    Prepared,
    ProcessRuns,
    ProgressEvent,
    ProgressListener,
    ProgressState,
    RemediationResult,
    execute_remediation,
    prepare_remediation,
    sweep_interrupted,
)
from bot.remediation.settings import RemediationSettings
from bot.storage.records import RunStatus, StepStatus
from bot.storage.sql import SqlStore, open_store
from tests.fmc.helpers import PASSWORD, lab_target, write_known_hosts

TIMEOUTS = ProbeTimeouts(connect=2.0, command=3.0, host=10.0)
THIS_HOST = socket.gethostname()


def utc_now() -> datetime:
    """The real clock: the lab's certificates and installs run in real time."""
    return datetime.now(UTC)


@dataclasses.dataclass
class Bench:
    """One lab FMC, its target, a VDB package, settings and the shared SQLite store."""

    lab: RunningLab
    host: LabHost
    target: ProbeTarget
    store: SqlStore
    settings: RemediationSettings
    package: Path
    events: list[ProgressEvent]

    async def prepare(self, action: str = "vdb-update") -> Prepared:
        """Probe and plan, like `fmccert remediate --dry-run`."""
        return await prepare_remediation(
            self.target,
            action,
            settings=self.settings,
            timeouts=TIMEOUTS,
            thresholds=Thresholds(),
            clock=utc_now,
        )

    async def execute(
        self,
        prepared: Prepared,
        *,
        requested_by: str = "cli:alice",
        on_progress: ProgressListener | None = None,
        heartbeat_interval: float = 0.05,
    ) -> RemediationResult:
        """Run a prepared plan, collecting progress events."""
        return await execute_remediation(
            prepared,
            self.target,
            store=self.store,
            audit=AuditTrail(self.store),
            requested_by=requested_by,
            approved_by="cli:bob",
            settings=self.settings,
            timeouts=TIMEOUTS,
            thresholds=Thresholds(),
            clock=utc_now,
            on_progress=on_progress or self.events.append,
            heartbeat_interval=heartbeat_interval,
        )

    async def remediate(self, action: str = "vdb-update") -> RemediationResult:
        """Prepare, then execute."""
        return await self.execute(await self.prepare(action))

    def updates(self) -> list[str]:
        """The file names in the lab FMC's /var/sf/updates."""
        return sorted(path.name for path in self.lab.updates_dir(self.host.name).iterdir())


class BenchFactory:
    """Starts one-host labs on demand against one store; closes everything at teardown."""

    def __init__(self, tmp_path: Path, store: SqlStore) -> None:
        self.tmp_path = tmp_path
        self.store = store
        self.db = tmp_path / "fmccert.db"
        self.package = write_vdb_package(tmp_path)
        self.labs: list[RunningLab] = []

    async def __call__(
        self,
        scenario: str | Scenario,
        *,
        install_delay: float = 0.3,
        **settings: object,
    ) -> Bench:
        """A bench for ``scenario`` (a catalog name or a Scenario)."""
        chosen = CATALOG[scenario] if isinstance(scenario, str) else scenario
        lab = await start_lab(
            [chosen], password=PASSWORD, now=utc_now(), install_delay=install_delay
        )
        self.labs.append(lab)
        host = lab.hosts[0]
        known = write_known_hosts(
            self.tmp_path / f"known_hosts-{len(self.labs)}", [host.known_hosts_line]
        )
        base = RemediationSettings(
            vdb_package=self.package,
            vdb_install_timeout=5.0,
            vdb_poll_interval=0.1,
            verify_wait=0.3,
        )
        return Bench(
            lab=lab,
            host=host,
            target=lab_target(host, known),
            store=self.store,
            settings=dataclasses.replace(base, **settings),  # type: ignore[arg-type]
            package=self.package,
            events=[],
        )

    def assert_password_nowhere(self, caplog: pytest.LogCaptureFixture) -> None:
        """The lab password is in no byte of the database files and no log record."""
        files = [p for p in self.tmp_path.iterdir() if p.name.startswith("fmccert.db")]
        assert files
        for path in files:
            assert PASSWORD.encode() not in path.read_bytes(), path.name
        assert PASSWORD not in caplog.text


@contextlib.asynccontextmanager
async def _bench_factory(tmp_path: Path, url_query: str = "") -> AsyncIterator[BenchFactory]:
    """A BenchFactory on an SQLite file in tmp_path; its labs and store close afterwards."""
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'fmccert.db'}{url_query}")
    factory = BenchFactory(tmp_path, store)
    try:
        yield factory
    finally:
        for lab in factory.labs:
            await lab.close()
        await store.close()


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[BenchFactory]:
    """Call with a scenario to get a Bench; the SQLite store lives in tmp_path."""
    async with _bench_factory(tmp_path) as factory:
        yield factory


async def test_vdb_update_renews_and_records_everything(
    bench: BenchFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """On an affected FMC the VDB update installs 406, renews the certificate and is recorded."""
    caplog.set_level(logging.DEBUG)
    b = await bench("affected-760-warning")
    result = await b.remediate()

    assert result.status is RunStatus.RENEWED, result.summary
    assert result.old_not_after is not None
    assert result.new_not_after is not None
    assert result.new_not_after > result.old_not_after
    assert b.lab.vdb_build(b.host.name) == 406
    assert b.updates() == [b.package.name]  # no .part left behind

    run = await b.store.run(result.run_id)
    assert run is not None
    assert (run.status, run.requested_by, run.approved_by) == (
        RunStatus.RENEWED,
        "cli:alice",
        "cli:bob",
    )
    assert run.plan["steps"][3]["command"].startswith("sudo install_update.pl --detach ")
    steps = await b.store.steps(result.run_id)
    assert [s.name for s in steps] == list(VDB_UPDATE_STEPS)
    assert {s.status for s in steps} == {StepStatus.OK}
    assert "CURRENT_BUILD=406" in steps[4].output

    audit = await b.store.audit_log(b.host.name)
    actions = [entry.action for entry in audit]
    assert "remediation.started" in actions
    assert "remediation.finished" in actions
    finished = next(e for e in audit if e.action == "remediation.finished")
    assert finished.detail["status"] == "renewed"
    assert finished.detail["old_not_after"] == result.old_not_after.isoformat()
    assert finished.detail["new_not_after"] == result.new_not_after.isoformat()

    states = [(e.step, e.state) for e in b.events]
    for name in VDB_UPDATE_STEPS:
        assert (name, ProgressState.STARTED) in states
        assert (name, ProgressState.OK) in states
    assert ("wait-for-vdb", ProgressState.WAITING) in states
    assert {e.run_id for e in b.events} == {result.run_id}
    bench.assert_password_nowhere(caplog)


async def test_package_already_on_the_fmc_is_not_uploaded_again(bench: BenchFactory) -> None:
    """When the FMC already holds a file with the package's sha256, the upload is SKIPPED."""
    b = await bench("affected-770-critical")
    shutil.copy(b.package, b.lab.updates_dir(b.host.name) / b.package.name)
    result = await b.remediate()

    assert result.status is RunStatus.RENEWED, result.summary
    steps = {s.name: s for s in await b.store.steps(result.run_id)}
    assert steps["upload-package"].status is StepStatus.SKIPPED
    assert ("upload-package", ProgressState.SKIPPED) in [(e.step, e.state) for e in b.events]


async def test_no_cloud_connectivity_is_not_renewed_with_next_steps(bench: BenchFactory) -> None:
    """The VDB installs but the certificate stays: NOT_RENEWED, and 7.6.1 is a next step."""
    b = await bench("expires-today")
    result = await b.remediate()

    assert result.status is RunStatus.NOT_RENEWED, result.summary
    assert b.lab.vdb_build(b.host.name) == 406
    assert result.old_not_after == result.new_not_after
    assert any("upgrade to 7.6.1" in step for step in result.next_steps)
    assert any("Cisco TAC" in step for step in result.next_steps)


async def test_failing_installer_fails_at_install_vdb_with_its_message(
    bench: BenchFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """install_update.pl exiting 1 is FAILED at install-vdb, quoting the installer."""
    caplog.set_level(logging.DEBUG)
    b = await bench("clish-off")
    result = await b.remediate()

    assert result.status is RunStatus.FAILED
    assert result.failed_step == "install-vdb"
    assert "failed verification" in result.summary
    assert "Fatal error" in result.step_output
    steps = {s.name: s for s in await b.store.steps(result.run_id)}
    assert steps["install-vdb"].status is StepStatus.FAILED
    assert "wait-for-vdb" not in steps  # nothing ran after the failure
    run = await b.store.run(result.run_id)
    assert run is not None
    assert run.failed_step == "install-vdb"
    assert b.lab.vdb_build(b.host.name) == 400
    bench.assert_password_nowhere(caplog)


async def test_upload_cut_fails_at_upload_and_leaves_no_file(bench: BenchFactory) -> None:
    """A connection dropped mid-upload is FAILED at upload-package; no file takes the name."""
    b = await bench("cert-corrupt")
    result = await b.remediate()

    assert result.status is RunStatus.FAILED
    assert result.failed_step == "upload-package"
    assert "connection dropped" in result.summary
    assert b.package.name not in b.updates()
    assert b.updates() == []  # the .part was removed on a new connection
    assert b.lab.vdb_build(b.host.name) == 400


async def test_too_little_disk_fails_at_check_free_space(bench: BenchFactory) -> None:
    """With 1 MB free and min_free_mb=1 the run stops at check-free-space, before uploading."""
    small = dataclasses.replace(CATALOG["affected-760-warning"], disk_free_mb=1)
    b = await bench(small, min_free_mb=1)
    result = await b.remediate()

    assert result.status is RunStatus.FAILED
    assert result.failed_step == "check-free-space"
    assert "available KB 1024 is not >= 1804" in result.summary
    assert b.updates() == []


async def test_restart_runs_the_configured_command_and_verifies(
    bench: BenchFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The restart action runs `sudo true` (answering sudo once) and reads the certificate back."""
    caplog.set_level(logging.DEBUG)
    b = await bench("affected-760-warning", restart_command="sudo true")
    result = await b.remediate("restart")

    # The lab renews only on a VDB install: the restart runs but does not renew.
    assert result.status is RunStatus.NOT_RENEWED, result.summary
    steps = await b.store.steps(result.run_id)
    assert [s.name for s in steps] == list(RESTART_STEPS)
    assert {s.status for s in steps} == {StepStatus.OK}
    bench.assert_password_nowhere(caplog)


async def test_refusals_come_before_any_run(bench: BenchFactory) -> None:
    """An FMC already at VDB 406 is refused with the upgrade named, and nothing is recorded."""
    b = await bench("vdb-406-still-due")
    with pytest.raises(RemediationError, match=r"won't renew the certificate; upgrade to 7\.6\.1"):
        await b.prepare()
    with pytest.raises(RemediationError, match="restart_command is set"):
        await b.prepare("restart")
    assert await b.store.runs(b.host.name) == []


async def test_ftd_plan_is_prepared_for_people_and_never_executed(bench: BenchFactory) -> None:
    """An FTD gets its manual FDM plan; executing it is refused before any run or change."""
    b = await bench("ftd-affected-760")
    prepared = await b.prepare("vdb-update")
    assert not prepared.plan.executable
    assert prepared.finding.kind.value == "ftd"
    with pytest.raises(RemediationError, match="FDM"):
        await b.execute(prepared)
    assert await b.store.runs(b.host.name) == []
    assert b.lab.vdb_build(b.host.name) == 400
    assert b.updates() == []


async def test_concurrent_runs_of_one_fmc_exactly_one_runs(bench: BenchFactory) -> None:
    """Two simultaneous remediations of one FMC: one runs, the other is busy naming the holder."""
    b = await bench("affected-760-expired")
    prepared = await b.prepare()
    outcomes = await asyncio.gather(
        b.execute(prepared, requested_by="cli:alice"),
        b.execute(prepared, requested_by="cli:carol"),
        return_exceptions=True,
    )
    results = [o for o in outcomes if isinstance(o, RemediationResult)]
    busy = [o for o in outcomes if isinstance(o, RemediationBusyError)]
    assert (len(results), len(busy)) == (1, 1), outcomes
    assert results[0].status is RunStatus.RENEWED
    winner = await b.store.run(results[0].run_id)
    assert winner is not None
    assert winner.requested_by in busy[0].holder
    assert busy[0].run_id == results[0].run_id
    assert len(await b.store.runs(b.host.name)) == 1


async def test_cancelling_mid_run_marks_it_interrupted(bench: BenchFactory) -> None:
    """Cancelling while the VDB installs marks the run INTERRUPTED and releases the lock."""
    b = await bench("affected-760-warning", install_delay=5.0)
    prepared = await b.prepare()
    waiting = asyncio.Event()

    def watch(event: ProgressEvent) -> None:
        b.events.append(event)
        if event.state is ProgressState.WAITING:
            waiting.set()

    task = asyncio.create_task(b.execute(prepared, on_progress=watch))
    await asyncio.wait_for(waiting.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    run_id = b.events[0].run_id
    run = await b.store.run(run_id)
    assert run is not None
    assert run.status is RunStatus.INTERRUPTED
    assert run.failed_step == "wait-for-vdb"
    assert "interrupted during step wait-for-vdb" in (run.summary or "")
    steps = {s.name: s for s in await b.store.steps(run_id)}
    assert steps["wait-for-vdb"].status is StepStatus.FAILED
    assert await b.store.running_runs() == []
    assert "remediation.interrupted" in [e.action for e in await b.store.audit_log(b.host.name)]


async def test_sweep_frees_a_run_this_process_lost(bench: BenchFactory) -> None:
    """A RUNNING run under this process's token that it no longer runs is swept at once."""
    b = await bench("affected-760-warning")
    stale = await b.store.begin_run(
        fmc=b.host.name,
        action="vdb-update",
        requested_by="cli:mallory",
        approved_by=None,
        owner=THIS_PROCESS.owner,
        plan={},
        now=utc_now(),
    )
    prepared = await b.prepare()
    with pytest.raises(RemediationBusyError):
        await b.execute(prepared)

    swept = await sweep_interrupted(b.store, audit=AuditTrail(b.store))
    assert [run.id for run in swept] == [stale.id]
    assert swept[0].status is RunStatus.INTERRUPTED
    assert "interrupted" in (swept[0].summary or "")
    audit = await b.store.audit_log(b.host.name)
    entry = next(e for e in audit if e.action == "remediation.interrupted")
    assert entry.actor == "system"

    result = await b.execute(prepared)
    assert result.status is RunStatus.RENEWED, result.summary


async def test_every_catalog_scenario_ends_as_the_lab_expects(tmp_path: Path) -> None:
    """Across the whole lab catalog, each remediation is renewed/not/failed/refused as expected."""
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'fmccert.db'}")
    package = write_vdb_package(tmp_path)
    settings = RemediationSettings(
        vdb_package=package, vdb_install_timeout=5.0, vdb_poll_interval=0.1, verify_wait=0.3
    )
    scenarios = list(CATALOG.values())
    try:
        async with await start_lab(
            scenarios, password=PASSWORD, now=utc_now(), install_delay=0.3
        ) as lab:
            lines = [h.known_hosts_line for h in lab.hosts if h.scenario.host_key_trusted]
            known = write_known_hosts(tmp_path / "known_hosts", lines)

            async def one(host: LabHost) -> str:
                target = lab_target(host, known)
                try:
                    prepared = await prepare_remediation(
                        target,
                        "vdb-update",
                        settings=settings,
                        timeouts=TIMEOUTS,
                        thresholds=Thresholds(),
                        clock=utc_now,
                    )
                except RemediationError as exc:
                    return "n/a" if "could not be checked" in str(exc) else "refused"
                try:
                    result = await execute_remediation(
                        prepared,
                        target,
                        store=store,
                        audit=AuditTrail(store),
                        requested_by="cli:alice",
                        approved_by=None,
                        timeouts=TIMEOUTS,
                        thresholds=Thresholds(),
                        clock=utc_now,
                        on_progress=None,
                    )
                except RemediationError:
                    # Only an FTD's manual (FDM) plan may be refused at this point.
                    return "refused" if not prepared.plan.executable else "error"
                return result.status.value

            got = await asyncio.gather(*(one(host) for host in lab.hosts))
    finally:
        await store.close()
    expected = [scenario.expect_remediation for scenario in scenarios]
    assert dict(zip(CATALOG, got, strict=True)) == dict(zip(CATALOG, expected, strict=True))


async def test_heartbeat_keeps_beating_through_a_long_install_wait(bench: BenchFactory) -> None:
    """While wait-for-vdb polls a 3 s install, the database-stamped heartbeat keeps advancing."""
    b = await bench("affected-760-warning", install_delay=3.0, vdb_poll_interval=1.0)
    prepared = await b.prepare()
    beats: dict[str, set[datetime]] = {}
    current: list[str] = []

    def watch(event: ProgressEvent) -> None:
        b.events.append(event)
        if event.state is ProgressState.STARTED:
            current[:] = [event.step]

    async def sample() -> None:
        while True:
            running = await b.store.running_runs()
            if running and current:
                beats.setdefault(current[0], set()).add(running[0].heartbeat_at)
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    try:
        result = await b.execute(prepared, on_progress=watch, heartbeat_interval=0.2)
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler  # before the store closes
    assert result.status is RunStatus.RENEWED, result.summary
    waited = sorted(beats["wait-for-vdb"])
    assert len(waited) >= 8, waited  # ~3 s at one beat per 0.2 s, whatever the poll does
    gaps = [later - earlier for earlier, later in itertools.pairwise(waited)]
    assert max(gaps) < timedelta(seconds=1), gaps


@pytest.fixture
async def fragile_bench(tmp_path: Path) -> AsyncIterator[BenchFactory]:
    """A bench whose SQLite writes give up after 0.2 s of another writer's lock."""
    async with _bench_factory(tmp_path, "?timeout=0.2") as factory:
        yield factory


async def test_storage_outage_mid_run_still_verifies_and_records_the_renewal_late(
    fragile_bench: BenchFactory,
) -> None:
    """The database locked from the install wait on: the fix is verified, and recorded once back."""
    b = await fragile_bench("affected-760-warning", install_delay=1.0)
    prepared = await b.prepare()
    blocker = sqlite3.connect(
        fragile_bench.db, isolation_level=None, timeout=10, check_same_thread=False
    )

    async def lock_on_wait(event: ProgressEvent) -> None:
        b.events.append(event)
        if event.step == "wait-for-vdb" and event.state is ProgressState.STARTED:
            # In a thread: a heartbeat mid-transaction needs the loop to commit first.
            await asyncio.to_thread(blocker.execute, "BEGIN IMMEDIATE")

    try:
        result = await b.execute(prepared, on_progress=lock_on_wait)
        assert result.status is RunStatus.RENEWED, result.summary
        assert result.new_not_after is not None
        assert result.old_not_after is not None
        assert result.new_not_after > result.old_not_after  # verified on the FMC
        assert b.lab.vdb_build(b.host.name) == 406
        assert not result.recorded
        assert "locked" in (result.storage_error or "")
        assert THIS_PROCESS.unrecorded
        assert result.run_id in THIS_PROCESS.live  # its lock stays held, and beating
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
    await asyncio.wait_for(THIS_PROCESS.settle(), 30)

    run = await b.store.run(result.run_id)
    assert run is not None
    assert run.status is RunStatus.RENEWED
    assert "recorded late: the database was unavailable from" in (run.summary or "")
    assert run.new_not_after == result.new_not_after
    steps = await b.store.steps(result.run_id)
    assert [s.name for s in steps] == list(VDB_UPDATE_STEPS)
    assert {s.status for s in steps} == {StepStatus.OK}
    audit = await b.store.audit_log(b.host.name)
    finished = next(e for e in audit if e.action == "remediation.finished")
    assert finished.detail["status"] == "renewed"
    assert set(finished.detail["recorded_late"]) == {"from", "to"}
    assert await b.store.running_runs() == []  # the lock is released
    assert result.run_id not in THIS_PROCESS.live


async def test_a_run_lost_to_a_storage_error_frees_its_fmc_at_the_next_sweep(
    bench: BenchFactory,
) -> None:
    """A run this process stopped executing without an outcome is swept at once, not never."""
    b = await bench("affected-760-warning")
    process = ProcessRuns(THIS_HOST, os.getpid(), "this-start")
    lost = await b.store.begin_run(
        fmc=b.host.name,
        action="vdb-update",
        requested_by="cli:alice",
        approved_by=None,
        owner=process.owner,
        plan={},
        now=utc_now(),
    )
    swept = await sweep_interrupted(b.store, audit=AuditTrail(b.store), process=process)
    assert [run.id for run in swept] == [lost.id]
    result = await b.remediate()
    assert result.status is RunStatus.RENEWED, result.summary
