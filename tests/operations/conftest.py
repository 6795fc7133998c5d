"""Operations on a real database (SQLite, and PostgreSQL when reachable) and a hand-moved clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import AppConfig, load_config
from bot.metrics import Metrics
from bot.operations import Operations
from bot.storage.sql import SqlStore
from tests.operations.helpers import CONFIG, NOW, Clock
from tests.storage import conftest as databases

# The storage tests' databases: a SQLite file, and PostgreSQL when reachable.
db_url = databases.db_url
store = databases.store


@pytest.fixture
def clock() -> Clock:
    """A clock at NOW that the test moves by hand."""
    return Clock(NOW)


@pytest.fixture
def config(tmp_path: Path) -> AppConfig:
    """Two FMCs, fmc-east and fmc-west, and no remediation settings."""
    path = tmp_path / "fmccert.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path, {"FMC_PASSWORD": "pw-123456"})


@pytest.fixture
def metrics() -> Metrics:
    """The bot's metrics, in a registry of their own."""
    return Metrics()


@pytest.fixture
def operations(config: AppConfig, store: SqlStore, clock: Clock, metrics: Metrics) -> Operations:
    """Operations as the bot builds it: the store, the clock and metrics."""
    return Operations(config, store, clock=clock, metrics=metrics)
