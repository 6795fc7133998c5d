"""Run emulated FMCs as asyncssh servers on loopback, one port and host key each.

Each :class:`LabHost` is a real SSH server (its own ed25519 host key, password auth)
whose PTY sessions run :func:`bot.lab.shell.run_interactive` and whose exec requests run
:func:`bot.lab.shell.run_exec`. asyncssh's line editor plays the PTY: it echoes input
(off while sudo reads a password) and turns ``\\n`` into ``\\r\\n``. All hosts live in
the calling process and event loop, so 500 of them start in a few seconds.

All sessions of one host share an :class:`~bot.lab.shell.FmcHost`, so an update installed
in one session shows in the next connection. Each host also serves SFTP on the same SSH
connection: the client sees a tree holding only ``/var/sf/updates`` (the one writable
place), backed by a real per-host directory under the lab's temp dir that the shell's
``ls``, ``sha256sum``, ``df`` and ``install_update.pl`` read too. ``close()`` deletes it.

``stop_host`` takes one host off the network (new connections are refused, open ones
dropped) and ``start_host`` brings it back on the same port with the same host key and
state, so a check sees an FMC go unreachable and recover.

With ``rest=True`` each FMC also serves its REST API over HTTPS (:mod:`bot.lab.rest`, a
self-signed certificate per host from :mod:`bot.lab.tls`) on ``LabHost.rest_port``, from
the same state; ``stop_host``/``start_host`` take it down and up with the SSH side.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncssh
import yaml

from bot.errors import LabError
from bot.fmc.target import DEFAULT_CERT_PATH
from bot.lab import editor_cache
from bot.lab.appliance import build_shell_config, vdb_install_hook
from bot.lab.packages import DEFAULT_PACKAGE_SIZE, vdb_package_name, write_vdb_package
from bot.lab.rest import REST_USERNAME, LabRestHost
from bot.lab.scenarios import Scenario
from bot.lab.shell import UPDATES_DIR, FmcHost, FmcShellConfig, run_exec, run_interactive
from bot.lab.tls import make_tls_identity

LAB_USERNAME = "admin"
PASSWORD_FILE = "lab.password"  # noqa: S105 (a file name, not a password)
KNOWN_HOSTS_FILE = "known_hosts"
REST_CA_FILE = "lab-rest-ca.pem"
"""The bundle of every lab host's self-signed REST certificate ``write_config`` writes."""
ACCESS_MODES = ("ssh", "rest", "both")
_CLOSE_TIMEOUT = 2.0
UPLOAD_CUT_BYTES = DEFAULT_PACKAGE_SIZE // 2
"""An ``upload_cut`` host drops the connection once one SFTP file holds this many bytes."""
REMEDIATION_SETTINGS = {"vdb_install_timeout_minutes": 2, "vdb_poll_interval_seconds": 0.5}
"""The ``remediation:`` settings ``write_config`` writes besides the package name."""


@dataclass(frozen=True, slots=True)
class LabHost:
    """One emulated FMC: where it listens and which scenario it plays."""

    name: str  # f"{prefix}-{i:02d}", e.g. lab-fmc-01 (3 digits when count >= 100)
    host: str
    port: int
    scenario: Scenario
    known_hosts_line: str  # "[127.0.0.1]:PORT ssh-ed25519 AAAA..."
    rest_port: int | None = None  # the REST API's HTTPS port (lab started with rest=True, FMCs)


class _ProcessTerminal:
    """A shell Terminal over an asyncssh server process (PTY or exec channel)."""

    def __init__(self, process: asyncssh.SSHServerProcess[str]):
        self._process = process
        self._closed = False
        self._has_editor = process.get_terminal_type() is not None
        self._swallow_newline = False

    async def read_line(self, *, echo: bool = True, prompt: str = "") -> str | None:
        """The next input line; the line editor's echo is off while ``echo`` is False."""
        if self._closed:
            return None
        channel: Any = self._process.channel
        if not echo and self._has_editor:
            channel.set_echo(False)
        if prompt:
            self.write(prompt)
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


def _session_handler(host: FmcHost) -> Any:
    async def handle(process: asyncssh.SSHServerProcess[str]) -> None:
        terminal = _ProcessTerminal(process)
        status = 1
        try:
            if process.command is not None:
                output, status = await run_exec(
                    host.config, process.command, read_stdin=terminal.read_line, host=host
                )
                terminal.write(output)
            else:
                status = await run_interactive(host.config, terminal, host=host)
        finally:
            with contextlib.suppress(Exception):
                process.exit(status)

    return handle


