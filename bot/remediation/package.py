"""Inspect a VDB package file on this machine: name, build, size and sha256 (file I/O)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from bot.errors import RemediationError
from bot.remediation.plan import VdbPackage

# Cisco_VDB_Fingerprint_Database-4.5.0-406.sh.REL.tar
_PACKAGE_NAME = re.compile(
    r"^Cisco_VDB_Fingerprint_Database-(?P<version>\d+(?:\.\d+)+)-(?P<build>\d+)\.sh\.REL\.tar$"
)
_CHUNK = 1024 * 1024


def parse_package_name(name: str) -> tuple[str, int]:
    """VDB version and build from a package file name; RemediationError if it does not parse."""
    match = _PACKAGE_NAME.match(name)
    if match is None:
        raise RemediationError(
            f"{name!r} is not a VDB package name "
            "(expected Cisco_VDB_Fingerprint_Database-<version>-<build>.sh.REL.tar)"
        )
    return match.group("version"), int(match.group("build"))


def inspect_vdb_package(path: Path) -> VdbPackage:
    """Read the package at ``path`` once: its build (from the name), size and sha256."""
    version, build = parse_package_name(path.name)
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        raise RemediationError(
            f"the VDB package {path} does not exist (remediation.vdb_package)"
        ) from None
    except IsADirectoryError:
        raise RemediationError(f"the VDB package {path} is a directory, not a file") from None
    except OSError as exc:
        raise RemediationError(
            f"cannot read the VDB package {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    if size == 0:
        raise RemediationError(f"the VDB package {path} is empty")
    return VdbPackage(
        path=path,
        name=path.name,
        size=size,
        sha256=digest.hexdigest(),
        version=version,
        build=build,
    )
