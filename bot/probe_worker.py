"""Probe FMCs in a child process, so the Slack bot's event loop only serves Slack.

A fleet scan keeps up to ``ssh.concurrency`` SSH sessions busy: their packets, ciphers and
prompts would share the bot's one event loop with the acknowledgements Slack waits for.
:class:`ProcessProber` is a :class:`~bot.scanning.Prober` that hands each probe to one
long-lived child (``python -m bot.probe_worker``) and awaits its outcome; everything else
of a scan (per-host deadlines, progress, assessment, recording) stays in the bot.

The two talk over the child's stdin and stdout, one message a line: a pickled
``(id, target, timeouts)`` to probe, ``(id, None, None)`` to cancel that probe, and back
``(id, outcome)``, or ``(id, None)`` when the probe raised. Pickle is safe here: both
ends are this program, over a private pipe.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import pickle
import sys
from datetime import UTC, datetime
from itertools import count
from typing import Any

from bot.core.findings import ProbeOutcome
from bot.fmc.target import ProbeTarget, ProbeTimeouts
from bot.logs import bound, configure_logging, register_secret
from bot.probing import probe_device
from bot.scanning import Clock

log = logging.getLogger("bot.probe_worker")

LINE_LIMIT = 64 * 1024 * 1024
"""Longest message line: an outcome carries the probe's (redacted) transcript."""


class WorkerGone(RuntimeError):
    """The probe worker exited before answering: a bug or a kill, not an FMC problem."""


def _encode(message: tuple[Any, ...]) -> bytes:
    return base64.b64encode(pickle.dumps(message)) + b"\n"


def _decode(line: bytes) -> tuple[Any, ...]:
    message = pickle.loads(base64.b64decode(line))  # noqa: S301 - our own child, own pipe
    assert isinstance(message, tuple)
    return message


class ProcessProber:
    """Probes in one child process, started on first use; close() stops it."""

    def __init__(self, *, verbose: bool = False) -> None:
        self.verbose = verbose
        self._ids = count(1)
        self._waiting: dict[int, asyncio.Future[ProbeOutcome]] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    async def __call__(
        self, target: ProbeTarget, timeouts: ProbeTimeouts, *, clock: Clock
    ) -> ProbeOutcome:
        """Probe ``target`` in the worker; the worker reads the time with its own UTC clock."""
        process = await self._running()
        assert process.stdin is not None
        probe_id = next(self._ids)
        answer: asyncio.Future[ProbeOutcome] = asyncio.get_running_loop().create_future()
        self._waiting[probe_id] = answer
        try:
            process.stdin.write(_encode((probe_id, target, timeouts)))
            return await answer
        except asyncio.CancelledError:  # the scan's deadline for this host: stop it there too
            with contextlib.suppress(OSError, RuntimeError):
                process.stdin.write(_encode((probe_id, None, None)))
            raise
        finally:
            self._waiting.pop(probe_id, None)

    async def _running(self) -> asyncio.subprocess.Process:
        async with self._starting:
            if self._process is None or self._process.returncode is not None:
                argv = [sys.executable, "-m", "bot.probe_worker"]
                if self.verbose:
                    argv.append("--verbose")
                self._process = await asyncio.create_subprocess_exec(
                    *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    limit=LINE_LIMIT,
                )  # fmt: skip
                self._reader = asyncio.create_task(self._read(self._process), name="probe-worker")
            return self._process

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            probe_id, outcome = _decode(line)
            answer = self._waiting.get(probe_id)
            if answer is None or answer.done():
                continue
            if outcome is None:
                answer.set_exception(RuntimeError("the probe failed in the worker (see its log)"))
            else:
                answer.set_result(outcome)
        await process.wait()
        log.warning("the probe worker exited (%s)", process.returncode)
        for answer in self._waiting.values():
            if not answer.done():
                answer.set_exception(WorkerGone(f"probe worker exited ({process.returncode})"))

    async def close(self) -> None:
        """Stop the worker: its running probes end with it."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader is not None:
            await self._reader


async def serve(reader: asyncio.StreamReader, write: Any) -> None:
    """The worker's loop: probe what arrives, concurrently, answer each when done."""
    running: dict[int, asyncio.Task[None]] = {}

    async def probe(probe_id: int, target: ProbeTarget, timeouts: ProbeTimeouts) -> None:
        register_secret(target.password)
        if target.rest is not None:
            register_secret(target.rest.password)
        outcome: ProbeOutcome | None = None
        with bound(fmc=target.name):
            try:
                outcome = await probe_device(target, timeouts, clock=lambda: datetime.now(UTC))
            except Exception:  # a bug: the bot records it as this FMC's internal error
                log.exception("internal error while checking %s", target.name)
        write(_encode((probe_id, outcome)))

    def finished(task: asyncio.Task[None]) -> None:
        running.pop(int(task.get_name()), None)

    while line := await reader.readline():
        probe_id, target, timeouts = _decode(line)
        if target is None:
            task = running.get(probe_id)
            if task is not None:
                task.cancel()
            continue
        task = asyncio.create_task(probe(probe_id, target, timeouts), name=str(probe_id))
        running[probe_id] = task
        task.add_done_callback(finished)
    for task in list(running.values()):  # the bot closed the pipe: nobody waits any more
        task.cancel()
    await asyncio.gather(*running.values(), return_exceptions=True)


async def _main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer

    def write(data: bytes) -> None:
        out.write(data)
        out.flush()

    await serve(reader, write)


WORKER_NICENESS = 10
"""How much lower the worker's CPU priority is: on a busy host, Slack's requests come first."""

if __name__ == "__main__":
    configure_logging(verbose="--verbose" in sys.argv[1:], stream=sys.stderr)
    os.nice(WORKER_NICENESS)
    asyncio.run(_main())
