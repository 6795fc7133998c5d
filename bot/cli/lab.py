"""`fmccert lab` and `fmccert demo`: emulated FMCs on loopback."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from pathlib import Path

from bot.cli.common import utc_now
from bot.cli.fleet import print_report, run_scan
from bot.config import load_config
from bot.errors import UsageError
from bot.scanning import ScanReport


def _stop_signal() -> asyncio.Future[None]:
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
    if args.command_delay < 0 or args.install_delay < 0:
        raise UsageError("delays must not be negative")
    scenarios = pick_scenarios(count, args.scenario)

    async def serve() -> None:
        stopped = _stop_signal()
        lab = await start_lab(
            scenarios,
            command_delay=args.command_delay,
            install_delay=args.install_delay,
            now=utc_now(),
        )
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
                return await run_scan(load_config(path, {}), (), None)

    report = asyncio.run(demo())
    print_report(report, args.json)
    if not args.json:
        print(
            "\nEach row is a lab FMC playing one scenario (`fmccert lab --list-scenarios`)."
            "\nRun your own: fmccert lab --count 20 --write-config /tmp/lab/fmccert.yaml"
            "\n         then: fmccert scan --config /tmp/lab/fmccert.yaml"
            "\n          and: fmccert remediate lab-fmc-02 --action vdb-update --config "
            "/tmp/lab/fmccert.yaml --dry-run",
            file=sys.stderr,
        )
    return 0
