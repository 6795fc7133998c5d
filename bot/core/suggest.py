"""Did-you-mean: the closest valid word to a mistyped one (pure)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

CUTOFF = 0.6  # below this similarity a suggestion misleads more than it helps


def closest_match(word: str, choices: Sequence[str], cutoff: float = CUTOFF) -> str | None:
    """The choice most similar to ``word``, the first in order on ties; None below cutoff.

    Ties are common among numbered names (``lab-fmc-1`` is as close to ``lab-fmc-01`` as to
    ``lab-fmc-21``), and the first one in the user's own order is the expected answer.
    """
    best, best_score = None, cutoff
    for choice in choices:
        score = difflib.SequenceMatcher(None, word, choice).ratio()
        if score > best_score:
            best, best_score = choice, score
    return best