class _LabSFTPServer(asyncssh.SFTPServer):
    """SFTP chrooted to one host's root: only ``/var/sf/updates`` may change.

    With ``cut_after`` set, the connection is dropped once a file has that many bytes,
    or, for a smaller file, when it is closed after truncating it to half: the upload
    breaks about halfway, whatever the file's size.
    """

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], root: str, cut_after: int | None):
        super().__init__(chan, chroot=root.encode())
        self._cut_after = cut_after
        self._written: dict[int, int] = {}  # id(file) -> bytes written through this server
        self._was_cut = False

    @staticmethod
    def _writable(path: bytes) -> None:
        directory = os.path.dirname(os.path.normpath(os.path.join("/", path.decode())))
        if directory != UPDATES_DIR:
            raise asyncssh.SFTPPermissionDenied(f"only {UPDATES_DIR} is writable")

    def _cut(self) -> None:
        self._was_cut = True
        self.channel.get_connection().abort()
        raise asyncssh.SFTPConnectionLost("upload cut by the lab (upload_cut)")

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> Any:
        """Open a file; writing is allowed in /var/sf/updates only."""
        if pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC):
            self._writable(path)
        return super().open(path, pflags, attrs)

    def write(self, file_obj: object, offset: int, data: bytes) -> Any:
        """Write, or drop the connection once an ``upload_cut`` file is half there."""
        if self._cut_after is not None:
            done = self._written.get(id(file_obj), 0)
            if done + len(data) >= self._cut_after:
                super().write(file_obj, offset, data[: max(0, self._cut_after - done)])
                self._cut()
            self._written[id(file_obj)] = done + len(data)
        return super().write(file_obj, offset, data)

    def close(self, file_obj: object) -> Any:
        """Close; an ``upload_cut`` file that ends before the cut is halved, then cut."""
        written = self._written.pop(id(file_obj), 0)
        if self._cut_after is not None and written and not self._was_cut:
            handle: Any = file_obj
            handle.truncate(written // 2)
            super().close(file_obj)
            self._cut()
        return super().close(file_obj)

    def remove(self, path: bytes) -> Any:
        """Remove a file in /var/sf/updates."""
        self._writable(path)
        return super().remove(path)

    def rename(self, oldpath: bytes, newpath: bytes) -> Any:
        """Rename within /var/sf/updates (refused when ``newpath`` exists)."""
        self._writable(oldpath)
        self._writable(newpath)
        return super().rename(oldpath, newpath)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> Any:
        """Rename within /var/sf/updates, replacing ``newpath``."""
        self._writable(oldpath)
        self._writable(newpath)
        return super().posix_rename(oldpath, newpath)

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> Any:
        """Refused: the lab's FMC has every directory it needs."""
        raise asyncssh.SFTPPermissionDenied("permission denied")

    def rmdir(self, path: bytes) -> Any:
        """Refused."""
        raise asyncssh.SFTPPermissionDenied("permission denied")

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> Any:
        """Change attributes of a file in /var/sf/updates."""
        self._writable(path)
        return super().setstat(path, attrs)

    def symlink(self, oldpath: bytes, newpath: bytes) -> Any:
        """Refused."""
        raise asyncssh.SFTPPermissionDenied("permission denied")

    def link(self, oldpath: bytes, newpath: bytes) -> Any:
        """Refused."""
        raise asyncssh.SFTPPermissionDenied("permission denied")


def _sftp_factory(root: str, cut_after: int | None) -> Any:
    def make(chan: asyncssh.SSHServerChannel[bytes]) -> asyncssh.SFTPServer:
        return _LabSFTPServer(chan, root, cut_after)

    return make


class _LabSSHServer(asyncssh.SSHServer):
    """Password auth for one emulated FMC; remembers its connections for shutdown."""

    def __init__(self, password: str, login_ok: bool, *registries: set[Any]):
        self._password = password
        self._login_ok = login_ok
        # The lab's set (for close) and the host's own set (for stop_host).
        self._registries = registries
        self._conn: Any = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        for registry in self._registries:
            registry.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        for registry in self._registries:
            registry.discard(self._conn)

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


@dataclass(slots=True)
class _HostListener:
    """How to (re)serve one host on a port, and what serves it now."""

    serve: Callable[[int], Awaitable[asyncssh.SSHAcceptor]]
    acceptor: asyncssh.SSHAcceptor | None
    connections: set[Any]


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
        states: dict[str, FmcHost] | None = None,
        workdir: Path | None = None,
        listeners: dict[str, _HostListener] | None = None,
        rest_hosts: dict[str, LabRestHost] | None = None,
    ):
        self.hosts = hosts
        self.password = password
        self.now = now
        self._servers = servers
        self._connections = connections
        self._configs = configs
        self._states = states if states is not None else {}
        self._workdir = workdir
        self._listeners = listeners if listeners is not None else {}
        self._rest = rest_hosts if rest_hosts is not None else {}

    def host(self, name: str) -> LabHost:
        """The host called ``name``; LabError when there is none."""
        for lab_host in self.hosts:
            if lab_host.name == name:
                return lab_host
        raise LabError(f"no lab host called {name!r}")

    def is_serving(self, name: str) -> bool:
        """Whether host ``name`` accepts connections now (not stopped, not a closed port)."""
        listener = self._listeners.get(self.host(name).name)
        return listener is not None and listener.acceptor is not None

    async def stop_host(self, name: str) -> None:
        """Take host ``name`` off the network: refuse new connections and drop open ones.

        Its port, host key and state (files, VDB, installs) are kept for ``start_host``.
        Stopping a stopped host does nothing.
        """
        listener = self._listener(name)
        rest = self._rest.get(name)
        if rest is not None:
            await rest.stop()
        acceptor, listener.acceptor = listener.acceptor, None
        if acceptor is None:
            return
        with contextlib.suppress(ValueError):
            self._servers.remove(acceptor)
        acceptor.close()
        open_connections = list(listener.connections)
        for conn in open_connections:
            conn.close()
        waits = [acceptor.wait_closed(), *(conn.wait_closed() for conn in open_connections)]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), _CLOSE_TIMEOUT)

    async def start_host(self, name: str) -> None:
        """Serve host ``name`` again on its old port with its old host key and state.

        Starting a serving host does nothing; LabError when the port is taken meanwhile.
        """
        listener = self._listener(name)
        lab_host = self.host(name)
        rest = self._rest.get(name)
        if rest is not None and not rest.is_serving and lab_host.rest_port is not None:
            try:
                await rest.start(lab_host.rest_port)
            except OSError as exc:
                raise LabError(
                    f"could not restart the REST API of lab host {name} on "
                    f"{lab_host.host}:{lab_host.rest_port}: {exc}"
                ) from None
        if listener.acceptor is not None:
            return
        try:
            acceptor = await listener.serve(lab_host.port)
        except OSError as exc:
            raise LabError(
                f"could not restart lab host {name} on {lab_host.host}:{lab_host.port}: {exc}"
            ) from None
        listener.acceptor = acceptor
        self._servers.append(acceptor)

    def _listener(self, name: str) -> _HostListener:
        self.host(name)
        listener = self._listeners.get(name)
        if listener is None:
            raise LabError(f"lab host {name} never listens (its scenario is a closed port)")
        return listener

    def rest_server(self, name: str) -> LabRestHost:
        """The REST API of host ``name`` (its behaviours, sessions and request record).

        LabError when the lab was started without ``rest=True`` or the host has none (an
        FTD, a closed port).
        """
        self.host(name)
        rest = self._rest.get(name)
        if rest is None:
            raise LabError(f"lab host {name} serves no REST API (start the lab with rest=True)")
        return rest

    def shell_config(self, name: str) -> FmcShellConfig:
        """The session config (files, certificate, behaviour) the host ``name`` started with."""
        self.host(name)
        return self._configs[name]

    def host_state(self, name: str) -> FmcHost:
        """The live state of host ``name``: files as they are now, VDB, running installs."""
        self.host(name)
        return self._states[name]

    def vdb_build(self, name: str) -> int:
        """The VDB build host ``name`` runs now (changes when an install completes)."""
        build = self.host_state(name).vdb_build
        if build is None:
            raise LabError(f"lab host {name} has no VDB build")
        return build

    def certificate_pem(self, name: str) -> str:
        """The Talos certificate host ``name`` holds now; LabError when it has none."""
        pem = self.host_state(name).files.get(DEFAULT_CERT_PATH)
        if pem is None:
            raise LabError(f"lab host {name} has no Talos certificate")
        return pem

    def updates_dir(self, name: str) -> Path:
        """The real directory behind host ``name``'s ``/var/sf/updates``."""
        directory = self.host_state(name).config.updates_dir
        if directory is None:
            raise LabError(f"lab host {name} has no updates directory")
        return Path(directory)

    def install_vdb_by_hand(self, name: str, *, version: str = "4.5.0", build: int = 406) -> None:
        """As if an operator installed a VDB outside fmccert (at once): the install hook
        runs, so a scenario with cloud connectivity renews its certificate."""
        self.host_state(name).complete_install(version, build)

    async def wait_installs(self, name: str) -> None:
        """Wait until every VDB install running on host ``name`` has finished."""
        await self.host_state(name).wait_installs()

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
        access: str = "ssh",
        rest_ca: bool = True,
    ) -> None:
        """Write the fmccert YAML config and, next to it, ``known_hosts``, ``lab.password``
        and a fake VDB 406 package the config's ``remediation:`` section names.

        ``access`` ``rest`` or ``both`` (a lab started with ``rest=True``) reads every FMC
        that way (FTDs stay on SSH: they have no FMC REST API) as the user ``api-user``
        with the lab password; with ``rest_ca`` the config trusts the bundle of the hosts'
        self-signed certificates (``lab-rest-ca.pem``), else the system's CAs only.
        """
        if access not in ACCESS_MODES:
            raise LabError(f"access must be one of {', '.join(ACCESS_MODES)}, not {access!r}")
        if access != "ssh" and not self._rest:
            raise LabError(f"access: {access} needs a lab started with rest=True")
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
        package = write_vdb_package(directory / vdb_package_name())
        defaults: dict[str, Any] = {
            "username": LAB_USERNAME,
            "password_file": PASSWORD_FILE,
            "known_hosts": KNOWN_HOSTS_FILE,
        }
        if access != "ssh":
            defaults["rest"] = {"username": REST_USERNAME, "password_file": PASSWORD_FILE}
            if rest_ca:
                bundle = "".join(rest.tls.cert_pem for rest in self._rest.values())
                (directory / REST_CA_FILE).write_text(bundle, encoding="ascii")
                defaults["rest"]["ca_file"] = REST_CA_FILE
        document = {
            "defaults": defaults,
            "thresholds": {"warning_days": 30, "critical_days": 7},
            "ssh": {
                "concurrency": concurrency,
                "connect_timeout": connect_timeout,
                "command_timeout": command_timeout,
                "host_timeout": host_timeout,
            },
            "remediation": {"vdb_package": package.name, **REMEDIATION_SETTINGS},
            "fmcs": [
                {
                    "name": h.name,
                    "host": h.host,
                    "port": h.port,
                    "tags": ["lab", h.scenario.name],
                    **({"kind": "ftd"} if h.scenario.kind == "ftd" else {}),  # FN74284 FTDs
                    **_access_keys(h, access),
                }
                for h in self.hosts
            ],
        }
        text = yaml.safe_dump(document, sort_keys=False, default_flow_style=None)
        path.write_text("# written by `fmccert lab`\n" + text, encoding="utf-8")

    async def close(self) -> None:
        """Stop listening, drop every open session, stop installs, delete the temp dirs."""
        for server in self._servers:
            server.close()
        for conn in list(self._connections):
            conn.close()
        waits = [server.wait_closed() for server in self._servers]
        waits += [conn.wait_closed() for conn in list(self._connections)]
        waits += [state.close() for state in self._states.values()]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), _CLOSE_TIMEOUT)
        self._servers.clear()
        await asyncio.gather(*(rest.stop() for rest in self._rest.values()))
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    async def __aenter__(self) -> RunningLab:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def _access_keys(host: LabHost, access: str) -> dict[str, Any]:
    # Per host: an FTD (no rest_port) keeps the default, SSH.
    if access == "ssh" or host.rest_port is None:
        return {}
    return {"access": access, "rest": {"port": host.rest_port}}


