"""Tests of parsing `/fmccert ...` text into requests or short helpful answers."""

from __future__ import annotations

import pytest

from bot.slack.parsing import CommandProblem, CommandRequest, parse_command

EAST, WEST, RESTART = "fmc-east", "fmc-west", "restart"
NAMES = [EAST, WEST, "lab-fmc-01"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", CommandRequest("help")),
        ("help", CommandRequest("help")),
        ("  STATUS ", CommandRequest("status")),
        ("check fmc-east", CommandRequest("check", names=("fmc-east",))),
        ("check fmc-east fmc-west fmc-east", CommandRequest("check", names=(EAST, WEST))),
        ("scan", CommandRequest("scan")),
        ("scan prod", CommandRequest("scan", tag="prod")),
        ("remediate fmc-west", CommandRequest("remediate", names=(WEST,), action="vdb-update")),
        ("remediate fmc-west restart", CommandRequest("remediate", names=(WEST,), action=RESTART)),
        ("history lab-fmc-01", CommandRequest("history", names=("lab-fmc-01",))),
    ],
)  # fmt: skip
def test_well_formed_commands(text: str, expected: CommandRequest) -> None:
    """Each verb parses with its arguments; an empty command is help."""
    assert parse_command(text, NAMES) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("chek fmc-east", "did you mean `check`"),
        ("frobnicate", "Usage:"),
        ("check fmc-eats", "Unknown FMC `fmc-eats`; did you mean `fmc-east`"),
        ("check zzz", "known: `fmc-east`"),
        ("check", "needs an FMC name"),
        ("remediate fmc-east upgrade-everything", "Unknown action"),
        ("remediate fmc-east vdb-updat", "did you mean `vdb-update`"),
        ("scan a b", "at most one tag"),
        ("status now", "takes no arguments"),
        ("history fmc-east fmc-west", "one FMC name"),
    ],
)
def test_mistakes_get_a_short_helpful_answer(text: str, fragment: str) -> None:
    """Unknown verbs, names and actions and bad arguments say what would work."""
    problem = parse_command(text, NAMES)
    assert isinstance(problem, CommandProblem)
    assert fragment in problem.message


def test_unknown_name_hint_prefers_the_first_of_equally_close_names() -> None:
    """In a numbered fleet, `lab-fmc-1` suggests `lab-fmc-01`, not `lab-fmc-21`."""
    names = [f"lab-fmc-{i:02d}" for i in range(1, 24)]
    problem = parse_command("check lab-fmc-1", names)
    assert isinstance(problem, CommandProblem)
    assert "did you mean `lab-fmc-01`" in problem.message
