"""Host-key trust against the lab: fetch, fingerprint, trusted/unknown/changed, append/replace."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncssh
import pytest

from bot.errors import HostKeyError, UnreachableError
from bot.fmc.known_hosts import (
    HostKeyInfo,
    append_known_host,
    fetch_host_key,
    host_key_state,
    host_pattern,
)
from bot.fmc.probe import probe_fmc
from bot.lab.hostile import start_disconnecting_server
from bot.lab.scenarios import CATALOG
from bot.lab.server import LabHost, RunningLab, start_lab
from tests.fmc.helpers import PASSWORD, TIMEOUTS, fixed_clock, lab_target, write_known_hosts

NOW = datetime.now(UTC)


@pytest.fixture
async def lab() -> AsyncIterator[RunningLab]:
    """Two healthy lab FMCs, each with its own host key."""
    async with await start_lab([CATALOG["healthy-742"]] * 2, password=PASSWORD, now=NOW) as running:
        yield running


def _other_key_line(host: LabHost) -> str:
    key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()
    return f"{host_pattern(host.host, host.port)} {key[0]} {key[1]}"


async def test_fetch_host_key_matches_the_key_the_lab_wrote(lab: RunningLab) -> None:
    """The fetched key's line and SHA256 fingerprint are those of the lab's own host key."""
    host = lab.hosts[0]
    info = await fetch_host_key(host.host, host.port, timeout=2.0)
    lab_key = asyncssh.import_public_key(" ".join(host.known_hosts_line.split()[1:]))
    assert info.key_type == "ssh-ed25519"
    assert info.fingerprint == lab_key.get_fingerprint("sha256")
    assert info.fingerprint.startswith("SHA256:")
    assert info.known_hosts_line == host.known_hosts_line


async def test_fetch_host_key_from_a_closed_port_is_unreachable() -> None:
    """Nothing listening is an UnreachableError, not an asyncssh or OS exception."""
    async with await start_lab([CATALOG["not-listening"]], now=NOW) as dead:
        closed = dead.hosts[0]
        with pytest.raises(UnreachableError, match="refused"):
            await fetch_host_key(closed.host, closed.port, timeout=2.0)


async def test_host_key_states(lab: RunningLab, tmp_path: Path) -> None:
    """trusted when pinned, unknown when absent (or no file), changed when another key is pinned."""
    first, second = lab.hosts
    info = await fetch_host_key(first.host, first.port, timeout=2.0)
    known = tmp_path / "known_hosts"
    assert host_key_state(known, first.host, first.port, info) == "unknown"  # no file yet
    write_known_hosts(known, [second.known_hosts_line])
    assert host_key_state(known, first.host, first.port, info) == "unknown"
    write_known_hosts(known, [second.known_hosts_line, first.known_hosts_line])
    assert host_key_state(known, first.host, first.port, info) == "trusted"
    assert host_key_state(known, first.host, first.port, first.known_hosts_line) == "trusted"
    write_known_hosts(known, [_other_key_line(first)])
    assert host_key_state(known, first.host, first.port, info) == "changed"


async def test_append_creates_the_file_and_never_duplicates(
    lab: RunningLab, tmp_path: Path
) -> None:
    """append_known_host creates a 0644 file with its directories and appends a key once."""
    host = lab.hosts[0]
    info = await fetch_host_key(host.host, host.port, timeout=2.0)
    known = tmp_path / "deep" / "dir" / "known_hosts"
    append_known_host(known, info)
    append_known_host(known, info)
    assert known.read_text().splitlines() == [host.known_hosts_line]
    assert stat.S_IMODE(known.stat().st_mode) == 0o644


async def test_append_refuses_a_changed_key_unless_replacing(
    lab: RunningLab, tmp_path: Path
) -> None:
    """A changed key is not written silently; replace=True swaps it and keeps other hosts."""
    first, second = lab.hosts
    old = _other_key_line(first)
    known = write_known_hosts(tmp_path / "known_hosts", ["# comment", old, second.known_hosts_line])
    info = await fetch_host_key(first.host, first.port, timeout=2.0)
    with pytest.raises(HostKeyError):
        append_known_host(known, info)
    assert old in known.read_text()
    append_known_host(known, info, replace=True)
    lines = known.read_text().splitlines()
    assert lines == ["# comment", second.known_hosts_line, first.known_hosts_line]
    assert host_key_state(known, first.host, first.port, info) == "trusted"


async def test_trusting_a_key_lets_the_probe_connect(lab: RunningLab, tmp_path: Path) -> None:
    """The trust flow end to end: host_key error, fetch and append, then a clean probe."""
    host = lab.hosts[0]
    known = write_known_hosts(tmp_path / "known_hosts", [])
    before = await probe_fmc(lab_target(host, known), TIMEOUTS, clock=fixed_clock(NOW))
    assert before.error is not None
    assert before.error.kind == "host_key"
    append_known_host(known, await fetch_host_key(host.host, host.port, timeout=2.0))
    after = await probe_fmc(lab_target(host, known), TIMEOUTS, clock=fixed_clock(NOW))
    assert after.error is None


def test_host_pattern_is_plain_on_port_22() -> None:
    """OpenSSH writes `host` for port 22 and `[host]:port` otherwise."""
    assert host_pattern("fmc.example", 22) == "fmc.example"
    assert host_pattern("10.1.2.3", 2222) == "[10.1.2.3]:2222"


def test_host_key_info_is_frozen() -> None:
    """HostKeyInfo is an immutable record."""
    info = HostKeyInfo("ssh-ed25519", "SHA256:x", "h ssh-ed25519 AAAA")
    with pytest.raises(AttributeError):
        info.key_type = "ssh-rsa"  # type: ignore[misc]


async def test_fetch_host_key_strips_a_crafted_disconnect_reason() -> None:
    """`trust` sees a peer's disconnect reason as one line without escapes or CR."""
    server = await start_disconnecting_server("no\x1b[2K\rFAKE\nline\x9b2K")
    try:
        with pytest.raises(UnreachableError) as caught:
            await fetch_host_key(server.host, server.port, timeout=5)
    finally:
        await server.close()
    assert "failed: no FAKE line" in str(caught.value)
    assert not any(ch in str(caught.value) for ch in "\x1b\r\n\x9b")
