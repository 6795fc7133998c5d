"""The lab shell as a login shell under OpenSSH's sshd, with a kernel PTY."""

from __future__ import annotations

import asyncio

import asyncssh

from bot.core.certificate import parse_certificate
from bot.fmc.target import DEFAULT_CERT_PATH
from tests.support.ssh_client import ExpertShell, PtyReader, connect
from tests.support.sshd import SshdFmc, SshdFmcFactory


async def _login(fmc: SshdFmc) -> tuple[asyncssh.SSHClientConnection, PtyReader]:
    conn = await connect(fmc.host, fmc.port, fmc.username, fmc.password, str(fmc.known_hosts))
    process = await conn.create_process(term_type="xterm", term_size=(200, 50))
    return conn, PtyReader(process)


async def test_sshd_session_banner_expert_sudo_lecture_and_pem(
    sshd_fmc_factory: SshdFmcFactory,
) -> None:
    """Under real sshd: banner, '>', expert, the sudo lecture, bare 'Password:', then the PEM."""
    fmc = sshd_fmc_factory("sudo-lecture")
    conn, reader = await _login(fmc)
    async with conn:
        banner = await reader.until("> ")
        assert banner.startswith("Last login: ")
        assert "Cisco Secure Firewall Management Center for VMware v7.7.0 (build 91)" in banner
        reader.send("expert")
        prompt = f"{fmc.username}@firepower:/opt/cisco/platform$ "
        await reader.until(prompt)
        reader.send(f"sudo cat {DEFAULT_CERT_PATH}")
        asked = await reader.until("Password: ")
        assert "We trust you have received the usual lecture" in asked
        reader.send(fmc.password)
        pem = await reader.until(prompt)
        assert parse_certificate(pem.replace("\r\n", "\n")).issuer.startswith("CN=Keymaster CA 2")
        assert fmc.password not in reader.seen  # the kernel PTY had echo off
        reader.send("exit")
        await reader.until("> ")
        reader.send("exit")
        await asyncio.wait_for(reader.process.wait_closed(), 3)


async def test_sshd_exec_and_wrong_sudo_password(sshd_fmc_factory: SshdFmcFactory) -> None:
    """Exec requests reach the shell via '-c'; a wrong sudo password ends after 3 attempts."""
    fmc = sshd_fmc_factory("clish-off", ims_conf=True)
    conn, reader = await _login(fmc)
    async with conn:
        result = await asyncio.wait_for(conn.run("cat /etc/sf/ims.conf"), 3)
        assert result.exit_status == 0
        assert "SWVERSION=7.6.0" in str(result.stdout)
        prompt = f"{fmc.username}@firepower:~$ "
        await reader.until(prompt)
        reader.send("sudo id")
        for _ in range(3):
            await reader.until("Password: ")
            reader.send("wrong-password")
        assert "sudo: 3 incorrect password attempts" in await reader.until(prompt)
        assert "wrong-password" not in reader.seen


async def test_sshd_remediation_commands_report_their_status(
    sshd_fmc_factory: SshdFmcFactory,
) -> None:
    """Under real sshd, df, sha256sum and install_update.pl answer with the right `$?`."""
    fmc = sshd_fmc_factory("affected-760-warning")
    conn = await connect(fmc.host, fmc.port, fmc.username, fmc.password, str(fmc.known_hosts))
    async with conn:
        shell = await ExpertShell.open(conn, fmc.password, prompt=f"{fmc.username}@firepower:~$ ")
        df, status = await shell.run("df -Pk /var/sf/updates")
        assert status == 0
        assert df.splitlines()[1].split()[3] == str(30000 * 1024)
        missing = "/var/sf/updates/Cisco_VDB_Fingerprint_Database-4.5.0-406.sh.REL.tar"
        assert (await shell.run(f"sha256sum {missing}"))[1] == 1
        output, status = await shell.run(f"sudo install_update.pl --detach {missing}")
        assert status == 1
        assert "not found" in output
        assert fmc.password not in shell.reader.seen
