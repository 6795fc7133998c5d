"""Tests of `fmccert check`, `scan`, `trust`, `lab` and `demo`, run as real processes."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.output import EXIT_BROKEN_PIPE
from bot.lab.scenarios import CATALOG, pick_scenarios
from bot.lab.server import RunningLab, start_lab
from tests.cli.process import ROOT, assert_one_line_error, fmccert, fmccert_into_closed_pipe


@pytest.fixture
async def catalog_lab(tmp_path: Path) -> AsyncIterator[tuple[RunningLab, Path]]:
    """One lab FMC per catalog scenario, with its config written to tmp_path."""
    lab = await start_lab(pick_scenarios(len(CATALOG)), now=datetime.now(UTC))
    path = tmp_path / "fmccert.yaml"
    lab.write_config(path, connect_timeout=3, command_timeout=2, host_timeout=20)
    try:
        yield lab, path
    finally:
        await lab.close()


async def test_scan_json_matches_every_scenario(catalog_lab: tuple[RunningLab, Path]) -> None:
    """A scan of the whole catalog gives each scenario's status, error kind and action."""
    lab, path = catalog_lab
    result = await fmccert("scan", "--config", str(path), "--json")
    assert result.status == 2  # the catalog holds critical and expired FMCs
    findings = json.loads(result.stdout)
    assert [f["name"] for f in findings] == [host.name for host in lab.hosts]
    for host, finding in zip(lab.hosts, findings, strict=True):
        scenario = host.scenario
        got = (finding["status"], (finding["error"] or {}).get("kind"), finding["action"])
        assert got == (scenario.expect_status, scenario.expect_error, scenario.expect_action), (
            scenario.name
        )
        assert finding["kind"] == scenario.kind, scenario.name  # FMCs and FTDs, one fleet
        if scenario.expect_error is None:
            assert finding["version"] == scenario.version
            assert finding["vdb_build"] == scenario.vdb_build
            assert "Keymaster CA 2" in finding["issuer"]
    assert {f["kind"] for f in findings} == {"fmc", "ftd"}
    assert lab.password not in result.stdout + result.stderr


async def test_table_of_a_mixed_fleet_shows_each_kind_and_the_ftd_note(
    catalog_lab: tuple[RunningLab, Path],
) -> None:
    """With an FTD in the fleet every row names its kind; stderr notes the FTD's FDM path."""
    lab, path = catalog_lab
    by_scenario = {host.scenario.name: host.name for host in lab.hosts}
    names = [by_scenario["ftd-affected-760"], by_scenario["healthy-742"]]
    result = await fmccert("check", "--config", str(path), *names)
    assert result.status == 1, result.stderr  # the FTD's certificate is at warning
    rows = result.stdout.splitlines()
    assert rows[0].startswith("NAME")
    assert any(row.startswith(f"{names[0]} (FTD) ") for row in rows)
    assert any(row.startswith(f"{names[1]} (FMC) ") for row in rows)
    assert "note: FTD (FN74284): install the VDB through FDM (Device > Updates)" in result.stderr
    only_fmc = await fmccert("check", "--config", str(path), names[1])
    assert "(FMC)" not in only_fmc.stdout  # an FMC-only table is as before


async def test_output_into_a_closed_pipe_stops_quietly(
    catalog_lab: tuple[RunningLab, Path],
) -> None:
    """Output whose reader has gone (`| head -1`) ends with status 141 and nothing on stderr."""
    lab, path = catalog_lab
    assert EXIT_BROKEN_PIPE == 141  # what a shell shows for a writer killed by SIGPIPE
    for args in (
        ["scan", "--config", str(path), "--json"],
        ["check", "--config", str(path), lab.hosts[0].name],
        ["lab", "--list-scenarios"],
    ):
        result = await fmccert_into_closed_pipe(*args)
        assert (result.status, result.stderr) == (EXIT_BROKEN_PIPE, ""), args


async def test_check_exit_status_follows_the_worst_finding(
    catalog_lab: tuple[RunningLab, Path],
) -> None:
    """check exits 0 healthy, 1 warning, 3 unknown, 2 critical, and prints a table."""
    lab, path = catalog_lab
    by_scenario = {host.scenario.name: host.name for host in lab.hosts}
    cases = [
        (["healthy-742"], 0),
        (["healthy-742", "affected-760-warning"], 1),
        (["affected-760-warning", "wrong-password"], 3),
        (["wrong-password", "affected-770-critical"], 2),
    ]
    for scenarios, expected in cases:
        names = [by_scenario[scenario] for scenario in scenarios]
        result = await fmccert("check", "--config", str(path), *names)
        assert result.status == expected, (scenarios, result)
        assert result.stdout.splitlines()[0].split()[:2] == ["NAME", "STATUS"]
        for name in names:
            assert name in result.stdout


