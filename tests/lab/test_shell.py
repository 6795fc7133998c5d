"""The FMC session state machine, driven through an in-memory terminal (no SSH)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.core.certificate import parse_certificate
from bot.errors import CertificateInvalidError
from bot.fmc.target import DEFAULT_CERT_PATH
from bot.lab.appliance import build_shell_config
from bot.lab.packages import vdb_package_name, write_vdb_package
from bot.lab.scenarios import get_scenario
from bot.lab.shell import VDB_CONF, FmcHost, FmcShellConfig, run_exec, run_interactive
from tests.support.terminal import MemoryTerminal

PASSWORD = "Lab-Passw0rd!"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
BASH = "admin@firepower:~$ "

Session = tuple[MemoryTerminal, "asyncio.Task[int]"]


def make_config(name: str = "healthy-742", **changes: Any) -> FmcShellConfig:
    """The shell config of catalog scenario ``name`` with Scenario field ``changes``."""
    scenario = dataclasses.replace(get_scenario(name), **changes)
    return build_shell_config(scenario, password=PASSWORD, now=NOW, common_name="t-prod-01")


@pytest.fixture
async def session() -> AsyncIterator[Callable[[FmcShellConfig], Session]]:
    """Starts interactive sessions on memory terminals; hangs them all up afterwards."""
    started: list[Session] = []

    def start(config: FmcShellConfig) -> Session:
        terminal = MemoryTerminal()
        task = asyncio.create_task(run_interactive(config, terminal))
        started.append((terminal, task))
        return terminal, task

    yield start
    for terminal, task in started:
        terminal.hang_up()
        try:
            await asyncio.wait_for(task, 2)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()


async def test_clish_expert_sudo_cat_reads_the_certificate(
    session: Callable[[FmcShellConfig], Session],
) -> None:
    """Banner, '>', expert, sudo with a hidden password, then the PEM; exit returns to '>'."""
    terminal, task = session(make_config())
    banner = await terminal.expect("> ")
    assert banner.startswith("Last login: ")
    assert "Cisco Secure Firewall Management Center for VMware v7.4.2 (build 172)" in banner
    terminal.send("expert")
    assert (await terminal.expect(BASH)).endswith(f"\n{BASH}")
    terminal.send(f"sudo cat {DEFAULT_CERT_PATH}")
    await terminal.expect("Password: ")
    terminal.send(PASSWORD)
    pem = await terminal.expect(BASH)
    assert parse_certificate(pem).issuer.startswith("CN=Keymaster CA 2")
    assert PASSWORD not in terminal.output
    assert terminal.echo_flags.count(False) == 1
    assert "lecture" not in terminal.output
    terminal.send("exit")
    await terminal.expect("> ")
    terminal.send("exit")
    assert await asyncio.wait_for(task, 1) == 0


async def test_lecture_comes_once_and_sudo_is_cached(
    session: Callable[[FmcShellConfig], Session],
) -> None:
    """With the lecture on, the first sudo prints it before 'Password:'; later sudo asks nothing."""
    terminal, _ = session(make_config("sudo-lecture"))
    await terminal.expect("> ")
    terminal.send("expert")
    prompt = "admin@firepower:/opt/cisco/platform$ "
    await terminal.expect(prompt)
    terminal.send("sudo id")
    before_password = await terminal.expect("Password: ")
    assert "We trust you have received the usual lecture" in before_password
    assert "#3) With great power comes great responsibility." in before_password
    terminal.send(PASSWORD)
    assert "uid=0(root)" in await terminal.expect(prompt)
    terminal.send("sudo cat /etc/sf/ims.conf")
    again = await terminal.expect(prompt)
    assert "Password" not in again
    assert "lecture" not in again
    assert "SWVERSION=7.7.0" in again


async def test_wrong_sudo_password_ends_after_three_attempts(
    session: Callable[[FmcShellConfig], Session],
) -> None:
    """Three wrong passwords: 'Sorry, try again.' twice, then '3 incorrect password attempts'."""
    terminal, _ = session(make_config())
    await terminal.expect("> ")
    terminal.send("expert")
    await terminal.expect(BASH)
    terminal.send(f"sudo cat {DEFAULT_CERT_PATH}")
    for _ in range(3):
        await terminal.expect("Password: ")
        terminal.send("wrong")
    await terminal.expect(BASH)
    assert (
        "Password: \nSorry, try again.\nPassword: \nSorry, try again.\nPassword: \n"
        "sudo: 3 incorrect password attempts\n" + BASH
    ) in terminal.output
    assert "BEGIN CERTIFICATE" not in terminal.output
    terminal.send("echo status=$?")
    assert "status=1" in await terminal.expect(BASH)


async def test_sudo_refused_rejects_even_the_right_password(
    session: Callable[[FmcShellConfig], Session],
) -> None:
    """The sudo-refused scenario refuses the correct password too."""
    terminal, _ = session(make_config("sudo-refused"))
    await terminal.expect("> ")
    terminal.send("expert")
    await terminal.expect(BASH)
    terminal.send("sudo id")
    for _ in range(3):
        await terminal.expect("Password: ")
        terminal.send(PASSWORD)
    assert "sudo: 3 incorrect password attempts" in await terminal.expect(BASH)


async def test_clish_off_lands_at_bash_and_exit_closes(
    session: Callable[[FmcShellConfig], Session],
) -> None:
    """Without CLISH the banner ends at the bash prompt; 'exit' ends the session."""
    terminal, task = session(make_config("clish-off"))
    first = await terminal.expect("$ ")
    assert first.endswith(f"\n{BASH}")
    assert "> " not in first
    terminal.send("hostname")
    assert "firepower\n" in await terminal.expect(BASH)
    terminal.send("exit")
    assert await asyncio.wait_for(task, 1) == 0


async def test_clish_commands_and_errors(session: Callable[[FmcShellConfig], Session]) -> None:
    """'show version' reports model, version and VDB; unknown input is an invalid-input error."""
    terminal, task = session(make_config("affected-760-warning"))
    await terminal.expect("> ")
    terminal.send("show version")
    shown = await terminal.expect("> ")
    assert "Version 7.6.0 (Build 36)" in shown
    assert "VDB version               : 400" in shown
    terminal.send("cat /etc/sf/ims.conf")
    assert "% Invalid Input Detected at '^' marker." in await terminal.expect("> ")
    terminal.send("")
    await terminal.expect("> ")
    terminal.send("logout")
    assert await asyncio.wait_for(task, 1) == 0


async def test_bash_files_permissions_and_errors(
    session: Callable[[FmcShellConfig], Session],
) -> None:
    """Config files are readable, the certificate is root-only, and errors read like bash."""
    terminal, _ = session(make_config("healthy-742", version="7.6.0", build="36", ims_conf=False))
    await terminal.expect("> ")
    terminal.send("expert")
    await terminal.expect(BASH)
    checks = {
        "cat /etc/sf/sf-version": "Management Center for VMware v7.6.0 (build 36)\n",
        "cat /etc/sf/.versiondb/vdb.conf": "CURRENT_BUILD=400\n",
        "cat /etc/sf/ims.conf": "cat: /etc/sf/ims.conf: No such file or directory\n",
        f"cat {DEFAULT_CERT_PATH}": f"cat: {DEFAULT_CERT_PATH}: Permission denied\n",
        f"openssl x509 -in {DEFAULT_CERT_PATH} -noout -enddate": "Permission denied",
        "ls /var/sf/beaker3": "ls: cannot open directory '/var/sf/beaker3': Permission denied",
        "frobnicate --now": "-bash: frobnicate: command not found\n",
        "false; echo rc=$?": "rc=1\n",
        "cat /nope 2>/dev/null || echo missing": "missing\n",
        "pwd": "/home/admin\n",
        "id": "uid=1000(admin)",
    }
    for command, expected in checks.items():
        terminal.send(command)
        assert expected in await terminal.expect(BASH), command
    terminal.send("cat /nope 2>/dev/null")
    assert "No such file" not in await terminal.expect(BASH)


async def test_openssl_renderings_under_sudo(session: Callable[[FmcShellConfig], Session]) -> None:
    """sudo openssl x509 prints the -enddate line and, with --text and no -noout, text and PEM."""
    terminal, _ = session(make_config())
    await terminal.expect("> ")
    terminal.send("expert")
    await terminal.expect(BASH)
    terminal.send(f"sudo openssl x509 -in {DEFAULT_CERT_PATH} -noout -enddate")
    await terminal.expect("Password: ")
    terminal.send(PASSWORD)
    assert "notAfter=" in await terminal.expect(BASH)
    terminal.send(f"sudo openssl x509 --in {DEFAULT_CERT_PATH} --text")
    both = await terminal.expect(BASH)
    assert "Issuer: C = US, ST = California, L = San Jose" in both
    assert "-----BEGIN CERTIFICATE-----" in both


async def test_sudo_root_shell_and_exit_back(session: Callable[[FmcShellConfig], Session]) -> None:
    """'sudo -i' opens a root '#' shell; exit goes back to admin bash, then to '>'."""
    terminal, _ = session(make_config())
    await terminal.expect("> ")
    terminal.send("expert")
    await terminal.expect(BASH)
    terminal.send("sudo -i")
    await terminal.expect("Password: ")
    terminal.send(PASSWORD)
    await terminal.expect("root@firepower:~# ")
    terminal.send(f"cat {DEFAULT_CERT_PATH}")
    assert "BEGIN CERTIFICATE" in await terminal.expect("root@firepower:~# ")
    terminal.send("exit")
    await terminal.expect(BASH)
    terminal.send("exit")
    await terminal.expect("> ")


async def test_ansi_prompts_carry_escapes(session: Callable[[FmcShellConfig], Session]) -> None:
    """ANSI scenarios decorate prompts with colours and bracketed-paste toggles."""
    terminal, _ = session(make_config("fixed-7710"))
    await terminal.expect("\x1b[1m>\x1b[0m ")
    terminal.send("expert")
    prompt = await terminal.expect("$ ")
    assert "\x1b[?2004h" in prompt
    assert "fmc-east-lab" in prompt
    assert "/Volume/home/admin" in prompt
    terminal.send("pwd")
    assert "\x1b[?2004l\r" in await terminal.expect("$ ")


async def test_missing_and_corrupt_certificates(
    session: Callable[[FmcShellConfig], Session],
) -> None:
    """cert-missing has no file under sudo; cert-corrupt has one that does not parse."""
    missing, _ = session(make_config("cert-missing"))
    corrupt, _ = session(make_config("cert-corrupt"))
    for terminal in (missing, corrupt):
        await terminal.expect("> ")
        terminal.send("expert")
        await terminal.expect(BASH)
        terminal.send(f"sudo cat {DEFAULT_CERT_PATH}")
        await terminal.expect("Password: ")
        terminal.send(PASSWORD)
    assert "No such file or directory" in await missing.expect(BASH)
    with pytest.raises(CertificateInvalidError):
        parse_certificate(await corrupt.expect(BASH))


async def test_slow_scenario_delays_each_command(
    session: Callable[[FmcShellConfig], Session],
) -> None:
    """With command_delay, every command's output comes only after the delay."""
    terminal, _ = session(make_config(command_delay=0.3))
    await terminal.expect("> ")
    started = time.monotonic()
    terminal.send("show version")
    await terminal.expect("> ")
    assert time.monotonic() - started >= 0.3


