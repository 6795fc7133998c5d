"""Plan building, refusals, overrides, checks and the dry-run rendering (pure)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from bot.core.advisory import Action
from bot.core.devices import DeviceKind
from bot.core.error_kinds import ErrorKind
from bot.core.findings import ErrorInfo, Finding
from bot.errors import RemediationError
from bot.remediation.plan import (
    RESTART_STEPS,
    STEP_NAMES,
    VDB_UPDATE_STEPS,
    StepKind,
    VdbPackage,
    build_plan,
    evaluate_check,
    executable_on,
    not_executable_reason,
    plan_to_dict,
    render_plan,
)
from bot.remediation.settings import RemediationSettings, StepOverride
from tests.remediation.helpers import SHA, finding, package

SETTINGS = RemediationSettings(
    vdb_package=Path("/srv/updates/Cisco_VDB_Fingerprint_Database-4.5.0-406.sh.REL.tar"),
    vdb_install_timeout=1800.0,
    vdb_poll_interval=20.0,
    min_free_mb=100,
)
REMOTE = "/var/sf/updates/Cisco_VDB_Fingerprint_Database-4.5.0-406.sh.REL.tar"
DF_OUTPUT = (
    "Filesystem     1024-blocks    Used Available Capacity Mounted on\n"
    "/dev/sda7        61255652 2042516  {free}       4% /Volume\n"
)


def test_vdb_update_plan_has_the_documented_steps_and_commands() -> None:
    """A vdb-update plan lists its six steps in order with the default commands."""
    plan = build_plan(Action.VDB_UPDATE, finding(), SETTINGS, package())
    assert tuple(step.name for step in plan.steps) == VDB_UPDATE_STEPS
    steps = {step.name: step for step in plan.steps}
    assert [s.kind for s in plan.steps] == [
        StepKind.PROBE,
        StepKind.COMMAND,
        StepKind.UPLOAD,
        StepKind.COMMAND,
        StepKind.WAIT,
        StepKind.VERIFY,
    ]
    assert steps["check-free-space"].command == "df -Pk /var/sf/updates"
    assert steps["check-free-space"].threshold == 2 * 391 + 100 * 1024  # 400000 B -> 782 KB
    assert steps["install-vdb"].command == f"sudo install_update.pl --detach {REMOTE}"
    assert steps["install-vdb"].timeout == 600
    assert steps["wait-for-vdb"].command == "cat /etc/sf/.versiondb/vdb.conf"
    assert (steps["wait-for-vdb"].timeout, steps["wait-for-vdb"].interval) == (1800.0, 20.0)
    assert steps["wait-for-vdb"].threshold == 406
    upload = steps["upload-package"].upload
    assert upload is not None
    assert (upload.remote_path, upload.part_path) == (REMOTE, REMOTE + ".part")
    assert plan.package == package()
    assert "Snort" in plan.notice


def test_restart_plan_runs_the_configured_command() -> None:
    """With restart_command set, the restart plan is precheck, restart, verify-certificate."""
    settings = dataclasses.replace(SETTINGS, restart_command="sudo pmtool restartbyid tid")
    plan = build_plan("restart", finding(), settings, None)
    assert tuple(step.name for step in plan.steps) == RESTART_STEPS
    assert plan.steps[1].command == "sudo pmtool restartbyid tid"
    assert plan.package is None


def test_overrides_replace_command_and_timeout_by_step_name() -> None:
    """A site's override changes one step's command (placeholders filled) and timeout."""
    overrides = {
        "install-vdb": StepOverride(
            command="sudo /usr/local/sf/bin/install_update.pl {package_path} # b{package_build}",
            timeout=1200,
        ),
        "check-free-space": StepOverride(command="df -Pk {updates_dir} | tail -1"),
        "verify-certificate": StepOverride(timeout=30),
    }
    settings = dataclasses.replace(SETTINGS, step_overrides=overrides)
    plan = build_plan(Action.VDB_UPDATE, finding(), settings, package())
    steps = {step.name: step for step in plan.steps}
    assert steps["install-vdb"].command == (
        f"sudo /usr/local/sf/bin/install_update.pl {REMOTE} # b406"
    )
    assert steps["install-vdb"].timeout == 1200
    assert steps["check-free-space"].command == "df -Pk /var/sf/updates | tail -1"
    assert steps["check-free-space"].timeout == 60  # untouched
    assert steps["verify-certificate"].timeout == 30


def test_placeholders_are_shell_quoted_and_other_braces_kept() -> None:
    """Placeholder values are shell-quoted; `${HOME}` and awk braces pass through."""
    settings = dataclasses.replace(
        SETTINGS,
        updates_dir="/var/sf/my updates",
        restart_command="awk '{print $1}' {cert_path} ${HOME}",
    )
    plan = build_plan(Action.RESTART, finding(), settings, None, cert_path="/x/y.pem")
    assert plan.steps[1].command == "awk '{print $1}' /x/y.pem ${HOME}"
    vdb = build_plan(Action.VDB_UPDATE, finding(), settings, package())
    assert vdb.steps[1].command == "df -Pk '/var/sf/my updates'"


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"no-such-step": StepOverride(timeout=5)}, "no plan has a step"),
        ({"precheck": StepOverride(command="true")}, "only its timeout"),
        ({"install-vdb": StepOverride(timeout=0)}, "must be positive"),
    ],
)
def test_bad_overrides_are_refused(overrides: dict[str, StepOverride], words: str) -> None:
    """Unknown step names, commands on probe steps and non-positive timeouts are refused."""
    settings = dataclasses.replace(SETTINGS, step_overrides=overrides)
    with pytest.raises(RemediationError, match=words):
        build_plan(Action.VDB_UPDATE, finding(), settings, package())


def test_package_placeholder_in_restart_is_refused() -> None:
    """A restart command naming {package_path} cannot be planned: there is no package."""
    settings = dataclasses.replace(SETTINGS, restart_command="ls {package_path}")
    with pytest.raises(RemediationError, match=r"\{package_path\}"):
        build_plan(Action.RESTART, finding(), settings, None)


@pytest.mark.parametrize(
    ("action", "case", "words"),
    [
        ("vdb-update", "no-package-configured", "no VDB package is configured"),
        ("vdb-update", "package-not-inspected", "was not inspected"),
        ("vdb-update", "old-package", "only VDB 406 or later"),
        ("vdb-update", "vdb-already-406", "won't renew the certificate; upgrade to 7.6.1"),
        ("vdb-update", "vdb-406-unaffected", "won't renew the certificate; contact Cisco TAC"),
        ("vdb-update", "vdb-unknown", "installed VDB build"),
        ("vdb-update", "unaffected", "7.6.1, which CSCwo63951 does not affect"),
        ("vdb-update", "release-unknown", "release of fmc-east is unknown"),
        ("vdb-update", "unreachable", r"could not be checked \(unreachable"),
        ("restart", "no-restart-command", "only when remediation.restart_command is set"),
        ("upgrade", "affected", "does not upgrade FMC software: upgrade fmc-east to 7.6.1"),
        ("none", "affected", "runs nothing"),
        ("reboot-everything", "affected", "unknown action 'reboot-everything'"),
    ],
)
def test_every_refusal_says_why(action: str, case: str, words: str) -> None:
    """Each reason an action cannot apply is a RemediationError in plain words."""
    settings, found = SETTINGS, finding()
    pkg: VdbPackage | None = package()
    if case == "no-package-configured":
        settings, pkg = dataclasses.replace(SETTINGS, vdb_package=None), None
    elif case == "package-not-inspected":
        pkg = None
    elif case == "old-package":
        pkg = package(build=400)
        found = finding(vdb_build=390)
    elif case == "vdb-already-406":
        found = finding(vdb_build=406)
    elif case == "vdb-406-unaffected":
        found = finding(version="7.4.2", vdb_build=406)
    elif case == "unaffected":
        found = finding(version="7.6.1")
    elif case == "vdb-unknown":
        found = finding(vdb_build=None)
    elif case == "release-unknown":
        found = finding(version=None)
    elif case == "unreachable":
        found = finding(
            version=None, days_left=None, error=ErrorInfo(ErrorKind.UNREACHABLE, "refused")
        )
    with pytest.raises(RemediationError, match=words):
        build_plan(action, found, settings, pkg)


@pytest.mark.parametrize("kind", ["cert_missing", "cert_invalid"])
def test_certificate_errors_still_allow_a_fix(kind: str) -> None:
    """A missing or unparseable certificate is what the fix repairs, so the plan is built."""
    broken = finding(days_left=None, error=ErrorInfo(ErrorKind(kind), "no certificate"))
    plan = build_plan(Action.VDB_UPDATE, broken, SETTINGS, package())
    assert plan.steps[0].name == "precheck"


def test_render_plan_shows_every_command_transfer_and_timeout() -> None:
    """The dry-run text names each step with its exact command or transfer and its timeout."""
    plan = build_plan(Action.VDB_UPDATE, finding(), SETTINGS, package())
    text = render_plan(plan)
    for index, step in enumerate(plan.steps, start=1):
        assert f"{index}. {step.name} [{step.kind.value}, timeout {step.timeout:g} s" in text
        if step.command:
            assert f"$ {step.command}" in text
    assert f"sha256sum {REMOTE}" in text
    assert f"sha256sum {REMOTE}.part" in text
    assert f"SFTP put /srv/updates/{package().name} (400000 bytes, sha256 {SHA})" in text
    assert f"SFTP rename {REMOTE}.part -> {REMOTE}" in text
    assert f"rm -f {REMOTE}.part" in text
    assert "every 20 s" in text
    assert "Snort" in text
    assert '"@@rc=$?"' in text


def test_plan_as_data_is_json_safe_and_complete() -> None:
    """plan_to_dict keeps every step's command and timeout and the package digest."""
    plan = build_plan(Action.VDB_UPDATE, finding(), SETTINGS, package())
    data = plan_to_dict(plan)
    assert data["action"] == "vdb-update"
    assert data["package"]["sha256"] == SHA
    assert [step["name"] for step in data["steps"]] == list(VDB_UPDATE_STEPS)
    assert data["steps"][3]["command"] == f"sudo install_update.pl --detach {REMOTE}"
    assert set(STEP_NAMES) >= {step["name"] for step in data["steps"]}


