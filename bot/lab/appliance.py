"""From a :class:`Scenario` to the files, renderings and behaviour of one emulated FMC.

An FTD (``kind="ftd"``, FN74284) keeps the same files at the same paths as an FMC.

The FMC's files sit where a real one keeps them (``docs/fmc-facts.md``): ``ims.conf``,
``sf-version``, ``model.conf`` and ``vdb.conf`` under ``/etc/sf`` (readable by admin),
and the Talos certificate under ``/var/sf/beaker3`` (root only, so reading it needs
``sudo``). Certificates are dated relative to the ``now`` passed in.

:func:`vdb_install_hook` is what happens once a VDB install completes: with VDB 406 or
later and cloud connectivity, the Talos certificate is replaced by a newly issued one,
as field notice FN74272 says VDB 406 does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.errors import LabError
from bot.fmc.target import DEFAULT_CERT_PATH
from bot.lab.certs import corrupt_pem, make_talos_certificate, render_openssl_fields
from bot.lab.scenarios import FIXING_VDB_BUILD, Scenario
from bot.lab.shell import VDB_CONF, FmcHost, FmcShellConfig, InstallHook, render_key

IMS_CONF = "/etc/sf/ims.conf"
SF_VERSION = "/etc/sf/sf-version"
MODEL_CONF = "/etc/sf/model.conf"
CERT_DIR = DEFAULT_CERT_PATH.rsplit("/", 1)[0]
CERT_LIFETIME = timedelta(days=425)  # the field notice's sample: Jan 30 2024 - Mar 30 2025


def fmc_files(scenario: Scenario, cert_pem: str | None) -> dict[str, str]:
    """The text files an FMC of this scenario holds, by absolute path."""
    # FTDs are "sensors" to the Firepower software; 75 is the FTDv's model number.
    model_type, model_number = ("SENSOR", 75) if scenario.kind == "ftd" else ("CONSOLE", 66)
    files = {
        SF_VERSION: f"{scenario.model} v{scenario.version} (build {scenario.build})\n",
        MODEL_CONF: (
            f'MODEL="{scenario.model}"\nMODEL_TYPE={model_type}\nMODEL_NUMBER={model_number}\n'
        ),
        VDB_CONF: (
            "CURRENT_VERSION=4.5.0\n"
            f"CURRENT_BUILD={scenario.vdb_build}\n"
            "CURRENT_APPID_VER=137\n"
            "CURRENT_NAVL_VER=197\n"
        ),
    }
    if scenario.ims_conf:
        files[IMS_CONF] = (
            "# Installed software\n"
            f"SWVERSION={scenario.version}\n"
            f"SWBUILD={scenario.build}\n"
            "OSVERSION=7.6\n"
            f"APPLIANCE_NAME={scenario.hostname}\n"
        )
    if cert_pem is not None:
        files[DEFAULT_CERT_PATH] = cert_pem
    return files


def build_shell_config(
    scenario: Scenario,
    *,
    password: str,
    now: datetime,
    common_name: str,
    username: str = "admin",
    command_delay: float = 0.0,
    install_delay: float = 2.0,
    updates_dir: str | None = None,
) -> FmcShellConfig:
    """The complete session config of one emulated FMC for ``scenario`` at ``now``.

    ``updates_dir`` is the real directory behind ``/var/sf/updates`` (None: empty and
    read-only); ``install_delay`` the seconds a VDB install takes.
    """
    if now.tzinfo is None:
        raise LabError("the lab clock must be timezone-aware (UTC)")
    if command_delay < 0:
        raise LabError(f"command delay must not be negative, not {command_delay}")
    if install_delay < 0:
        raise LabError(f"install delay must not be negative, not {install_delay}")
    renders: dict[str, str] = {}
    pem: str | None = None
    if scenario.cert_days_left is not None:
        pem = make_talos_certificate(
            common_name=common_name,
            not_after=now + timedelta(days=scenario.cert_days_left),
        )
        if scenario.cert_corrupt:
            pem = corrupt_pem(pem)
        else:
            for option, text in render_openssl_fields(pem).items():
                renders[render_key(option, DEFAULT_CERT_PATH)] = text
    last_login = now - timedelta(days=1, hours=3)
    return FmcShellConfig(
        files=fmc_files(scenario, pem),
        password=password,
        renders=renders,
        root_only=[CERT_DIR],
        username=username,
        home=f"/home/{username}",
        hostname=scenario.hostname,
        cwd=scenario.cwd,
        clish=scenario.clish,
        lecture=scenario.lecture,
        sudo_ok=scenario.sudo_ok,
        ansi=scenario.ansi,
        command_delay=scenario.command_delay + command_delay,
        hang_after_login=scenario.hang_after_login,
        garbage=scenario.garbage,
        product=scenario.model,
        version=scenario.version,
        build=scenario.build,
        vdb_build=scenario.vdb_build,
        last_login=f"{last_login:%a %b} {last_login.day:2d} {last_login:%H:%M:%S %Y} from 10.0.0.5",
        updates_dir=updates_dir,
        disk_free_mb=scenario.disk_free_mb,
        install_delay=install_delay,
        install_fails=scenario.install_fails,
        kind=scenario.kind,
        expert_disabled=scenario.expert_disabled,
    )


def renew_certificate(host: FmcHost, *, common_name: str, now: datetime) -> str:
    """Give ``host`` a newly issued Talos certificate valid from ``now``; its PEM."""
    pem = make_talos_certificate(
        common_name=common_name, not_after=now + CERT_LIFETIME, lifetime=CERT_LIFETIME
    )
    host.files[DEFAULT_CERT_PATH] = pem
    for option, text in render_openssl_fields(pem).items():
        host.renders[render_key(option, DEFAULT_CERT_PATH)] = text
    return pem


def vdb_install_hook(
    scenario: Scenario, *, common_name: str, clock: Callable[[], datetime]
) -> InstallHook:
    """What completing a VDB install does on this scenario's FMC (see the module doc)."""

    def installed(host: FmcHost, version: str, build: int) -> None:
        if build >= FIXING_VDB_BUILD and scenario.cloud_connectivity:
            renew_certificate(host, common_name=common_name, now=clock())

    return installed
