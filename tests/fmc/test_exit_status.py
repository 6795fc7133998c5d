"""The `@@rc=N` exit-status marker, also when the output before it has no final newline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.fmc.connection import expert_session, split_status
from bot.lab.scenarios import get_scenario
from bot.lab.server import start_lab
from tests.fmc.helpers import PASSWORD, TIMEOUTS, lab_target, write_known_hosts


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("CURRENT_BUILD=406\n@@rc=0", ("CURRENT_BUILD=406", 0)),
        ("CURRENT_BUILD=406@@rc=0", ("CURRENT_BUILD=406", 0)),
        ("no newline here@@rc=17\n", ("no newline here", 17)),
        ("said @@rc=0 early\n@@rc=2", ("said @@rc=0 early", 2)),
        ('echo "@@rc=$?"\nplain', ('echo "@@rc=$?"\nplain', None)),
        ("", ("", None)),
    ],
)
def test_split_status_finds_the_marker_on_its_own_line_or_glued(
    output: str, expected: tuple[str, int | None]
) -> None:
    """The last `@@rc=N` ending a line is the status, even glued to unterminated output."""
    assert split_status(output) == expected


async def test_cat_of_a_file_without_final_newline_reports_its_status(tmp_path: Path) -> None:
    """Through the lab's shell, `cat` of a file lacking a final newline gives text and 0."""
    async with await start_lab(
        [get_scenario("healthy-742")], password=PASSWORD, now=datetime.now(UTC)
    ) as lab:
        host = lab.hosts[0]
        (lab.updates_dir(host.name) / "vdb.conf").write_text("CURRENT_BUILD=406")
        known = write_known_hosts(tmp_path / "known_hosts", [host.known_hosts_line])
        async with expert_session(lab_target(host, known), TIMEOUTS) as session:
            text, status = await session.run("cat /var/sf/updates/vdb.conf", step="wait-for-vdb")
            missing = await session.run("cat /var/sf/updates/nothing", step="read")
    assert (text, status) == ("CURRENT_BUILD=406", 0)
    assert missing[1] == 1