async def test_scan_by_tag_selects_only_tagged(catalog_lab: tuple[RunningLab, Path]) -> None:
    """--tag scans only FMCs carrying that tag (the lab tags each with its scenario)."""
    _, path = catalog_lab
    result = await fmccert("scan", "--config", str(path), "--tag", "healthy-742", "--json")
    assert result.status == 0
    assert [f["status"] for f in json.loads(result.stdout)] == ["ok"]
    missing = await fmccert("scan", "--config", str(path), "--tag", "no-such-tag")
    assert_one_line_error(missing, "no-such-tag")


async def test_unknown_fmc_name_suggests_the_closest(catalog_lab: tuple[RunningLab, Path]) -> None:
    """A misspelt FMC name is a one-line error with the closest valid name."""
    _, path = catalog_lab
    result = await fmccert("check", "--config", str(path), "lab-fmc-1")
    assert_one_line_error(result, "unknown FMC 'lab-fmc-1'", "did you mean 'lab-fmc-01'")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("fmcs: [ {name: a\n", "line"),
        ("fmcs:\n  - {name: a, host: b, colour: red}\n", "unknown key"),
        ("fmcs:\n  - {name: a, host: b}\n  - {name: a, host: c}\n", "duplicate FMC name"),
        ("defaults: {password_env: NOT_SET_ANYWHERE}\nfmcs: [{name: a, host: b}]\n",
         "NOT_SET_ANYWHERE is not set"),
    ],
)  # fmt: skip
async def test_bad_config_is_one_line_and_exit_3(tmp_path: Path, text: str, fragment: str) -> None:
    """Malformed YAML, unknown keys, duplicates and a missing variable: one line, exit 3."""
    path = tmp_path / "fmccert.yaml"
    path.write_text(text, encoding="utf-8")
    result = await fmccert("scan", "--config", str(path))
    assert_one_line_error(result, fragment)


async def test_usage_errors_exit_3() -> None:
    """An unknown subcommand or a missing argument is a usage error with status 3."""
    result = await fmccert("frobnicate")
    assert result.status == 3
    assert "Traceback" not in result.stderr
    result = await fmccert("check")
    assert result.status == 3


async def test_trust_adds_an_unknown_key_and_then_check_works(
    catalog_lab: tuple[RunningLab, Path],
) -> None:
    """trust shows the fingerprint, appends with --yes, and the host then checks cleanly."""
    lab, path = catalog_lab
    host = next(h for h in lab.hosts if h.scenario.name == "untrusted-host-key")
    before = await fmccert("check", "--config", str(path), host.name, "--json")
    assert json.loads(before.stdout)[0]["error"]["kind"] == "host_key"

    refused = await fmccert("trust", "--config", str(path), host.name)
    assert_one_line_error(refused, "--yes")
    added = await fmccert("trust", "--config", str(path), host.name, "--yes")
    assert added.status == 0, added
    assert "SHA256:" in added.stdout
    after = await fmccert("check", "--config", str(path), host.name, "--json")
    assert json.loads(after.stdout)[0]["error"] is None
    again = await fmccert("trust", "--config", str(path), host.name, "--yes")
    assert "already trusted" in again.stdout


async def test_trust_refuses_a_changed_key_without_replace(
    catalog_lab: tuple[RunningLab, Path],
) -> None:
    """A host whose key differs from known_hosts is not replaced unless --replace is given."""
    lab, path = catalog_lab
    first, second = lab.hosts[0], lab.hosts[1]
    known_hosts = path.parent / "known_hosts"
    # Pretend the first host's address used to present the second host's key.
    lines = known_hosts.read_text(encoding="utf-8").splitlines()
    forged_key = second.known_hosts_line.split(" ", 1)[1]
    lines = [line for line in lines if not line.startswith(f"[127.0.0.1]:{first.port} ")]
    known_hosts.write_text("\n".join([*lines, f"[127.0.0.1]:{first.port} {forged_key}"]) + "\n")
    checked = await fmccert("check", "--config", str(path), first.name, "--json")
    assert json.loads(checked.stdout)[0]["error"]["kind"] == "host_key"

    refused = await fmccert("trust", "--config", str(path), first.name, "--yes")
    assert refused.status == 3
    assert "DIFFERENT" in refused.stdout
    replaced = await fmccert("trust", "--config", str(path), first.name, "--yes", "--replace")
    assert replaced.status == 0, replaced
    again = await fmccert("check", "--config", str(path), first.name, "--json")
    assert json.loads(again.stdout)[0]["error"] is None


