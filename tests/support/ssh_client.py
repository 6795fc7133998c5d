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

    async def read_more(self) -> None:
        """Wait for more output and keep it; EOFError when the session has closed."""
        chunk = await self.process.stdout.read(65536)
        if not chunk:
            raise EOFError(f"session closed: {strip_ansi(self.seen)[-500:]!r}")
        self.seen += chunk

    def skip_seen(self) -> None:
        """Treat everything seen so far as matched: ``until`` looks only at what follows."""
        self._mark = len(strip_ansi(self.seen))


_STATUS = re.compile(r"^@@rc=(\d+)$", re.MULTILINE)


class ExpertShell:
    """An interactive PTY session in expert mode that runs commands and reads ``$?``.

    Each command is sent as ``CMD; echo "@@rc=$?"``, the way the remediation runner
    learns exit statuses; every ``Password:`` sudo asks is answered with ``password``.
    """

    def __init__(self, reader: PtyReader, prompt: str, password: str):
        self.reader = reader
        self.prompt = prompt
        self._password = password

    @classmethod
    async def open(
        cls,
        conn: asyncssh.SSHClientConnection,
        password: str,
        *,
        clish: bool = True,
        prompt: str = "admin@firepower:~$ ",
    ) -> ExpertShell:
        """Log in on a PTY and enter expert mode (``clish=False``: already at bash)."""
        process = await conn.create_process(term_type="xterm", term_size=(200, 50))
        reader = PtyReader(process)
        if clish:
            await reader.until("> ")
            reader.send("expert")
        await reader.until(prompt)
        return cls(reader, prompt, password)

    async def run(self, command: str, *, within: float = 3.0) -> tuple[str, int]:
        """Run ``command``; its output (LF line endings, no echo) and exit status."""
        self.reader.send(f'{command}; echo "@@rc=$?"')
        start = len(strip_ansi(self.reader.seen))

        async def read() -> str:
            answered = 0
            while True:
                plain = strip_ansi(self.reader.seen)[start:]
                if plain.endswith(self.prompt):
                    return plain
                if plain.endswith("Password: ") and plain.count("Password: ") > answered:
                    answered += 1
                    self.reader.send(self._password)
                await self.reader.read_more()

        plain = await asyncio.wait_for(read(), within)
        self.reader.skip_seen()
        text = plain.removesuffix(self.prompt).replace("\r\n", "\n")
        text = text.split("\n", 1)[1] if "\n" in text else ""  # drop the echoed line
        statuses = list(_STATUS.finditer(text))
        if not statuses:
            raise AssertionError(f"no exit status after {command!r}: {text!r}")
        last = statuses[-1]
        return text[: last.start()], int(last.group(1))
