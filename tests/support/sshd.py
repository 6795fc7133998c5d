"""OpenSSH's own sshd on loopback, with an emulated FMC as a local user's login shell.

Proves SSH clients against a server this project did not write, with a kernel PTY
(recipe: ``docs/testing-recipes.md``). Each call of the ``sshd_fmc_factory`` fixture
creates a user ``fmclab<hex>`` whose login shell is the lab shell installed in a fresh
0755 temp dir, starts ``/usr/sbin/sshd -D`` for that user on a free port with a
generated ed25519 host key, and returns an :class:`SshdFmc` record. Teardown stops
sshd, ends that user's leftover processes by pid, deletes the user and the temp dir.

The fixtures skip, with the reason, only when sshd or useradd is missing or the tests
do not run as root (creating users needs root).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from bot.lab.appliance import build_shell_config
from bot.lab.scenarios import Scenario, get_scenario
from bot.lab.shell import FmcShellConfig
from bot.lab.sshd_shell import CONFIG_NAME, install_login_shell

SSHD = Path("/usr/sbin/sshd")
_START_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class SshdFmc:
    """How to reach one emulated FMC served by OpenSSH's sshd."""

    host: str
    port: int
    username: str
    password: str
    known_hosts: Path  # holds exactly this server's host key line
    known_hosts_line: str
    config: FmcShellConfig  # what the login shell serves (files, certificate, prompts)
    scenario: Scenario


def sshd_unavailable_reason() -> str | None:
    """Why the sshd fixture cannot run here, or None when it can."""
    if not SSHD.exists():
        return f"{SSHD} is not installed (apt-get install openssh-server)"
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        return "useradd/userdel are not installed (needed to create the FMC login user)"
    if os.geteuid() != 0:
        return "the sshd fixture must run as root to create a login user"
    if not Path("/usr/bin/python3").exists():
        return "/usr/bin/python3 is missing (the login shell runs under it)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited early: {log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"sshd did not listen on port {port}: {log.read_text(errors='replace')}")


def add_login_user(username: str, password: str, *, home: Path, shell: Path) -> None:
    """A throwaway local user with this login shell and password (no home is created)."""
    subprocess.run(
        ["useradd", "-M", "-d", str(home), "-s", str(shell), username],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["chpasswd"], input=f"{username}:{password}\n".encode(), check=True, capture_output=True
    )


def remove_login_user(username: str) -> None:
    """End the user's processes, then delete the account."""
    # Sessions left open by a test (e.g. a hang) run as this throwaway user: end them
    # by pid before deleting the account.
    listed = subprocess.run(["pgrep", "-u", username], capture_output=True, text=True)
    for pid in (int(word) for word in listed.stdout.split()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    subprocess.run(["userdel", "-f", username], capture_output=True)


@dataclass(frozen=True, slots=True)
class RunningSshd:
    """An sshd on 127.0.0.1 letting one user in by password; its host key is pinned."""

    process: subprocess.Popen[bytes]
    port: int
    known_hosts: Path
    known_hosts_line: str

    def stop(self) -> None:
        """Terminate sshd (kill it if it does not stop within 3 s)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=3)


def start_sshd(workdir: Path, username: str) -> RunningSshd:
    """Start OpenSSH's sshd in ``workdir`` (key, config, log, known_hosts) for ``username``."""
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    key_path = workdir / "ssh_host_ed25519_key"
    host_key.write_private_key(str(key_path))
    key_path.chmod(0o600)
    port = _free_port()
    sshd_config = workdir / "sshd_config"
    sshd_config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {key_path}\n"
        f"PidFile {workdir / 'sshd.pid'}\n"
        "UsePAM no\n"
        "PasswordAuthentication yes\n"
        "KbdInteractiveAuthentication no\n"
        "PubkeyAuthentication no\n"
        "PermitRootLogin no\n"
        f"AllowUsers {username}\n"
        "StrictModes no\n"
        "PrintMotd no\n"
        "PrintLastLog no\n"
        "X11Forwarding no\n"
        "AllowTcpForwarding no\n"
        "LogLevel VERBOSE\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
    subprocess.run([str(SSHD), "-t", "-f", str(sshd_config)], check=True, capture_output=True)
    log = workdir / "sshd.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(sshd_config)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_listening(port, process, log)
    except BaseException:
        RunningSshd(process, port, workdir, "").stop()
        raise
    algorithm, blob = host_key.export_public_key("openssh").decode().split()[:2]
    line = f"[127.0.0.1]:{port} {algorithm} {blob}"
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(line + "\n")
    return RunningSshd(process, port, known_hosts, line)


class SshdFmcFactory:
    """Starts sshd-served emulated FMCs on demand and tears all of them down."""

    def __init__(self) -> None:
        self._cleanups: list[Any] = []

    def __call__(self, scenario: Scenario | str = "healthy-742", **changes: Any) -> SshdFmc:
        """An sshd serving ``scenario`` (a catalog name or Scenario) with ``changes`` applied."""
        chosen = get_scenario(scenario) if isinstance(scenario, str) else scenario
        chosen = dataclasses.replace(chosen, **changes)
        workdir = Path(tempfile.mkdtemp(prefix="fmclab-"))
        # pytest's tmp_path sits under a 0700 dir; the login user must reach this one.
        workdir.chmod(0o755)
        self._cleanups.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
        username = f"fmclab{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(16)
        config = build_shell_config(
            chosen,
            password=password,
            now=datetime.now(UTC),
            common_name=f"{username}-prod-01",
            username=username,
        )
        wrapper = install_login_shell(workdir, config)
        self._cleanups.append(lambda: remove_login_user(username))
        add_login_user(username, password, home=workdir, shell=wrapper)
        # The config holds the password: only the login user may read it.
        shutil.chown(workdir / CONFIG_NAME, user=username)
        (workdir / CONFIG_NAME).chmod(0o600)
        sshd = start_sshd(workdir, username)
        self._cleanups.append(sshd.stop)
        return SshdFmc(
            host="127.0.0.1",
            port=sshd.port,
            username=username,
            password=password,
            known_hosts=sshd.known_hosts,
            known_hosts_line=sshd.known_hosts_line,
            config=config,
            scenario=chosen,
        )

    def close(self) -> None:
        """Undo everything, newest first: stop sshd, remove the user, delete the dir."""
        while self._cleanups:
            self._cleanups.pop()()


@pytest.fixture
def sshd_fmc_factory() -> Iterator[SshdFmcFactory]:
    """Call it with a scenario name (and Scenario field changes) to get a running sshd FMC."""
    reason = sshd_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    factory = SshdFmcFactory()
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def sshd_fmc(sshd_fmc_factory: SshdFmcFactory) -> SshdFmc:
    """One sshd-served FMC playing the ``healthy-742`` scenario."""
    return sshd_fmc_factory()