async def test_lab_write_config_then_scan_in_one_step(tmp_path: Path) -> None:
    """`fmccert lab --write-config` in one process and `fmccert scan` in another work."""
    path = tmp_path / "lab" / "fmccert.yaml"
    lab = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "lab", "--count", "5", "--write-config", str(path),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert lab.stdout is not None
    try:
        while b"lab FMCs running" not in await asyncio.wait_for(lab.stdout.readline(), 30):
            pass
        result = await fmccert("scan", "--config", str(path), "--json")
        findings = json.loads(result.stdout)
        expected = [scenario.expect_status for scenario in pick_scenarios(5)]
        assert [f["status"] for f in findings] == expected
        assert oct(path.with_name("lab.password").stat().st_mode & 0o777) == "0o600"
    finally:
        lab.terminate()
        assert await asyncio.wait_for(lab.wait(), 30) == 0


async def test_lab_rejects_unknown_scenario() -> None:
    """An unknown lab scenario is a one-line error listing what exists."""
    result = await fmccert("lab", "--scenario", "no-such-scenario")
    assert_one_line_error(result, "no-such-scenario")


async def test_demo_scan_only_scans_a_lab_fleet() -> None:
    """`fmccert demo --scan-only` starts lab FMCs, scans them and prints every one."""
    result = await fmccert("demo", "--scan-only", "--json")
    assert result.status == 0, result.stderr
    findings = json.loads(result.stdout)
    assert len(findings) == len(CATALOG)
    assert {f["status"] for f in findings} == {"ok", "warning", "critical", "expired", "unknown"}


async def test_scan_of_a_mixed_fleet_over_ssh_and_rest_prints_every_row_right(
    tmp_path: Path,
) -> None:
    """FMCs and FTDs, over SSH, REST and both, in one scan: kind, access and status per row."""
    import yaml

    chosen = ["affected-760-warning", "healthy-742", "affected-770-critical",
              "ftd-affected-760", "ftd-fixed-761"]  # fmt: skip
    lab = await start_lab(pick_scenarios(len(chosen), chosen), now=datetime.now(UTC), rest=True)
    try:
        path = tmp_path / "fmccert.yaml"
        lab.write_config(path, connect_timeout=3, command_timeout=3, host_timeout=20,
                         access="both")  # fmt: skip
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        names = {host.scenario.name: host.name for host in lab.hosts}
        access = {names["affected-760-warning"]: "rest", names["healthy-742"]: "rest",
                  names["affected-770-critical"]: "both"}  # fmt: skip
        for entry in data["fmcs"]:
            if entry.get("kind") != "ftd":
                entry["access"] = access[entry["name"]]
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

        result = await fmccert("scan", "--config", str(path), "--json")
        table = await fmccert("scan", "--config", str(path))
    finally:
        await lab.close()

    rows = {f["name"]: f for f in json.loads(result.stdout)}
    got = {
        scenario: (rows[name]["kind"], rows[name]["access"], rows[name]["status"],
                   rows[name]["action"], rows[name]["not_after"] is not None)
        for scenario, name in names.items()
    }  # fmt: skip
    assert got == {
        "affected-760-warning": ("fmc", "rest", "at_risk", "vdb-update", False),
        "healthy-742": ("fmc", "rest", "ok", "none", False),
        "affected-770-critical": ("fmc", "both", "critical", "vdb-update", True),
        "ftd-affected-760": ("ftd", "ssh", "warning", "vdb-update", True),
        "ftd-fixed-761": ("ftd", "ssh", "ok", "none", True),
    }
    both = rows[names["affected-770-critical"]]
    assert both["talos_health"] is not None  # read over REST beside the SSH certificate
    assert all(f["error"] is None for f in rows.values())
    assert result.status == 2  # the critical FMC
    lines = table.stdout.splitlines()
    for scenario, name in names.items():
        row = next(line for line in lines if line.startswith(f"{name} "))
        assert got[scenario][2] in row, row
        assert f"({got[scenario][0].upper()})" in row, row
    assert lab.password not in result.stdout + table.stdout + table.stderr
