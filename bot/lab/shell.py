"""The emulated FMC's login session: CLISH, expert-mode bash and sudo, as a state machine.

Standard library only, importing nothing from ``bot``: this file is also copied on its
own into a temp dir and run by the system ``/usr/bin/python3`` as the login shell of a
user under OpenSSH's sshd (see ``bot.lab.login_shell``). The same code serves the
in-process asyncssh lab (``bot.lab.server``) and in-memory tests, through the small
:class:`Terminal` protocol.

What it emulates (``docs/fmc-facts.md`` is the spec):

- a banner (``Last login:``, copyright block, ``Cisco ... v7.6.0 (build 36)``), then
  CLISH ``> `` or, with ``clish`` off, straight to the bash prompt; an FTD (``kind``
  ``"ftd"``) adds its ``Cisco Firepower Extensible Operating System (FX-OS) ...`` line;
- an FTD after ``system lockdown`` (``expert_disabled``): CLISH has no ``expert``;
- CLISH: ``expert``, ``show version``, ``help``, ``exit``/``logout``; anything else is
  an invalid-input error;
- bash (``admin@firepower:~$ ``): ``cat``, ``ls``, ``test``, ``openssl x509``, ``sudo``
  (bare ``Password:`` with echo off, optional lecture, three attempts, cached for the
  session), ``sudo -i``/``sudo su -`` root shells, ``echo`` (with ``$?``), ``pwd``,
  ``cd``, ``hostname``, ``id``, ``whoami``, ``true``/``false``, ``;``/``&&``/``||``,
  ``2>/dev/null``; ``exit`` returns to ``>`` when entered via ``expert``;
- VDB updates: ``/var/sf/updates`` is a real directory (``updates_dir``, shared with
  the lab's SFTP server) seen by ``ls [-l]``, ``sha256sum``, ``rm [-f]``, ``cat`` and
  ``test``; ``df [-Pk]`` reports the ``/Volume`` free space; ``sudo install_update.pl
  [--detach] FILE`` verifies a ``Cisco_VDB_Fingerprint_Database-<x.y.z>-<build>.sh.REL.tar``
  and installs it after ``install_delay`` seconds in the background, rewriting
  ``vdb.conf`` and calling the host's install hook (the lab renews the certificate there);
- failure modes: slow commands, a session that hangs after the banner, and one that
  floods noise with no prompt at all.

Sessions of one host share an :class:`FmcHost` (files, VDB, running installs). Without
one, each session gets its own: under sshd every login is a separate process, so an
install there lasts only as long as the session that started it.

Output uses ``\\n``; the PTY (kernel or asyncssh's line editor) turns it into ``\\r\\n``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import random
import re
import shlex
import tarfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

SUDO_LECTURE = (
    "\n"
    "We trust you have received the usual lecture from the local System\n"
    "Administrator. It usually boils down to these three things:\n"
    "\n"
    "    #1) Respect the privacy of others.\n"
    "    #2) Think before you type.\n"
    "    #3) With great power comes great responsibility.\n"
    "\n"
)
SUDO_PROMPT = "Password: "
SUDO_TRIES = 3

EXPERT_NOTICE = (
    "*************************** IMPORTANT NOTICE ***************************\n"
    "You are entering the Linux shell. Use of this shell is intended for\n"
    "troubleshooting under the direction of Cisco TAC. Changes made here\n"
    "can affect the system and are not supported.\n"
    "************************************************************************\n"
)

_CLISH_HELP = (
    "  expert           Invoke a shell\n"
    "  exit             Exit this CLI session\n"
    "  logout           Exit this CLI session\n"
    "  show             Display system information. Enter show ? for options\n"
)

_NOISE_ALPHABET = (
    # No '>', '$', '#', ':' or '%': noise must never end in anything resembling a prompt.
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;!*+-=_~/()[]{}@^&|"
)
_NOISE_CHUNK = 32 * 1024

UPDATES_DIR = "/var/sf/updates"
VDB_CONF = "/etc/sf/.versiondb/vdb.conf"
INSTALLER = "install_update.pl"
INSTALLER_PATH = "/usr/local/sf/bin/install_update.pl"
VERIFICATION_FAILED = "Fatal error: the update package failed verification"
VDB_PACKAGE = re.compile(r"Cisco_VDB_Fingerprint_Database-(\d+\.\d+\.\d+)-(\d+)\.sh\.REL\.tar")
"""A VDB update package's file name; groups: version (``4.5.0``), build (``406``)."""

_VOLUME_DEVICE = "/dev/sda7"
_VOLUME_MOUNT = "/Volume"
_VOLUME_USED_KB = 6_291_456  # what the FMC software itself takes on /Volume (6 GiB)
_INSTALLER_USAGE = f"Usage: {INSTALLER} [--detach] <update package>\n"
_FIXED_MTIME = "Mar 30 12:00"  # ls -l date of the emulated system files

# Followed by a blank, the end or an operator: `cat x 2>/dev/null; echo "@@rc=$?"`.
_ERR_TO_NULL = re.compile(r"\s2>\s*/dev/null(?=[\s;&|]|$)")
_ERR_TO_OUT = re.compile(r"\s2>&1(?=[\s;&|]|$)")
_OPERATORS = frozenset({";", "&&", "||"})