@pytest.mark.parametrize(
    ("free", "output", "status", "passed", "reason"),
    [
        (200_000, None, 0, True, "available KB 200000 is >= 103200"),
        (1_000, None, 0, False, "available KB 1000 is not >= 103200"),
        (None, "df: /var/sf/updates: No such file", 0, False, "could not read"),
        (200_000, None, 1, False, "exit status 1"),
    ],
)
def test_free_space_check_compares_the_captured_value(
    free: int | None, output: str | None, status: int, passed: bool, reason: str
) -> None:
    """The df check captures Available KB and compares it with twice the package plus slack."""
    plan = build_plan(Action.VDB_UPDATE, finding(), SETTINGS, package(size=400 * 1024))
    step = plan.steps[1]
    text = output if output is not None else DF_OUTPUT.format(free=free)
    result = evaluate_check(step, text, status)
    assert result.passed is passed
    assert result.reason.startswith(reason)


def test_expect_and_fail_on_checks() -> None:
    """`expect` must match and `fail_on` must not, beyond a zero exit status."""
    plan = build_plan(Action.VDB_UPDATE, finding(), SETTINGS, package())
    step = dataclasses.replace(plan.steps[3], expect=r"started", fail_on=r"(?i)error")
    assert evaluate_check(step, "install started", 0).passed
    assert evaluate_check(step, "install queued", 0).reason == "the output lacks /started/"
    assert not evaluate_check(step, "started\nERROR: bad package", 0).passed
    wait = plan.steps[4]
    assert evaluate_check(wait, "CURRENT_VERSION=4.5.0\nCURRENT_BUILD=406\n", 0).passed
    assert not evaluate_check(wait, "CURRENT_BUILD=400\n", 0).passed
    below = dataclasses.replace(wait, compare="<", threshold=401)
    assert evaluate_check(below, "CURRENT_BUILD=400\n", 0).passed


