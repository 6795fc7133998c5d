"""Tests of `fmccert remediate` and `fmccert history`, run as real processes against the lab."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.lab.scenarios import pick_scenarios
from bot.lab.server import RunningLab, start_lab
from bot.storage.sql import open_store
from bot.storage.tables import RemediationRunRow
from tests.cli.process import (
    Completed,
    assert_one_line_error,
    fmccert,
    fmccert_into_closed_pipe,
    start_fmccert,
)

SCENARIOS = [
    "affected-760-warning",  # the VDB update renews it
    "expires-today",  # no cloud connectivity: VDB installs, certificate stays
    "clish-off",  # the installer fails
    "cert-corrupt",  # the upload is cut
    "vdb-406-still-due",  # already at VDB 406: a VDB update cannot help
    "affected-770-critical",
]


@dataclass(frozen=True)
class LabSite:
    """A running lab, its config file, and host names by scenario."""

    lab: RunningLab
    config: Path
    names: dict[str, str]

    def args(self, *extra: str) -> list[str]:
        """Arguments with this site's --config appended."""
        return [*extra, "--config", str(self.config)]


async def _site(tmp_path: Path, install_delay: float) -> tuple[RunningLab, LabSite]:
    lab = await start_lab(
        pick_scenarios(len(SCENARIOS), SCENARIOS),
        now=datetime.now(UTC),
        install_delay=install_delay,
    )
    config = tmp_path / "fmccert.yaml"
    lab.write_config(config, connect_timeout=3, command_timeout=5, host_timeout=60)
    names = {host.scenario.name: host.name for host in lab.hosts}
    return lab, LabSite(lab, config, names)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[LabSite]:
    """A lab whose VDB installs take half a second."""
    lab, made = await _site(tmp_path, install_delay=0.5)
    try:
        yield made
    finally:
        await lab.close()


@pytest.fixture
async def slow_site(tmp_path: Path) -> AsyncIterator[LabSite]:
    """A lab whose VDB installs take six seconds (time to stop a run midway)."""
    lab, made = await _site(tmp_path, install_delay=6.0)
    try:
        yield made
    finally:
        await lab.close()


async def test_dry_run_prints_every_step_and_changes_nothing(site: LabSite) -> None:
    """--dry-run prints each step with its exact command and touches neither FMC nor DB."""
    name = site.names["affected-760-warning"]
    result = await fmccert(*site.args("remediate", name, "--action", "vdb-update", "--dry-run"))
    assert result.status == 0, result.stderr
    for fragment in (
        "precheck",
        "check-free-space",
        "df -Pk /var/sf/updates",
        "upload-package",
        "Cisco_VDB_Fingerprint_Database-4.5.0-406.sh.REL.tar",
        "sudo install_update.pl --detach /var/sf/updates/",
        "wait-for-vdb",
        "verify-certificate",
    ):
        assert fragment in result.stdout, fragment
    assert site.lab.vdb_build(name) == 400
    assert not any(site.lab.updates_dir(name).iterdir())
    assert not (site.config.parent / "var").exists()


async def test_remediate_renews_and_history_shows_it(site: LabSite) -> None:
    """--yes runs the VDB update, prints the renewed expiry read back, and is recorded."""
    name = site.names["affected-760-warning"]
    before = json.loads((await fmccert(*site.args("check", name, "--json"))).stdout)[0]
    result = await fmccert(*site.args("remediate", name, "--action", "vdb-update", "--yes"))
    assert result.status == 0, result.stdout + result.stderr
    assert "renewed" in result.stdout
    after = json.loads((await fmccert(*site.args("check", name, "--json"))).stdout)[0]
    assert after["not_after"] > before["not_after"]
    assert after["not_after"][:10] in result.stdout  # the new expiry, as read back
    assert site.lab.vdb_build(name) == 406

    history = await fmccert(*site.args("history", name, "--json"))
    record = json.loads(history.stdout)
    run = record["remediations"][0]
    assert run["status"] == "renewed"
    assert [step["name"] for step in run["steps"]][-1] == "verify-certificate"
    actions = [entry["action"] for entry in record["audit"]]
    assert "remediation.started" in actions
    assert "remediation.finished" in actions
    assert "check" in actions
    text = await fmccert(*site.args("history", name))
    assert "renewed" in text.stdout
    assert "remediation.finished" in text.stdout


