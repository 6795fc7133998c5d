"""The FMC side of a VDB-update remediation, over real SSH and SFTP on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import tarfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncssh
import pytest
import yaml

from bot.config import load_config
from bot.core.certificate import parse_certificate
from bot.fmc.target import DEFAULT_CERT_PATH
from bot.lab.packages import vdb_package_name, write_vdb_package
from bot.lab.scenarios import get_scenario
from bot.lab.server import UPLOAD_CUT_BYTES, LabHost, RunningLab
from bot.lab.shell import VDB_CONF, VERIFICATION_FAILED
from tests.support.lab_fixtures import LabFactory
from tests.support.ssh_client import ExpertShell, connect

UPDATES = "/var/sf/updates"
PACKAGE = vdb_package_name()
DELAY = 0.3
DF_HEADER = "Filesystem     1024-blocks    Used Available Capacity Mounted on"
VERSION_FILES = "cat /etc/sf/ims.conf /etc/sf/sf-version /etc/sf/.versiondb/vdb.conf"


def _known_hosts(lab: RunningLab, tmp_path: Path) -> str:
    lab.write_config(tmp_path / "fmccert.yaml")
    return str(tmp_path / "known_hosts")


@asynccontextmanager
async def _connection(
    lab: RunningLab, host: LabHost, tmp_path: Path
) -> AsyncIterator[asyncssh.SSHClientConnection]:
    conn = await connect(host.host, host.port, "admin", lab.password, _known_hosts(lab, tmp_path))
    async with conn:
        yield conn


async def _expert(lab: RunningLab, conn: asyncssh.SSHClientConnection) -> ExpertShell:
    return await ExpertShell.open(conn, lab.password, clish=lab.hosts[0].scenario.clish)


async def _upload(conn: asyncssh.SSHClientConnection, local: Path, name: str = PACKAGE) -> None:
    async with conn.start_sftp_client() as sftp:
        await sftp.put(str(local), f"{UPDATES}/{name}.part")
        await sftp.rename(f"{UPDATES}/{name}.part", f"{UPDATES}/{name}")


async def _wait_for_vdb(shell: ExpertShell, build: int, within: float = 5.0) -> str:
    deadline = time.monotonic() + within
    while True:
        text, status = await shell.run(f"cat {VDB_CONF}")
        assert status == 0
        if f"CURRENT_BUILD={build}\n" in text:
            return text
        assert time.monotonic() < deadline, f"vdb.conf never showed build {build}: {text!r}"
        await asyncio.sleep(0.1)


async def _fresh_certificate(lab: RunningLab, tmp_path: Path) -> str:
    """Read the certificate the way a fresh probe does: a new connection, sudo cat."""
    async with _connection(lab, lab.hosts[0], tmp_path) as conn:
        shell = await _expert(lab, conn)
        versions, status = await shell.run(VERSION_FILES + " 2>/dev/null")
        assert "CURRENT_BUILD=" in versions
        pem, status = await shell.run(f"sudo cat {DEFAULT_CERT_PATH}")
        assert status == 0, pem
        return pem.removeprefix("Password: \n")


async def test_df_reports_the_scenario_free_space(lab_factory: LabFactory, tmp_path: Path) -> None:
    """df -Pk /var/sf/updates prints the POSIX header and a /Volume line with the free space."""
    scenario = dataclasses.replace(get_scenario("affected-760-warning"), disk_free_mb=1234)
    lab = await lab_factory([scenario])
    async with _connection(lab, lab.hosts[0], tmp_path) as conn:
        shell = await _expert(lab, conn)
        text, status = await shell.run(f"df -Pk {UPDATES}")
        assert status == 0
        assert text == (
            f"{DF_HEADER}\n/dev/sda7          7555072 6291456   1263616      84% /Volume\n"
        )
        text, status = await shell.run("df -Pk /no/such/dir")
        assert (text, status) == ("df: /no/such/dir: No such file or directory\n", 1)


async def test_sftp_upload_and_rename_are_seen_by_the_shell(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    """An SFTP upload renamed from .part shows in ls -l, sha256sum and df; rm -f removes it."""
    lab = await lab_factory(["affected-760-warning"], install_delay=DELAY)
    package = write_vdb_package(tmp_path / "pkg" / PACKAGE)
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    size = package.stat().st_size
    async with _connection(lab, lab.hosts[0], tmp_path) as conn:
        shell = await _expert(lab, conn)
        _, status = await shell.run(f"ls -l {UPDATES}")
        assert status == 0
        async with conn.start_sftp_client() as sftp:
            await sftp.put(str(package), f"{UPDATES}/{PACKAGE}.part")
            listed, _ = await shell.run(f"ls {UPDATES}")
            assert listed == f"{PACKAGE}.part\n"
            await sftp.rename(f"{UPDATES}/{PACKAGE}.part", f"{UPDATES}/{PACKAGE}")
            assert (await sftp.stat(f"{UPDATES}/{PACKAGE}")).size == size
            # posix_rename replaces an existing file; writing elsewhere is refused.
            await sftp.put(str(package), f"{UPDATES}/second.part")
            await sftp.posix_rename(f"{UPDATES}/second.part", f"{UPDATES}/{PACKAGE}")
            with pytest.raises(asyncssh.SFTPPermissionDenied):
                await sftp.put(str(package), "/etc/sf/evil.tar")
        assert (lab.updates_dir(lab.hosts[0].name) / PACKAGE).read_bytes() == package.read_bytes()
        listing, status = await shell.run(f"ls -l {UPDATES}")
        assert status == 0
        lines = listing.splitlines()
        assert lines[0].startswith("total ")
        assert len(lines) == 2
        assert lines[1].startswith(f"-rw-r--r-- 1 admin admin {size} ")
        assert lines[1].endswith(f" {PACKAGE}")
        summed, status = await shell.run(f"sha256sum {UPDATES}/{PACKAGE}")
        assert (summed, status) == (f"{digest}  {UPDATES}/{PACKAGE}\n", 0)
        df, _ = await shell.run(f"df -Pk {UPDATES}")
        available = int(df.splitlines()[1].split()[3])
        assert available == 30000 * 1024 - -(-size // 4096) * 4
        removed, status = await shell.run(f"rm -f {UPDATES}/{PACKAGE}")
        assert (removed, status) == ("", 0)
        missing, status = await shell.run(f"sha256sum {UPDATES}/{PACKAGE}")
        assert (missing, status) == (
            f"sha256sum: {UPDATES}/{PACKAGE}: No such file or directory\n",
            1,
        )
        assert await shell.run(f"ls {UPDATES}") == ("", 0)


async def test_install_renews_the_certificate_seen_by_a_new_connection(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    """install_update.pl --detach returns at once; later a new connection sees a new certificate."""
    lab = await lab_factory(["affected-760-warning"], install_delay=DELAY)
    name = lab.hosts[0].name
    old = parse_certificate(lab.certificate_pem(name))
    package = write_vdb_package(tmp_path / "pkg" / PACKAGE)
    async with _connection(lab, lab.hosts[0], tmp_path) as conn:
        await _upload(conn, package)
        shell = await _expert(lab, conn)
        started = time.monotonic()
        text, status = await shell.run(f"sudo install_update.pl --detach {UPDATES}/{PACKAGE}")
        assert status == 0, text
        assert time.monotonic() - started < DELAY
        assert "started in the background" in text
        assert lab.vdb_build(name) == 400
        vdb = await _wait_for_vdb(shell, 406)
        assert "CURRENT_VERSION=4.5.0\nCURRENT_BUILD=406\n" in vdb
    assert lab.vdb_build(name) == 406
    new = parse_certificate(await _fresh_certificate(lab, tmp_path))
    assert new.serial != old.serial
    assert new.not_after > old.not_after
    assert new.not_after - new.not_before == timedelta(days=425)
    assert abs(new.not_before - datetime.now(UTC)) < timedelta(minutes=1)
    async with _connection(lab, lab.hosts[0], tmp_path) as conn:
        shell = await _expert(lab, conn)
        enddate, status = await shell.run(
            f"sudo openssl x509 -noout -enddate -in {DEFAULT_CERT_PATH}"
        )
        assert status == 0
        assert str(new.not_after.year) in enddate
        assert enddate.endswith(
            f"notAfter={new.not_after:%b} {new.not_after.day:2d} {new.not_after:%H:%M:%S %Y} GMT\n"
        )
        again, status = await shell.run(f"sudo install_update.pl --detach {UPDATES}/{PACKAGE}")
        assert status == 1
        assert "not newer" in again


async def test_without_cloud_connectivity_the_vdb_installs_but_the_certificate_stays(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    """On expires-today the VDB becomes 406 but the certificate is the same one."""
    lab = await lab_factory(["expires-today"], install_delay=DELAY)
    name = lab.hosts[0].name
    before = lab.certificate_pem(name)
    async with _connection(lab, lab.hosts[0], tmp_path) as conn:
        await _upload(conn, write_vdb_package(tmp_path / "pkg" / PACKAGE))
        shell = await _expert(lab, conn)
        _, status = await shell.run(f"sudo install_update.pl --detach {UPDATES}/{PACKAGE}")
        assert status == 0
        await _wait_for_vdb(shell, 406)
    assert lab.vdb_build(name) == 406
    assert await _fresh_certificate(lab, tmp_path) == before


async def test_install_fails_at_once_and_changes_nothing(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    """On clish-off install_update.pl fails verification, exit 1; vdb.conf and cert stay."""
    lab = await lab_factory(["clish-off"], install_delay=DELAY)
    name = lab.hosts[0].name
    before = lab.certificate_pem(name)
    async with _connection(lab, lab.hosts[0], tmp_path) as conn:
        await _upload(conn, write_vdb_package(tmp_path / "pkg" / PACKAGE))
        shell = await _expert(lab, conn)
        text, status = await shell.run(f"sudo install_update.pl --detach {UPDATES}/{PACKAGE}")
        assert status == 1
        assert VERIFICATION_FAILED in text
        await asyncio.sleep(DELAY * 2)
        vdb, _ = await shell.run(f"cat {VDB_CONF}")
        assert "CURRENT_BUILD=400\n" in vdb
    assert lab.vdb_build(name) == 400
    assert lab.certificate_pem(name) == before


async def test_upload_cut_drops_the_connection_halfway(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    """On cert-corrupt the SFTP put loses the connection and no file gets the final name."""
    lab = await lab_factory(["cert-corrupt"], install_delay=DELAY)
    updates = lab.updates_dir(lab.hosts[0].name)
    package = write_vdb_package(tmp_path / "pkg" / PACKAGE)
    small = write_vdb_package(tmp_path / "small.tar", size=40 * 1024)
    async with _connection(lab, lab.hosts[0], tmp_path) as conn:
        with pytest.raises((asyncssh.Error, OSError)):
            await _upload(conn, package)
    assert not (updates / PACKAGE).exists()
    partial = (updates / f"{PACKAGE}.part").stat().st_size
    assert 0 < partial <= UPLOAD_CUT_BYTES < package.stat().st_size
    # A file smaller than the cut point is still broken, at half its size, when closed.
    async with _connection(lab, lab.hosts[0], tmp_path) as conn:
        with pytest.raises((asyncssh.Error, OSError)):
            await _upload(conn, small, "small.tar")
    assert not (updates / "small.tar").exists()
    assert (updates / "small.tar.part").stat().st_size == small.stat().st_size // 2


async def test_exit_statuses_of_every_remediation_command(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    """`cmd; echo "@@rc=$?"` reports each command's status, through sudo too."""
    lab = await lab_factory(["affected-770-critical"], install_delay=DELAY)
    name = lab.hosts[0].name
    updates = lab.updates_dir(name)
    (updates / "notes.txt").write_text("not a package\n")
    (updates / vdb_package_name(build=407)).write_bytes(b"truncated, not a tar")
    async with _connection(lab, lab.hosts[0], tmp_path) as conn:
        shell = await _expert(lab, conn)
        cases = [
            ("true", 0, ""),
            ("false", 1, ""),
            (f"install_update.pl --detach {UPDATES}/notes.txt", 1, "must be run as root"),
            ("sudo true", 0, "Password: \n"),
            (f"sudo install_update.pl --detach {UPDATES}/{PACKAGE}", 1, "not found"),
            (f"sudo install_update.pl --detach {UPDATES}/notes.txt", 1, "not a VDB update"),
            (
                f"sudo install_update.pl --detach {UPDATES}/{vdb_package_name(build=407)}",
                1,
                VERIFICATION_FAILED,
            ),
            ("sudo install_update.pl --bogus x", 1, "Unknown option: bogus"),
            (f"sudo sha256sum {UPDATES}/notes.txt", 0, f"  {UPDATES}/notes.txt\n"),
            (f"sha256sum {UPDATES}/nothing", 1, "No such file or directory"),
            (f"rm -f {UPDATES}/nothing", 0, ""),
            (f"rm {UPDATES}/nothing", 1, "No such file or directory"),
            ("rm -f /etc/sf/ims.conf", 1, "Operation not permitted"),
            (f"sudo rm -f {UPDATES}/notes.txt", 0, ""),
            ("ls /no/such/dir", 2, "No such file or directory"),
            (f"df -Pk {UPDATES}", 0, DF_HEADER),
            (f"sudo df -Pk {UPDATES}", 0, "/Volume"),
        ]
        for command, expected, fragment in cases:
            output, status = await shell.run(command)
            assert status == expected, (command, output)
            assert fragment in output, (command, output)
    assert not (updates / "notes.txt").exists()
    assert lab.vdb_build(name) == 400


