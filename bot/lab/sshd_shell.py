"""Install the emulated FMC as a login shell that OpenSSH's sshd can run.

The shell runs as an unprivileged user under the system ``/usr/bin/python3`` (the
project's venv usually sits under a 0700 directory that user cannot enter), so the two
stdlib-only modules are copied into ``directory`` with a JSON config and a wrapper.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.errors import LabError
from bot.lab.shell import FmcShellConfig

SYSTEM_PYTHON = Path("/usr/bin/python3")
CONFIG_NAME = "fmc-shell.json"
WRAPPER_NAME = "fmc-login-shell"
_SOURCES = ("shell.py", "login_shell.py")


def install_login_shell(
    directory: Path, config: FmcShellConfig, *, python: Path = SYSTEM_PYTHON
) -> Path:
    """Copy the FMC shell, its config and an executable wrapper into ``directory``.

    Files are 0644 and the wrapper 0755 so any user can run it; the directory itself
    must be reachable (0755 all the way down). Returns the wrapper's path, suitable
    as a login shell (``useradd -s``).
    """
    if not directory.is_dir():
        raise LabError(f"login shell directory {directory} does not exist")
    if not python.exists():
        raise LabError(f"the login shell needs {python}, which is not installed")
    here = Path(__file__).parent
    for name in _SOURCES:
        target = directory / name
        shutil.copyfile(here / name, target)
        target.chmod(0o644)
    config_path = directory / CONFIG_NAME
    config_path.write_text(config.to_json(), encoding="utf-8")
    config_path.chmod(0o644)
    wrapper = directory / WRAPPER_NAME
    # -E -s: ignore PYTHON* variables and the user site; not -I, which would drop the
    # script's directory from sys.path (login_shell.py loads shell.py by path anyway).
    wrapper.write_text(
        f'#!/bin/sh\nexec {python} -E -s "{directory / "login_shell.py"}" "{config_path}" "$@"\n',
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    return wrapper
