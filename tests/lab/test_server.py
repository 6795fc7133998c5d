"""The lab's asyncssh servers, checked over real SSH on loopback with a raw asyncssh client."""

from __future__ import annotations

import asyncio
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncssh
import pytest
import yaml

from bot.core.certificate import parse_certificate
from bot.core.expiry import days_left
from bot.errors import LabError
from bot.fmc.target import DEFAULT_CERT_PATH
from bot.lab.scenarios import CATALOG, pick_scenarios
from bot.lab.server import LabHost, RunningLab, start_lab
from tests.support.lab_fixtures import LabFactory
from tests.support.ssh_client import PtyReader, connect

BASH = "admin@firepower:~$ "


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _known_hosts(lab: RunningLab, tmp_path: Path) -> str:
    path = tmp_path / "fmccert.yaml"
    lab.write_config(path)
    return str(path.parent / "known_hosts")


async def _connect(
    lab: RunningLab, host: LabHost, known_hosts: str
) -> asyncssh.SSHClientConnection:
    return await connect(host.host, host.port, "admin", lab.password, known_hosts)


async def test_pty_session_reads_the_certificate(lab_factory: LabFactory, tmp_path: Path) -> None:
    """Over SSH with a PTY: banner, '>', expert, sudo 'Password:' unechoed, then the PEM."""
    lab = await lab_factory(["affected-760-warning"])
    known_hosts = _known_hosts(lab, tmp_path)
    async with await _connect(lab, lab.hosts[0], known_hosts) as conn:
        process = await conn.create_process(term_type="xterm", term_size=(200, 50))
        reader = PtyReader(process)
        banner = await reader.until("> ")
        assert banner.startswith("Last login: ")
        assert "\r\n" in banner
        assert "v7.6.0 (build 36)" in banner
        reader.send("expert")
        await reader.until(BASH)
        reader.send(f"sudo cat {DEFAULT_CERT_PATH}")
        await reader.until("Password: ")
        reader.send(lab.password)
        pem = await reader.until(BASH)
        facts = parse_certificate(pem.replace("\r\n", "\n"))
        assert days_left(facts.not_after, datetime.now(UTC)) == 19
        assert lab.password not in reader.seen
        assert "Password: \r\n-----BEGIN CERTIFICATE-----" in reader.seen
        reader.send("exit")
        await reader.until("> ")
        reader.send("exit")
        await asyncio.wait_for(process.wait_closed(), 2)
        assert process.exit_status == 0


async def test_exec_request_cats_a_file(lab_factory: LabFactory, tmp_path: Path) -> None:
    """An exec request without a PTY runs the command and returns its output and status."""
    lab = await lab_factory(["fixed-7710"])
    known_hosts = _known_hosts(lab, tmp_path)
    async with await _connect(lab, lab.hosts[0], known_hosts) as conn:
        result = await asyncio.wait_for(conn.run("cat /etc/sf/ims.conf"), 2)
        assert result.exit_status == 0
        assert "SWVERSION=7.7.10\nSWBUILD=2\n" in str(result.stdout)
        denied = await asyncio.wait_for(conn.run(f"cat {DEFAULT_CERT_PATH}"), 2)
        assert denied.exit_status == 1
        assert "Permission denied" in str(denied.stdout)
        sudo = await asyncio.wait_for(
            conn.run(f"sudo -S cat {DEFAULT_CERT_PATH}", input=lab.password + "\n"), 2
        )
        assert sudo.exit_status == 0
        assert "BEGIN CERTIFICATE" in str(sudo.stdout)


