"""Real databases for the storage tests: a SQLite file, and PostgreSQL when reachable.

PostgreSQL comes from ``FMCCERT_TEST_PG_URL`` (default: what ``scripts/postgres.sh``
sets up). Each test gets an empty ``public`` schema, so the migrations run for real every
time; an advisory lock keeps two pytest runs on one database from trampling each other.
Unreachable PostgreSQL skips those tests, except under CI (env ``CI`` set), where it fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage.sql import SqlStore, mask_url, open_store
from tests.storage.pg import postgres_url, skip_or_fail

_TEST_LOCK_KEY = 0x666D_6363_7465_7374  # "fmcctest": held for the whole of one test


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A URL of an empty database: a fresh SQLite file, or PostgreSQL with a clean schema."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "fmccert.db"
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = postgres_url()
    engine = create_async_engine(url, connect_args={"timeout": 5})
    try:
        try:
            conn = await engine.connect()
        except (OSError, SQLAlchemyError) as exc:
            skip_or_fail(
                f"PostgreSQL at {mask_url(url)} is unreachable ({type(exc).__name__}); "
                "start it with: sudo bash scripts/postgres.sh"
            )
        try:
            key = {"key": _signed(_TEST_LOCK_KEY)}
            await conn.execute(text("SELECT pg_advisory_lock(:key)"), key)
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
            await conn.commit()
            yield url
        finally:
            await conn.close()  # ends the session, which releases the advisory lock
    finally:
        await engine.dispose()


def _signed(key: int) -> int:
    return key - (1 << 64) if key >= 1 << 63 else key


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    """An opened (migrated) store on the test database."""
    opened = await open_store(db_url)
    try:
        yield opened
    finally:
        await opened.close()
