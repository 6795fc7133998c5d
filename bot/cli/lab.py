"""`fmccert lab` and `fmccert demo`: emulated FMCs on loopback."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from bot.cli.common import stop_event, utc_now
from bot.cli.fleet import print_report, run_scan
from bot.config import load_config
from bot.errors import UsageError
from bot.scanning import ScanReport


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
    if args.command_delay < 0 or args.install_delay < 0:
        raise UsageError("delays must not be negative")
    scenarios = pick_scenarios(count, args.scenario)
    access = args.access or ("both" if args.rest else "ssh")
    if access != "ssh" and not args.rest:
        raise UsageError(f"--access {access} needs --rest (the REST API must be served)")

    async def serve() -> None:
        stopped = stop_event()
        lab = await start_lab(
            scenarios,
            command_delay=args.command_delay,
            install_delay=args.install_delay,
            now=utc_now(),
            rest=args.rest,
        )
        try:
            for host in lab.hosts:
                rest = f"  rest {host.rest_port}" if host.rest_port is not None else ""
                print(
                    f"{host.name}  {host.host}:{host.port}  {host.scenario.name}{rest}",
                    flush=True,
                )
            if args.write_config:
                path = Path(args.write_config)
                lab.write_config(path, access=access)
                print(f"config written to {path}; try: fmccert scan --config {path}", flush=True)
            print(f"{len(lab.hosts)} lab FMCs running; Ctrl-C to stop", flush=True)
            await stopped.wait()
        finally:
            await lab.close()

    asyncio.run(serve())
    return 0


def command_demo(args: argparse.Namespace) -> int:
    """`fmccert demo`: the whole product on loopback, shown in a local Slack console."""
    if args.scan_only:
        return _demo_scan_only(args)
    from bot.lab.demo import DemoUrls, run_demo

    if not 1 <= args.scan_minutes <= 59:
        raise UsageError("--scan-minutes must be between 1 and 59")

    def ready(urls: DemoUrls) -> None:
        print(
            f"fmccert demo is running (Ctrl-C to stop)\n"
            f"  Slack console: {urls.console}\n"
            f"  bot health:    {urls.health}\n"
            f"  metrics:       {urls.metrics}\n"
            f"  files:         {urls.folder}\n"
            "Open the console, watch the first scan's alert arrive, pick a user and try\n"
            "`/fmccert check lab-fmc-02`, then Approve the VDB update on an alert.",
            flush=True,
        )

    folder = Path(args.folder) if args.folder else None

    async def demo() -> None:
        await run_demo(
            port=args.port,
            scan_minutes=args.scan_minutes,
            folder=folder,
            on_ready=ready,
            stop=stop_event(),
        )

    asyncio.run(demo())
    return 0


def _demo_scan_only(args: argparse.Namespace) -> int:
    """One lab FMC per scenario, scanned once with the real probe, printed as a table."""
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
                return await run_scan(load_config(path, {}), (), None)

    report = asyncio.run(demo())
    print_report(report, args.json)
    return 0
