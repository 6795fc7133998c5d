"""`fmccert check`, `scan` and `trust`: read the fleet, record it, pin host keys."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import TextIO

from bot.cli.common import (
    check_names,
    cli_actor,
    closest,
    load,
    opened_store,
    utc_now,
    warn,
)
from bot.config import AppConfig, host_key_targets, read_config_model, resolve_config_path
from bot.core.advisory import Action, kind_note
from bot.core.audit import AuditAction
from bot.core.devices import DeviceKind
from bot.core.findings import Finding, exit_status
from bot.core.peer_text import sanitize_peer_text
from bot.errors import FmccertError, UsageError
from bot.render import render_json, render_summary, render_table
from bot.scanning import ProgressListener, ScanReport


def _progress_printer(stream: TextIO) -> ProgressListener:
    def show(done: int, total: int, finding: Finding) -> None:
        stream.write(f"\rchecked {done}/{total} (last: {finding.name} {finding.status.value})")
        stream.write("\x1b[K" if done < total else "\x1b[K\n")
        stream.flush()

    return show


async def run_scan(config: AppConfig, names: Sequence[str], tag: str | None) -> ScanReport:
    """Probe the selected FMCs with the real SSH probe (nothing recorded)."""
    from bot.operations import scan_fmcs, select_fmcs
    from bot.probing import probe_device

    entries = select_fmcs(config, names, tag)
    show = _progress_printer(sys.stderr) if sys.stderr.isatty() and len(entries) > 1 else None
    return await scan_fmcs(config, entries, probe=probe_device, clock=utc_now, on_progress=show)


async def record_scan(
    config: AppConfig, report: ScanReport, *, kind: AuditAction, tag: str | None
) -> None:
    """Store every finding and one audit entry; a storage failure warns, never loses output."""
    from bot.operations import Operations

    try:
        async with opened_store(config) as store:
            scan_id = await Operations(config, store, clock=utc_now).record_scan(
                report, actor=cli_actor(), kind=kind, tag=tag
            )
    except FmccertError as exc:
        warn(f"results were not recorded: {exc}")
        return
    if scan_id is None:
        warn("results were not recorded (see the log)")


def with_kinds(findings: Sequence[Finding]) -> list[Finding]:
    """The findings to show in the table: in a fleet with an FTD, each name says its kind.

    An FMC-only fleet's table is unchanged; with any FTD, every row reads ``NAME (FMC)``
    or ``NAME (FTD)``, so no row leaves the reader to guess. (JSON has its own ``kind``.)
    """
    if all(finding.kind is DeviceKind.FMC for finding in findings):
        return list(findings)
    return [replace(f, name=f"{f.name} ({f.kind.label})") for f in findings]


def kind_notes(findings: Sequence[Finding]) -> list[str]:
    """One note per kind whose path differs (an FTD's VDB goes through FDM), if present."""
    kinds = dict.fromkeys(f.kind for f in findings if f.action is not Action.NONE)
    return [note for kind in kinds if (note := kind_note(kind)) is not None]


def print_report(report: ScanReport, as_json: bool) -> None:
    """The table (and a summary on stderr), or the JSON array."""
    if as_json:
        print(render_json(report.findings))
        return
    # Notes quote what FMCs said: the table is printed without any control character.
    print(sanitize_peer_text(render_table(with_kinds(report.findings)), keep_newlines=True))
    for note in kind_notes(report.findings):
        print(f"note: {note}", file=sys.stderr)
    print(render_summary(report.findings, report.duration_seconds), file=sys.stderr)


def command_check(args: argparse.Namespace) -> int:
    """`fmccert check NAME...`"""
    config = load(args)
    check_names(args.names, config)

    async def work() -> ScanReport:
        report = await run_scan(config, list(dict.fromkeys(args.names)), None)
        await record_scan(config, report, kind=AuditAction.CHECK, tag=None)
        return report

    report = asyncio.run(work())
    print_report(report, args.json)
    return exit_status(report.findings)


def command_scan(args: argparse.Namespace) -> int:
    """`fmccert scan [--tag TAG]`"""
    config = load(args)

    async def work() -> ScanReport:
        report = await run_scan(config, (), args.tag)
        await record_scan(config, report, kind=AuditAction.SCAN, tag=args.tag)
        return report

    report = asyncio.run(work())
    print_report(report, args.json)
    return exit_status(report.findings)


def command_trust(args: argparse.Namespace) -> int:
    """`fmccert trust NAME`: show the host key, confirm, append it to known_hosts."""
    from bot.fmc.known_hosts import append_known_host, fetch_host_key, host_key_state

    path = resolve_config_path(args.config, os.environ)
    model = read_config_model(path)
    targets = host_key_targets(model, path)
    if args.name not in targets:
        raise UsageError(f"unknown FMC {args.name!r}{closest(args.name, list(targets))}")
    target = targets[args.name]
    info = asyncio.run(fetch_host_key(target.host, target.port, timeout=model.ssh.connect_timeout))
    state = host_key_state(target.known_hosts, target.host, target.port, info)
    print(f"{target.name} ({target.host}:{target.port}) presents a {info.key_type} key")
    print(f"  fingerprint {info.fingerprint}")
    if state == "trusted":
        print(f"  already trusted in {target.known_hosts}")
        return 0
    if state == "changed":
        print(
            f"  WARNING: {target.known_hosts} holds a DIFFERENT key for this host. "
            "If nobody reinstalled this FMC, this may be an attack."
        )
        if not args.replace:
            raise UsageError("refusing to replace a changed host key without --replace")
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("not asking on a non-interactive input: pass --yes to confirm")
        answer = input(f"Add this key to {target.known_hosts}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("not added")
            return 1
    append_known_host(target.known_hosts, info, replace=state == "changed")
    print(f"  added to {target.known_hosts}")
    _audit_trust(args, target.name, info.fingerprint, replaced=state == "changed")
    return 0


def _audit_trust(args: argparse.Namespace, name: str, fingerprint: str, *, replaced: bool) -> None:
    # Trusting a key changes what fmccert will talk to: record it when a database is set up.
    try:
        config = load(args)
    except FmccertError:
        return  # trust needs no password; without a full config there is nothing to record

    async def write() -> None:
        from bot.operations import Operations

        async with opened_store(config) as store:
            await Operations(config, store, clock=utc_now).record_trusted_key(
                name, fingerprint, replaced=replaced, actor=cli_actor()
            )

    try:
        asyncio.run(write())
    except FmccertError as exc:
        warn(f"the trust was not recorded: {exc}")
