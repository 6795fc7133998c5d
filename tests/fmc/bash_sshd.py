"""OpenSSH's sshd on loopback with a throwaway user whose login shell is the real bash.

Not an FMC: a real bash (readline, history and quoting as on the box) behind a kernel PTY,
to prove that what fmccert types is quoted for bash and never carries a line-editor key.
Skips unless sshd and useradd are there and the tests run as root, like the FMC sshd
fixture in ``tests/support/sshd.py``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from bot.fmc.target import ProbeTarget
from bot.secrets import Secret
from tests.support.sshd import SSHD, _free_port, _wait_listening, sshd_unavailable_reason

BASH = Path("/bin/bash")


@dataclass(frozen=True, slots=True)
class BashHost:
    """How to log in to the real bash; ``home`` is the user's writable home directory."""

    host: str
    port: int
    username: str
    password: str
    known_hosts: Path
    home: Path

    def target(self, cert_path: str = "/nonexistent.pem") -> ProbeTarget:
        """A ProbeTarget for this host reading ``cert_path``."""
        return ProbeTarget(
            name="real-bash",
            host=self.host,
            port=self.port,
            username=self.username,
            password=Secret(self.password),
            known_hosts=self.known_hosts,
            cert_path=cert_path,
        )


@pytest.fixture
def bash_host() -> Iterator[BashHost]:
    """A real bash login over OpenSSH's sshd, torn down (user, processes, dir) afterwards."""
    reason = sshd_unavailable_reason()
    if reason is None and not BASH.exists():
        reason = f"{BASH} is not installed"
    if reason is not None:
        pytest.skip(reason)
    workdir = Path(tempfile.mkdtemp(prefix="fmcbash-"))
    workdir.chmod(0o755)
    home = workdir / "home"
    home.mkdir()
    username = f"fmcbash{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    process: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            ["useradd", "-M", "-d", str(home), "-s", str(BASH), username],
            check=True,
            capture_output=True,
        )
        shutil.chown(home, user=username)
        subprocess.run(
            ["chpasswd"], input=f"{username}:{password}\n".encode(), check=True, capture_output=True
        )
        key = asyncssh.generate_private_key("ssh-ed25519")
        key_path = workdir / "ssh_host_ed25519_key"
        key.write_private_key(str(key_path))
        key_path.chmod(0o600)
        port = _free_port()
        config = workdir / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {key_path}\n"
            f"PidFile {workdir / 'sshd.pid'}\nUsePAM no\nPasswordAuthentication yes\n"
            "KbdInteractiveAuthentication no\nPubkeyAuthentication no\nPermitRootLogin no\n"
            f"AllowUsers {username}\nStrictModes no\nPrintMotd no\nPrintLastLog no\n"
            "X11Forwarding no\nAllowTcpForwarding no\n"
        )
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        log = workdir / "sshd.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        _wait_listening(port, process, log)
        algorithm, blob = key.export_public_key("openssh").decode().split()[:2]
        known_hosts = workdir / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{port} {algorithm} {blob}\n")
        yield BashHost("127.0.0.1", port, username, password, known_hosts, home)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=3)
        listed = subprocess.run(["pgrep", "-u", username], capture_output=True, text=True)
        for pid in (int(word) for word in listed.stdout.split()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["userdel", "-f", username], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
