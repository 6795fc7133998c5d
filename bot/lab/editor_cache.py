"""Make asyncssh's server-side line editor cheap to create, for labs of hundreds of FMCs.

Each PTY session's ``SSHLineEditor`` builds a regex over every printable code point (about
65 ms of CPU). The result depends only on the keys bound, which are the same for every lab
session, so the lab builds it once and shares it. Only the lab uses this; if asyncssh
changes its internals, the patch stands aside and the original code runs.
"""

from __future__ import annotations

import re
from typing import Any

from asyncssh import editor

_patterns: dict[frozenset[str], re.Pattern[str]] = {}


def install() -> None:
    """Cache the printable-character regex per set of bound keys (idempotent)."""
    line_editor: Any = getattr(editor, "SSHLineEditor", None)
    original = getattr(line_editor, "_build_printable", None)
    if original is None or getattr(original, "_fmccert_cached", False):
        return

    def build_printable(self: Any) -> None:
        keymap = getattr(self, "_keymap", None)
        if not isinstance(keymap, dict):
            original(self)
            return
        key = frozenset(keymap)
        pattern = _patterns.get(key)
        if pattern is None:
            original(self)
            _patterns[key] = self._printable
        else:
            self._printable = pattern

    build_printable._fmccert_cached = True  # type: ignore[attr-defined]
    line_editor._build_printable = build_printable
