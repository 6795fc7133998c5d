"""An in-memory :class:`bot.lab.shell.Terminal` to drive the FMC shell without SSH."""

from __future__ import annotations

import asyncio


class MemoryTerminal:
    """Feeds typed lines to the shell and records what it shows, echoing like a PTY."""

    def __init__(self) -> None:
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._changed = asyncio.Event()
        self.output = ""
        self.echo_flags: list[bool] = []  # the echo setting of every read, in order
        self._mark = 0

    async def read_line(self, *, echo: bool = True, prompt: str = "") -> str | None:
        """The next line sent by the test; echoed into the output unless ``echo`` is off."""
        self.echo_flags.append(echo)
        if prompt:
            self.write(prompt)
        line = await self._lines.get()
        if line is not None and echo:
            self.write(line + "\n")
        return line

    def write(self, text: str) -> None:
        """Record shell output."""
        self.output += text
        self._changed.set()

    def send(self, line: str) -> None:
        """Type ``line`` and Enter."""
        self._lines.put_nowait(line)

    def hang_up(self) -> None:
        """End input, as when the SSH client disconnects."""
        self._lines.put_nowait(None)

    async def expect(self, needle: str, within: float = 2.0) -> str:
        """Wait until ``needle`` appears after the last match; the text up to its end."""

        async def wait() -> str:
            while True:
                found = self.output.find(needle, self._mark)
                if found >= 0:
                    start, self._mark = self._mark, found + len(needle)
                    return self.output[start : self._mark]
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(wait(), within)
