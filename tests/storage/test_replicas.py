"""What replicas share through the database: schedule fires, App Home viewers, rate limits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.storage.sql import SqlStore, open_store

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


async def test_a_fire_is_claimed_once_and_only_forward(store: SqlStore) -> None:
    """The first claim of a fire wins; the same or an earlier fire is refused; later wins."""
    assert await store.claim_fire("scan", NOW) is True
    assert await store.claim_fire("scan", NOW) is False
    assert await store.claim_fire("scan", NOW - timedelta(minutes=1)) is False
    assert await store.last_fire("scan") == NOW
    assert await store.claim_fire("scan", NOW + timedelta(minutes=1)) is True
    assert await store.last_fire("scan") == NOW + timedelta(minutes=1)
    assert await store.claim_fire("digest", NOW) is True  # keys are independent


async def test_concurrent_claims_of_one_fire_from_two_stores_give_one_winner(
    db_url: str,
) -> None:
    """Two processes' stores claiming the same fires at once: each fire has one winner."""
    first, second = await open_store(db_url), await open_store(db_url)
    try:
        for minute in range(5):
            fire = NOW + timedelta(minutes=minute)
            claims = await asyncio.gather(
                *(s.claim_fire("scan", fire) for s in (first, second, first, second))
            )
            assert sorted(claims) == [False, False, False, True], minute
    finally:
        await first.close()
        await second.close()


async def test_home_viewers_are_remembered_once_each(store: SqlStore) -> None:
    """Opening the App Home twice keeps one entry; the list is shared by every store."""
    assert await store.home_viewers() == []
    await store.add_home_viewer("U2", now=NOW)
    await store.add_home_viewer("U1", now=NOW)
    await store.add_home_viewer("U2", now=NOW + timedelta(hours=1))
    assert await store.home_viewers() == ["U1", "U2"]


async def test_audited_since_counts_one_actor_and_action_in_the_window(store: SqlStore) -> None:
    """Only the actor's own records of that action at or after ``since``, oldest first."""
    for minutes, actor, action in [
        (-90, "slack:U1", "scan.started"),
        (-30, "slack:U1", "scan.started"),
        (-20, "slack:U2", "scan.started"),
        (-10, "slack:U1", "scan.refused"),
        (-5, "slack:U1", "scan.started"),
    ]:
        at = NOW + timedelta(minutes=minutes)
        await store.audit(actor=actor, action=action, fmc=None, detail={}, now=at)
    since = NOW - timedelta(hours=1)
    got = await store.audited_since(actor="slack:U1", action="scan.started", since=since)
    assert got == [NOW - timedelta(minutes=30), NOW - timedelta(minutes=5)]
