"""Button action ids and the approval values their buttons carry."""

from __future__ import annotations

from typing import cast

import pytest

from bot.slack.ids import (
    APPROVE_ACTION,
    DENY_ACTION,
    SNOOZE_ACTION,
    approval_value,
    parse_approval_value,
)


def test_action_ids_are_distinct_constants() -> None:
    """The three action ids are the documented, distinct strings."""
    assert (APPROVE_ACTION, DENY_ACTION, SNOOZE_ACTION) == (
        "fmccert_approve",
        "fmccert_deny",
        "fmccert_snooze",
    )


def test_parse_approval_value_round_trips() -> None:
    """A value made by approval_value parses back to its id."""
    assert parse_approval_value(approval_value(42)) == 42
    assert parse_approval_value("approval:7") == 7


@pytest.mark.parametrize(
    "value",
    [
        "",
        "42",
        "approval:",
        "approval:0",
        "approval:-1",
        "approval:+1",
        "approval:01",
        "approval:1 ",
        " approval:1",
        "approval:1\n",
        "Approval:1",
        "approve:1",
        "approval:1;2",
        "approval:1e3",
        "approval:\uff11",  # a full-width digit
        "approval:" + "9" * 19,
        '{"approval": 1}',
    ],
)
def test_parse_approval_value_rejects_junk(value: str) -> None:
    """Anything but ``approval:<positive id>`` is a ValueError."""
    with pytest.raises(ValueError, match="approval"):
        parse_approval_value(value)


def test_parse_approval_value_rejects_non_strings() -> None:
    """A value that is not a string at all is a ValueError too."""
    with pytest.raises(ValueError, match="string"):
        parse_approval_value(cast(str, 42))


def test_approval_value_rejects_bad_ids() -> None:
    """Button values are only made for positive integer ids."""
    for bad in (0, -3, True):
        with pytest.raises(ValueError, match="approval id"):
            approval_value(bad)
