"""Run `fmccert lab` as a separate process (benchmarks keep the lab's CPU apart this way)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bot.errors import LabError

READY_LINE = "lab FMCs running"


def spawn_lab(
    count: int,
    config_path: Path,
    *,
    scenarios: Sequence[str] = (),
    command_delay: float = 0.0,
    timeout: float = 120.0,
    rest: bool = False,
    niceness: int = 0,
) -> subprocess.Popen[str]:
    """Start a lab of ``count`` FMCs writing its config to ``config_path``; wait until ready.

    With ``rest`` the FMCs serve their REST API too and the config reads them both ways.
    ``niceness`` lowers the lab's CPU priority: in a benchmark its FMCs stand for remote
    machines, which take no CPU from the bot.
    """
    argv = [sys.executable, "-m", "bot", "lab", "--count", str(count)]
    if rest:
        argv += ["--rest", "--access", "both"]
    for scenario in scenarios:
        argv += ["--scenario", scenario]
    argv += ["--command-delay", str(command_delay), "--write-config", str(config_path)]
    lab = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
    )
    assert lab.stdout is not None
    deadline = time.monotonic() + timeout
    for line in lab.stdout:
        if READY_LINE in line:
            return lab
        if time.monotonic() > deadline:
            break
    lab.kill()
    raise LabError(f"the lab did not start within {timeout:g} s")
