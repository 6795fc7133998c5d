"""The emulated FMC's login session: CLISH, expert-mode bash and sudo, as a state machine.

Standard library only, importing nothing from ``bot``: this file is also copied on its
own into a temp dir and run by the system ``/usr/bin/python3`` as the login shell of a
user under OpenSSH's sshd (see ``bot.lab.login_shell``). The same code serves the
in-process asyncssh lab (``bot.lab.server``) and in-memory tests, through the small
:class:`Terminal` protocol.

What it emulates (``docs/fmc-facts.md`` is the spec):

- a banner (``Last login:``, copyright block, ``Cisco ... v7.6.0 (build 36)``), then
  CLISH ``> `` or, with ``clish`` off, straight to the bash prompt;
- CLISH: ``expert``, ``show version``, ``help``, ``exit``/``logout``; anything else is
  an invalid-input error;
- bash (``admin@firepower:~$ ``): ``cat``, ``ls``, ``test``, ``openssl x509``, ``sudo``
  (bare ``Password:`` with echo off, optional lecture, three attempts, cached for the
  session), ``sudo -i``/``sudo su -`` root shells, ``echo`` (with ``$?``), ``pwd``,
  ``cd``, ``hostname``, ``id``, ``whoami``, ``true``/``false``, ``;``/``&&``/``||``,
  ``2>/dev/null``; ``exit`` returns to ``>`` when entered via ``expert``;
- failure modes: slow commands, a session that hangs after the banner, and one that
  floods noise with no prompt at all.

Output uses ``\\n``; the PTY (kernel or asyncssh's line editor) turns it into ``\\r\\n``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import re
import shlex
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

_ERR_TO_NULL = re.compile(r"\s2>\s*/dev/null(?=\s|$)")
_ERR_TO_OUT = re.compile(r"\s2>&1(?=\s|$)")
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


class Terminal(Protocol):
    """The session's two ends: lines typed by the client, text shown to it."""

    async def read_line(self, *, echo: bool = True) -> str | None:
        """The next line typed, without its line ending; None at end of input."""
        ...

    def write(self, text: str) -> None:
        """Show ``text`` (``\\n`` line endings) to the client."""
        ...


def banner(config: FmcShellConfig) -> str:
    """What an FMC prints right after login, before the first prompt."""
    return (
        f"Last login: {config.last_login}\n"
        "\n"
        "Copyright 2004-2025, Cisco and/or its affiliates. All rights reserved.\n"
        "Cisco is a registered trademark of Cisco Systems, Inc.\n"
        "All other trademarks are property of their respective owners.\n"
        "\n"
        f"{config.product} v{config.version} (build {config.build})\n"
        "\n"
    )


