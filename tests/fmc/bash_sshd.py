"""OpenSSH's sshd on loopback with a throwaway user whose login shell is the real bash.

Not an FMC: a real bash (readline, history and quoting as on the box) behind a kernel PTY,
to prove that what fmccert types is quoted for bash and never carries a line-editor key.
Skips unless sshd and useradd are there and the tests run as root, like the FMC sshd
fixture in ``tests/support/sshd.py``.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.fmc.target import ProbeTarget
from bot.secrets import Secret
from tests.support.sshd import (
    RunningSshd,
    add_login_user,
    remove_login_user,
    sshd_unavailable_reason,
    start_sshd,
)

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
    sshd: RunningSshd | None = None
    try:
        add_login_user(username, password, home=home, shell=BASH)
        shutil.chown(home, user=username)
        sshd = start_sshd(workdir, username)
        yield BashHost("127.0.0.1", sshd.port, username, password, sshd.known_hosts, home)
    finally:
        if sshd is not None:
            sshd.stop()
        remove_login_user(username)
        shutil.rmtree(workdir, ignore_errors=True)
