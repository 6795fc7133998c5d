"""Peer-chosen text made printable: no escapes, no control characters, one line by default."""

from __future__ import annotations

import pytest

from bot.core.peer_text import sanitize_peer_text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("bye\x1b[2K\rfake  ok", "bye fake  ok"),
        ("a\nb\r\nc\td", "a b c d"),
        ("\x1b]0;owned\x07title", "title"),
        ("\x1bP+q\x1b\\x", "x"),
        ("nul\x00bel\x07bs\x08del\x7f", "nulbelbsdel"),
        ("c1\x9b2Kcsi\x85nel\x90", "c1csinel"),
        ("left\u202eright\u2066iso\u2069\u200f", "leftrightiso"),
        ("lone escape \x1b", "lone escape"),
        ("déjà vu — ok", "déjà vu — ok"),
    ],
)
def test_one_line_sanitizing_strips_every_control(raw: str, clean: str) -> None:
    """Escape sequences, C0, DEL, C1 and bidi controls go; line breaks become one space."""
    assert sanitize_peer_text(raw) == clean


def test_keep_newlines_keeps_lines_but_no_carriage_return() -> None:
    """With keep_newlines, LF and tabs stay, CR LF and a lone CR become LF, escapes go."""
    assert sanitize_peer_text("a\r\nb\rc\x1b[31m\td\n", keep_newlines=True) == "a\nb\nc\td\n"


def test_limit_cuts_long_text_with_an_ellipsis() -> None:
    """A limit keeps the first characters and marks the cut."""
    assert sanitize_peer_text("x" * 50, limit=10) == "x" * 9 + "…"
    assert sanitize_peer_text("short", limit=10) == "short"


def test_oversized_text_is_cut_with_a_note_of_how_much() -> None:
    """A 10,000-character peer message keeps its start and says how many characters went."""
    from bot.core.peer_text import cut_with_note

    text = "x" * 10_000
    cut = cut_with_note(text, 1000)
    assert len(cut) <= 1000
    kept = cut.index("…")
    assert cut.endswith(f"… [{10_000 - kept} characters cut]")
    assert cut_with_note("short", 1000) == "short"
    assert cut_with_note("y" * 100, 20) == "y" * 19 + "…"  # too short for a note
