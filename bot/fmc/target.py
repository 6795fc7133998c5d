"""Where and how to reach one FMC: resolved from the config at the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.core.devices import Access, DeviceKind
from bot.secrets import Secret

DEFAULT_CERT_PATH = "/var/sf/beaker3/securefirewall-dev-prod-01_prod.pem"


REST_REQUESTS_PER_MINUTE = 120  # the FMC REST API's documented limit per client


@dataclass(frozen=True, slots=True)
class RestTarget:
    """The FMC REST API of one FMC: a dedicated API user (no shell needed), TLS settings."""

    host: str
    port: int
    username: str
    password: Secret
    ca_file: Path | None = None  # trust this CA bundle instead of the system's
    insecure_skip_verify: bool = False  # only when set explicitly, per FMC
    requests_per_minute: int = REST_REQUESTS_PER_MINUTE


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
    kind: DeviceKind = DeviceKind.FMC
    access: Access = Access.SSH
    rest: RestTarget | None = None  # set when access uses REST


@dataclass(frozen=True, slots=True)
class ProbeTimeouts:
    """Seconds allowed for the TCP+SSH connect, each step/command, and one whole host."""

    connect: float = 10.0
    command: float = 60.0
    host: float = 120.0
