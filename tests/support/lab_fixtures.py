"""Fixtures that run the emulated FMC lab (asyncssh servers on loopback) for a test.

``lab_factory`` starts labs from scenario names and closes them after the test;
``lab`` is one host per catalog scenario; ``lab_config`` writes the fmccert config,
``known_hosts`` and ``lab.password`` for ``lab`` into ``tmp_path`` and returns the
config's path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from itertools import cycle, islice
from pathlib import Path
from typing import Any

import pytest

from bot.lab.scenarios import CATALOG, Scenario, get_scenario
from bot.lab.server import RunningLab, start_lab


class LabFactory:
    """Starts labs on demand; every lab it started is closed at teardown."""

    def __init__(self) -> None:
        self.labs: list[RunningLab] = []

    async def __call__(
        self,
        names: Sequence[str | Scenario] | None = None,
        *,
        count: int | None = None,
        **options: Any,
    ) -> RunningLab:
        """A lab of ``count`` hosts cycling through ``names`` (default one per scenario).

        ``names`` holds catalog names or Scenario objects (e.g. a catalog scenario with
        ``dataclasses.replace`` changes).
        """
        chosen = [
            get_scenario(name) if isinstance(name, str) else name
            for name in (names if names is not None else list(CATALOG))
        ]
        if count is None:
            count = len(chosen)
        options.setdefault("now", datetime.now(UTC))
        lab = await start_lab(list(islice(cycle(chosen), count)), **options)
        self.labs.append(lab)
        return lab

    async def close(self) -> None:
        """Close every lab started."""
        for lab in self.labs:
            await lab.close()


@pytest.fixture
async def lab_factory() -> AsyncIterator[LabFactory]:
    """Call with scenario names (and start_lab options) to get a running lab."""
    factory = LabFactory()
    try:
        yield factory
    finally:
        await factory.close()


@pytest.fixture
async def lab(lab_factory: LabFactory) -> RunningLab:
    """A running lab with one host per catalog scenario, in catalog order."""
    return await lab_factory()


@pytest.fixture
def lab_config(lab: RunningLab, tmp_path: Path) -> Path:
    """The fmccert YAML config for ``lab`` (with known_hosts and lab.password beside it)."""
    path = tmp_path / "fmccert.yaml"
    lab.write_config(path)
    return path
