"""Run emulated FMCs as asyncssh servers on loopback, one port and host key each.

Each :class:`LabHost` is a real SSH server (its own ed25519 host key, password auth)
whose PTY sessions run :func:`bot.lab.shell.run_interactive` and whose exec requests run
:func:`bot.lab.shell.run_exec`. asyncssh's line editor plays the PTY: it echoes input
(off while sudo reads a password) and turns ``\\n`` into ``\\r\\n``. All hosts live in
the calling process and event loop, so 500 of them start in a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncssh
import yaml

from bot.errors import LabError
from bot.lab.appliance import build_shell_config
from bot.lab.scenarios import Scenario
from bot.lab.shell import FmcShellConfig, run_exec, run_interactive

LAB_USERNAME = "admin"
PASSWORD_FILE = "lab.password"  # noqa: S105 (a file name, not a password)
KNOWN_HOSTS_FILE = "known_hosts"
_CLOSE_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class LabHost:
    """One emulated FMC: where it listens and which scenario it plays."""

    name: str  # f"{prefix}-{i:02d}", e.g. lab-fmc-01 (3 digits when count >= 100)
    host: str
    port: int
    scenario: Scenario
    known_hosts_line: str  # "[127.0.0.1]:PORT ssh-ed25519 AAAA..."


class _ProcessTerminal:
    """A shell Terminal over an asyncssh server process (PTY or exec channel)."""

    def __init__(self, process: asyncssh.SSHServerProcess[str]):
        self._process = process
        self._closed = False
        self._has_editor = process.get_terminal_type() is not None
        self._swallow_newline = False

    async def read_line(self, *, echo: bool = True) -> str | None:
        """The next input line; the line editor's echo is off while ``echo`` is False."""
        if self._closed:
            return None
        channel: Any = self._process.channel
        if not echo and self._has_editor:
            channel.set_echo(False)
        try:
            while True:
                try:
                    line = await self._process.stdin.readline()
                    break
                except (asyncssh.TerminalSizeChanged, asyncssh.BreakReceived):
                    continue  # window resized or break sent: keep reading
        except (asyncssh.Error, asyncssh.SignalReceived, OSError):
            line = ""
        finally:
            if not echo and self._has_editor:
                with contextlib.suppress(Exception):
                    channel.set_echo(True)
                # The editor ends even an unechoed line with CRLF, where a kernel PTY
                # with echo off prints nothing: drop the newline the shell writes next.
                self._swallow_newline = True
        if not line:
            self._closed = True
            return None
        return line.rstrip("\r\n")

    def write(self, text: str) -> None:
        """Send ``text``; silently dropped once the client has gone."""
        if self._closed:
            return
        if self._swallow_newline:
            self._swallow_newline = False
            text = text.removeprefix("\n")
            if not text:
                return
        try:
            self._process.stdout.write(text)
        except (asyncssh.Error, OSError):
            self._closed = True

    async def drain(self) -> None:
        """Wait until the client has taken most of what was sent (flow control)."""
        try:
            await self._process.stdout.drain()
        except (asyncssh.Error, OSError):
            self._closed = True


def _session_handler(config: FmcShellConfig) -> Any:
    async def handle(process: asyncssh.SSHServerProcess[str]) -> None:
        terminal = _ProcessTerminal(process)
        status = 1
        try:
            if process.command is not None:
                output, status = await run_exec(
                    config, process.command, read_stdin=terminal.read_line
                )
                terminal.write(output)
            else:
                status = await run_interactive(config, terminal)
        finally:
            with contextlib.suppress(Exception):
                process.exit(status)

    return handle


class _LabSSHServer(asyncssh.SSHServer):
    """Password auth for one emulated FMC; remembers its connections for shutdown."""

    def __init__(self, password: str, login_ok: bool, connections: set[Any]):
        self._password = password
        self._login_ok = login_ok
        self._connections = connections
        self._conn: Any = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True  # always require authentication

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return (
            self._login_ok
            and username == LAB_USERNAME
            and secrets.compare_digest(password.encode(), self._password.encode())
        )


def _public_line(key: asyncssh.SSHKey, host: str, port: int) -> str:
    algorithm, blob = key.export_public_key("openssh").decode("ascii").split()[:2]
    return f"[{host}]:{port} {algorithm} {blob}"


def _closed_port(host: str) -> int:
    # Bind to learn a free port, then close it: connecting there is refused.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


