"""Short messages: help, errors and placeholders, with user text escaped."""

from __future__ import annotations

from bot.slack.blocks.notices import build_error, build_help, build_working
from tests.slack.blocks.helpers import BIG, HOSTILE, all_text, assert_valid


def test_help_lists_verbs_and_names() -> None:
    """Help shows every verb and the FMC names, even for a thousand names."""
    message = build_help(fmc_names=["fmc-east", "fmc-west"])
    assert_valid(message)
    text = all_text(message)
    for verb in ("help", "check NAME", "scan [TAG]", "status", "remediate NAME [ACTION]"):
        assert f"`/fmccert {verb}`" in text
    assert "`/fmccert history NAME`" in text
    assert "FMCs: fmc-east, fmc-west" in text
    many = build_help(fmc_names=[f"{HOSTILE}-{i}" for i in range(1000)])
    assert_valid(many)
    assert "more" in all_text(many)


def test_error_and_working_escape_user_text() -> None:
    """Error and placeholder messages keep backticks but escape markup, and stay short."""
    error = build_error("Unknown FMC `fmc-eats`; did you mean `fmc-east`?")
    assert_valid(error)
    assert "Unknown FMC `fmc-eats`; did you mean `fmc-east`?" in all_text(error)
    hostile = build_error(f"Unknown FMC `{HOSTILE}{BIG}`")
    assert_valid(hostile)
    assert len(hostile.text) <= 1000
    working = build_working("Checking fmc-east…")
    assert_valid(working)
    assert "Checking fmc-east…" in working.text
    assert_valid(build_working(BIG))


def test_own_mentions_stay_mentions_and_hostile_ones_do_not() -> None:
    """fmccert's own <@U…> stays a mention; the same text from a user or an FMC is escaped."""
    own = build_error("This request was already denied by <@UAPPROVER>.", own_words=True)
    assert "denied by <@UAPPROVER>." in all_text(own)
    hostile = build_error(f"fmccert cannot run it: {HOSTILE}")
    assert "&lt;@U999&gt;" in all_text(hostile)
    assert "<@U999>" not in all_text(hostile)
    mixed = build_error(f"from <@UAPPROVER>: {HOSTILE}", own_words=True)
    assert "&lt;!channel&gt;" in all_text(mixed)  # own words never unescape a broadcast
    working = build_working(f"`/fmccert scan`: scanning FMCs tagged {HOSTILE}…", by="UALICE")
    assert working.text.startswith("<@UALICE> `/fmccert scan`")
    assert "<@UALICE> `/fmccert scan`" in all_text(working)
    assert "&lt;!channel&gt;" in all_text(working)