async def test_sudo_refused_gives_status_one(lab_factory: LabFactory, tmp_path: Path) -> None:
    """When sudo refuses the password three times, `echo $?` after it prints 1."""
    lab = await lab_factory(["sudo-refused"])
    async with _connection(lab, lab.hosts[0], tmp_path) as conn:
        shell = await _expert(lab, conn)
        output, status = await shell.run(f"sudo install_update.pl --detach {UPDATES}/{PACKAGE}")
        assert status == 1
        assert "sudo: 3 incorrect password attempts" in output


async def test_install_finishes_after_the_session_ends(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    """An install started by a session that disconnects at once still completes."""
    lab = await lab_factory(["cert-missing"], install_delay=DELAY)
    name = lab.hosts[0].name
    async with _connection(lab, lab.hosts[0], tmp_path) as conn:
        await _upload(conn, write_vdb_package(tmp_path / "pkg" / PACKAGE))
        shell = await _expert(lab, conn)
        _, status = await shell.run(f"sudo install_update.pl --detach {UPDATES}/{PACKAGE}")
        assert status == 0
    await asyncio.wait_for(lab.wait_installs(name), DELAY * 10)
    assert lab.vdb_build(name) == 406
    assert parse_certificate(lab.certificate_pem(name)).subject.endswith(f"CN={name}-prod-01")


async def test_write_config_writes_the_package_and_remediation_section(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    """write_config writes a valid, repeatable VDB 406 tar and a remediation section naming it."""
    lab = await lab_factory(["affected-760-warning"])
    config = tmp_path / "fmccert.yaml"
    lab.write_config(config)
    document = yaml.safe_load(config.read_text())
    assert document["remediation"] == {
        "vdb_package": PACKAGE,
        "vdb_install_timeout_minutes": 2,
        "vdb_poll_interval_seconds": 0.5,
    }
    package = tmp_path / PACKAGE
    first = package.read_bytes()
    assert 256 * 1024 < len(first) < 512 * 1024
    with tarfile.open(package) as archive:
        assert [m.name for m in archive.getmembers()] == [
            "Cisco_VDB_Fingerprint_Database-4.5.0-406.sh",
            "vdb/fingerprints.dat",
        ]
    lab.write_config(config)
    assert package.read_bytes() == first
    settings = load_config(config).remediation
    assert settings.vdb_package == package
    assert settings.vdb_poll_interval == 0.5
    assert write_vdb_package(tmp_path / "dir-target").name != PACKAGE  # a file path is kept
    (tmp_path / "into").mkdir()
    assert write_vdb_package(tmp_path / "into", build=410).name == vdb_package_name(build=410)


async def test_close_deletes_the_updates_directories(lab_factory: LabFactory) -> None:
    """RunningLab.close() removes every host's temp directory."""
    lab = await lab_factory(["healthy-742", "not-listening"])
    directories = [lab.updates_dir(host.name) for host in lab.hosts]
    assert all(directory.is_dir() for directory in directories)
    await lab.close()
    assert not any(directory.exists() for directory in directories)
