"""Remediation plans as data: which steps run, in which order, with which commands.

Pure: no I/O, no clock. :func:`build_plan` turns an action, the FMC's finding, the
site's settings and the inspected VDB package into a :class:`Plan`, or raises
:class:`RemediationError` with the plain reason the action cannot apply.
:func:`render_plan` prints exactly what would run (``--dry-run``, approval requests).

An FTD managed by FDM (field notice FN74284) installs its VDB through FDM's own update
mechanism, not ``install_update.pl``: for it :func:`build_plan` returns a manual plan
(``executable`` False) that lists the FDM steps, and :func:`executable_on` says that
fmccert runs nothing there. ``--dry-run`` prints it; running it is refused.

Step names are stable: they are the keys a site uses in ``remediation.steps`` to replace
a step's command or timeout. Command templates may use the placeholders
``{updates_dir} {package_path} {package_name} {package_build} {cert_path}``; values are
substituted shell-quoted. Other braces (``${HOME}``, ``awk '{print $4}'``) are left as is.
"""

from __future__ import annotations

import enum
import math
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from bot.core.advisory import FIXED_VDB_BUILD, Action, advisory_for
from bot.core.devices import DeviceKind
from bot.core.error_kinds import ErrorKind
from bot.core.findings import Finding
from bot.errors import RemediationError
from bot.fmc.target import DEFAULT_CERT_PATH
from bot.remediation.settings import RemediationSettings, StepOverride

VDB_CONF = "/etc/sf/.versiondb/vdb.conf"
# Probe errors that still leave a fix worth running: the certificate is what is broken.
FIXABLE_ERROR_KINDS = frozenset({ErrorKind.CERT_MISSING, ErrorKind.CERT_INVALID})
# Seconds one probe (precheck, verify) may take; it also has its own host timeout.
PROBE_TIMEOUT = 180.0
COMMAND_TIMEOUT = 60.0
INSTALL_TIMEOUT = 600.0  # install_update.pl --detach returns at once; this is generous
RESTART_TIMEOUT = 600.0
# The upload may take this long plus the package size at the slowest rate we accept.
UPLOAD_BASE_TIMEOUT = 60.0
UPLOAD_MIN_RATE = 256 * 1024  # bytes per second
# Each command line the runner types gets this suffix to learn the exit status.
STATUS_NOTE = 'Each command runs in the expert shell as `<command>; echo "@@rc=$?"`.'
SNORT_NOTICE = (
    "Installing a VDB can immediately restart Snort on managed devices, "
    "interrupting traffic inspection."
)
TAC = "contact Cisco TAC (cite CSCwo63951 / FN74272)"
_DF_AVAILABLE = r"^\S+\s+\d+\s+\d+\s+(?P<value>\d+)\s+\d+%"
_VDB_BUILD = r"^\s*CURRENT_BUILD\s*=\s*[\"']?(?P<value>\d+)"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

OFFERED_ACTIONS = (Action.VDB_UPDATE, Action.RESTART)
VDB_UPDATE_STEPS = (
    "precheck",
    "check-free-space",
    "upload-package",
    "install-vdb",
    "wait-for-vdb",
    "verify-certificate",
)
RESTART_STEPS = ("precheck", "restart", "verify-certificate")
STEP_NAMES: frozenset[str] = frozenset(VDB_UPDATE_STEPS + RESTART_STEPS)
"""Every step name a site may override in ``remediation.steps``."""


class StepKind(enum.StrEnum):
    """What the runner does for a step."""

    PROBE = "probe"  # re-read the FMC's facts with the probe
    COMMAND = "command"  # one shell line in expert mode (sudo-aware), then checks
    UPLOAD = "upload"  # SFTP a local file to the FMC, unless already there
    WAIT = "wait"  # repeat a command every `interval` until its checks pass
    VERIFY = "verify"  # fresh probe; compare the certificate with the one before
    MANUAL = "manual"  # done by a person (FDM on an FTD); fmccert never runs it


@dataclass(frozen=True, slots=True)
class VdbPackage:
    """A VDB package file on this machine, as inspected (size and digest of its bytes)."""

    path: Path
    name: str  # Cisco_VDB_Fingerprint_Database-4.5.0-406.sh.REL.tar
    size: int  # bytes
    sha256: str  # lower-case hex
    version: str  # 4.5.0
    build: int  # 406


