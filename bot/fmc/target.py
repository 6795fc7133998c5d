"""Where and how to reach one FMC: resolved from the config at the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.secrets import Secret

DEFAULT_CERT_PATH = "/var/sf/beaker3/securefirewall-dev-prod-01_prod.pem"


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """One FMC with its resolved credentials (the password is a Secret)."""

    name: str
    host: str
    port: int
    username: str
    password: Secret
    known_hosts: Path
    cert_path: str = DEFAULT_CERT_PATH


@dataclass(frozen=True, slots=True)
class ProbeTimeouts:
    """Seconds allowed for the TCP+SSH connect, each step/command, and one whole host."""

    connect: float = 10.0
    command: float = 60.0
    host: float = 120.0