async def test_hang_prints_the_banner_then_nothing(
    session: Callable[[FmcShellConfig], Session],
) -> None:
    """hang-after-login shows the banner and never a prompt, until the client goes away."""
    terminal, task = session(make_config("hang-after-login"))
    await terminal.expect("(build 172)\n")
    terminal.send("expert")
    await asyncio.sleep(0.2)
    assert not terminal.output.rstrip("\n").endswith(">")
    assert "expert" in terminal.output  # only the PTY echo of what was typed
    terminal.hang_up()
    assert await asyncio.wait_for(task, 1) == 0


async def test_garbage_floods_past_256_kib_with_no_prompt(
    session: Callable[[FmcShellConfig], Session],
) -> None:
    """garbage-talker sends over 256 KiB within a second, none of it prompt-like."""
    terminal, task = session(make_config("garbage-talker"))
    banner_end = len(await terminal.expect("(build 172)\n\n"))
    started = time.monotonic()
    while len(terminal.output) < banner_end + 300 * 1024:
        assert time.monotonic() - started < 1.0
        await asyncio.sleep(0.01)
    noise = terminal.output[banner_end:]
    assert not set(noise) & set(">$#:%\x1b")
    terminal.hang_up()
    assert await asyncio.wait_for(task, 1) == 0