_Emit = Callable[[str], None]


def _discard(_text: str) -> None:
    """Output sent to /dev/null."""


@dataclass(frozen=True)
class FmcShellConfig:
    """Everything one emulated FMC session needs; JSON-serialisable for the sshd shell."""

    files: dict[str, str]  # absolute path -> content
    password: str  # the admin password sudo checks
    renders: dict[str, str] = field(default_factory=dict)  # see render_key()
    root_only: list[str] = field(default_factory=list)  # paths (and dirs) only root may read
    username: str = "admin"
    home: str = "/home/admin"
    hostname: str = "firepower"
    cwd: str = "~"
    clish: bool = True
    lecture: bool = False
    sudo_ok: bool = True
    ansi: bool = False
    command_delay: float = 0.0
    hang_after_login: bool = False
    garbage: bool = False
    product: str = "Cisco Secure Firewall Management Center for VMware"
    version: str = "7.6.0"
    build: str = "36"
    vdb_build: int | None = 400
    last_login: str = "Mon Mar 30 12:00:00 2025 from 10.0.0.5"
    updates_dir: str | None = None  # real directory behind /var/sf/updates; None: empty
    disk_free_mb: int = 30000  # free space on /Volume before any upload
    install_delay: float = 2.0  # seconds install_update.pl takes in the background
    install_fails: bool = False  # install_update.pl rejects every package at once
    kind: str = "fmc"  # "ftd": an FTD managed by FDM (FX-OS line in the banner)
    expert_disabled: bool = False  # FTD `system lockdown`: `expert` is no CLISH command

    def to_json(self) -> str:
        """This config as a JSON document."""
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FmcShellConfig:
        """Parse a config written by :meth:`to_json`; unknown keys are an error."""
        data: Any = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("FMC shell config must be a JSON object")
        names = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown FMC shell config keys: {', '.join(unknown)}")
        return cls(**data)


def render_key(option: str, path: str) -> str:
    """Key of a precomputed ``openssl x509 -<option>`` output for ``path`` in ``renders``."""
    return f"x509 -{option} {path}"


InstallHook = Callable[["FmcHost", str, int], None]
"""Called with the host, VDB version and build once an install has rewritten vdb.conf."""


class FmcHost:
    """The mutable state of one emulated FMC, shared by every session to it.

    Files and their openssl renderings start as the config's and change when an update
    installs. Files under ``/var/sf/updates`` are real ones in ``config.updates_dir``,
    so what the lab's SFTP server writes is what ``ls``, ``sha256sum`` and
    ``install_update.pl`` see. Installs run as tasks owned by the host, not by the
    session that started them: they finish after that session has ended.
    """

    def __init__(self, config: FmcShellConfig, *, on_installed: InstallHook | None = None):
        self.config = config
        self.files = dict(config.files)
        self.renders = dict(config.renders)
        self.vdb_build = config.vdb_build
        self.installing: str | None = None  # the package being installed, if any
        self._on_installed = on_installed
        self._tasks: set[asyncio.Task[None]] = set()

    def real_path(self, path: str) -> str | None:
        """The real file behind ``path`` when it names an entry of /var/sf/updates."""
        if self.config.updates_dir is None or not path.startswith(UPDATES_DIR + "/"):
            return None
        name = path[len(UPDATES_DIR) + 1 :]
        if not name or "/" in name:
            return None
        return os.path.join(self.config.updates_dir, name)

    def update_names(self) -> list[str]:
        """The names in /var/sf/updates, sorted."""
        if self.config.updates_dir is None:
            return []
        try:
            return sorted(os.listdir(self.config.updates_dir))
        except OSError:
            return []

    def updates_kb(self) -> int:
        """KiB the files in /var/sf/updates take (rounded up per file, like a disk)."""
        total = 0
        for name in self.update_names():
            real = self.real_path(f"{UPDATES_DIR}/{name}")
            with contextlib.suppress(OSError):
                total += math.ceil(os.path.getsize(real or "") / 4096) * 4
        return total

    def disk_free_kb(self) -> int:
        """Free KiB on /Volume: the configured free space less what uploads took."""
        return max(0, self.config.disk_free_mb * 1024 - self.updates_kb())

    def set_vdb(self, version: str, build: int) -> None:
        """Record VDB ``version``/``build`` as installed in vdb.conf."""
        text = self.files.get(VDB_CONF, "CURRENT_VERSION=\nCURRENT_BUILD=\n")
        for key, value in (("CURRENT_VERSION", version), ("CURRENT_BUILD", str(build))):
            line = f"{key}={value}"
            pattern = re.compile(rf"^{key}=.*$", re.MULTILINE)
            text = pattern.sub(line, text) if pattern.search(text) else f"{text}{line}\n"
        self.files[VDB_CONF] = text
        self.vdb_build = build

    def start_install(self, package: str, version: str, build: int) -> str:
        """Install VDB ``version``/``build`` after the install delay; the log's path."""
        log = f"/var/log/sf/vdb-{version}-{build}/status.log"
        self.installing = package
        self.files[log] = f"Installing {package}\nStatus: running\n"
        task = asyncio.get_running_loop().create_task(self._install(version, build, log))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return log

    def complete_install(self, version: str, build: int) -> None:
        """The end of a VDB install: vdb.conf shows it, then the host's install hook runs."""
        self.set_vdb(version, build)
        if self._on_installed is not None:
            self._on_installed(self, version, build)

    async def _install(self, version: str, build: int, log: str) -> None:
        try:
            await asyncio.sleep(self.config.install_delay)
            self.complete_install(version, build)
            self.files[log] += "Status: completed\n"
        except Exception as exc:  # the log is where an FMC reports a failed install
            self.files[log] += f"Status: failed ({exc})\n"
        finally:
            self.installing = None

    async def wait_installs(self) -> None:
        """Wait until every running install has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Cancel running installs."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Terminal(Protocol):
    """The session's two ends: lines typed by the client, text shown to it."""

    async def read_line(self, *, echo: bool = True, prompt: str = "") -> str | None:
        """The next line typed, without its line ending; None at end of input.

        ``prompt`` is shown once echo is already off, as sudo does: a client that
        answers the moment it sees ``Password:`` must not have its answer echoed.
        """
        ...

    def write(self, text: str) -> None:
        """Show ``text`` (``\\n`` line endings) to the client."""
        ...


