"""Leader election: an advisory lock on PostgreSQL, one process on SQLite."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.errors import ConfigError
from bot.storage.leadership import AdvisoryLockLeadership, SoleProcess
from tests.storage.pg import postgres_url, skip_or_fail


class Changes:
    """Records a leadership's on_change calls and lets a test wait for one."""

    def __init__(self) -> None:
        self.seen: list[bool] = []
        self._changed = asyncio.Event()

    async def __call__(self, leading: bool) -> None:
        self.seen.append(leading)
        self._changed.set()

    async def wait_for(self, expected: list[bool], within: float = 15.0) -> None:
        async with asyncio.timeout(within):
            while self.seen != expected:
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def admin() -> AsyncIterator[AsyncEngine]:
    """An engine on the test PostgreSQL for looking at and ending other sessions."""
    engine = create_async_engine(postgres_url(), connect_args={"timeout": 5})
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OSError, SQLAlchemyError) as exc:
        await engine.dispose()
        skip_or_fail(f"PostgreSQL is unreachable ({type(exc).__name__})")
    yield engine
    await engine.dispose()


def _election(key: int) -> AdvisoryLockLeadership:
    return AdvisoryLockLeadership(make_url(postgres_url()), key=key, retry=0.2, check=0.5)


def _key() -> int:
    return random.randrange(1, 1 << 62)  # per test: a running bot's election stays apart


@dataclass
class Pair:
    """Two elections on one key: ``first`` leads, ``second`` has started as a follower."""

    key: int
    first: AdvisoryLockLeadership
    second: AdvisoryLockLeadership
    first_changes: Changes
    second_changes: Changes


@pytest.fixture
async def pair(admin: AsyncEngine) -> AsyncIterator[Pair]:
    """A leader and a follower on a key of this test's own; both closed afterwards."""
    key = _key()
    started = Pair(key, _election(key), _election(key), Changes(), Changes())
    try:
        await started.first.start(started.first_changes)
        await started.first_changes.wait_for([True])
        await started.second.start(started.second_changes)
        yield started
    finally:
        await started.first.close()
        await started.second.close()


async def test_one_of_two_processes_leads_and_the_other_takes_over_when_it_stops(
    pair: Pair,
) -> None:
    """The first to ask leads; the second follows until the first closes, then leads."""
    await asyncio.sleep(1.0)  # several of the follower's tries
    assert (pair.first.leader, pair.second.leader) == (True, False)
    assert pair.second_changes.seen == []
    await pair.first.close()
    await pair.second_changes.wait_for([True])
    assert pair.second.leader


async def test_a_leader_whose_session_ends_stops_at_once_and_the_follower_leads(
    admin: AsyncEngine, pair: Pair
) -> None:
    """The database ends the leader's session: it steps down, and the follower takes over."""
    async with admin.connect() as conn:
        holder = (
            await conn.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": pair.key},
            )
        ).scalar_one()
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": holder})
    await pair.first_changes.wait_for([True, False], within=5.0)
    await pair.second_changes.wait_for([True])
    assert (pair.first.leader, pair.second.leader) == (False, True)


async def test_a_second_process_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    """The lock beside the SQLite file admits one process; the refusal names storage.url."""
    lock = tmp_path / "fmccert.db.lock"
    url = f"sqlite+aiosqlite:///{tmp_path / 'fmccert.db'}"
    first, changes = SoleProcess(lock, storage_url=url), Changes()
    await first.start(changes)
    assert first.leader
    assert changes.seen == [True]
    second = SoleProcess(lock, storage_url=url)
    with pytest.raises(ConfigError, match=r"storage\.url") as refused:
        await second.start(Changes())
    assert "\n" not in str(refused.value)
    assert not second.leader
    await first.close()
    third = SoleProcess(lock, storage_url=url)
    await third.start(Changes())  # the first one is gone: the file is free again
    assert third.leader
    await third.close()