@dataclass(frozen=True, slots=True)
class Upload:
    """One file transfer: local bytes to a remote path, written to ``<remote>.part`` first."""

    local_path: str
    remote_path: str
    size: int
    sha256: str

    @property
    def part_path(self) -> str:
        """Where the bytes land until their digest is verified."""
        return self.remote_path + ".part"


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a plan; which fields matter depends on ``kind``.

    A command passes when it exits 0 and every check holds: ``expect`` (a regex) is
    found, ``fail_on`` (a regex) is not, and the ``capture`` regex's group ``value``
    compares (``compare``) to ``threshold``. ``measure`` names that value for messages.
    It also passes, whatever its exit status, when its output matches ``resume_on``: the
    same work is already under way (an install started by a run that was interrupted),
    so the plan goes on to wait for it instead of failing.
    """

    name: str
    kind: StepKind
    description: str
    command: str | None = None
    timeout: float = COMMAND_TIMEOUT
    expect: str | None = None
    fail_on: str | None = None
    capture: str | None = None
    compare: Literal[">=", "<"] | None = None
    threshold: float | None = None
    measure: str | None = None
    interval: float | None = None  # wait / verify: seconds between attempts
    retry_for: float = 0.0  # verify: keep re-reading this long for a renewed certificate
    upload: Upload | None = None
    resume_on: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """What a remediation of one FMC will do, step by step."""

    action: Action
    fmc: str
    steps: tuple[Step, ...]
    package: VdbPackage | None
    notice: str  # what an approver must know before saying yes
    kind: DeviceKind = DeviceKind.FMC
    # False: the steps are for a person (an FTD's FDM); fmccert refuses to run the plan.
    executable: bool = True


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Whether a command's output passed its step's checks, and why not."""

    passed: bool
    reason: str  # one line
    value: float | None = None


def executable_on(kind: DeviceKind, action: Action) -> bool:
    """Can fmccert run ``action`` itself on a device of ``kind`` (and so offer to)?

    Only on an FMC, and only the offered actions. On an FTD managed by FDM the VDB is
    installed through FDM's own update mechanism, which fmccert does not drive; and no
    restart command is known for it.
    """
    return kind is DeviceKind.FMC and action in OFFERED_ACTIONS


def not_executable_reason(kind: DeviceKind, action: Action) -> str:
    """One line saying why fmccert does not run ``action`` on ``kind`` (see executable_on)."""
    if kind is DeviceKind.FTD:
        if action is Action.VDB_UPDATE:
            return (
                "an FTD managed by FDM installs its VDB through FDM (Device > Updates), not "
                "install_update.pl, so fmccert does not run a vdb-update there; "
                "see the manual steps with --dry-run"
            )
        return f"fmccert runs no {action.value} on an FTD (FN74284): see --dry-run for a fix"
    offered = ", ".join(a.value for a in OFFERED_ACTIONS)
    return f"the {action.value} action runs nothing; fmccert can run: {offered}"


def parse_action(action: Action | str) -> Action:
    """The Action for ``action``; RemediationError naming the offered ones otherwise."""
    offered = ", ".join(a.value for a in OFFERED_ACTIONS)
    try:
        return Action(action)
    except ValueError:
        raise RemediationError(f"unknown action {action!r}; fmccert can run: {offered}") from None


def _refuse_not_runnable(action: Action, finding: Finding) -> RemediationError:
    offered = ", ".join(a.value for a in OFFERED_ACTIONS)
    if action is Action.UPGRADE:
        where = f"to {finding.upgrade_to} " if finding.upgrade_to else ""
        return RemediationError(
            f"fmccert does not upgrade FMC software: upgrade {finding.name} {where}"
            f"with Cisco's upgrade procedure, or {TAC}; fmccert can run: {offered}"
        )
    return RemediationError(f"the {action.value} action runs nothing; fmccert can run: {offered}")


def _next_fix(finding: Finding) -> str:
    if finding.upgrade_to:
        return f"upgrade to {finding.upgrade_to} or {TAC}"
    return TAC


def _unreadable_problem(finding: Finding) -> str | None:
    """Why no fix can be judged for this device as probed: not checked, or release unknown."""
    if finding.error is not None and finding.error.kind not in FIXABLE_ERROR_KINDS:
        return (
            f"{finding.name} could not be checked ({finding.error.kind}: {finding.error.message})"
        )
    if not finding.facts.version:
        return (
            f"the software release of {finding.name} is unknown, "
            "so fmccert cannot tell whether a fix applies"
        )
    return None