def show_version(config: FmcShellConfig) -> str:
    """The CLISH ``show version`` output."""
    rule = "-" * 20
    vdb = str(config.vdb_build) if config.vdb_build is not None else "unknown"
    return (
        f"{rule}[ {config.hostname} ]{rule}\n"
        f"Model                     : {config.product} (66) "
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

    def __init__(self, config: FmcShellConfig, terminal: Terminal, *, interactive: bool):
        self.config = config
        self.terminal = terminal
        self.interactive = interactive
        self.sudo_cached = False
        self.lectured = False
        self.status = 0
        self.eof = False
        self._dirs = _directories(config)

    # -- input and output ------------------------------------------------------------

    def write(self, text: str) -> None:
        if text:
            self.terminal.write(text)

    async def read_line(self, *, echo: bool = True) -> str | None:
        line = await self.terminal.read_line(echo=echo)
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
            if command == "expert":
                self.write(EXPERT_NOTICE)
                await self.bash(_Shell(root=False, cwd=self.config.cwd))
                if self.eof:
                    return 0
            elif command == "show version":
                self.write(show_version(self.config))
            elif command in ("help", "?"):
                self.write(_CLISH_HELP)
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
        if name == "openssl":
            return self.openssl(args, shell, out, err)
        if name == "sudo":
            return await self.sudo(args, shell, err_null=err_null)
        if name == "su":
            if shell.root:
                return await self.root_shell(shell)
            err(SUDO_PROMPT)
            await self.read_line(echo=False)
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

    def cat(self, args: list[str], shell: _Shell, out: _Emit, err: _Emit) -> int:
        status = 0
        for raw in (a for a in args if not a.startswith("-") or a == "-"):
            path = self.path(shell, raw)
            if self.denied(path, shell):
                err(f"cat: {raw}: Permission denied\n")
                status = 1
            elif path in self.config.files:
                out(self.config.files[path])
            elif path in self._dirs:
                err(f"cat: {raw}: Is a directory\n")
                status = 1
            else:
                err(f"cat: {raw}: No such file or directory\n")
                status = 1
        return status

    def ls(self, args: list[str], shell: _Shell, out: _Emit, err: _Emit) -> int:
        targets = [a for a in args if not a.startswith("-")] or ["."]
        status = 0
        for raw in targets:
            path = self.path(shell, raw)
            if path in self.config.files:
                if self.denied(path, shell):
                    err(f"ls: cannot access '{raw}': Permission denied\n")
                    status = 2
                else:
                    out(raw + "\n")
            elif path in self._dirs:
                if self.denied(path, shell):
                    err(f"ls: cannot open directory '{raw}': Permission denied\n")
                    status = 2
                    continue
                prefix = path.rstrip("/") + "/"
                names = sorted(
                    {
                        entry[len(prefix) :].split("/", 1)[0]
                        for entry in (*self.config.files, *self._dirs)
                        if entry.startswith(prefix) and entry != prefix
                    }
                )
                show_all = any(a.startswith("-") and "a" in a for a in args)
                visible = [n for n in names if show_all or not n.startswith(".")]
                if visible:
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
        is_file = path in self.config.files
        found = {
            "-e": is_file or path in self._dirs,
            "-f": is_file,
            "-d": path in self._dirs,
            "-r": is_file or path in self._dirs,
            "-s": is_file and bool(self.config.files.get(path)),
        }[flag]
        return 0 if found else 1

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
        if self.denied(path, shell) or path not in self.config.files:
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
        if render_key("text", path) not in self.config.renders:
            err(f"Could not read certificate from {source}\nUnable to load certificate\n")
            return 1
        for option in prints:
            out(self.config.renders.get(render_key(option, path), ""))
        if not noout:
            out(self.config.files[path])
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
            self.write(SUDO_PROMPT)
            typed = await self.read_line(echo=False)
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


def _directories(config: FmcShellConfig) -> set[str]:
    dirs = {"/", "/root", config.home, "/var", "/etc"}
    if config.cwd.startswith("/"):
        dirs.add(config.cwd)
    for path in config.files:
        parts = path.split("/")[1:-1]
        for end in range(1, len(parts) + 1):
            dirs.add("/" + "/".join(parts[:end]))
    return {d for d in dirs if d}


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


async def run_interactive(config: FmcShellConfig, terminal: Terminal) -> int:
    """Run one interactive login session on ``terminal``; the session's exit status."""
    terminal.write(banner(config))
    if config.hang_after_login:
        await _hang(terminal)
        return 0
    if config.garbage:
        await _flood(terminal)
        return 0
    session = _Session(config, terminal, interactive=True)
    if config.clish:
        return await session.clish()
    return await session.bash(_Shell(root=False, cwd=config.cwd))


class _ExecTerminal:
    """Collects an exec request's output; stdin lines come from an optional reader."""

    def __init__(self, read_stdin: Callable[[], Awaitable[str | None]] | None):
        self._read_stdin = read_stdin
        self.output: list[str] = []

    async def read_line(self, *, echo: bool = True) -> str | None:
        return await self._read_stdin() if self._read_stdin is not None else None

    def write(self, text: str) -> None:
        self.output.append(text)


async def run_exec(
    config: FmcShellConfig,
    command: str,
    *,
    read_stdin: Callable[[], Awaitable[str | None]] | None = None,
) -> tuple[str, int]:
    """Run one non-interactive command (an SSH exec request) as the admin user.

    Returns the combined output and the exit status. There is no terminal, so ``sudo``
    fails unless given ``-S``, which reads the password from ``read_stdin`` (a line).
    """
    terminal = _ExecTerminal(read_stdin)
    session = _Session(config, terminal, interactive=False)
    if config.command_delay > 0:
        await asyncio.sleep(config.command_delay)
    leave = await session.run_line(command, _Shell(root=False, cwd=config.cwd))
    return "".join(terminal.output), session.status if leave is None else leave
