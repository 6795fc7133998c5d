"""Where the storage tests find PostgreSQL, and what to do when it is not there."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

PG_DEFAULT_URL = "postgresql+asyncpg://fmccert:fmccert@127.0.0.1:5432/fmccert_test"


def postgres_url() -> str:
    """The PostgreSQL URL the tests use."""
    return os.environ.get("FMCCERT_TEST_PG_URL", PG_DEFAULT_URL)


def skip_or_fail(reason: str) -> NoReturn:
    """Skip locally; under CI a missing database is a failure, not a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)