@pytest.mark.parametrize(
    ("scenario", "status", "words"),
    [
        ("expires-today", 1, ["not_renewed", "7.6.1"]),
        ("clish-off", 2, ["failed", "install-vdb"]),
        ("cert-corrupt", 2, ["failed", "upload-package"]),
    ],
)
async def test_remediate_reports_failures_truthfully(
    site: LabSite, scenario: str, status: int, words: list[str]
) -> None:
    """A certificate that does not renew or a failing step is said plainly, exit non-zero."""
    name = site.names[scenario]
    result = await fmccert(*site.args("remediate", name, "--action", "vdb-update", "--yes"))
    assert result.status == status, result.stdout + result.stderr
    for word in words:
        assert word in result.stdout
    assert "renewed:" not in result.stdout.replace("not_renewed:", "")


async def test_remediate_refuses_when_the_vdb_cannot_help(site: LabSite) -> None:
    """An FMC already at VDB 406 gets a one-line refusal naming the upgrade, recorded."""
    name = site.names["vdb-406-still-due"]
    result = await fmccert(*site.args("remediate", name, "--action", "vdb-update", "--yes"))
    assert_one_line_error(result, "7.6.1")
    record = json.loads((await fmccert(*site.args("history", name, "--json"))).stdout)
    assert record["remediations"] == []
    assert record["audit"][0]["action"] == "remediation.refused"


async def test_restart_is_offered_only_when_configured(site: LabSite) -> None:
    """Without remediation.restart_command the restart action is refused in one line."""
    name = site.names["affected-770-critical"]
    result = await fmccert(*site.args("remediate", name, "--action", "restart", "--dry-run"))
    assert_one_line_error(result, "restart_command")


async def test_without_yes_on_a_pipe_nothing_runs(site: LabSite) -> None:
    """Without --yes and with no terminal to ask on, the plan is printed and not run."""
    name = site.names["affected-770-critical"]
    result = await fmccert(*site.args("remediate", name, "--action", "vdb-update"))
    assert result.status == 3
    assert "--yes" in result.stderr
    assert site.lab.vdb_build(name) == 400


async def test_two_concurrent_remediations_exactly_one_runs(site: LabSite) -> None:
    """Two processes remediating the same FMC at once: one runs, one is told who holds it."""
    name = site.names["affected-770-critical"]
    args = site.args("remediate", name, "--action", "vdb-update", "--yes")
    first, second = await asyncio.gather(fmccert(*args), fmccert(*args))
    statuses = sorted([first.status, second.status])
    assert statuses == [0, 3], (first, second)
    refused = first if first.status == 3 else second
    assert "already being remediated" in refused.stderr
    assert "cli:" in refused.stderr
    record = json.loads((await fmccert(*site.args("history", name, "--json"))).stdout)
    assert [run["status"] for run in record["remediations"]] == ["renewed"]


def _database(site: LabSite) -> Path:
    return site.config.parent / "var" / "fmccert.db"


async def _age_heartbeats(site: LabSite, by: timedelta) -> None:
    """Move every running run's heartbeat ``by`` into the past (as if that much time passed)."""
    store = await open_store(f"sqlite+aiosqlite:///{_database(site)}")
    try:
        now = await store.database_now()
        async with store.engine.begin() as conn:
            await conn.execute(
                update(RemediationRunRow)
                .where(RemediationRunRow.status == "running")
                .values(heartbeat_at=now - by)
            )
    finally:
        await store.close()


