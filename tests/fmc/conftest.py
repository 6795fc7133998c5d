"""Fixtures of the probe tests: a real bash behind OpenSSH's sshd."""

from tests.fmc.bash_sshd import bash_host  # noqa: F401