def applicability_problem(
    action: Action, finding: Finding, package: VdbPackage | None
) -> str | None:
    """Why ``action`` cannot fix this FMC as probed (None when it can); also the precheck."""
    unreadable = _unreadable_problem(finding)
    if unreadable is not None:
        return unreadable
    if action is Action.VDB_UPDATE:
        if package is None:
            return "no VDB package is configured (remediation.vdb_package)"
        installed = finding.facts.vdb_build
        if installed is None:
            return f"the installed VDB build of {finding.name} is unknown (vdb.conf unreadable)"
        if installed >= package.build:
            return (
                f"{finding.name} already runs VDB build {installed} (the package is build "
                f"{package.build}): a VDB update won't renew the certificate; {_next_fix(finding)}"
            )
        if finding.affected is not True:
            return (
                f"{finding.name} runs {finding.facts.version}, which CSCwo63951 does not "
                "affect: a VDB update is not its fix (its certificate should renew on its "
                f"own; if it does not, {TAC})"
            )
    return None


def settings_problem(action: Action, settings: RemediationSettings) -> str | None:
    """Why the site's settings do not offer ``action`` (None when they do); needs no FMC."""
    if action is Action.VDB_UPDATE and settings.vdb_package is None:
        return "no VDB package is configured (set remediation.vdb_package)"
    if action is Action.RESTART and not settings.restart_command:
        return "the restart action is offered only when remediation.restart_command is set"
    return None


def _refusal(
    action: Action, finding: Finding, settings: RemediationSettings, package: VdbPackage | None
) -> str | None:
    problem = settings_problem(action, settings)
    if problem is not None:
        return problem
    if action is Action.VDB_UPDATE:
        if package is None:
            return f"the VDB package {settings.vdb_package} was not inspected"
        if package.build < FIXED_VDB_BUILD:
            return (
                f"the configured VDB package {package.name} is build {package.build}; "
                f"only VDB {FIXED_VDB_BUILD} or later renews the certificate"
            )
    return applicability_problem(action, finding, package)


def _substitute(template: str, step: str, values: Mapping[str, str | None]) -> str:
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            return match.group(0)
        value = values[key]
        if value is None:
            raise RemediationError(
                f"step {step} uses {{{key}}}, which has no value for this action"
            )
        return shlex.quote(value)

    return _PLACEHOLDER.sub(one, template)


def _apply_override(step: Step, override: StepOverride | None) -> Step:
    if override is None:
        return step
    if override.command is not None:
        if step.kind not in (StepKind.COMMAND, StepKind.WAIT):
            raise RemediationError(
                f"remediation.steps.{step.name}: this {step.kind.value} step runs no shell "
                "command; only its timeout can be changed"
            )
        step = replace(step, command=override.command)
    if override.timeout is not None:
        if override.timeout <= 0:
            raise RemediationError(f"remediation.steps.{step.name}: timeout must be positive")
        step = replace(step, timeout=float(override.timeout))
    return step


def upload_timeout(size: int) -> float:
    """Default seconds for uploading ``size`` bytes: a base plus the size at a slow rate."""
    return UPLOAD_BASE_TIMEOUT + math.ceil(size / UPLOAD_MIN_RATE)


def _precheck(action: Action) -> Step:
    what = "reachable, release known"
    if action is Action.VDB_UPDATE:
        what += ", installed VDB older than the package"
    return Step(
        name="precheck",
        kind=StepKind.PROBE,
        description=f"Probe the FMC again: {what}; remember the current certificate.",
        timeout=PROBE_TIMEOUT,
    )


def _verify(settings: RemediationSettings) -> Step:
    return Step(
        name="verify-certificate",
        kind=StepKind.VERIFY,
        description=(
            "Probe the FMC on a new connection and compare the certificate with the one before"
            + (
                f" (re-read every {settings.vdb_poll_interval:g} s for up to "
                f"{settings.verify_wait:g} s until it changes)."
                if settings.verify_wait > 0
                else "."
            )
        ),
        timeout=PROBE_TIMEOUT + settings.verify_wait,
        interval=settings.vdb_poll_interval,
        retry_for=settings.verify_wait,
    )


