"""Where the storage tests find PostgreSQL, and what to do when it is not there."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import NoReturn

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage.sql import mask_url

PG_DEFAULT_URL = "postgresql+asyncpg://fmccert:fmccert@127.0.0.1:5432/fmccert_test"


def postgres_url() -> str:
    """The PostgreSQL URL the tests use."""
    return os.environ.get("FMCCERT_TEST_PG_URL", PG_DEFAULT_URL)


def skip_or_fail(reason: str) -> NoReturn:
    """Skip locally; under CI a missing database is a failure, not a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


_TEST_LOCK_KEY = 0x666D_6363_7465_7374  # "fmcctest": held for the whole of one test


@contextlib.asynccontextmanager
async def clean_postgres() -> AsyncIterator[str]:
    """The test PostgreSQL's URL with an empty ``public`` schema, this test's alone.

    An advisory lock, held until the end, keeps two pytest runs on one database apart.
    Unreachable PostgreSQL skips the test (fails it under CI).
    """
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
            await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _TEST_LOCK_KEY})
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
            await conn.commit()
            yield url
        finally:
            await conn.close()  # ends the session, which releases the advisory lock
    finally:
        await engine.dispose()
