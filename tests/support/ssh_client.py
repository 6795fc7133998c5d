"""Small helpers for tests that talk to emulated FMCs with a raw asyncssh client."""

from __future__ import annotations

import asyncio
import re

import asyncssh

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """``text`` without ANSI CSI escapes (colours, bracketed-paste toggles)."""
    return _ANSI.sub("", text)


async def connect(
    host: str, port: int, username: str, password: str, known_hosts: str
) -> asyncssh.SSHClientConnection:
    """A password-only asyncssh connection pinned to ``known_hosts`` (no keys, no agent)."""
    return await asyncio.wait_for(
        asyncssh.connect(
            host,
            port=port,
            username=username,
            password=password,
            known_hosts=known_hosts,
            client_keys=None,
            agent_path=None,
            preferred_auth="password",
        ),
        3.0,
    )


class PtyReader:
    """Reads a PTY session's output until a marker, keeping everything seen."""

    def __init__(self, process: asyncssh.SSHClientProcess[str]):
        self.process = process
        self.seen = ""
        self._mark = 0

    async def until(self, needle: str, within: float = 3.0) -> str:
        """Read until ``needle`` shows (ANSI stripped) after the last match; that text."""

        async def read() -> str:
            while True:
                plain = strip_ansi(self.seen)
                found = plain.find(needle, self._mark)
                if found >= 0:
                    start, self._mark = self._mark, found + len(needle)
                    return plain[start : self._mark]
                chunk = await self.process.stdout.read(65536)
                if not chunk:
                    raise EOFError(f"session closed before {needle!r}: {plain[-500:]!r}")
                self.seen += chunk

        return await asyncio.wait_for(read(), within)

    def send(self, line: str) -> None:
        """Type ``line`` and Enter."""
        self.process.stdin.write(line + "\n")
