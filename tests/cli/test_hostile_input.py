"""fmccert as a real process facing hostile input: crafted SSH peers, a crafted config."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.lab.hostile import HostileServer, start_disconnecting_server, start_refusing_server
from tests.cli.process import assert_one_line_error, fmccert

PASSWORD = "hostile-Pw-83!x"
# Erase the line, go back to its start, draw a healthy-looking row, start a new line and
# draw another; then an 8-bit CSI, a right-to-left override and a DEL.
FAKE_ROW = "fake-fmc  ok      200   2099-01-01  7.6.1-41  406  no  none"
# The password the refusing server was given, split by an escape so that stripping after
# masking would reveal it.
SPLIT_PASSWORD = f"{PASSWORD[:6]}\x1b[0m{PASSWORD[6:]}"
REASON = (
    f"bye\x1b[2K\r{FAKE_ROW}\n{FAKE_ROW}\r\n\x9b2K\u202eevil\x7f\x1b]0;title\x07 {SPLIT_PASSWORD}"
)
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
async def hostile_config(tmp_path: Path) -> AsyncIterator[Path]:
    """A config naming one FMC that disconnects with REASON and one that refuses sessions."""
    disconnecting = await start_disconnecting_server(REASON)
    refusing = await start_refusing_server(REASON, PASSWORD)
    servers: list[HostileServer] = [disconnecting, refusing]
    (tmp_path / "known_hosts").write_text(refusing.known_hosts_line + "\n", encoding="utf-8")
    (tmp_path / "fmc.password").write_text(PASSWORD + "\n", encoding="utf-8")
    path = tmp_path / "fmccert.yaml"
    path.write_text(
        "defaults: {password_file: fmc.password, known_hosts: known_hosts}\n"
        "ssh: {connect_timeout: 3, command_timeout: 3, host_timeout: 10}\n"
        "fmcs:\n"
        f"  - {{name: disconnects, host: 127.0.0.1, port: {disconnecting.port}}}\n"
        f"  - {{name: refuses, host: 127.0.0.1, port: {refusing.port}}}\n",
        encoding="utf-8",
    )
    try:
        yield path
    finally:
        for server in servers:
            await server.close()


async def test_scan_table_shows_peer_reasons_without_control_characters(
    hostile_config: Path,
) -> None:
    """A crafted disconnect or channel-refusal reason draws no escape, CR or fake row."""
    result = await fmccert("scan", "--config", str(hostile_config))
    assert result.status == 3, result
    assert "Traceback" not in result.stderr
    for stream in (result.stdout, result.stderr):
        assert not _CONTROL.search(stream), repr(stream)
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["NAME", "disconnects", "refuses"], lines
    assert not any(line.startswith("fake-fmc") for line in lines)
    assert PASSWORD not in result.stdout + result.stderr
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert "protocol: SSH handshake with 127.0.0.1" in by_name["disconnects"]
    assert "protocol: the FMC refused a terminal session (bye" in by_name["refuses"]


async def test_scan_json_messages_are_stripped_too(hostile_config: Path) -> None:
    """The JSON output stays valid and its error messages carry no control characters."""
    result = await fmccert("scan", "--config", str(hostile_config), "--json")
    findings = json.loads(result.stdout)
    assert [(f["name"], f["error"]["kind"]) for f in findings] == [
        ("disconnects", "protocol"),
        ("refuses", "protocol"),
    ]
    for finding in findings:
        message = finding["error"]["message"]
        assert "bye" in message
        assert not _CONTROL.search(message), repr(message)
        assert "\n" not in message


async def test_deeply_nested_config_is_a_one_line_error(tmp_path: Path) -> None:
    """10000 nested lists in the config: exit 3 and one line naming the file, no traceback."""
    path = tmp_path / "fmccert.yaml"
    path.write_text("fmcs: " + "[" * 10000 + "]" * 10000 + "\n", encoding="utf-8")
    result = await fmccert("check", "--config", str(path), "fmc-east")
    assert_one_line_error(result, str(path), "nested too deeply")