def fxos_line(config: FmcShellConfig) -> str:
    """The FX-OS line an FTD prints above its own version (FTD 7.x runs FX-OS 2.(10+x))."""
    parts = config.version.split(".")
    minor = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    build = 100 + int(config.build) if config.build.isdigit() else 100
    return (
        f"Cisco Firepower Extensible Operating System (FX-OS) v2.{10 + minor}.0 (build {build})\n"
    )


def banner(config: FmcShellConfig) -> str:
    """What an FMC (or an FTD) prints right after login, before the first prompt."""
    return (
        f"Last login: {config.last_login}\n"
        "\n"
        "Copyright 2004-2025, Cisco and/or its affiliates. All rights reserved.\n"
        "Cisco is a registered trademark of Cisco Systems, Inc.\n"
        "All other trademarks are property of their respective owners.\n"
        "\n"
        + (fxos_line(config) if config.kind == "ftd" else "")
        + f"{config.product} v{config.version} (build {config.build})\n"
        "\n"
    )


def show_version(config: FmcShellConfig, vdb_build: int | None = None) -> str:
    """The CLISH ``show version`` output (``vdb_build`` defaults to the config's)."""
    rule = "-" * 20
    vdb_build = vdb_build if vdb_build is not None else config.vdb_build
    vdb = str(vdb_build) if vdb_build is not None else "unknown"
    return (
        f"{rule}[ {config.hostname} ]{rule}\n"
        f"Model                     : {config.product} ({75 if config.kind == 'ftd' else 66}) "
        f"Version {config.version} (Build {config.build})\n"
        "UUID                      : 5c1e7d4a-0f3b-11ef-9a3b-1f2e3d4c5b6a\n"
        f"VDB version               : {vdb}\n"
        f"{'-' * (42 + len(config.hostname) + 4)}\n"
    )


@dataclass
class _Result:
    out: str = ""
    status: int = 0


@dataclass
class _Shell:
    """One bash level: the admin shell, or a root shell opened by ``sudo -i``."""

    root: bool
    cwd: str