class RunningLab:
    """A started lab: its hosts, the shared password, and how to write a config for it."""

    def __init__(
        self,
        hosts: list[LabHost],
        password: str,
        now: datetime,
        servers: list[asyncssh.SSHAcceptor],
        connections: set[Any],
        configs: dict[str, FmcShellConfig],
    ):
        self.hosts = hosts
        self.password = password
        self.now = now
        self._servers = servers
        self._connections = connections
        self._configs = configs

    def host(self, name: str) -> LabHost:
        """The host called ``name``; LabError when there is none."""
        for lab_host in self.hosts:
            if lab_host.name == name:
                return lab_host
        raise LabError(f"no lab host called {name!r}")

    def shell_config(self, name: str) -> FmcShellConfig:
        """The session config (files, certificate, behaviour) the host ``name`` serves."""
        self.host(name)
        return self._configs[name]

    def expected_findings(self) -> dict[str, Scenario]:
        """Each host's name with the scenario whose ``expect_*`` fields a check must match."""
        return {lab_host.name: lab_host.scenario for lab_host in self.hosts}

    def write_config(
        self,
        path: Path,
        *,
        connect_timeout: float = 5,
        command_timeout: float = 5,
        host_timeout: float = 30,
        concurrency: int = 50,
    ) -> None:
        """Write the fmccert YAML config, ``known_hosts`` and ``lab.password`` next to it."""
        directory = path.parent
        directory.mkdir(parents=True, exist_ok=True)
        trusted = [h.known_hosts_line for h in self.hosts if h.scenario.host_key_trusted]
        (directory / KNOWN_HOSTS_FILE).write_text("".join(f"{line}\n" for line in trusted))
        password_path = directory / PASSWORD_FILE
        with contextlib.suppress(FileNotFoundError):
            password_path.unlink()  # os.open's mode only applies to a new file
        fd = os.open(password_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self.password + "\n")
        document = {
            "defaults": {
                "username": LAB_USERNAME,
                "password_file": PASSWORD_FILE,
                "known_hosts": KNOWN_HOSTS_FILE,
            },
            "thresholds": {"warning_days": 30, "critical_days": 7},
            "ssh": {
                "concurrency": concurrency,
                "connect_timeout": connect_timeout,
                "command_timeout": command_timeout,
                "host_timeout": host_timeout,
            },
            "fmcs": [
                {
                    "name": h.name,
                    "host": h.host,
                    "port": h.port,
                    "tags": ["lab", h.scenario.name],
                }
                for h in self.hosts
            ],
        }
        text = yaml.safe_dump(document, sort_keys=False, default_flow_style=None)
        path.write_text("# written by `fmccert lab`\n" + text, encoding="utf-8")

    async def close(self) -> None:
        """Stop listening and drop every open session."""
        for server in self._servers:
            server.close()
        for conn in list(self._connections):
            conn.close()
        waits = [server.wait_closed() for server in self._servers]
        waits += [conn.wait_closed() for conn in list(self._connections)]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), _CLOSE_TIMEOUT)
        self._servers.clear()

    async def __aenter__(self) -> RunningLab:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


async def start_lab(
    scenarios: Sequence[Scenario],
    *,
    password: str | None = None,
    host: str = "127.0.0.1",
    command_delay: float = 0.0,
    now: datetime,
    name_prefix: str = "lab-fmc",
) -> RunningLab:
    """Start one SSH server per scenario on ``host``; certificates are dated from ``now``."""
    if not scenarios:
        raise LabError("the lab needs at least one scenario")
    if command_delay < 0:
        raise LabError(f"command delay must not be negative, not {command_delay}")
    if now.tzinfo is None:
        raise LabError("the lab clock `now` must be timezone-aware (UTC)")
    password = password if password is not None else secrets.token_urlsafe(18)
    if not password:
        raise LabError("the lab password must not be empty")
    width = 3 if len(scenarios) >= 100 else 2
    names = [f"{name_prefix}-{i:0{width}d}" for i in range(1, len(scenarios) + 1)]
    configs = {
        name: build_shell_config(
            scenario,
            password=password,
            now=now,
            common_name=f"{name}-prod-01",
            command_delay=command_delay,
        )
        for name, scenario in zip(names, scenarios, strict=True)
    }
    connections: set[Any] = set()
    servers: list[asyncssh.SSHAcceptor] = []

    async def start_one(name: str, scenario: Scenario) -> LabHost:
        key = asyncssh.generate_private_key("ssh-ed25519")
        if not scenario.listening:
            port = _closed_port(host)
            return LabHost(name, host, port, scenario, _public_line(key, host, port))
        try:
            server = await asyncssh.create_server(
                lambda: _LabSSHServer(password, scenario.login_ok, connections),
                host,
                0,
                server_host_keys=[key],
                process_factory=_session_handler(configs[name]),
                encoding="utf-8",
                line_editor=True,
                allow_scp=False,
                agent_forwarding=False,
                x11_forwarding=False,
            )
        except OSError as exc:
            raise LabError(f"could not start lab host {name} on {host}: {exc}") from None
        servers.append(server)
        port = server.get_port()
        return LabHost(name, host, port, scenario, _public_line(key, host, port))

    results = await asyncio.gather(
        *(start_one(name, scenario) for name, scenario in zip(names, scenarios, strict=True)),
        return_exceptions=True,
    )
    hosts = [result for result in results if isinstance(result, LabHost)]
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:
        # Never leave half a lab listening: stop what started, then report the first failure.
        await RunningLab([], password, now, servers, connections, configs).close()
        raise failures[0]
    return RunningLab(hosts, password, now, servers, connections, configs)
