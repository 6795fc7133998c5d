"""Text a peer chose, made safe to print: no escape sequences, no control characters.

An SSH server picks its disconnect reason, a refused channel's reason and its SFTP error
text before (or without) any host-key check, and an FMC's certificate names whatever its
issuer wrote. Printed raw, ``ESC [2K`` and ``\\r`` erase a line and ``\\n`` starts a new
one: a hostile peer could draw a fake "ok" row in a scan table. Every such string goes
through :func:`sanitize_peer_text` before it becomes part of a message.
"""

from __future__ import annotations

import re

# Whole escape sequences first (so their parameters do not stay behind as text): 7-bit
# CSI/OSC/DCS-style strings and two-byte escapes, then the 8-bit CSI (U+009B).
_ESCAPES = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]?                 # CSI: ESC [ 2 K
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?       # OSC: window title
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?            # DCS / SOS / PM / APC strings
    | \x1b[ -/]*[0-~]?                         # two-byte and charset escapes, a lone ESC
    | \x9b[0-?]*[ -/]*[@-~]?                   # 8-bit CSI
    """,
    re.VERBOSE,
)
# C0 (but tab and newlines, handled below), DEL, C1, and the Unicode bidi controls that
# reorder what a terminal shows (LRM/RLM, embeddings, overrides, isolates, ALM).
_CONTROLS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
# How much of a peer's error text an FMC's finding keeps (JSON, Slack, the terminal).
MESSAGE_LIMIT = 1000
_LINE_BREAKS = re.compile(r"[\r\n\t]+")
_CR = re.compile(r"\r\n?")


def sanitize_peer_text(text: str, *, keep_newlines: bool = False, limit: int | None = None) -> str:
    """``text`` without escapes or control characters; one line unless ``keep_newlines``.

    One line (the default): tabs, CR and LF become a single space. With ``keep_newlines``
    CR LF and a lone CR become LF, and tabs stay. ``limit`` cuts the result to at most that
    many characters, ending with a note of how much was cut (an ellipsis alone when even
    the note does not fit).
    """
    text = _CONTROLS.sub("", _ESCAPES.sub("", text))
    text = _CR.sub("\n", text) if keep_newlines else _LINE_BREAKS.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        text = cut_with_note(text, limit)
    return text


def cut_with_note(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    # The number cut is at most len(text): its note is never longer than this one.
    longest_note = len(f"… [{len(text)} characters cut]")
    kept = limit - longest_note
    if kept < limit // 2:  # a short limit: the note would crowd out the text
        return text[: max(limit - 1, 0)] + "…"
    return text[:kept] + f"… [{len(text) - kept} characters cut]"