def _lab_clock(now: datetime) -> Callable[[], datetime]:
    # The lab's time runs on from `now` (which may lie in the past) at the real pace.
    started = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - started)


async def start_lab(
    scenarios: Sequence[Scenario],
    *,
    password: str | None = None,
    host: str = "127.0.0.1",
    command_delay: float = 0.0,
    install_delay: float = 2.0,
    now: datetime,
    name_prefix: str = "lab-fmc",
    rest: bool = False,
) -> RunningLab:
    """Start one SSH server per scenario on ``host``; certificates are dated from ``now``.

    ``install_delay`` is how many seconds a VDB install takes on every host. With ``rest``
    every FMC (not an FTD) also serves the FMC REST API over HTTPS on ``rest_port``.
    """
    editor_cache.install()  # hundreds of PTY sessions: share the editor's regex
    if not scenarios:
        raise LabError("the lab needs at least one scenario")
    if command_delay < 0:
        raise LabError(f"command delay must not be negative, not {command_delay}")
    if install_delay < 0:
        raise LabError(f"install delay must not be negative, not {install_delay}")
    if now.tzinfo is None:
        raise LabError("the lab clock `now` must be timezone-aware (UTC)")
    password = password if password is not None else secrets.token_urlsafe(18)
    if not password:
        raise LabError("the lab password must not be empty")
    width = 3 if len(scenarios) >= 100 else 2
    names = [f"{name_prefix}-{i:0{width}d}" for i in range(1, len(scenarios) + 1)]
    workdir = Path(tempfile.mkdtemp(prefix="fmccert-lab-"))
    clock = _lab_clock(now)
    configs: dict[str, FmcShellConfig] = {}
    states: dict[str, FmcHost] = {}
    try:
        for name, scenario in zip(names, scenarios, strict=True):
            updates = workdir / name / UPDATES_DIR.lstrip("/")
            updates.mkdir(parents=True)
            configs[name] = build_shell_config(
                scenario,
                password=password,
                now=now,
                common_name=f"{name}-prod-01",
                command_delay=command_delay,
                install_delay=install_delay,
                updates_dir=str(updates),
            )
            hook = vdb_install_hook(scenario, common_name=f"{name}-prod-01", clock=clock)
            states[name] = FmcHost(configs[name], on_installed=hook)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    connections: set[Any] = set()
    servers: list[asyncssh.SSHAcceptor] = []
    listeners: dict[str, _HostListener] = {}
    rest_hosts: dict[str, LabRestHost] = {}

    async def start_rest(name: str, scenario: Scenario) -> int | None:
        if not rest or scenario.kind != "fmc":
            return None  # an FTD managed by FDM has no FMC REST API
        if not scenario.listening:
            return _closed_port(host)
        tls = make_tls_identity(name, host, workdir / name / "rest", now=now)
        api = LabRestHost(
            name,
            host=host,
            scenario=scenario,
            state=states[name],
            password=password,
            clock=clock,
            tls=tls,
        )
        try:
            rest_port = await api.start(0)
        except OSError as exc:
            raise LabError(f"could not start the REST API of lab host {name}: {exc}") from None
        rest_hosts[name] = api
        return rest_port

    async def start_one(name: str, scenario: Scenario) -> LabHost:
        key = asyncssh.generate_private_key("ssh-ed25519")
        if not scenario.listening:
            port = _closed_port(host)
            line = _public_line(key, host, port)
            return LabHost(name, host, port, scenario, line, await start_rest(name, scenario))
        cut_after = UPLOAD_CUT_BYTES if scenario.upload_cut else None
        host_connections: set[Any] = set()

        async def serve(port: int) -> asyncssh.SSHAcceptor:
            # The same key, state and options every time: start_host reuses this.
            acceptor: asyncssh.SSHAcceptor = await asyncssh.create_server(
                lambda: _LabSSHServer(password, scenario.login_ok, connections, host_connections),
                host,
                port,
                server_host_keys=[key],
                process_factory=_session_handler(states[name]),
                sftp_factory=_sftp_factory(str(workdir / name), cut_after),
                encoding="utf-8",
                line_editor=True,
                allow_scp=False,
                agent_forwarding=False,
                x11_forwarding=False,
            )
            return acceptor

        try:
            server = await serve(0)
        except OSError as exc:
            raise LabError(f"could not start lab host {name} on {host}: {exc}") from None
        servers.append(server)
        listeners[name] = _HostListener(serve, server, host_connections)
        port = server.get_port()
        line = _public_line(key, host, port)
        return LabHost(name, host, port, scenario, line, await start_rest(name, scenario))

    results = await asyncio.gather(
        *(start_one(name, scenario) for name, scenario in zip(names, scenarios, strict=True)),
        return_exceptions=True,
    )
    hosts = [result for result in results if isinstance(result, LabHost)]
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:
        # Never leave half a lab listening: stop what started, then report the first failure.
        await RunningLab(
            [], password, now, servers, connections, configs, states, workdir,
            rest_hosts=rest_hosts,
        ).close()  # fmt: skip
        raise failures[0]
    return RunningLab(
        hosts, password, now, servers, connections, configs, states, workdir, listeners,
        rest_hosts,
    )  # fmt: skip
