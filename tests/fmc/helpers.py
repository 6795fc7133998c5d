"""Shared helpers for the probe tests: targets for lab hosts, a fixed clock, small timeouts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from bot.core.devices import DeviceKind
from bot.fmc.target import ProbeTarget, ProbeTimeouts
from bot.lab.server import LabHost
from bot.secrets import Secret

# Small on purpose: the slow scenario (1 s per command) must still pass, and a hung or
# flooding host must fail fast.
TIMEOUTS = ProbeTimeouts(connect=2.0, command=2.0, host=10.0)
# How much later than its budget a failed probe may return (closing the connection).
SLACK = 1.5
# A password easy to spot if it leaks anywhere.
PASSWORD = "Pw-0f-the-Lab!x7"


def write_known_hosts(path: Path, lines: Iterable[str]) -> Path:
    """Write known_hosts ``lines`` to ``path``."""
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def lab_target(host: LabHost, known_hosts: Path, password: str = PASSWORD) -> ProbeTarget:
    """The ProbeTarget of one lab host (an FTD scenario's is of kind FTD)."""
    return ProbeTarget(
        name=host.name,
        host=host.host,
        port=host.port,
        username="admin",
        password=Secret(password),
        known_hosts=known_hosts,
        kind=DeviceKind(host.scenario.kind),
    )


def fixed_clock(moment: datetime) -> Callable[[], datetime]:
    """A clock that always says ``moment``."""
    return lambda: moment