def _vdb_update_steps(settings: RemediationSettings, package: VdbPackage) -> list[Step]:
    required_kb = math.ceil(2 * package.size / 1024) + settings.min_free_mb * 1024
    remote = f"{settings.updates_dir.rstrip('/')}/{package.name}"
    return [
        _precheck(Action.VDB_UPDATE),
        Step(
            name="check-free-space",
            kind=StepKind.COMMAND,
            description=(
                f"Check {settings.updates_dir} has at least {required_kb} KB available "
                f"(twice the package plus {settings.min_free_mb} MB)."
            ),
            command="df -Pk {updates_dir}",
            capture=_DF_AVAILABLE,
            compare=">=",
            threshold=required_kb,
            measure="available KB",
        ),
        Step(
            name="upload-package",
            kind=StepKind.UPLOAD,
            description=(
                "Copy the VDB package to the FMC over SFTP, unless a file with the same "
                "sha256 is already there."
            ),
            timeout=upload_timeout(package.size),
            upload=Upload(
                local_path=str(package.path),
                remote_path=remote,
                size=package.size,
                sha256=package.sha256,
            ),
        ),
        Step(
            name="install-vdb",
            kind=StepKind.COMMAND,
            description=f"Start the VDB install in the background. {SNORT_NOTICE}",
            command="sudo install_update.pl --detach {package_path}",
            timeout=INSTALL_TIMEOUT,
            # The installer refuses a second install while this package is installing.
            resume_on=rf"(?i)another update \({re.escape(package.name)}\) is being installed",
        ),
        Step(
            name="wait-for-vdb",
            kind=StepKind.WAIT,
            description=(
                f"Read vdb.conf every {settings.vdb_poll_interval:g} s until CURRENT_BUILD "
                f"is at least {package.build}."
            ),
            command=f"cat {VDB_CONF}",
            timeout=settings.vdb_install_timeout,
            capture=_VDB_BUILD,
            compare=">=",
            threshold=package.build,
            measure="VDB build",
            interval=settings.vdb_poll_interval,
        ),
        _verify(settings),
    ]


def _restart_steps(settings: RemediationSettings) -> list[Step]:
    return [
        _precheck(Action.RESTART),
        Step(
            name="restart",
            kind=StepKind.COMMAND,
            description="Run the site's restart command (remediation.restart_command).",
            command=settings.restart_command,
            timeout=RESTART_TIMEOUT,
        ),
        _verify(settings),
    ]


def _ftd_problem(finding: Finding) -> str | None:
    """Why a VDB update is not the fix for this FTD as probed (None when it is)."""
    tac = TAC.replace("FN74272", "FN74284")
    unreadable = _unreadable_problem(finding)
    if unreadable is not None:
        return unreadable
    if finding.affected is not True:
        return (
            f"{finding.name} runs FTD {finding.facts.version}, which CSCwo63951 does not affect: "
            f"a VDB update is not its fix (its certificate should renew on its own; if not, {tac})"
        )
    installed = finding.facts.vdb_build
    if installed is None:
        return f"the installed VDB build of {finding.name} is unknown (vdb.conf unreadable)"
    if installed >= FIXED_VDB_BUILD:
        where = f"upgrade to {finding.upgrade_to} or {tac}" if finding.upgrade_to else tac
        return (
            f"{finding.name} already runs VDB build {installed}: a VDB update won't renew the "
            f"certificate; {where}"
        )
    return None


def _ftd_manual_plan(action: Action, finding: Finding, package: VdbPackage | None) -> Plan:
    """The FDM steps a person takes on an FTD: shown by --dry-run, never run by fmccert."""
    if action is not Action.VDB_UPDATE:
        raise RemediationError(not_executable_reason(DeviceKind.FTD, action))
    problem = _ftd_problem(finding)
    if problem is not None:
        raise RemediationError(problem)
    build = advisory_for(DeviceKind.FTD).fixed_vdb_build
    upload = (
        f"or upload {package.name} (sha256 {package.sha256})"
        if package is not None
        else f"or upload a VDB package of build {build} or later from software.cisco.com"
    )
    fallback = f"upgrade to {finding.upgrade_to} or " if finding.upgrade_to else ""
    steps = (
        Step(
            name="fdm-install-vdb",
            kind=StepKind.MANUAL,
            description=(
                f"In FDM on {finding.name}, open Device > Updates; under Vulnerability "
                f"Database (VDB) choose Update from Cloud {upload}, to install VDB build "
                f"{build} or later."
            ),
        ),
        Step(
            name="fdm-wait-for-vdb",
            kind=StepKind.MANUAL,
            description=(
                f"Wait until Device > Updates shows VDB build {build} or later; deploy pending "
                "changes if FDM asks. Unverified for FTD: whether the install restarts Snort "
                "(plan for an inspection interruption)."
            ),
        ),
        Step(
            name="verify-certificate",
            kind=StepKind.MANUAL,
            description=(
                f"Run `fmccert check {finding.name}`: the certificate's expiry must have moved "
                f"(FN74284). If it has not, {fallback}{TAC.replace('FN74272', 'FN74284')}."
            ),
        ),
    )
    return Plan(
        action=action,
        fmc=finding.name,
        steps=steps,
        package=package,
        notice=(
            "Manual plan: an FTD managed by FDM installs its VDB through FDM, so fmccert "
            "does not run these steps. Unverified for FTD: whether the install restarts Snort."
        ),
        kind=DeviceKind.FTD,
        executable=False,
    )


