"""Run `python -m bot` as a real process, as a user or a script would."""

from __future__ import annotations

import asyncio
import os
import signal
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


def _default_sigint() -> None:
    """In the child: Ctrl-C acts as on a terminal, even if the test runner ignores SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def start_fmccert(
    *args: str, env: dict[str, str] | None = None, stdout: int = asyncio.subprocess.PIPE
) -> asyncio.subprocess.Process:
    """Start `python -m bot ARGS` with piped output (for tests that stop it midway)."""
    # A runner started in the background by a script ignores SIGINT, and so would the child.
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        cwd=ROOT, env={**os.environ, **(env or {})},
        stdin=asyncio.subprocess.PIPE, stdout=stdout, stderr=asyncio.subprocess.PIPE,
        preexec_fn=_default_sigint if ignored else None,
    )  # fmt: skip


async def fmccert(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> Completed:
    """Run `python -m bot ARGS` to completion and collect its output."""
    process = await start_fmccert(*args, env=env)
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=120)
    assert process.returncode is not None
    return Completed(process.returncode, out.decode(), err.decode())


async def fmccert_into_closed_pipe(*args: str) -> Completed:
    """Run `python -m bot ARGS` writing into a pipe whose reader has already gone away.

    As in `fmccert scan --json | head -1` once head has read its line, but certain: every
    write fails, whatever the size of the output. ``stdout`` is always empty.
    """
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        process = await start_fmccert(*args, stdout=write_end)
    finally:
        os.close(write_end)
    _, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return Completed(process.returncode, "", err.decode())


def assert_one_line_error(result: Completed, *fragments: str) -> None:
    """Exit status 3, one line on stderr holding every fragment, no traceback."""
    assert result.status == 3, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