class _Session:
    """The mutable state of one login session (sudo cache, lecture shown, last status)."""

    def __init__(
        self, config: FmcShellConfig, terminal: Terminal, *, interactive: bool, host: FmcHost
    ):
        self.config = config
        self.host = host
        self.terminal = terminal
        self.interactive = interactive
        self.sudo_cached = False
        self.lectured = False
        self.status = 0
        self.eof = False

    @property
    def _dirs(self) -> set[str]:
        # Recomputed: an install may add files (a log, a first certificate).
        return _directories(self.config, self.host.files)

    # -- input and output ------------------------------------------------------------

    def write(self, text: str) -> None:
        if text:
            self.terminal.write(text)

    async def read_line(self, *, echo: bool = True, prompt: str = "") -> str | None:
        line = await self.terminal.read_line(echo=echo, prompt=prompt)
        if line is None:
            self.eof = True
        return line

    async def pause(self) -> None:
        if self.config.command_delay > 0:
            await asyncio.sleep(self.config.command_delay)

    # -- prompts -----------------------------------------------------------------------

    def clish_prompt(self) -> str:
        return "\x1b[1m>\x1b[0m " if self.config.ansi else "> "

    def bash_prompt(self, shell: _Shell) -> str:
        user = "root" if shell.root else self.config.username
        sign = "#" if shell.root else "$"
        host = self.config.hostname
        if self.config.ansi:
            # Bracketed paste on, then a Debian-style coloured PS1.
            return (
                f"\x1b[?2004h\x1b[01;32m{user}@{host}\x1b[00m:\x1b[01;34m{shell.cwd}\x1b[00m{sign} "
            )
        return f"{user}@{host}:{shell.cwd}{sign} "

    # -- CLISH ------------------------------------------------------------------------

    async def clish(self) -> int:
        while True:
            self.write(self.clish_prompt())
            line = await self.read_line()
            if line is None:
                return 0
            words = line.split()
            if not words:
                continue
            await self.pause()
            command = " ".join(words)
            if command in ("exit", "logout"):
                return 0
            if command == "expert" and self.config.expert_disabled:
                # `system lockdown` removes the command (unverified wording: a real FTD
                # may say more); CLISH answers as for any command it does not have.
                self.write(f"{' ' * len(self.clish_prompt())}^\n")
                self.write("% Invalid Input Detected at '^' marker.\n")
            elif command == "expert":
                self.write(EXPERT_NOTICE)
                await self.bash(_Shell(root=False, cwd=self.config.cwd))
                if self.eof:
                    return 0
            elif command == "show version":
                self.write(show_version(self.config, self.host.vdb_build))
            elif command in ("help", "?"):
                shown = _CLISH_HELP.splitlines(keepends=True)
                if self.config.expert_disabled:
                    shown = [line for line in shown if not line.lstrip().startswith("expert")]
                self.write("".join(shown))
            else:
                self.write(f"{' ' * len(self.clish_prompt())}^\n")
                self.write("% Invalid Input Detected at '^' marker.\n")

    # -- bash -------------------------------------------------------------------------

    async def bash(self, shell: _Shell) -> int:
        """Run a bash prompt loop until ``exit`` or end of input; the exit status."""
        while True:
            self.write(self.bash_prompt(shell))
            line = await self.read_line()
            if line is None:
                return self.status
            if self.config.ansi:
                self.write("\x1b[?2004l\r")  # bash leaves bracketed paste before running
            if not line.strip():
                continue
            await self.pause()
            leave = await self.run_line(line, shell)
            if leave is not None or self.eof:
                return leave if leave is not None else self.status

    async def run_line(self, line: str, shell: _Shell) -> int | None:
        """Run one command line; an exit status when it asked the shell to exit."""
        err_null = bool(_ERR_TO_NULL.search(f" {line}"))
        line = _ERR_TO_OUT.sub("", _ERR_TO_NULL.sub("", f" {line}")).strip()
        try:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError:
            self.write("-bash: syntax error: unexpected end of file\n")
            self.status = 2
            return None
        pipeline: list[list[str]] = [[]]
        joins: list[str] = []
        for token in tokens:
            if token in _OPERATORS:
                joins.append(token)
                pipeline.append([])
            elif set(token) <= set("|&<>()"):
                self.write(f"-bash: the FMC lab does not emulate '{token}'\n")
                self.status = 2
                return None
            else:
                pipeline[-1].append(token)
        for index, argv in enumerate(pipeline):
            if index and (
                (joins[index - 1] == "&&" and self.status != 0)
                or (joins[index - 1] == "||" and self.status == 0)
            ):
                continue
            if not argv:
                continue
            argv = [self.expand(word, shell) for word in argv]
            if argv[0] in ("exit", "logout"):
                return int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else self.status
            result = await self.command(argv, shell, err_null=err_null)
            self.status = result
            if self.eof:
                return self.status
        return None

    def expand(self, word: str, shell: _Shell) -> str:
        home = "/root" if shell.root else self.config.home
        user = "root" if shell.root else self.config.username
        word = word.replace("$?", str(self.status)).replace("${?}", str(self.status))
        for name, value in (("HOME", home), ("USER", user), ("HOSTNAME", self.config.hostname)):
            word = word.replace(f"${{{name}}}", value).replace(f"${name}", value)
        if word == "~" or word.startswith("~/"):
            word = home + word[1:]
        return word

    async def command(self, argv: list[str], shell: _Shell, *, err_null: bool) -> int:
        """Run one simple command; its exit status."""
        name, args = argv[0], argv[1:]
        out: _Emit = self.write
        err: _Emit = _discard if err_null else self.write
        simple: dict[str, Callable[[], _Result]] = {
            "echo": lambda: _Result(" ".join(a for a in args if a != "-n") + _nl(args)),
            "pwd": lambda: _Result(self.path(shell, shell.cwd) + "\n"),
            "hostname": lambda: _Result(self.config.hostname + "\n"),
            "whoami": lambda: _Result(("root" if shell.root else self.config.username) + "\n"),
            "id": lambda: _Result(self.id_line(shell) + "\n"),
            "true": lambda: _Result(),
            "false": lambda: _Result(status=1),
            "clear": lambda: _Result("\x1b[H\x1b[2J"),
        }
        if name in simple:
            result = simple[name]()
            out(result.out)
            return result.status
        if name == "cat":
            return self.cat(args, shell, out, err)
        if name == "ls":
            return self.ls(args, shell, out, err)
        if name in ("test", "["):
            return self.test(args[:-1] if name == "[" else args, shell)
        if name == "cd":
            return self.cd(args, shell, err)
        if name == "sha256sum":
            return self.sha256sum(args, shell, out, err)
        if name == "rm":
            return self.rm(args, shell, err)
        if name == "df":
            return self.df(args, shell, out, err)
        if name in (INSTALLER, INSTALLER_PATH):
            return await self.install_update(args, shell, out, err)
        if name == "openssl":
            return self.openssl(args, shell, out, err)
        if name == "sudo":
            return await self.sudo(args, shell, err_null=err_null)
        if name == "su":
            if shell.root:
                return await self.root_shell(shell)
            await self.read_line(echo=False, prompt=SUDO_PROMPT)
            err("\nsu: Authentication failure\n")
            return 1
        err(f"-bash: {name}: command not found\n")
        return 127

    # -- file system ------------------------------------------------------------------

    def path(self, shell: _Shell, raw: str) -> str:
        home = "/root" if shell.root else self.config.home
        if raw == "~" or raw.startswith("~/"):
            raw = home + raw[1:]
        if not raw.startswith("/"):
            raw = self.path(shell, shell.cwd).rstrip("/") + "/" + raw
        parts: list[str] = []
        for part in raw.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if parts:
                    parts.pop()
            else:
                parts.append(part)
        return "/" + "/".join(parts)

    def denied(self, path: str, shell: _Shell) -> bool:
        if shell.root:
            return False
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.config.root_only)

    def is_file(self, path: str) -> bool:
        real = self.host.real_path(path)
        return path in self.host.files or (real is not None and os.path.isfile(real))

    def read_bytes(self, path: str) -> bytes | None:
        """The content of the file ``path`` (virtual or under /var/sf/updates), or None."""
        if path in self.host.files:
            return self.host.files[path].encode("utf-8")
        real = self.host.real_path(path)
        if real is None:
            return None
        try:
            with open(real, "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def file_error(self, path: str, shell: _Shell) -> str | None:
        """Why ``path`` cannot be read as a file (bash's wording), or None when it can."""
        if self.denied(path, shell):
            return "Permission denied"
        if path in self._dirs:
            return "Is a directory"
        if not self.is_file(path):
            return "No such file or directory"
        return None

    def cat(self, args: list[str], shell: _Shell, out: _Emit, err: _Emit) -> int:
        status = 0
        for raw in (a for a in args if not a.startswith("-") or a == "-"):
            path = self.path(shell, raw)
            problem = self.file_error(path, shell)
            data = self.read_bytes(path) if problem is None else None
            if data is None:
                err(f"cat: {raw}: {problem or 'No such file or directory'}\n")
                status = 1
            else:
                out(data.decode("utf-8", "replace"))
        return status

    def entries(self, directory: str) -> list[str]:
        """The names directly inside ``directory``, sorted."""
        prefix = directory.rstrip("/") + "/"
        names = {
            entry[len(prefix) :].split("/", 1)[0]
            for entry in (*self.host.files, *self._dirs)
            if entry.startswith(prefix) and entry != prefix
        }
        if directory == UPDATES_DIR:
            names.update(self.host.update_names())
        return sorted(names)

    def long_line(self, path: str, shown: str) -> tuple[int, str]:
        """``ls -l``'s line for ``path`` (named ``shown``) and the KiB it takes."""
        real = self.host.real_path(path)
        if real is not None and os.path.isfile(real):
            info = os.stat(real)
            owner = self.config.username
            when = time.strftime("%b %e %H:%M", time.gmtime(info.st_mtime))
            line = f"-rw-r--r-- 1 {owner} {owner} {info.st_size} {when} {shown}"
            return math.ceil(info.st_size / 4096) * 4, line
        if path in self._dirs:
            return 4, f"drwxr-xr-x 2 root root 4096 {_FIXED_MTIME} {shown}"
        size = len(self.host.files.get(path, "").encode("utf-8"))
        mode = "-rw-------" if self.denied(path, _Shell(root=False, cwd="/")) else "-rw-r--r--"
        return math.ceil(size / 4096) * 4, f"{mode} 1 root root {size} {_FIXED_MTIME} {shown}"

    def ls(self, args: list[str], shell: _Shell, out: _Emit, err: _Emit) -> int:
        targets = [a for a in args if not a.startswith("-")] or ["."]
        flags = "".join(a[1:] for a in args if a.startswith("-") and not a.startswith("--"))
        show_all, long = "a" in flags, "l" in flags
        status = 0
        for raw in targets:
            path = self.path(shell, raw)
            if self.is_file(path):
                if self.denied(path, shell):
                    err(f"ls: cannot access '{raw}': Permission denied\n")
                    status = 2
                else:
                    out((self.long_line(path, raw)[1] if long else raw) + "\n")
            elif path in self._dirs:
                if self.denied(path, shell):
                    err(f"ls: cannot open directory '{raw}': Permission denied\n")
                    status = 2
                    continue
                visible = [n for n in self.entries(path) if show_all or not n.startswith(".")]
                if long:
                    prefix = path.rstrip("/") + "/"
                    lines = [self.long_line(prefix + name, name) for name in visible]
                    out(f"total {sum(kb for kb, _ in lines)}\n")
                    out("".join(f"{line}\n" for _, line in _align_sizes(lines)))
                elif visible:
                    out("  ".join(visible) + "\n")
            else:
                err(f"ls: cannot access '{raw}': No such file or directory\n")
                status = 2
        return status

    def test(self, args: list[str], shell: _Shell) -> int:
        if len(args) != 2 or args[0] not in ("-e", "-f", "-d", "-r", "-s"):
            return 2 if args else 1
        flag, path = args[0], self.path(shell, args[1])
        parent = path.rsplit("/", 1)[0] or "/"
        if self.denied(parent, shell) or (flag == "-r" and self.denied(path, shell)):
            return 1
        is_file = self.is_file(path)
        found = {
            "-e": is_file or path in self._dirs,
            "-f": is_file,
            "-d": path in self._dirs,
            "-r": is_file or path in self._dirs,
            "-s": is_file and bool(self.read_bytes(path)),
        }[flag]
        return 0 if found else 1

    def sha256sum(self, args: list[str], shell: _Shell, out: _Emit, err: _Emit) -> int:
        status = 0
        for raw in (a for a in args if not a.startswith("-")):
            path = self.path(shell, raw)
            problem = self.file_error(path, shell)
            data = self.read_bytes(path) if problem is None else None
            if data is None:
                err(f"sha256sum: {raw}: {problem or 'No such file or directory'}\n")
                status = 1
            else:
                out(f"{hashlib.sha256(data).hexdigest()}  {raw}\n")
        return status

    def rm(self, args: list[str], shell: _Shell, err: _Emit) -> int:
        flags = "".join(a[1:] for a in args if a.startswith("-"))
        force = "f" in flags
        targets = [a for a in args if not a.startswith("-")]
        if not targets and not force:
            err("rm: missing operand\nTry 'rm --help' for more information.\n")
            return 1
        status = 0
        for raw in targets:
            path = self.path(shell, raw)
            real = self.host.real_path(path)
            if real is not None and os.path.isfile(real):
                try:
                    os.remove(real)
                except OSError as exc:
                    err(f"rm: cannot remove '{raw}': {exc.strerror}\n")
                    status = 1
            elif path in self._dirs:
                err(f"rm: cannot remove '{raw}': Is a directory\n")
                status = 1
            elif path in self.host.files:
                # The lab only lets the update directory change; system files stay.
                err(f"rm: cannot remove '{raw}': Operation not permitted\n")
                status = 1
            elif not force:
                err(f"rm: cannot remove '{raw}': No such file or directory\n")
                status = 1
        return status

    def df(self, args: list[str], shell: _Shell, out: _Emit, err: _Emit) -> int:
        flags = "".join(a[1:] for a in args if a.startswith("-"))
        targets = [a for a in args if not a.startswith("-")]
        status = 0
        known: list[str] = []
        for raw in targets:
            path = self.path(shell, raw)
            if self.is_file(path) or path in self._dirs:
                known.append(raw)
            else:
                err(f"df: {raw}: No such file or directory\n")
                status = 1
        if targets and not known:
            return status
        free = self.host.disk_free_kb()
        used = _VOLUME_USED_KB + self.host.updates_kb()
        total = used + free
        capacity = f"{math.ceil(used * 100 / total) if total else 0}%"
        header = (
            "Filesystem     1024-blocks    Used Available Capacity Mounted on\n"
            if "P" in flags
            else "Filesystem     1K-blocks    Used Available Use% Mounted on\n"
        )
        widths = (11, 8) if "P" in flags else (9, 4)
        line = (
            f"{_VOLUME_DEVICE:<14} {total:>{widths[0]}} {used:>7} {free:>9} "
            f"{capacity:>{widths[1]}} {_VOLUME_MOUNT}\n"
        )
        out(header + line * max(1, len(known)))
        return status

    async def install_update(self, args: list[str], shell: _Shell, out: _Emit, err: _Emit) -> int:
        """Cisco's ``install_update.pl``: verify a VDB package, then install it."""
        if not shell.root:
            err(f"ERROR: {INSTALLER} must be run as root (use sudo)\n")
            return 1
        detach = False
        packages: list[str] = []
        for arg in args:
            if arg == "--detach":
                detach = True
            elif arg.startswith("-"):
                err(f"Unknown option: {arg.lstrip('-')}\n{_INSTALLER_USAGE}")
                return 1
            else:
                packages.append(arg)
        if len(packages) != 1:
            err(_INSTALLER_USAGE)
            return 1
        raw = packages[0]
        path = self.path(shell, raw)
        real = self.host.real_path(path)
        if real is None or not self.is_file(path):
            err(f"ERROR: update package {raw} not found\n")
            return 1
        name = path.rsplit("/", 1)[1]
        match = VDB_PACKAGE.fullmatch(name)
        if match is None:
            err(
                f"ERROR: {name} is not a VDB update package "
                "(expected Cisco_VDB_Fingerprint_Database-<version>-<build>.sh.REL.tar)\n"
            )
            return 1
        if self.host.installing is not None:
            err(f"ERROR: another update ({self.host.installing}) is being installed\n")
            return 1
        version, build = match.group(1), int(match.group(2))
        out(f"Verifying update package {name}...\n")
        if self.config.install_fails or not _valid_tar(real):
            err(f"{VERIFICATION_FAILED}\n")
            return 1
        current = self.host.vdb_build
        if current is not None and build <= current:
            err(f"ERROR: VDB build {build} is not newer than the installed build {current}\n")
            return 1
        log = self.host.start_install(name, version, build)
        if detach:
            out(
                f"Update of VDB {version}-{build} started in the background (detached).\n"
                f"Follow its progress in {log}\n"
            )
            return 0
        out(f"Installing VDB {version}-{build}...\n")
        await self.host.wait_installs()
        out("Update completed successfully.\n")
        return 0

    def cd(self, args: list[str], shell: _Shell, err: _Emit) -> int:
        raw = args[0] if args else "~"
        path = self.path(shell, raw)
        if path not in self._dirs:
            err(f"-bash: cd: {raw}: No such file or directory\n")
            return 1
        if self.denied(path, shell):
            err(f"-bash: cd: {raw}: Permission denied\n")
            return 1
        home = "/root" if shell.root else self.config.home
        shell.cwd = "~" if path == home else path
        return 0

    def id_line(self, shell: _Shell) -> str:
        if shell.root:
            return "uid=0(root) gid=0(root) groups=0(root)"
        user = self.config.username
        return f"uid=1000({user}) gid=1000({user}) groups=1000({user}),500(sfroot)"

    # -- openssl ----------------------------------------------------------------------

    def openssl(self, args: list[str], shell: _Shell, out: _Emit, err: _Emit) -> int:
        if not args:
            err("OpenSSL> \n")
            return 0
        if args[0] == "version":
            out("OpenSSL 3.0.14 4 Jun 2024 (Library: OpenSSL 3.0.14 4 Jun 2024)\n")
            return 0
        if args[0] != "x509":
            err(f"Invalid command '{args[0]}'; type \"help\" for a list.\n")
            return 1
        source: str | None = None
        noout = False
        prints: list[str] = []
        rest = iter(args[1:])
        for arg in rest:
            option = arg.lstrip("-")
            if option == "in":
                source = next(rest, None)
                if source is None:
                    err("x509: Option -in needs a value\n")
                    return 1
            elif option == "noout":
                noout = True
            elif option == "dates":
                prints += ["startdate", "enddate"]
            elif option in ("text", "enddate", "startdate", "subject", "issuer", "serial"):
                prints.append(option)
            elif option in ("inform", "outform", "nameopt", "certopt"):
                next(rest, None)
            else:
                err(f"x509: Unknown option: {arg}\nx509: Use -help for summary.\n")
                return 1
        if source is None:
            err("Could not read certificate from <stdin>\nUnable to load certificate\n")
            return 1
        path = self.path(shell, source)
        if self.denied(path, shell) or path not in self.host.files:
            reason = (
                "Permission denied" if self.denied(path, shell) else "No such file or directory"
            )
            err(
                f"Could not open file or uri for loading certificate from {source}\n"
                f"40F7A1B2C37F0000:error:80000002:system library:file_open:{reason}"
                f":../providers/implementations/storemgmt/file_store.c:267:calling stat({source})\n"
                "Unable to load certificate\n"
            )
            return 1
        if render_key("text", path) not in self.host.renders:
            err(f"Could not read certificate from {source}\nUnable to load certificate\n")
            return 1
        for option in prints:
            out(self.host.renders.get(render_key(option, path), ""))
        if not noout:
            out(self.host.files[path])
        return 0

    # -- sudo -------------------------------------------------------------------------

    async def sudo(self, args: list[str], shell: _Shell, *, err_null: bool) -> int:
        stdin_password = non_interactive = login = False
        while args and args[0].startswith("-"):
            flag = args.pop(0)
            if flag == "--":
                break
            for letter in flag[1:]:
                if letter == "S":
                    stdin_password = True
                elif letter == "n":
                    non_interactive = True
                elif letter == "k":
                    self.sudo_cached = False
                elif letter in ("i", "s"):
                    login = True
                else:
                    self.write(f"sudo: invalid option -- '{letter}'\n")
                    return 1
        if not args and not login:
            self.write("usage: sudo -h | -K | -k | -V\n")
            return 1
        if not shell.root and not self.sudo_cached:
            if non_interactive:
                self.write("sudo: a password is required\n")
                return 1
            if not self.interactive and not stdin_password:
                self.write(
                    "sudo: a terminal is required to read the password; either use the -S "
                    "option to read from standard input or configure an askpass helper\n"
                    "sudo: a password is required\n"
                )
                return 1
            if not await self.sudo_authenticate():
                return 1
        root = _Shell(root=True, cwd=shell.cwd)
        if login or args[:1] == ["su"]:
            if not self.interactive:
                return 0
            return await self.root_shell(root)
        return await self.command(args, root, err_null=err_null)

    async def sudo_authenticate(self) -> bool:
        """Ask for the password like the FMC's sudo does; True when accepted."""
        if self.config.lecture and not self.lectured:
            self.write(SUDO_LECTURE)
            self.lectured = True
        for attempt in range(1, SUDO_TRIES + 1):
            typed = await self.read_line(echo=False, prompt=SUDO_PROMPT)
            if typed is None:
                self.write("\nsudo: no password was provided\n")
                return False
            if self.interactive:
                self.write("\n")  # echo is off, so sudo ends the prompt line itself
            if self.config.sudo_ok and typed == self.config.password:
                self.sudo_cached = True
                return True
            if attempt < SUDO_TRIES:
                self.write("Sorry, try again.\n")
        self.write(f"sudo: {SUDO_TRIES} incorrect password attempts\n")
        return False

    async def root_shell(self, shell: _Shell) -> int:
        await self.bash(_Shell(root=True, cwd=shell.cwd))
        return 0


def _nl(args: list[str]) -> str:
    return "" if "-n" in args else "\n"


def _directories(config: FmcShellConfig, files: dict[str, str]) -> set[str]:
    dirs = {"/", "/root", config.home, "/var", "/etc", "/var/sf", UPDATES_DIR, _VOLUME_MOUNT}
    if config.cwd.startswith("/"):
        dirs.add(config.cwd)
    for path in files:
        parts = path.split("/")[1:-1]
        for end in range(1, len(parts) + 1):
            dirs.add("/" + "/".join(parts[:end]))
    return {d for d in dirs if d}


def _align_sizes(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    # ls -l right-aligns the size column (the fifth field) to the widest entry.
    split = [(kb, line.split(" ", 5)) for kb, line in lines]
    width = max((len(fields[4]) for _, fields in split), default=0)
    return [
        (kb, " ".join([*fields[:4], fields[4].rjust(width), fields[5]])) for kb, fields in split
    ]


def _valid_tar(path: str) -> bool:
    """True when ``path`` is a complete tar archive holding at least one file."""
    try:
        with tarfile.open(path, "r:") as archive:
            members = 0
            for member in archive:
                if member.isfile():
                    handle = archive.extractfile(member)
                    if handle is None or len(handle.read()) != member.size:
                        return False
                    members += 1
            return members > 0
    except (tarfile.TarError, OSError, EOFError):
        return False


async def _hang(terminal: Terminal) -> None:
    # Swallow input until the client goes away; never print anything.
    while await terminal.read_line() is not None:
        pass


async def _flood(terminal: Terminal) -> None:
    rng = random.Random()
    pool = "".join(rng.choices(_NOISE_ALPHABET, k=4 * _NOISE_CHUNK))
    gone = asyncio.Event()

    async def watch_input() -> None:
        await _hang(terminal)
        gone.set()

    watcher = asyncio.create_task(watch_input())
    drain: Callable[[], Awaitable[None]] | None = getattr(terminal, "drain", None)
    try:
        while not gone.is_set():
            start = rng.randrange(0, len(pool) - _NOISE_CHUNK)
            chunk = pool[start : start + _NOISE_CHUNK - 1] + "\n"
            terminal.write(chunk)
            if drain is not None:
                await drain()
            # Yield, but briefly: the flood must pass 256 KiB well within a second.
            await asyncio.sleep(0.005)
    finally:
        watcher.cancel()


async def run_interactive(
    config: FmcShellConfig, terminal: Terminal, *, host: FmcHost | None = None
) -> int:
    """Run one interactive login session on ``terminal``; the session's exit status.

    ``host`` is the state shared with the FMC's other sessions; a fresh one by default.
    """
    terminal.write(banner(config))
    if config.hang_after_login:
        await _hang(terminal)
        return 0
    if config.garbage:
        await _flood(terminal)
        return 0
    session = _Session(config, terminal, interactive=True, host=host or FmcHost(config))
    if config.clish:
        return await session.clish()
    return await session.bash(_Shell(root=False, cwd=config.cwd))


class _ExecTerminal:
    """Collects an exec request's output; stdin lines come from an optional reader."""

    def __init__(self, read_stdin: Callable[[], Awaitable[str | None]] | None):
        self._read_stdin = read_stdin
        self.output: list[str] = []

    async def read_line(self, *, echo: bool = True, prompt: str = "") -> str | None:
        if prompt:
            self.write(prompt)
        return await self._read_stdin() if self._read_stdin is not None else None

    def write(self, text: str) -> None:
        self.output.append(text)


async def run_exec(
    config: FmcShellConfig,
    command: str,
    *,
    read_stdin: Callable[[], Awaitable[str | None]] | None = None,
    host: FmcHost | None = None,
) -> tuple[str, int]:
    """Run one non-interactive command (an SSH exec request) as the admin user.

    Returns the combined output and the exit status. There is no terminal, so ``sudo``
    fails unless given ``-S``, which reads the password from ``read_stdin`` (a line).
    """
    terminal = _ExecTerminal(read_stdin)
    session = _Session(config, terminal, interactive=False, host=host or FmcHost(config))
    if config.command_delay > 0:
        await asyncio.sleep(config.command_delay)
    leave = await session.run_line(command, _Shell(root=False, cwd=config.cwd))
    return "".join(terminal.output), session.status if leave is None else leave
