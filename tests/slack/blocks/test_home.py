"""The App Home tab's blocks."""

from __future__ import annotations

import json

from bot.slack.blocks.home import build_home
from tests.slack.blocks.helpers import NOW, make_finding, make_ftd, make_stored


def test_home_counts_ftds_and_tags_their_expiries() -> None:
    """App Home's header counts FMCs and FTDs apart and tags an FTD's expiry line."""
    latest = [make_stored(make_ftd(days=12), 1), make_stored(make_finding("fmc-east", days=5), 2)]
    home = build_home(latest, now=NOW)
    text = json.dumps(home)
    assert "fmccert: 1 FMC, 1 FTD" in text
    assert "*fw-branch* (FTD)" in text
    assert "*fmc-east* (FTD)" not in text
