"""Run `python -m bot` as a real process, as a user or a script would."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class Completed:
    """A finished fmccert process."""

    status: int
    stdout: str
    stderr: str


async def start_fmccert(
    *args: str, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """Start `python -m bot ARGS` with piped output (for tests that stop it midway)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        cwd=ROOT, env={**os.environ, **(env or {})},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def fmccert(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> Completed:
    """Run `python -m bot ARGS` to completion and collect its output."""
    process = await start_fmccert(*args, env=env)
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=120)
    assert process.returncode is not None
    return Completed(process.returncode, out.decode(), err.decode())


def assert_one_line_error(result: Completed, *fragments: str) -> None:
    """Exit status 3, one line on stderr holding every fragment, no traceback."""
    assert result.status == 3, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
