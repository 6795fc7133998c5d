"""`fmccert remediate` on an FTD (FN74284), run as a real process against the lab over SSH."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.lab.scenarios import pick_scenarios
from bot.lab.server import RunningLab, start_lab
from tests.cli.process import assert_one_line_error, fmccert

SCENARIOS = ["ftd-affected-760", "affected-760-warning"]


@pytest.fixture
async def ftd_site(tmp_path: Path) -> AsyncIterator[tuple[RunningLab, Path, dict[str, str]]]:
    """A lab with an affected FTD and an affected FMC, its config written (`kind: ftd`)."""
    lab = await start_lab(pick_scenarios(len(SCENARIOS), SCENARIOS), now=datetime.now(UTC))
    config = tmp_path / "fmccert.yaml"
    lab.write_config(config, connect_timeout=3, command_timeout=5, host_timeout=30)
    try:
        yield lab, config, {host.scenario.name: host.name for host in lab.hosts}
    finally:
        await lab.close()


async def test_ftd_dry_run_prints_the_manual_fdm_plan_and_changes_nothing(
    ftd_site: tuple[RunningLab, Path, dict[str, str]],
) -> None:
    """--dry-run on an FTD prints the FDM steps, says fmccert won't run them, runs nothing."""
    lab, config, names = ftd_site
    name = names["ftd-affected-760"]
    result = await fmccert(
        "remediate", name, "--action", "vdb-update", "--dry-run", "--config", str(config)
    )
    assert result.status == 0, result.stderr
    assert f"Plan: vdb-update on {name} (FTD)" in result.stdout
    for fragment in ("Device > Updates", "Update from Cloud", "by hand", "Unverified for FTD"):
        assert fragment in result.stdout, fragment
    assert "install_update.pl --detach" not in result.stdout
    assert "fmccert will not run this plan" in result.stdout
    assert lab.vdb_build(name) == 400
    assert not any(lab.updates_dir(name).iterdir())
    assert lab.password not in result.stdout + result.stderr


async def test_ftd_remediation_is_refused_in_one_line_with_exit_3(
    ftd_site: tuple[RunningLab, Path, dict[str, str]],
) -> None:
    """Without --dry-run an FTD's vdb-update is refused (exit 3) saying why; nothing changes."""
    lab, config, names = ftd_site
    name = names["ftd-affected-760"]
    result = await fmccert(
        "remediate", name, "--action", "vdb-update", "--yes", "--config", str(config)
    )
    assert_one_line_error(result, name, "(FTD)", "FDM", "--dry-run")
    assert lab.vdb_build(name) == 400
    assert not any(lab.updates_dir(name).iterdir())
    restart = await fmccert(
        "remediate", name, "--action", "restart", "--yes", "--config", str(config)
    )
    assert_one_line_error(restart, "FTD")


async def test_fmc_next_to_the_ftd_still_gets_its_runnable_plan(
    ftd_site: tuple[RunningLab, Path, dict[str, str]],
) -> None:
    """The FMC in the same config keeps its executable install_update.pl plan."""
    _, config, names = ftd_site
    name = names["affected-760-warning"]
    result = await fmccert(
        "remediate", name, "--action", "vdb-update", "--dry-run", "--config", str(config)
    )
    assert result.status == 0, result.stderr
    assert f"Plan: vdb-update on {name} (FMC)" in result.stdout
    assert "sudo install_update.pl --detach" in result.stdout
    assert "fmccert will not run" not in result.stdout


async def test_a_rest_only_fmc_is_refused_in_one_line(tmp_path: Path) -> None:
    """A fix runs over SSH: remediating an FMC read over REST only says to set access: both."""
    import yaml

    lab = await start_lab(
        pick_scenarios(1, ["affected-760-warning"]), now=datetime.now(UTC), rest=True
    )
    try:
        path = tmp_path / "fmccert.yaml"
        lab.write_config(path, access="rest")
        name = lab.hosts[0].name
        assert yaml.safe_load(path.read_text(encoding="utf-8"))["fmcs"][0]["access"] == "rest"
        result = await fmccert("remediate", name, "--action", "vdb-update", "--dry-run",
                               "--config", str(path))  # fmt: skip
    finally:
        await lab.close()
    assert_one_line_error(result, "REST API only", "access to both")
