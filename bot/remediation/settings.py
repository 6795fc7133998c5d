"""Remediation settings resolved from the config's ``remediation:`` section."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class StepOverride:
    """A site's change to one named plan step: another command and/or timeout."""

    command: str | None = None
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class RemediationSettings:
    """Everything plan building needs from the config (paths already resolved)."""

    vdb_package: Path | None = None
    vdb_install_timeout: float = 3600.0  # seconds (config: vdb_install_timeout_minutes)
    restart_command: str | None = None
    updates_dir: str = "/var/sf/updates"
    vdb_poll_interval: float = 30.0  # seconds between reads of vdb.conf while installing
    min_free_mb: int = 0  # extra free space required beyond twice the package size
    # How long verify-certificate keeps re-reading (every vdb_poll_interval) for a renewed
    # certificate before calling it not renewed, in case renewal lags the VDB install
    # (unverified on real FMCs). 0: one read, right after the install.
    verify_wait: float = 0.0
    # Per step name: site-specific command templates / timeouts (see plan.py for names).
    step_overrides: Mapping[str, StepOverride] = field(default_factory=dict)
