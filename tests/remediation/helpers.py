"""Shared builders for the remediation tests: findings, packages, a fixed instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.certificate import CertificateFacts
from bot.core.expiry import Thresholds
from bot.core.findings import ErrorInfo, Finding, FmcFacts, ProbeOutcome, assess_outcome
from bot.remediation.plan import VdbPackage

NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
PACKAGE_NAME = "Cisco_VDB_Fingerprint_Database-4.5.0-406.sh.REL.tar"
SHA = "ab" * 32


def certificate(days_left: float, serial: str = "1A") -> CertificateFacts:
    """Certificate facts expiring ``days_left`` days after NOW."""
    return CertificateFacts(
        not_before=NOW - timedelta(days=400),
        not_after=NOW + timedelta(days=days_left),
        serial=serial,
        subject="CN=fmc-prod-01",
        issuer="CN=Keymaster CA 2",
        sha256_fingerprint="AA:BB",
    )


def finding(
    *,
    name: str = "fmc-east",
    version: str | None = "7.6.0",
    vdb_build: int | None = 400,
    days_left: float | None = 20.0,
    error: ErrorInfo | None = None,
) -> Finding:
    """A finding as the probe and the advisory would produce it."""
    facts = FmcFacts(
        version=version,
        build="36" if version else None,
        vdb_build=vdb_build,
        certificate=certificate(days_left) if days_left is not None else None,
    )
    outcome = ProbeOutcome(checked_at=NOW, facts=facts, error=error)
    return assess_outcome(name, "10.0.0.1", outcome, Thresholds(), NOW)


def package(build: int = 406, size: int = 400_000) -> VdbPackage:
    """An inspected package record (no file behind it)."""
    name = f"Cisco_VDB_Fingerprint_Database-4.5.0-{build}.sh.REL.tar"
    return VdbPackage(
        path=Path("/srv/updates") / name,
        name=name,
        size=size,
        sha256=SHA,
        version="4.5.0",
        build=build,
    )
