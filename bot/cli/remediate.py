"""`fmccert remediate` (the break-glass path, without Slack) and `fmccert history`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import Any

from bot.cli.common import (
    check_names,
    cli_actor,
    load,
    opened_store,
    run_until_signalled,
    utc_now,
)
from bot.cli.output import say
from bot.config import AppConfig
from bot.core.findings import iso_utc
from bot.errors import RemediationError, UsageError
from bot.fmc.probe import probe_fmc
from bot.operations import Operations
from bot.operations.ports import AuditEntry, RemediationRun, RunStatus
from bot.remediation.plan import (
    executable_on,
    not_executable_reason,
    parse_action,
    render_plan,
)
from bot.remediation.service import (
    THIS_PROCESS,
    ProgressEvent,
    RemediationResult,
    prepare_remediation,
)

EXIT_BY_STATUS = {
    RunStatus.RENEWED: 0,
    RunStatus.NOT_RENEWED: 1,
    RunStatus.FAILED: 2,
    RunStatus.INTERRUPTED: 2,
}
SNORT_WARNING = (
    "Installing a VDB can immediately restart Snort on the managed devices, "
    "interrupting inspection."
)
# How long `remediate` waits for the database to take an outcome it could not record.
RECORD_WAIT_SECONDS = 60.0


def _print_progress(event: ProgressEvent) -> None:
    clock = datetime.now().strftime("%H:%M:%S")
    message = f" {event.message}" if event.message else ""
    say(f"[{clock}] {event.step}: {event.state}{message}")


def _confirm(args: argparse.Namespace) -> None:
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise UsageError("not asking on a non-interactive input: pass --yes to run the plan")
    warning = f"{SNORT_WARNING}\n" if args.action == "vdb-update" else ""
    answer = input(f"{warning}Run this plan on {args.name} now? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise UsageError("not confirmed; nothing was changed")


async def _record_late(result: RemediationResult) -> bool:
    """Wait a while for an outcome the database could not take; True once it is recorded."""
    if result.recorded:
        return True
    say(
        f"\n{result.fmc}: the outcome could not be recorded yet ({result.storage_error}); "
        f"waiting up to {RECORD_WAIT_SECONDS:g} s for the database"
    )
    try:
        async with asyncio.timeout(RECORD_WAIT_SECONDS):
            await THIS_PROCESS.settle()
    except TimeoutError:
        return False
    return True


def _print_result(result: RemediationResult, *, recorded: bool = True) -> None:
    say(f"\n{result.fmc}: {result.status.value}: {result.summary}")
    if not result.recorded:
        if recorded:
            say("  recorded late: the database was unavailable during the run")
        else:
            say(
                "  NOT RECORDED: the database is still unavailable; the outcome above is what "
                "the FMC shows (the run will be marked interrupted by a later sweep)"
            )
    if result.failed_step and result.step_output:
        say(f"output of {result.failed_step} (last lines, passwords removed):")
        for line in result.step_output.strip().splitlines()[-15:]:
            say(f"  | {line}")
    for step in result.next_steps:
        say(f"  next: {step}")
    say(f"  record: fmccert history {result.fmc}")


async def _remediate(args: argparse.Namespace, config: AppConfig) -> int:
    entry = config.entry(args.name)
    actor = cli_actor()
    common: dict[str, Any] = {
        "settings": config.remediation,
        "timeouts": config.timeouts,
        "thresholds": config.thresholds,
        "clock": utc_now,
    }
    action = parse_action(args.action)
    if args.dry_run:  # reads the FMC, writes nothing anywhere
        prepared = await prepare_remediation(entry.target, args.action, **common)
        print(render_plan(prepared.plan))
        print("\ndry run: nothing was run or changed")
        if not prepared.plan.executable:
            why = not_executable_reason(entry.target.kind, action)
            print(f"fmccert will not run this plan: {why}")
        return 0
    if not executable_on(entry.target.kind, action):
        # Known from the config alone: refuse before connecting to anything (exit 3).
        raise RemediationError(
            f"{args.name} ({entry.target.kind.label}): "
            f"{not_executable_reason(entry.target.kind, action)}"
        )
    async with opened_store(config) as store:
        # The SSH probe alone, as in --dry-run: the fix runs over SSH whatever `access` says.
        operations = Operations(config, store, clock=utc_now, probe=probe_fmc)
        await operations.sweep()  # before a new run only: dead runs free their FMC
        # A refusal (no plan can be made) is audited before it is raised.
        prepared = await operations.plan_fix(args.name, args.action, actor=actor)
        say(render_plan(prepared.plan))
        _confirm(args)
        result = await operations.break_glass(prepared, actor=actor, on_progress=_print_progress)
        recorded = await _record_late(result)
    _print_result(result, recorded=recorded)
    return EXIT_BY_STATUS[result.status]


def command_remediate(args: argparse.Namespace) -> int:
    """`fmccert remediate NAME --action ACTION [--dry-run] [--yes]`

    Ctrl-C or SIGTERM exits 2 ("failed or interrupted"), not the shell's usual 130: a
    script running the break-glass fix tells outcomes apart by status alone. A run already
    under way is recorded interrupted before the process exits.
    """
    config = load(args)
    check_names([args.name], config)
    try:
        return run_until_signalled(_remediate(args, config))
    except KeyboardInterrupt:
        print(
            f"fmccert: interrupted; see `fmccert history {args.name}` for what was recorded",
            file=sys.stderr,
        )
        return EXIT_BY_STATUS[RunStatus.INTERRUPTED]


def _run_json(run: RemediationRun, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": run.id,
        "fmc": run.fmc,
        "action": run.action,
        "status": run.status.value,
        "requested_by": run.requested_by,
        "approved_by": run.approved_by,
        "started_at": iso_utc(run.started_at),
        "finished_at": iso_utc(run.finished_at),
        "failed_step": run.failed_step,
        "summary": run.summary,
        "old_not_after": iso_utc(run.old_not_after),
        "new_not_after": iso_utc(run.new_not_after),
        "steps": steps,
    }


def _audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": iso_utc(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "fmc": entry.fmc,
        "detail": dict(entry.detail),
    }


def _describe(detail: dict[str, Any]) -> str:
    parts = []
    for key, value in detail.items():
        if value in (None, [], {}):
            continue
        if isinstance(value, list) and len(value) > 4:
            value = f"[{len(value)} items]"
        parts.append(f"{key}={value}")
    return " ".join(parts)


async def _history(args: argparse.Namespace, config: AppConfig) -> dict[str, Any]:
    # Read-only: never sweeps (only a process about to remediate, or the bot, marks runs).
    async with opened_store(config) as store:
        operations = Operations(config, store, clock=utc_now)
        history = await operations.history(args.name, runs=args.limit, entries=args.limit)
        remediations = []
        for run in history.runs:
            steps = [
                {
                    "seq": step.seq,
                    "name": step.name,
                    "status": step.status.value,
                    "started_at": iso_utc(step.started_at),
                    "finished_at": iso_utc(step.finished_at),
                    "output": step.output,
                }
                for step in await operations.run_steps(run.id)
            ]
            remediations.append(_run_json(run, steps))
        audit = [_audit_json(entry) for entry in history.audit]
    return {"remediations": remediations, "audit": audit}


def command_history(args: argparse.Namespace) -> int:
    """`fmccert history [NAME] [--json]`: remediation runs and the audit log, newest first."""
    config = load(args)
    if args.name:
        check_names([args.name], config)
    record = run_until_signalled(_history(args, config))
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    print("Remediations")
    if not record["remediations"]:
        print("  none")
    for run in record["remediations"]:
        print(
            f"  #{run['id']} {run['started_at']} {run['fmc']} {run['action']} {run['status']}"
            f" (requested by {run['requested_by']})"
        )
        if run["summary"]:
            print(f"      {run['summary']}")
        for step in run["steps"]:
            print(f"      {step['seq']:>2}. {step['name']}: {step['status']}")
    print("\nAudit log")
    if not record["audit"]:
        print("  none")
    for entry in record["audit"]:
        fmc = f" {entry['fmc']}" if entry["fmc"] else ""
        print(
            f"  {entry['at']} {entry['actor']} {entry['action']}{fmc} {_describe(entry['detail'])}"
        )
    return 0
