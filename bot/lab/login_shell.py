"""Login shell for a real sshd: the emulated FMC session on the kernel PTY.

Standard library only, importing nothing from ``bot``: ``bot.lab.sshd_shell`` copies
this file and ``shell.py`` into one directory and points a user's login shell at a
wrapper that runs ``/usr/bin/python3 login_shell.py CONFIG.json [-c COMMAND]``. With no
arguments sshd wants an interactive login; with ``-c`` it is an exec request.

The kernel PTY does the terminal work here: echo (turned off with ``termios`` while a
password is read), line editing and ``\\n`` to ``\\r\\n`` translation.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import sys
import termios
import threading
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

_SHELL_MODULE = "fmc_lab_shell"


def _load_shell() -> ModuleType:
    """Import ``shell.py`` from this file's directory (works as a copy and in the package)."""
    path = Path(__file__).with_name("shell.py")
    spec = importlib.util.spec_from_file_location(_SHELL_MODULE, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the FMC shell from {path}")
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while building the class.
    sys.modules[_SHELL_MODULE] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from bot.lab import shell as fmc_shell
else:
    fmc_shell = _load_shell()


class TtyTerminal:
    """A :class:`~bot.lab.shell.Terminal` over file descriptors 0 and 1 (a PTY or pipes)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, stdin_fd: int = 0, stdout_fd: int = 1):
        self._loop = loop
        self._in = stdin_fd
        self._out = stdout_fd
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._closed = False
        # A daemon thread reads ahead, so a blocked read never keeps the process alive.
        threading.Thread(target=self._read_forever, daemon=True).start()

    def _read_forever(self) -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(self._in, 4096)
            except OSError:  # EIO once the PTY's other side is gone
                chunk = b""
            if not chunk:
                self._deliver(None)
                return
            pending += chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                self._deliver(line.decode("utf-8", "replace"))

    def _deliver(self, line: str | None) -> None:
        # The loop may already be closed when the session ended first: drop the line.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line)

    async def read_line(self, *, echo: bool = True, prompt: str = "") -> str | None:
        """The next line typed; echo is off (before ``prompt`` shows) while ``echo`` is False."""
        if self._closed:
            return None
        saved = self._echo_off() if not echo else None
        try:
            if prompt:
                self.write(prompt)
            line = await self._lines.get()
        finally:
            if saved is not None:
                with contextlib.suppress(termios.error):
                    termios.tcsetattr(self._in, termios.TCSANOW, saved)
        if line is None:
            self._closed = True
        return line

    def _echo_off(self) -> list[Any] | None:
        if not os.isatty(self._in):
            return None
        try:
            saved: list[Any] = termios.tcgetattr(self._in)
            quiet = termios.tcgetattr(self._in)
            quiet[3] &= ~termios.ECHO
            termios.tcsetattr(self._in, termios.TCSANOW, quiet)
        except termios.error:
            return None
        return saved

    def write(self, text: str) -> None:
        """Write everything (blocking: a full PTY slows the writer like a real shell)."""
        if self._closed:
            return
        data = text.encode("utf-8")
        try:
            while data:
                written = os.write(self._out, data)
                data = data[written:]
        except OSError:
            self._closed = True


async def _main(config: fmc_shell.FmcShellConfig, args: list[str]) -> int:
    terminal = TtyTerminal(asyncio.get_running_loop())
    if args[:1] == ["-c"]:
        command = args[1] if len(args) > 1 else ""
        output, status = await fmc_shell.run_exec(config, command, read_stdin=terminal.read_line)
        terminal.write(output)
        return int(status)
    return int(await fmc_shell.run_interactive(config, terminal))


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``login_shell.py CONFIG.json [-c COMMAND]``; the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stderr.write("usage: login_shell.py CONFIG.json [-c COMMAND]\n")
        return 2
    config = fmc_shell.FmcShellConfig.from_json(Path(args[0]).read_text(encoding="utf-8"))
    return asyncio.run(_main(config, args[1:]))


if __name__ == "__main__":
    sys.exit(main())