async def test_login_refused_for_wrong_password_scenario_and_wrong_password(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    """login_ok=False hosts refuse the right password; other hosts refuse a wrong one."""
    lab = await lab_factory(["wrong-password", "healthy-742"])
    known_hosts = _known_hosts(lab, tmp_path)
    refusing, healthy = lab.hosts
    with pytest.raises(asyncssh.PermissionDenied):
        await _connect(lab, refusing, known_hosts)
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(healthy.host, healthy.port, "admin", "not-the-password", known_hosts)
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(healthy.host, healthy.port, "root", lab.password, known_hosts)


async def test_untrusted_host_key_and_closed_port(lab_factory: LabFactory, tmp_path: Path) -> None:
    """The untrusted host is missing from known_hosts; the not-listening port refuses."""
    lab = await lab_factory(["untrusted-host-key", "not-listening"])
    known_hosts = _known_hosts(lab, tmp_path)
    untrusted, closed = lab.hosts
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await _connect(lab, untrusted, known_hosts)
    with pytest.raises(ConnectionRefusedError):
        await _connect(lab, closed, known_hosts)


async def test_written_config_matches_the_lab(lab: RunningLab, lab_config: Path) -> None:
    """write_config writes the YAML, trusted known_hosts lines and a 0600 password file."""
    text = _read(lab_config)
    document = yaml.safe_load(text)
    assert text.startswith("# written by `fmccert lab`\n")
    assert document["defaults"] == {
        "username": "admin",
        "password_file": "lab.password",
        "known_hosts": "known_hosts",
    }
    assert document["thresholds"] == {"warning_days": 30, "critical_days": 7}
    assert document["ssh"] == {
        "concurrency": 50,
        "connect_timeout": 5,
        "command_timeout": 5,
        "host_timeout": 30,
    }
    assert [(f["name"], f["host"], f["port"], f["tags"]) for f in document["fmcs"]] == [
        (h.name, "127.0.0.1", h.port, ["lab", h.scenario.name]) for h in lab.hosts
    ]
    assert [h.name for h in lab.hosts][:2] == ["lab-fmc-01", "lab-fmc-02"]
    known = _read(lab_config.parent / "known_hosts").splitlines()
    assert known == [h.known_hosts_line for h in lab.hosts if h.scenario.host_key_trusted]
    assert len(known) == len(CATALOG) - 1
    password_file = lab_config.parent / "lab.password"
    assert _read(password_file) == lab.password + "\n"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert lab.expected_findings() == {h.name: h.scenario for h in lab.hosts}


async def test_many_hosts_start_fast_with_three_digit_names(lab_factory: LabFactory) -> None:
    """120 hosts start within seconds, named lab-fmc-001.., each with its own port and key."""
    started = time.monotonic()
    lab = await lab_factory(["healthy-742"], count=120, name_prefix="big")
    assert time.monotonic() - started < 5
    assert lab.hosts[0].name == "big-001"
    assert lab.hosts[-1].name == "big-120"
    assert len({h.port for h in lab.hosts}) == 120
    assert len({h.known_hosts_line.split()[-1] for h in lab.hosts}) == 120


async def test_lab_command_delay_adds_to_every_host(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    """start_lab's command_delay slows every command of every host."""
    lab = await lab_factory(["healthy-742"], command_delay=0.3)
    known_hosts = _known_hosts(lab, tmp_path)
    async with await _connect(lab, lab.hosts[0], known_hosts) as conn:
        started = time.monotonic()
        await asyncio.wait_for(conn.run("cat /etc/sf/ims.conf"), 2)
        assert time.monotonic() - started >= 0.3
    assert lab.shell_config("lab-fmc-01").command_delay == pytest.approx(0.3)


async def test_certificates_are_dated_from_now(lab_factory: LabFactory) -> None:
    """Each host's certificate expires cert_days_left after the lab's ``now``."""
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    lab = await lab_factory(["affected-770-critical", "cert-missing"], now=now)
    pem = lab.shell_config("lab-fmc-01").files[DEFAULT_CERT_PATH]
    assert parse_certificate(pem).not_after == now + timedelta(days=5)
    assert parse_certificate(pem).subject.endswith("CN=lab-fmc-01-prod-01")
    assert DEFAULT_CERT_PATH not in lab.shell_config("lab-fmc-02").files


async def test_garbage_and_hang_over_ssh(lab_factory: LabFactory, tmp_path: Path) -> None:
    """Over SSH the garbage host passes 256 KiB within a second; the hung host stays silent."""
    lab = await lab_factory(["garbage-talker", "hang-after-login"])
    known_hosts = _known_hosts(lab, tmp_path)
    garbage, hung = lab.hosts
    async with await _connect(lab, garbage, known_hosts) as conn:
        process = await conn.create_process(term_type="xterm")
        started, received = time.monotonic(), 0
        while received < 300 * 1024:
            received += len(await asyncio.wait_for(process.stdout.read(65536), 1))
        assert time.monotonic() - started < 1.0
    async with await _connect(lab, hung, known_hosts) as conn:
        process = await conn.create_process(term_type="xterm")
        reader = PtyReader(process)
        await reader.until("(build 172)")
        with pytest.raises(TimeoutError):
            await reader.until(">", within=0.5)


async def test_close_stops_listening(tmp_path: Path) -> None:
    """After close, the lab's ports refuse connections."""
    lab = await start_lab(pick_scenarios(1), now=datetime.now(UTC))
    async with lab:
        known_hosts = _known_hosts(lab, tmp_path)
    with pytest.raises(ConnectionRefusedError):
        await _connect(lab, lab.hosts[0], known_hosts)


async def test_start_lab_rejects_bad_input() -> None:
    """No scenarios, a naive clock or a negative command or install delay are LabErrors."""
    with pytest.raises(LabError, match="at least one"):
        await start_lab([], now=datetime.now(UTC))
    with pytest.raises(LabError, match="timezone"):
        await start_lab(pick_scenarios(1), now=datetime(2025, 1, 1))
    with pytest.raises(LabError, match="negative"):
        await start_lab(pick_scenarios(1), now=datetime.now(UTC), command_delay=-1)
    with pytest.raises(LabError, match="install delay"):
        await start_lab(pick_scenarios(1), now=datetime.now(UTC), install_delay=-1)


def test_line_editor_regex_is_built_once_and_shared() -> None:
    """The lab's editor cache gives every line editor the same compiled printable regex."""
    from asyncssh.editor import SSHLineEditor

    from bot.lab import editor_cache

    editor_cache.install()
    editor_cache.install()  # idempotent
    first = SSHLineEditor.__new__(SSHLineEditor)
    second = SSHLineEditor.__new__(SSHLineEditor)
    for made in (first, second):
        made._keymap = {"\r": None, "\x7f": None}
        made._build_printable()
    assert first._printable is second._printable
    assert first._printable.fullmatch("abc xyz")


async def test_stop_host_refuses_and_start_host_serves_again_on_the_same_port(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    """A stopped host refuses connections; restarted, it serves the same port, key and state."""
    lab = await lab_factory(["fixed-7710", "fixed-7710"])
    known_hosts = _known_hosts(lab, tmp_path)
    target, other = lab.hosts
    state = lab.host_state(target.name)
    async with await _connect(lab, target, known_hosts) as conn:
        assert (await asyncio.wait_for(conn.run("true"), 2)).exit_status == 0
        await lab.stop_host(target.name)
        await asyncio.wait_for(conn.wait_closed(), 2)  # an open session drops too
    assert not lab.is_serving(target.name)
    with pytest.raises(ConnectionRefusedError):
        await _connect(lab, target, known_hosts)
    async with await _connect(lab, other, known_hosts) as conn:
        assert (await asyncio.wait_for(conn.run("true"), 2)).exit_status == 0
    await lab.stop_host(target.name)  # stopping twice is harmless
    await lab.start_host(target.name)
    await lab.start_host(target.name)  # so is starting twice
    assert lab.is_serving(target.name)
    assert lab.host(target.name).port == target.port
    assert lab.host_state(target.name) is state
    async with await _connect(lab, target, known_hosts) as conn:
        result = await asyncio.wait_for(conn.run("cat /etc/sf/ims.conf"), 2)
        assert "SWVERSION=7.7.10\n" in str(result.stdout)


async def test_stop_host_rejects_a_host_that_never_listens(lab_factory: LabFactory) -> None:
    """A closed-port scenario has no server to stop or start: LabError names it."""
    closed = next(scenario for scenario in CATALOG.values() if not scenario.listening)
    lab = await lab_factory([closed])
    with pytest.raises(LabError, match="never listens"):
        await lab.stop_host(lab.hosts[0].name)
    with pytest.raises(LabError, match="never listens"):
        await lab.start_host(lab.hosts[0].name)
    assert not lab.is_serving(lab.hosts[0].name)
