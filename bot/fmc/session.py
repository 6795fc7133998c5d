"""One interactive PTY session with an FMC: type a line, read until the next prompt."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncssh

from bot.errors import ProbeConfigError, ProtocolError, StepTimeoutError
from bot.fmc.prompts import (
    PROMPT_WINDOW,
    PromptKind,
    SudoOutcome,
    TerminalDecoder,
    match_prompt,
    sudo_failure,
)
from bot.secrets import Secret, redact

logger = logging.getLogger("bot.fmc")

READ_SIZE = 65536
# A real FMC answers each of our commands in a few KiB; this much text without a prompt
# means the peer is not an FMC shell (or is flooding us), so stop reading.
MAX_OUTPUT_WITHOUT_PROMPT = 256 * 1024
# Never typed: the FMC's line editor acts on them (Ctrl-U erases the line typed so far,
# Tab completes, a newline runs what came before), so no quoting can make them safe.
_UNTYPABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Keep the transcript bounded: a flooding host must not grow memory per probe.
MAX_TRANSCRIPT = 64 * 1024


class FmcShell:
    """Drives an interactive FMC shell over an asyncssh process opened with a PTY.

    Everything read (cleaned) and written is kept in a transcript; ``transcript``
    returns it with every secret replaced by a mask.
    """

    def __init__(
        self,
        process: asyncssh.SSHClientProcess[bytes],
        *,
        fmc: str,
        step_timeout: float,
        secrets: Sequence[Secret],
    ) -> None:
        self._process = process
        self._fmc = fmc
        self._step_timeout = step_timeout
        self._secrets = tuple(secrets)
        self._decoder = TerminalDecoder()
        self._segment: list[str] = []  # text received since the last write
        self._segment_len = 0
        self._tail = ""  # last PROMPT_WINDOW characters of the segment, for prompt checks
        self._transcript: list[str] = []
        self._transcript_len = 0
        self._transcript_cut = False

    @property
    def fmc(self) -> str:
        """The FMC's name, for log lines."""
        return self._fmc

    @property
    def transcript(self) -> str:
        """Everything read and written so far, secrets masked."""
        text = "".join(self._transcript)
        if self._transcript_cut:
            text += "\n[transcript truncated]\n"
        return redact(text, self._secrets)

    def _record(self, text: str) -> None:
        if self._transcript_len >= MAX_TRANSCRIPT:
            self._transcript_cut = True
            return
        self._transcript.append(text)
        self._transcript_len += len(text)

    def send(self, line: str, *, shown: str | None = None) -> None:
        """Type ``line`` and Enter; ``shown`` replaces it in the transcript (for passwords).

        ProbeConfigError, and nothing typed, when ``line`` holds a control character.
        """
        if _UNTYPABLE.search(line):
            # Config validation refuses these; this guards every other way in. The line
            # itself is not quoted: it may be the password.
            raise ProbeConfigError(
                "refusing to type a line holding a control character into the FMC's shell"
            )
        self._record(f"\n[sent] {shown if shown is not None else line}\n")
        self._segment, self._segment_len, self._tail = [], 0, ""
        try:
            self._process.stdin.write((line + "\n").encode())
        except (OSError, asyncssh.Error):
            # The next read reports the lost connection with the step's name.
            logger.debug("fmc %s: write failed, connection is closing", self._fmc)

    def interrupt(self) -> None:
        """Send Ctrl-C, e.g. to abandon a sudo password prompt."""
        self._record("\n[sent] ^C\n")
        try:
            self._process.stdin.write(b"\x03")
        except (OSError, asyncssh.Error):
            logger.debug("fmc %s: interrupt not sent, connection is closing", self._fmc)

    async def _read(self, step: str) -> str:
        try:
            data = await self._process.stdout.read(READ_SIZE)
        except (OSError, asyncssh.Error) as exc:
            raise ProtocolError(
                f"connection lost during {step} ({type(exc).__name__})", step=step
            ) from None
        if not data:
            raise ProtocolError(f"the FMC closed the session during {step}", step=step)
        text = self._decoder.feed(data)
        self._record(text)
        return text

    async def wait_for_prompt(
        self,
        step: str,
        *,
        watch_sudo: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 (expiry is a StepTimeoutError naming step)
    ) -> PromptResult:
        """Read until the received text ends with a prompt (or, if asked, a sudo refusal).

        ``timeout`` replaces the session's step timeout for this one wait.
        """
        seconds = self._step_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(seconds):
                while True:
                    text = await self._read(step)
                    if not text:
                        continue
                    self._segment.append(text)
                    self._segment_len += len(text)
                    self._tail = (self._tail + text)[-PROMPT_WINDOW:]
                    prompt = match_prompt(self._tail)
                    failure = sudo_failure(self._tail) if watch_sudo else None
                    if prompt is not None or failure is not None:
                        received = "".join(self._segment)
                        self._segment, self._segment_len, self._tail = [], 0, ""
                        logger.debug(
                            "fmc %s: %s: %s after %d chars",
                            self._fmc,
                            step,
                            prompt.value if prompt else "sudo refusal",
                            len(received),
                        )
                        return PromptResult(received, prompt, failure)
                    if self._segment_len > MAX_OUTPUT_WITHOUT_PROMPT:
                        raise ProtocolError(
                            f"no prompt after {MAX_OUTPUT_WITHOUT_PROMPT // 1024} KiB of output"
                            f" during {step}",
                            step=step,
                        )
        except TimeoutError:
            raise StepTimeoutError(
                f"{step} got no prompt within {seconds:g} s", step=step
            ) from None

    async def run(
        self,
        command: str,
        step: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (expiry is a StepTimeoutError naming step)
    ) -> PromptResult:
        """Type ``command`` and read until the next prompt."""
        self.send(command)
        return await self.wait_for_prompt(step, timeout=timeout)

    async def wait_closed(self, seconds: float) -> bool:
        """Read (into the transcript) until the FMC closes the session; False on timeout."""
        try:
            async with asyncio.timeout(seconds):
                while await self._process.stdout.read(READ_SIZE):
                    pass
        except TimeoutError:
            return False
        except (OSError, asyncssh.Error):
            pass
        return True


@dataclass(frozen=True, slots=True)
class PromptResult:
    """Text received up to a prompt, and the prompt (None when a sudo refusal stopped it)."""

    text: str = field(repr=False)
    prompt: PromptKind | None
    sudo: SudoOutcome | None = None
