"""The `fmccert` command line: the composition root for check, scan, trust, lab and demo.

Expected problems (bad config, unknown names, usage) print one line and exit 3; nothing
the user typed produces a traceback. Exit statuses of check/scan follow monitoring
plugins (see ``bot.core.findings.exit_status``).
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, TextIO

from bot import __version__
from bot.config import (
    AppConfig,
    host_key_targets,
    load_config,
    read_config_model,
    resolve_config_path,
)
from bot.core.findings import EXIT_UNKNOWN, Finding, exit_status
from bot.errors import FmccertError, UsageError
from bot.render import render_json, render_summary, render_table
from bot.scanning import ProgressListener, ScanReport, scan_fleet

log = logging.getLogger("bot.cli")


def utc_now() -> datetime:
    """The real clock, passed into everything that needs the time."""
    return datetime.now(UTC)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with exit status 3, as the contract says."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_UNKNOWN, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    common = _Parser(add_help=False)
    common.add_argument(
        "-c",
        "--config",
        metavar="PATH",
        help="config file (default: $FMCCERT_CONFIG, else config/fmccert.yaml)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser = _Parser(
        prog="fmccert",
        description="Find and fix Cisco FMCs whose Talos client certificate will not renew "
        "(CSCwo63951, field notice FN74272).",
    )
    parser.add_argument("--version", action="version", version=f"fmccert {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    check = commands.add_parser("check", parents=[common], help="check the named FMCs")
    check.add_argument("names", nargs="+", metavar="NAME", help="FMC names from the config")
    check.add_argument("--json", action="store_true", help="print a JSON array")

    scan = commands.add_parser("scan", parents=[common], help="check every FMC concurrently")
    scan.add_argument("--tag", help="only FMCs with this tag")
    scan.add_argument("--json", action="store_true", help="print a JSON array")

    trust = commands.add_parser(
        "trust", parents=[common], help="show an FMC's host key and add it to known_hosts"
    )
    trust.add_argument("name", metavar="NAME")
    trust.add_argument("--yes", action="store_true", help="add the key without asking")
    trust.add_argument(
        "--replace",
        action="store_true",
        help="allow replacing a key that differs from the one in known_hosts",
    )

    lab = commands.add_parser("lab", parents=[common], help="run emulated FMCs on loopback")
    lab.add_argument("--count", type=int, default=None, help="number of FMCs (default: catalog)")
    lab.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help="scenario to use (repeatable; cycled over --count); default: all",
    )
    lab.add_argument("--write-config", metavar="PATH", help="write a matching config here")
    lab.add_argument(
        "--command-delay", type=float, default=0.0, metavar="SECONDS", help="delay per command"
    )
    lab.add_argument("--list-scenarios", action="store_true", help="list scenarios and exit")

    demo = commands.add_parser(
        "demo", parents=[common], help="run a lab fleet and scan it: no FMC or Slack needed"
    )
    demo.add_argument("--json", action="store_true", help="print a JSON array")
    return parser


def _closest(name: str, names: Sequence[str]) -> str:
    """A "did you mean" hint: the most similar name, the first in config order on ties."""
    best, best_score = "", 0.6
    for candidate in names:
        score = difflib.SequenceMatcher(None, name, candidate).ratio()
        if score > best_score:
            best, best_score = candidate, score
    return f"; did you mean {best!r}?" if best else ""


def _check_names(names: Sequence[str], config: AppConfig) -> None:
    known = config.names()
    for name in names:
        if name not in known:
            hint = _closest(name, known) or f" (known: {', '.join(known[:8]) or 'none'})"
            raise UsageError(f"unknown FMC {name!r}{hint}")


def _progress_printer(stream: TextIO) -> ProgressListener:
    def show(done: int, total: int, finding: Finding) -> None:
        stream.write(f"\rchecked {done}/{total} (last: {finding.name} {finding.status.value})")
        stream.write("\x1b[K" if done < total else "\x1b[K\n")
        stream.flush()

    return show


async def _run_scan(config: AppConfig, names: Sequence[str], tag: str | None) -> ScanReport:
    from bot.fmc.probe import probe_fmc  # imported here: the lab and demo share this path

    entries = config.select(names, tag)
    if not entries:
        raise UsageError(f"no FMC has the tag {tag!r}" if tag else "the config lists no FMC")
    show = _progress_printer(sys.stderr) if sys.stderr.isatty() and len(entries) > 1 else None
    return await scan_fleet(
        entries,
        probe_fmc,
        timeouts=config.timeouts,
        thresholds=config.thresholds,
        concurrency=config.concurrency,
        clock=utc_now,
        on_progress=show,
    )


def _print_report(report: ScanReport, as_json: bool) -> None:
    if as_json:
        print(render_json(report.findings))
        return
    print(render_table(report.findings))
    print(render_summary(report.findings, report.duration_seconds), file=sys.stderr)


def _load(args: argparse.Namespace) -> AppConfig:
    return load_config(resolve_config_path(args.config, os.environ))


def command_check(args: argparse.Namespace) -> int:
    """`fmccert check NAME...`"""
    config = _load(args)
    _check_names(args.names, config)
    report = asyncio.run(_run_scan(config, list(dict.fromkeys(args.names)), None))
    _print_report(report, args.json)
    return exit_status(report.findings)


def command_scan(args: argparse.Namespace) -> int:
    """`fmccert scan [--tag TAG]`"""
    config = _load(args)
    report = asyncio.run(_run_scan(config, (), args.tag))
    _print_report(report, args.json)
    return exit_status(report.findings)


def command_trust(args: argparse.Namespace) -> int:
    """`fmccert trust NAME`: show the host key, confirm, append it to known_hosts."""
    from bot.fmc.known_hosts import append_known_host, fetch_host_key, host_key_state

    path = resolve_config_path(args.config, os.environ)
    model = read_config_model(path)
    targets = host_key_targets(model, path)
    if args.name not in targets:
        known = list(targets)
        raise UsageError(f"unknown FMC {args.name!r}{_closest(args.name, known)}")
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
    return 0


def _wait_for_stop_signal() -> asyncio.Future[None]:
    loop = asyncio.get_running_loop()
    stopped: asyncio.Future[None] = loop.create_future()

    def stop() -> None:
        if not stopped.done():
            stopped.set_result(None)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    return stopped


def command_lab(args: argparse.Namespace) -> int:
    """`fmccert lab`: serve emulated FMCs until interrupted."""
    from bot.lab.scenarios import CATALOG, pick_scenarios
    from bot.lab.server import start_lab

    if args.list_scenarios:
        width = max(len(name) for name in CATALOG)
        for name, scenario in CATALOG.items():
            print(f"{name.ljust(width)}  {scenario.description}")
        return 0
    count = args.count if args.count is not None else len(args.scenario or CATALOG)
    if count < 1:
        raise UsageError("--count must be at least 1")
    if args.command_delay < 0:
        raise UsageError("--command-delay must not be negative")
    scenarios = pick_scenarios(count, args.scenario)

    async def serve() -> None:
        stopped = _wait_for_stop_signal()
        lab = await start_lab(scenarios, command_delay=args.command_delay, now=utc_now())
        try:
            for host in lab.hosts:
                print(f"{host.name}  {host.host}:{host.port}  {host.scenario.name}", flush=True)
            if args.write_config:
                path = Path(args.write_config)
                lab.write_config(path)
                print(f"config written to {path}; try: fmccert scan --config {path}", flush=True)
            print(f"{len(lab.hosts)} lab FMCs running; Ctrl-C to stop", flush=True)
            await stopped
        finally:
            await lab.close()

    asyncio.run(serve())
    return 0


def command_demo(args: argparse.Namespace) -> int:
    """`fmccert demo`: one lab FMC per scenario, scanned with the real probe."""
    from bot.lab.scenarios import CATALOG, pick_scenarios
    from bot.lab.server import start_lab

    async def demo() -> ScanReport:
        async with await start_lab(pick_scenarios(len(CATALOG)), now=utc_now()) as lab:
            with tempfile.TemporaryDirectory(prefix="fmccert-demo-") as folder:
                path = Path(folder) / "fmccert.yaml"
                lab.write_config(path, command_timeout=3, host_timeout=15)
                print(
                    f"Started {len(lab.hosts)} emulated FMCs on loopback; scanning...",
                    file=sys.stderr,
                )
                return await _run_scan(load_config(path, {}), (), None)

    report = asyncio.run(demo())
    _print_report(report, args.json)
    if not args.json:
        print(
            "\nEach row is a lab FMC playing one scenario (`fmccert lab --list-scenarios`)."
            "\nRun your own: fmccert lab --count 20 --write-config /tmp/lab/fmccert.yaml"
            "\n         then: fmccert scan --config /tmp/lab/fmccert.yaml",
            file=sys.stderr,
        )
    return 0


_COMMANDS = {
    "check": command_check,
    "scan": command_scan,
    "trust": command_trust,
    "lab": command_lab,
    "demo": command_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m bot``."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return _COMMANDS[args.command](args)
    except FmccertError as exc:
        print(f"fmccert: error: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN
    except KeyboardInterrupt:
        print("fmccert: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback in the log
        log.debug("internal error", exc_info=True)
        print(
            f"fmccert: internal error: {type(exc).__name__}: {exc} (run with -v for details)",
            file=sys.stderr,
        )
        return 70