async def test_history_never_marks_a_run_however_old_its_heartbeat(site: LabSite) -> None:
    """`fmccert history` is read-only: a run with a 3-minute-old heartbeat stays running."""
    name = site.names["affected-760-warning"]
    await fmccert(*site.args("history"))  # creates the database
    store = await open_store(f"sqlite+aiosqlite:///{_database(site)}")
    try:
        await store.begin_run(
            fmc=name,
            action="vdb-update",
            requested_by="cli:alice",
            approved_by=None,
            owner="other-host:1:t0k3n",
            plan={},
            now=datetime.now(UTC),
        )
    finally:
        await store.close()
    await _age_heartbeats(site, timedelta(minutes=3))  # what a clock 3 min ahead would see

    result = await fmccert(*site.args("history", name, "--json"))
    assert result.status == 0, result
    record = json.loads(result.stdout)
    assert [run["status"] for run in record["remediations"]] == ["running"]
    assert "remediation.interrupted" not in [entry["action"] for entry in record["audit"]]


async def _stop_during_wait(site: LabSite, name: str, sig: int) -> Completed:
    process = await start_fmccert(*site.args("remediate", name, "--action", "vdb-update", "--yes"))
    assert process.stdout is not None
    seen = b""
    # The printed plan names the step too: wait for the progress line of the running step.
    while b"wait-for-vdb: started" not in seen:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line, "the remediation ended before waiting for the VDB"
        seen += line
    process.send_signal(sig)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return Completed(process.returncode, (seen + out).decode(), err.decode())


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
async def test_stopped_remediation_is_recorded_interrupted_and_can_restart(
    slow_site: LabSite, sig: int
) -> None:
    """A run killed, terminated or Ctrl-C'd midway is marked interrupted; a new run can start."""
    name = slow_site.names["affected-760-warning"]
    stopped = await _stop_during_wait(slow_site, name, sig)
    if sig == signal.SIGKILL:
        # No say, and its successor cannot tell a dead process from a live one at once
        # (same host, perhaps the same pid): history leaves it alone, remediate refuses
        # until its heartbeat is stale by the database's clock, then sweeps it.
        record = json.loads((await fmccert(*slow_site.args("history", name, "--json"))).stdout)
        assert record["remediations"][0]["status"] == "running"
        args = slow_site.args("remediate", name, "--action", "vdb-update", "--yes")
        assert_one_line_error(await fmccert(*args), "already being remediated")
        await _age_heartbeats(slow_site, timedelta(minutes=3))
        again = await fmccert(*args)
        assert again.status == 0, again.stdout + again.stderr
        record = json.loads((await fmccert(*slow_site.args("history", name, "--json"))).stdout)
        assert [run["status"] for run in record["remediations"]] == ["renewed", "interrupted"]
        assert "remediation.interrupted" in [entry["action"] for entry in record["audit"]]
        return
    assert stopped.status == 2, stopped  # "failed or interrupted", not the shell's 130
    assert "interrupted" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    record = json.loads((await fmccert(*slow_site.args("history", name, "--json"))).stdout)
    assert record["remediations"][0]["status"] == "interrupted"
    assert "remediation.interrupted" in [entry["action"] for entry in record["audit"]]

    again = await fmccert(*slow_site.args("remediate", name, "--action", "vdb-update", "--yes"))
    assert again.status == 0, again.stdout + again.stderr
    record = json.loads((await fmccert(*slow_site.args("history", name, "--json"))).stdout)
    assert [run["status"] for run in record["remediations"]] == ["renewed", "interrupted"]


async def test_remediation_goes_on_when_its_output_pipe_closes(site: LabSite) -> None:
    """With nobody reading its output, a remediation still runs to the end and exits by it."""
    name = site.names["affected-760-warning"]
    args = site.args("remediate", name, "--action", "vdb-update", "--yes")
    result = await fmccert_into_closed_pipe(*args)
    assert (result.status, result.stderr) == (0, "")
    assert site.lab.vdb_build(name) == 406
    record = json.loads((await fmccert(*site.args("history", name, "--json"))).stdout)
    assert [run["status"] for run in record["remediations"]] == ["renewed"]


async def test_password_is_nowhere_in_database_or_output(site: LabSite) -> None:
    """After checks, a remediation and history, neither the DB file nor any output holds it."""
    name = site.names["affected-760-warning"]
    outputs = [
        await fmccert(*site.args("check", "-v", name)),
        await fmccert(*site.args("remediate", "-v", name, "--action", "vdb-update", "--yes")),
        await fmccert(*site.args("history", "-v", "--json")),
    ]
    password = site.lab.password
    for result in outputs:
        assert password not in result.stdout
        assert password not in result.stderr
    database = site.config.parent / "var" / "fmccert.db"
    files = [database, *database.parent.glob("fmccert.db-*")]  # WAL and shm too
    assert database.exists()
    for path in files:
        assert password.encode() not in path.read_bytes(), path


