"""`fmccert --version`: the package version and the schema revision this build migrates to."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from bot import __version__
from tests.cli.process import ROOT, fmccert

MIGRATIONS = ROOT / "bot" / "storage" / "migrations"
VERSION_LINE = re.compile(r"fmccert (?P<version>\S+) \(schema (?P<schema>[^)\s]+)\)")
_REVISION = re.compile(r"^revision(?:: str)? = ['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision(?:: [^=]+)? = (None|['\"]([^'\"]+)['\"])", re.MULTILINE)


def alembic_head() -> str:
    """The head as Alembic itself sees the migrations folder (no help from bot's code)."""
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert len(heads) == 1, f"the migrations have {len(heads)} heads: {heads}"
    return heads[0]


def head_from_files() -> str:
    """The head read off the revision files alone: the one revision no other one revises."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(text), _DOWN.search(text)
        assert revision is not None, path
        assert down is not None, path
        revisions.add(revision.group(1))
        if down.group(2):
            revised.add(down.group(2))
    tips = revisions - revised
    assert len(tips) == 1, tips
    return tips.pop()


def parse_version(stdout: str) -> tuple[str, str]:
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    match = VERSION_LINE.fullmatch(lines[0])
    assert match is not None, stdout
    return match["version"], match["schema"]


async def test_version_prints_package_version_and_alembic_head(tmp_path: Path) -> None:
    """`python -m bot --version`: one line on stdout, exit 0, no config needed."""
    missing = tmp_path / "no-such-config.yaml"
    result = await fmccert("--version", env={"FMCCERT_CONFIG": str(missing)})
    assert result.status == 0, result
    assert result.stderr == ""
    version, schema = parse_version(result.stdout)
    assert version == __version__
    assert schema == alembic_head()
    assert schema == head_from_files()
    # The file of that revision is shipped, e.g. versions/0006_one_incident_per_fmc.py.
    assert list((MIGRATIONS / "versions").glob(f"{schema}_*.py")), schema


def test_installed_console_script_says_the_same() -> None:
    """The installed `fmccert` script prints the same line as `python -m bot`."""
    script = Path(sys.executable).parent / "fmccert"
    if not script.exists():
        found = shutil.which("fmccert")
        if found is None:
            pytest.fail("the fmccert console script is not installed (pip install -e .)")
        script = Path(found)
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert parse_version(result.stdout) == (__version__, alembic_head())


async def test_version_does_not_change_other_usage() -> None:
    """A subcommand is still required without --version: usage error, exit 3."""
    result = await fmccert()
    assert result.status == 3
    assert "the following arguments are required: COMMAND" in result.stderr
    assert result.stdout == ""
