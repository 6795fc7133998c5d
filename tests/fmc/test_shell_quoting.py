"""What fmccert types reaches a real bash (OpenSSH sshd, kernel PTY) quoted, never as keys."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.core.advisory import Action
from bot.fmc.connection import expert_session
from bot.fmc.probe import probe_fmc
from bot.remediation.plan import build_plan, remote_sha256_command, remove_command
from bot.remediation.settings import RemediationSettings
from tests.fmc.bash_sshd import BashHost
from tests.fmc.helpers import TIMEOUTS, fixed_clock
from tests.remediation.helpers import finding, package


def _hostile_path(home: Path, marker: str) -> str:
    """A path with a space, `;`, `$(...)` and backquotes, each trying to create a marker."""
    return (
        f"{home}/a b; touch {home}/{marker}-semi $(touch {home}/{marker}-subst) "
        f"`touch {home}/{marker}-tick` && touch {home}/{marker}-and"
    )


def _markers(home: Path) -> list[str]:
    return sorted(path.name for path in home.iterdir() if "marker" in path.name)


async def test_probe_quotes_a_hostile_cert_path_for_bash(bash_host: BashHost) -> None:
    """`;`, `$(...)`, backquotes and spaces in cert_path run nothing in a real bash."""
    target = bash_host.target(_hostile_path(bash_host.home, "marker"))
    outcome = await probe_fmc(target, TIMEOUTS, clock=fixed_clock(datetime.now(UTC)))
    assert "sudo cat '" in outcome.transcript  # the line was typed, quoted
    assert outcome.error is not None  # no sudo, no certificate: but nothing ran
    assert _markers(bash_host.home) == []


async def test_control_character_in_cert_path_is_never_typed(bash_host: BashHost) -> None:
    """A Ctrl-U in cert_path would erase the quoting in bash's readline: it is never sent."""
    marker = bash_host.home / "marker-ctrl-u"
    target = bash_host.target(f"/x\x15touch {marker} #")
    outcome = await probe_fmc(target, TIMEOUTS, clock=fixed_clock(datetime.now(UTC)))
    assert not marker.exists()
    assert outcome.error is not None
    assert outcome.error.kind == "config"
    assert "control character" in outcome.error.message


async def test_plan_commands_quote_a_hostile_updates_dir_for_bash(bash_host: BashHost) -> None:
    """df, sha256sum and rm lines built from a hostile updates_dir run nothing else."""
    updates = _hostile_path(bash_host.home, "marker")
    settings = RemediationSettings(vdb_package=Path("/srv/p.tar"), updates_dir=updates)
    plan = build_plan(Action.VDB_UPDATE, finding(), settings, package())
    free_space = next(step for step in plan.steps if step.name == "check-free-space")
    assert free_space.command is not None
    async with expert_session(bash_host.target(), TIMEOUTS) as session:
        for line in (
            free_space.command,
            remote_sha256_command(f"{updates}/p.tar"),
            remove_command(f"{updates}/p.tar.part"),
        ):
            _, status = await session.run(line, step="quoting")
            assert status != 0 or line.startswith("rm -f"), line
    assert _markers(bash_host.home) == []


async def test_exit_status_follows_output_without_a_final_newline(bash_host: BashHost) -> None:
    """A command whose output lacks a final newline still reports its output and status."""
    async with expert_session(bash_host.target(), TIMEOUTS) as session:
        assert await session.run("printf 'CURRENT_BUILD=406'", step="wait-for-vdb") == (
            "CURRENT_BUILD=406",
            0,
        )
        assert await session.run("printf 'no newline'; false", step="wait-for-vdb") == (
            "no newline",
            1,
        )
        assert await session.run("true", step="empty") == ("", 0)