async def test_status_reads_stored_results_without_ssh(site: LabSite) -> None:
    """`fmccert status` counts the last results and exits like a scan would, without SSH."""
    await fmccert(*site.args("scan"))
    await site.lab.close()  # no FMC answers any more: status must not need them
    result = await fmccert(*site.args("status", "--json"))
    record = json.loads(result.stdout)
    assert result.status == 2  # the lab holds critical FMCs
    assert record["checked"] == record["fmcs"] == len(SCENARIOS)
    assert record["counts"]["critical"] >= 1
    assert len(record["soonest_expiries"]) == 5
    text = await fmccert(*site.args("status"))
    assert "soonest expiries:" in text.stdout


async def test_status_says_expired_for_a_warning_that_has_expired_since(site: LabSite) -> None:
    """A certificate stored as "warning" 30 days ago and past its expiry now shows expired."""
    from datetime import timedelta

    from bot.config import load_config
    from bot.core.certificate import CertificateFacts
    from bot.core.expiry import Thresholds
    from bot.core.findings import FmcFacts, ProbeOutcome, assess_outcome
    from bot.storage.sql import open_store

    name = site.names["affected-760-warning"]
    then = datetime.now(UTC) - timedelta(days=30)
    cert = CertificateFacts(
        not_before=then - timedelta(days=400), not_after=then + timedelta(days=19, hours=1),
        serial="0A", subject="CN=x", issuer="CN=Keymaster CA 2", sha256_fingerprint="AA",
    )  # fmt: skip
    facts = FmcFacts(version="7.6.0", build="36", vdb_build=400, certificate=cert)
    finding = assess_outcome(name, "h", ProbeOutcome(then, facts, None), Thresholds(), then)
    assert finding.status.value == "warning"
    config = load_config(site.config)
    store = await open_store(config.storage_url, base_dir=config.base_dir)
    try:
        await store.record_findings([finding], scan_id="old")
    finally:
        await store.close()

    result = await fmccert(*site.args("status", "--json"))

    record = json.loads(result.stdout)
    assert record["counts"]["expired"] == 1
    assert record["counts"]["warning"] == 0
    assert record["soonest_expiries"][0]["status"] == "expired"
    assert record["soonest_expiries"][0]["days_left"] == -11
    assert result.status == 2


async def test_remediate_says_when_the_outcome_is_recorded_late(slow_site: LabSite) -> None:
    """With the database locked mid-run, remediate finishes, says so, and records once unlocked."""
    name = slow_site.names["affected-760-warning"]
    await fmccert(*slow_site.args("history"))  # creates the database
    text = slow_site.config.read_text(encoding="utf-8")
    url = f"sqlite+aiosqlite:///{_database(slow_site)}?timeout=0.2"
    slow_site.config.write_text(f"{text}\nstorage: {{url: '{url}'}}\n", encoding="utf-8")
    process = await start_fmccert(
        *slow_site.args("remediate", name, "--action", "vdb-update", "--yes")
    )
    assert process.stdout is not None
    blocker = sqlite3.connect(_database(slow_site), isolation_level=None, timeout=10)
    seen = b""
    try:
        while b"wait-for-vdb: started" not in seen:
            seen += await asyncio.wait_for(process.stdout.readline(), 30)
        blocker.execute("BEGIN IMMEDIATE")
        while b"could not be recorded yet" not in seen:
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            assert line, seen.decode()
            seen += line
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
    out, err = await asyncio.wait_for(process.communicate(), 60)
    output = (seen + out).decode()
    assert process.returncode == 0, output + err.decode()
    assert "renewed" in output
    assert "recorded late" in output
    record = json.loads((await fmccert(*slow_site.args("history", name, "--json"))).stdout)
    [run] = record["remediations"]
    assert run["status"] == "renewed"
    assert "recorded late: the database was unavailable from" in run["summary"]