def build_plan(
    action: Action | str,
    finding: Finding,
    settings: RemediationSettings,
    package: VdbPackage | None,
    *,
    cert_path: str = DEFAULT_CERT_PATH,
) -> Plan:
    """The plan for ``action`` on the FMC of ``finding``; RemediationError when it cannot apply.

    For an FTD it is the manual FDM plan (``executable`` False), never one fmccert runs.
    """
    chosen = parse_action(action)
    if finding.kind is DeviceKind.FTD:
        return _ftd_manual_plan(chosen, finding, package)
    if chosen not in OFFERED_ACTIONS:
        raise _refuse_not_runnable(chosen, finding)
    unknown = sorted(set(settings.step_overrides) - STEP_NAMES)
    if unknown:
        raise RemediationError(
            f"remediation.steps.{unknown[0]}: no plan has a step of that name "
            f"(steps: {', '.join(sorted(STEP_NAMES))})"
        )
    reason = _refusal(chosen, finding, settings, package)
    if reason is not None:
        raise RemediationError(reason)
    if chosen is Action.VDB_UPDATE:
        assert package is not None  # _refusal checked
        steps = _vdb_update_steps(settings, package)
        notice = SNORT_NOTICE
    else:
        steps = _restart_steps(settings)
        notice = f"Runs the site's restart command on {finding.name}; it may interrupt services."
    updates_dir = settings.updates_dir.rstrip("/") or "/"
    values: dict[str, str | None] = {
        "updates_dir": updates_dir,
        "package_path": f"{updates_dir}/{package.name}" if package else None,
        "package_name": package.name if package else None,
        "package_build": str(package.build) if package else None,
        "cert_path": cert_path,
    }
    final: list[Step] = []
    for step in steps:
        step = _apply_override(step, settings.step_overrides.get(step.name))
        if step.command is not None:
            step = replace(step, command=_substitute(step.command, step.name, values))
        final.append(step)
    return Plan(
        action=chosen,
        fmc=finding.name,
        steps=tuple(final),
        package=package if chosen is Action.VDB_UPDATE else None,
        notice=notice,
    )


def remote_sha256_command(path: str) -> str:
    """The shell line that prints the sha256 of a file on the FMC."""
    return f"sha256sum {shlex.quote(path)}"


def remove_command(path: str) -> str:
    """The shell line that removes a (partial) file on the FMC."""
    return f"rm -f {shlex.quote(path)}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def evaluate_check(step: Step, output: str, status: int) -> CheckResult:
    """Did a command's output and exit status pass the step's checks?"""
    if step.resume_on:
        resumed = re.search(step.resume_on, output, re.MULTILINE)
        if resumed:
            return CheckResult(True, f"already under way: {resumed.group(0)}")
    if status != 0:
        return CheckResult(False, f"exit status {status}")
    if step.fail_on and re.search(step.fail_on, output, re.MULTILINE):
        return CheckResult(False, f"the output matches /{step.fail_on}/")
    if step.expect and not re.search(step.expect, output, re.MULTILINE):
        return CheckResult(False, f"the output lacks /{step.expect}/")
    if step.capture is None:
        return CheckResult(True, "exit status 0")
    measure = step.measure or "value"
    match = re.search(step.capture, output, re.MULTILINE)
    if match is None:
        return CheckResult(False, f"could not read the {measure} from the output")
    try:
        value = float(match.group("value"))
    except (IndexError, ValueError):
        return CheckResult(False, f"could not read the {measure} from the output")
    if step.compare is None or step.threshold is None:
        return CheckResult(True, f"{measure} {_number(value)}", value)
    passed = value >= step.threshold if step.compare == ">=" else value < step.threshold
    verdict = "" if passed else "not "
    return CheckResult(
        passed,
        f"{measure} {_number(value)} is {verdict}{step.compare} {_number(step.threshold)}",
        value,
    )