def test_install_already_under_way_for_this_package_counts_as_started() -> None:
    """After an interrupted run the installer refuses a second install: go on and wait."""
    plan = build_plan(Action.VDB_UPDATE, finding(), SETTINGS, package())
    install = plan.steps[3]
    assert install.name == "install-vdb"
    busy = (
        "ERROR: another update (Cisco_VDB_Fingerprint_Database-4.5.0-406.sh.REL.tar) "
        "is being installed\n"
    )
    result = evaluate_check(install, busy, 1)
    assert result.passed
    assert result.reason.startswith("already under way")
    other = busy.replace("4.5.0-406", "4.5.0-410")
    assert not evaluate_check(install, other, 1).passed  # another package: a real failure
    assert "already under way" in render_plan(plan)


def _ftd(**changes: Any) -> Finding:
    """The helpers' finding, read from an FTD managed by FDM."""
    return dataclasses.replace(finding(name="fw-branch", **changes), kind=DeviceKind.FTD)


@pytest.mark.parametrize(
    ("kind", "action", "runs"),
    [
        (DeviceKind.FMC, Action.VDB_UPDATE, True),
        (DeviceKind.FMC, Action.RESTART, True),
        (DeviceKind.FMC, Action.UPGRADE, False),
        (DeviceKind.FMC, Action.NONE, False),
        (DeviceKind.FTD, Action.VDB_UPDATE, False),
        (DeviceKind.FTD, Action.RESTART, False),
        (DeviceKind.FTD, Action.NONE, False),
    ],
)
def test_executable_on_only_offers_fmc_actions(
    kind: DeviceKind, action: Action, runs: bool
) -> None:
    """fmccert runs (and offers buttons for) vdb-update/restart on an FMC, nothing on an FTD."""
    assert executable_on(kind, action) is runs


