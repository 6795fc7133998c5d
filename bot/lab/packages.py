"""Fake VDB update packages: real tar files named like Cisco's, generated on demand.

The lab's ``install_update.pl`` accepts a ``Cisco_VDB_Fingerprint_Database-<x.y.z>-<build>
.sh.REL.tar`` that is a complete tar archive; it never runs what is inside. The content is
pseudo-random bytes seeded by the version and build, so the same arguments give the same
bytes (and the same SHA-256) on every run, and nothing needs to be committed.
"""

from __future__ import annotations

import io
import random
import tarfile
from pathlib import Path

from bot.errors import LabError
from bot.lab.shell import VDB_PACKAGE

DEFAULT_VDB_VERSION = "4.5.0"
DEFAULT_VDB_BUILD = 406
DEFAULT_PACKAGE_SIZE = 384 * 1024
"""Bytes of the package ``write_vdb_package`` writes by default (384 KiB)."""
_MTIME = 1_750_204_800  # 2025-06-18 00:00 UTC, the field notice's date: fixed for determinism
_SCRIPT = """#!/bin/sh
# Cisco VDB Fingerprint Database {version} build {build} (fmccert lab package: not real)
echo "This is an fmccert lab package; it installs nothing." >&2
exit 0
"""


def vdb_package_name(version: str = DEFAULT_VDB_VERSION, build: int = DEFAULT_VDB_BUILD) -> str:
    """The file name of VDB ``version``/``build``: ``Cisco_VDB_Fingerprint_Database-...tar``."""
    name = f"Cisco_VDB_Fingerprint_Database-{version}-{build}.sh.REL.tar"
    if VDB_PACKAGE.fullmatch(name) is None:
        raise LabError(f"not a VDB version and build: {version!r}, {build!r}")
    return name


def _member(archive: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = _MTIME
    info.mode = mode
    info.uname = info.gname = "root"
    archive.addfile(info, io.BytesIO(data))


def vdb_package_bytes(
    *, version: str = DEFAULT_VDB_VERSION, build: int = DEFAULT_VDB_BUILD, size: int
) -> bytes:
    """A tar archive of about ``size`` bytes (rounded up to tar's 10 KiB records)."""
    if size < 0:
        raise LabError(f"package size must not be negative, not {size}")
    script = _SCRIPT.format(version=version, build=build).encode()
    # Headers, the script's block, the end marker: about 4 KiB besides the payload.
    payload = random.Random(f"vdb-{version}-{build}").randbytes(max(1, size - 4096))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        _member(archive, f"Cisco_VDB_Fingerprint_Database-{version}-{build}.sh", script, 0o755)
        _member(archive, "vdb/fingerprints.dat", payload, 0o644)
    return buffer.getvalue()


def write_vdb_package(
    path: Path,
    *,
    version: str = DEFAULT_VDB_VERSION,
    build: int = DEFAULT_VDB_BUILD,
    size: int = DEFAULT_PACKAGE_SIZE,
) -> Path:
    """Write a fake VDB package; ``path`` is a directory (file named for the VDB) or a file.

    Returns the file written. The same arguments always give the same bytes.
    """
    target = path / vdb_package_name(version, build) if path.is_dir() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(vdb_package_bytes(version=version, build=build, size=size))
    return target
