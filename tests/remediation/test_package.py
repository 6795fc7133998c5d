"""Inspecting a VDB package file: build from the name, size and sha256 of the bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bot.errors import RemediationError
from bot.remediation.package import inspect_vdb_package, parse_package_name
from tests.remediation.helpers import PACKAGE_NAME


def test_inspect_reads_build_size_and_digest(tmp_path: Path) -> None:
    """The build and version come from the name; size and sha256 from the bytes."""
    path = tmp_path / PACKAGE_NAME
    data = b"vdb" * 100_000
    path.write_bytes(data)
    package = inspect_vdb_package(path)
    assert (package.version, package.build) == ("4.5.0", 406)
    assert (package.size, package.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert package.name == PACKAGE_NAME


@pytest.mark.parametrize(
    "name",
    [
        "Cisco_VDB_Fingerprint_Database-4.5.0.sh.REL.tar",
        "Cisco_Firepower_GEODB_FMC_Update-2025-06-01-002.sh.REL.tar",
        "vdb-406.tar",
    ],
)
def test_names_that_do_not_parse_are_refused(name: str) -> None:
    """A file name without version and build is not taken for a VDB package."""
    with pytest.raises(RemediationError, match="not a VDB package name"):
        parse_package_name(name)


def test_missing_and_empty_files_are_refused(tmp_path: Path) -> None:
    """A configured package that is missing, a directory or empty is a RemediationError."""
    with pytest.raises(RemediationError, match="does not exist"):
        inspect_vdb_package(tmp_path / PACKAGE_NAME)
    (tmp_path / PACKAGE_NAME).mkdir()
    with pytest.raises(RemediationError, match="is a directory"):
        inspect_vdb_package(tmp_path / PACKAGE_NAME)
    empty = tmp_path / "x" / PACKAGE_NAME
    empty.parent.mkdir()
    empty.write_bytes(b"")
    with pytest.raises(RemediationError, match="is empty"):
        inspect_vdb_package(empty)