async def test_exec_runs_one_command_without_a_terminal() -> None:
    """run_exec cats files as admin; sudo needs -S and reads the password from stdin."""
    config = make_config()
    output, status = await run_exec(config, "cat /etc/sf/ims.conf")
    assert status == 0
    assert "SWVERSION=7.4.2\nSWBUILD=172\n" in output
    output, status = await run_exec(config, f"sudo cat {DEFAULT_CERT_PATH}")
    assert status == 1
    assert "a terminal is required" in output
    lines = iter([PASSWORD])

    async def stdin() -> str | None:
        return next(lines, None)

    output, status = await run_exec(config, f"sudo -S cat {DEFAULT_CERT_PATH}", read_stdin=stdin)
    assert status == 0
    assert output.startswith("Password: -----BEGIN CERTIFICATE-----")
    assert (await run_exec(config, "exit 3"))[1] == 3


def test_config_round_trips_through_json() -> None:
    """to_json/from_json give back an equal config; unknown keys are refused."""
    config = make_config("fixed-7710")
    assert FmcShellConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="bogus"):
        FmcShellConfig.from_json('{"files": {}, "password": "x", "bogus": 1}')


async def test_sessions_share_the_host_and_its_install(tmp_path: Path) -> None:
    """An install started by one exec session shows in the next one's vdb.conf and show version."""
    config = dataclasses.replace(
        make_config("affected-760-warning"), updates_dir=str(tmp_path), install_delay=0.05
    )
    installed: list[tuple[str, int]] = []
    host = FmcHost(
        config, on_installed=lambda _, version, build: installed.append((version, build))
    )
    write_vdb_package(tmp_path)
    package = f"/var/sf/updates/{vdb_package_name()}"
    lines = iter([PASSWORD])

    async def stdin() -> str | None:
        return next(lines, None)

    output, status = await run_exec(
        config, f"sudo -S install_update.pl --detach {package}", read_stdin=stdin, host=host
    )
    assert status == 0, output
    assert host.installing == vdb_package_name()
    await asyncio.wait_for(host.wait_installs(), 1)
    assert installed == [("4.5.0", 406)]
    output, _ = await run_exec(config, f"cat {VDB_CONF} 2>/dev/null; echo $?", host=host)
    assert "CURRENT_VERSION=4.5.0\nCURRENT_BUILD=406\n" in output
    assert output.endswith("\n0\n")
    assert host.installing is None
    terminal = MemoryTerminal()
    task = asyncio.create_task(run_interactive(config, terminal, host=host))
    await terminal.expect("> ")
    terminal.send("show version")
    assert "VDB version               : 406\n" in await terminal.expect("> ")
    terminal.hang_up()
    await asyncio.wait_for(task, 1)
    # Without a shared host each session starts from the config again.
    output, _ = await run_exec(config, f"cat {VDB_CONF}")
    assert "CURRENT_BUILD=400\n" in output