def _describe_check(step: Step) -> str | None:
    parts: list[str] = ["exit status 0"]
    if step.capture and step.compare and step.threshold is not None:
        parts.append(f"{step.measure or 'value'} {step.compare} {step.threshold:g}")
    if step.expect:
        parts.append(f"output matches /{step.expect}/")
    if step.fail_on:
        parts.append(f"output does not match /{step.fail_on}/")
    described = "passes when " + ", ".join(parts)
    if step.resume_on:
        described += f"; or, already under way, when the output matches /{step.resume_on}/"
    return described


def _render_step(index: int, step: Step) -> list[str]:
    head = f"{index}. {step.name} [{step.kind.value}, timeout {step.timeout:g} s"
    if step.interval is not None and step.kind is StepKind.WAIT:
        head += f", every {step.interval:g} s"
    lines = [head + "]", f"   {step.description}"]
    if step.kind in (StepKind.COMMAND, StepKind.WAIT) and step.command is not None:
        lines.append(f"   $ {step.command}")
        lines.append(f"   {_describe_check(step)}")
    elif step.kind is StepKind.UPLOAD and step.upload is not None:
        up = step.upload
        lines += [
            f"   $ {remote_sha256_command(up.remote_path)}"
            f"   (skip the rest when it prints {up.sha256})",
            f"   SFTP put {up.local_path} ({up.size} bytes, sha256 {up.sha256})",
            f"        -> {up.part_path}",
            f"   $ {remote_sha256_command(up.part_path)}   (must print {up.sha256})",
            f"   SFTP rename {up.part_path} -> {up.remote_path}",
            f"   on failure: $ {remove_command(up.part_path)}",
        ]
    elif step.kind in (StepKind.PROBE, StepKind.VERIFY):
        lines.append("   (the read-only probe: cat /etc/sf files, sudo cat the certificate)")
    return lines


def _render_manual_step(index: int, step: Step) -> list[str]:
    return [f"{index}. {step.name} [by hand; fmccert does not run it]", f"   {step.description}"]


def render_plan(plan: Plan) -> str:
    """The plan as text: every step with its exact command or transfer and its timeout."""
    lines = [f"Plan: {plan.action.value} on {plan.fmc} ({plan.kind.label})"]
    if plan.package is not None:
        pkg = plan.package
        lines.append(
            f"Package: {pkg.name} (VDB {pkg.version} build {pkg.build}, {pkg.size} bytes, "
            f"sha256 {pkg.sha256})"
        )
    lines.append(f"Notice: {plan.notice}")
    if not plan.executable:
        for index, step in enumerate(plan.steps, start=1):
            lines += _render_manual_step(index, step)
        return "\n".join(lines)
    lines.append(STATUS_NOTE)
    for index, step in enumerate(plan.steps, start=1):
        lines += _render_step(index, step)
    return "\n".join(lines)


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-safe data, for the run record."""
    package = plan.package
    return {
        "action": plan.action.value,
        "fmc": plan.fmc,
        "kind": plan.kind.value,
        "executable": plan.executable,
        "notice": plan.notice,
        "package": (
            {
                "path": str(package.path),
                "name": package.name,
                "size": package.size,
                "sha256": package.sha256,
                "version": package.version,
                "build": package.build,
            }
            if package
            else None
        ),
        "steps": [
            {
                "name": step.name,
                "kind": step.kind.value,
                "description": step.description,
                "command": step.command,
                "timeout": step.timeout,
                "expect": step.expect,
                "fail_on": step.fail_on,
                "capture": step.capture,
                "compare": step.compare,
                "threshold": step.threshold,
                "interval": step.interval,
                "retry_for": step.retry_for,
                "upload": (
                    {
                        "local_path": step.upload.local_path,
                        "remote_path": step.upload.remote_path,
                        "size": step.upload.size,
                        "sha256": step.upload.sha256,
                    }
                    if step.upload
                    else None
                ),
            }
            for step in plan.steps
        ],
    }