def test_ftd_vdb_update_is_a_manual_fdm_plan_that_is_never_executable() -> None:
    """On an FTD the plan lists the FDM steps by hand, runs no command and is not executable."""
    plan = build_plan(Action.VDB_UPDATE, _ftd(), SETTINGS, package())
    assert (plan.kind, plan.executable) == (DeviceKind.FTD, False)
    assert {step.kind for step in plan.steps} == {StepKind.MANUAL}
    assert all(step.command is None and step.upload is None for step in plan.steps)
    text = render_plan(plan)
    assert text.startswith("Plan: vdb-update on fw-branch (FTD)")
    assert "Device > Updates" in text
    assert "Update from Cloud" in text
    assert package().name in text  # the configured package, as the upload alternative
    assert "install_update.pl" not in text.replace("not install_update.pl", "")
    assert "by hand; fmccert does not run it" in text
    assert "Unverified for FTD" in text
    assert "FN74284" in text
    data = plan_to_dict(plan)
    assert (data["kind"], data["executable"]) == ("ftd", False)


def test_ftd_manual_plan_needs_no_package() -> None:
    """Without a configured package the FTD plan points to Cisco's download site instead."""
    plan = build_plan(Action.VDB_UPDATE, _ftd(), RemediationSettings(), None)
    assert "software.cisco.com" in render_plan(plan)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"version": "7.6.1"}, "does not affect"),
        ({"vdb_build": 406}, "already runs VDB build 406"),
        ({"version": None}, "release of fw-branch is unknown"),
    ],
)
def test_ftd_plan_is_refused_where_a_vdb_update_is_not_the_fix(
    changes: dict[str, Any], reason: str
) -> None:
    """An unaffected, already fixed or unread FTD gets no plan, with the reason."""
    with pytest.raises(RemediationError, match=reason):
        build_plan(Action.VDB_UPDATE, _ftd(**changes), SETTINGS, package())


def test_ftd_restart_is_refused_saying_why() -> None:
    """fmccert knows no restart for an FTD: the restart action is refused, naming FTD."""
    settings = dataclasses.replace(SETTINGS, restart_command="sudo pmtool restartbyid tid")
    with pytest.raises(RemediationError, match="FTD"):
        build_plan(Action.RESTART, _ftd(), settings, None)
    assert "FDM" in not_executable_reason(DeviceKind.FTD, Action.VDB_UPDATE)


def test_fmc_plans_stay_executable_and_say_fmc() -> None:
    """An FMC's plan is executable, of kind FMC, and its rendering names the kind."""
    plan = build_plan(Action.VDB_UPDATE, finding(), SETTINGS, package())
    assert (plan.kind, plan.executable) == (DeviceKind.FMC, True)
    assert render_plan(plan).startswith("Plan: vdb-update on fmc-east (FMC)")