async def test_sudo_turns_echo_off_before_it_prompts(
    session: Callable[[FmcShellConfig], Session],
) -> None:
    """The Password: prompt is written inside the unechoed read, never before it."""
    terminal, _ = session(make_config())
    await terminal.expect("> ")
    terminal.send("expert")
    await terminal.expect(BASH)
    terminal.send("sudo true")
    await terminal.expect("Password: ")
    assert terminal.echo_flags[-1] is False  # the read was already unechoed at the prompt
    terminal.send(PASSWORD)
    await terminal.expect(BASH)


async def test_ftd_banner_lecture_and_platform_prompt(
    session: Callable[[FmcShellConfig], Session],
) -> None:
    """An FTD prints FX-OS and FTD lines before '>', lectures on first sudo, shows its cwd."""
    terminal, _ = session(make_config("ftd-affected-760"))
    banner = await terminal.expect("> ")
    fxos = "Cisco Firepower Extensible Operating System (FX-OS) v2.16.0 (build 136)\n"
    ftd = "Cisco Secure Firewall Threat Defense for VMware v7.6.0 (build 36)\n"
    assert fxos + ftd in banner
    assert banner.index("Copyright") < banner.index("FX-OS")
    terminal.send("show version")
    assert "Threat Defense for VMware (75) Version 7.6.0 (Build 36)" in await terminal.expect("> ")
    terminal.send("expert")
    await terminal.expect("admin@firepower:/opt/cisco/platform$ ")
    terminal.send("cat /etc/sf/ims.conf /etc/sf/model.conf")
    files = await terminal.expect("admin@firepower:/opt/cisco/platform$ ")
    assert "SWVERSION=7.6.0" in files
    assert "MODEL_TYPE=SENSOR" in files
    terminal.send(f"sudo cat {DEFAULT_CERT_PATH}")
    assert "usual lecture" in await terminal.expect("Password: ")
    terminal.send(PASSWORD)
    assert "BEGIN CERTIFICATE" in await terminal.expect("admin@firepower:/opt/cisco/platform$ ")


async def test_ftd_lockdown_has_no_expert_command(
    session: Callable[[FmcShellConfig], Session],
) -> None:
    """After `system lockdown` CLISH rejects `expert`, stays at '>' and leaves it out of help."""
    terminal, task = session(make_config("ftd-lockdown"))
    await terminal.expect("> ")
    terminal.send("expert")
    answer = await terminal.expect("> ")
    assert "% Invalid Input Detected at '^' marker." in answer
    assert "$ " not in answer
    terminal.send("help")
    assert "expert" not in await terminal.expect("> ")
    terminal.send("exit")
    assert await asyncio.wait_for(task, 1) == 0
