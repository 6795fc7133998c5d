"""Benchmark: scan N lab FMCs with the real probe vs a bare asyncssh floor.

    .venv/bin/python bench/scan_bench.py [--count 500] [--delay 0.05] [--concurrency 100]

Starts `fmccert lab` in a separate process (N healthy 7.6.0 FMCs, ``--delay`` seconds
injected before every command's output), then, each in a fresh subprocess so memory
figures are its own:

- ``probe``: ``scan_fleet`` with the real SSH probe (PTY, prompts, expert, sudo);
- ``floor``: a bare asyncssh loop: connect (same auth and known_hosts) and ``conn.run``
  the same file reads over exec channels, same concurrency;
- ``rest``: ``scan_fleet`` with the REST probe alone (token, serverversion, health alerts,
  logout over HTTPS, the lab's CA trusted), same fleet and concurrency; the lab applies
  ``--delay`` to each REST data request as it does to each SSH command.

Prints wall time, CPU time and peak RSS of each, the ratio probe/floor (target: 2x), and
the REST read's time next to the SSH probe's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.lab.process import spawn_lab

ROOT = Path(__file__).resolve().parent.parent
MODES = ("floor", "probe", "rest")
FLOOR_COMMANDS = (
    "cat /etc/sf/ims.conf",
    "cat /etc/sf/.versiondb/vdb.conf",
    "cat /etc/sf/model.conf",
    "cat /etc/sf/sf-version",
)


def _now() -> datetime:
    return datetime.now(UTC)


async def _run_scan(config_path: Path, *, over_rest: bool) -> dict[str, Any]:
    """One fleet scan with the SSH probe, or with the REST read alone."""
    from bot.config import load_config
    from bot.fmc.probe import probe_fmc
    from bot.fmc.rest import probe_rest
    from bot.scanning import scan_fleet

    config = load_config(config_path, {})
    report = await scan_fleet(
        config.fmcs,
        probe_rest if over_rest else probe_fmc,
        timeouts=config.timeouts,
        thresholds=config.thresholds,
        concurrency=config.concurrency,
        clock=_now,
    )
    errors = [f.error.kind for f in report.findings if f.error is not None]
    return {
        "hosts": len(report.findings),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
    }


async def _run_probe(config_path: Path) -> dict[str, Any]:
    return await _run_scan(config_path, over_rest=False)


async def _run_rest(config_path: Path) -> dict[str, Any]:
    return await _run_scan(config_path, over_rest=True)


async def _run_floor(config_path: Path) -> dict[str, Any]:
    import asyncssh

    from bot.config import load_config

    config = load_config(config_path, {})
    semaphore = asyncio.Semaphore(config.concurrency)
    failures: list[str] = []

    async def one(host: str, port: int, known_hosts: Path, user: str, password: str) -> None:
        async with semaphore:
            try:
                async with asyncssh.connect(
                    host, port, username=user, password=password,
                    known_hosts=str(known_hosts), client_keys=None, agent_path=None,
                ) as conn:  # fmt: skip
                    for command in FLOOR_COMMANDS:
                        await conn.run(command)
            except (OSError, asyncssh.Error) as exc:
                failures.append(type(exc).__name__)

    await asyncio.gather(
        *(
            one(
                e.target.host,
                e.target.port,
                e.target.known_hosts,
                e.target.username,
                e.target.password.reveal(),
            )
            for e in config.fmcs
        )
    )
    return {
        "hosts": len(config.fmcs),
        "errors": len(failures),
        "error_kinds": sorted(set(failures)),
    }


def measure(mode: str, config_path: Path) -> dict[str, Any]:
    """Run one mode in this process and return its figures."""
    runners = {"probe": _run_probe, "floor": _run_floor, "rest": _run_rest}
    runner = runners[mode]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = asyncio.run(runner(config_path))
    result.update(
        mode=mode,
        wall_s=round(time.perf_counter() - wall0, 3),
        cpu_s=round(time.process_time() - cpu0, 3),
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )
    return result


def main() -> None:
    """Parse arguments, start the lab, run both modes, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per command")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:  # child: measure one mode and print JSON
        print(json.dumps(measure(args.mode, args.config)))
        return

    with tempfile.TemporaryDirectory(prefix="fmccert-bench-") as folder:
        config_path = Path(folder) / "fmccert.yaml"
        lab = spawn_lab(
            args.count,
            config_path,
            scenarios=["affected-760-warning"],
            command_delay=args.delay,
            rest=True,  # config access: both; each mode picks its own probe
        )
        try:
            text = config_path.read_text(encoding="utf-8")
            text = text.replace("concurrency: 50", f"concurrency: {args.concurrency}")
            text = text.replace("host_timeout: 30", "host_timeout: 120")
            config_path.write_text(text, encoding="utf-8")
            results = {}
            for mode in MODES:
                out = subprocess.run(
                    [sys.executable, __file__, "--mode", mode, "--config", str(config_path)],
                    cwd=ROOT, capture_output=True, text=True, check=True,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )  # fmt: skip
                results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            lab.terminate()
            lab.wait(timeout=30)

    print(f"scan bench: {args.count} lab FMCs, {args.delay * 1000:.0f} ms per command, "
          f"concurrency {args.concurrency}")  # fmt: skip
    for mode in MODES:
        r = results[mode]
        print(f"  {mode:5}  wall {r['wall_s']:7.2f} s   cpu {r['cpu_s']:7.2f} s   "
              f"peak rss {r['peak_rss_mib']:6.1f} MiB   hosts {r['hosts']}   "
              f"errors {r['errors']} {r['error_kinds'] or ''}")  # fmt: skip
    ratio = results["probe"]["wall_s"] / results["floor"]["wall_s"]
    print(f"  probe/floor wall-time ratio: {ratio:.2f}x (target <= 2x)")
    rest_ratio = results["rest"]["wall_s"] / results["probe"]["wall_s"]
    print(f"  rest/probe wall-time ratio: {rest_ratio:.2f}x (REST-only read vs the SSH probe)")


if __name__ == "__main__":
    main()
