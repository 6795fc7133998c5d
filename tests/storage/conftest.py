"""Real databases for the storage tests: a SQLite file, and PostgreSQL when reachable.

PostgreSQL comes from ``FMCCERT_TEST_PG_URL`` (default: what ``scripts/postgres.sh``
sets up). Each test gets an empty ``public`` schema, so the migrations run for real every
time; an advisory lock keeps two pytest runs on one database from trampling each other.
Unreachable PostgreSQL skips those tests, except under CI (env ``CI`` set), where it fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.storage.sql import SqlStore, open_store
from tests.storage.pg import clean_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A URL of an empty database: a fresh SQLite file, or PostgreSQL with a clean schema."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "fmccert.db"
        yield f"sqlite+aiosqlite:///{path}"
        return
    async with clean_postgres() as url:
        yield url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    """An opened (migrated) store on the test database."""
    opened = await open_store(db_url)
    try:
        yield opened
    finally:
        await opened.close()
