"""Tests of the did-you-mean suggestion shared by the CLI and Slack."""

from __future__ import annotations

from bot.core.suggest import closest_match


def test_ties_go_to_the_first_in_order() -> None:
    """`lab-fmc-1` is as close to `lab-fmc-01` as to `lab-fmc-21`: the first one wins."""
    names = [f"lab-fmc-{i:02d}" for i in range(1, 24)]
    assert closest_match("lab-fmc-1", names) == "lab-fmc-01"


def test_nothing_close_enough_gives_none() -> None:
    """Below the similarity cutoff there is no suggestion."""
    assert closest_match("zzz", ["fmc-east", "fmc-west"]) is None
    assert closest_match("fmc-eats", ["fmc-east", "fmc-west"]) == "fmc-east"
