"""Tests of approval requests: round trips, the atomic decision, and the pending list."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.core.approval import ApprovalRequest, ApprovalStatus
from bot.errors import StorageError
from bot.storage.sql import SqlStore, open_store

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
TTL = timedelta(hours=24)
PARIS_WINTER = timezone(timedelta(hours=1))


async def _request(
    store: SqlStore,
    fmc: str = "fmc-east",
    *,
    now: datetime = NOW,
    channel: str | None = "C0FMCCERT",
) -> ApprovalRequest:
    return await store.create_approval(
        fmc=fmc,
        action="vdb-update",
        requested_by="U0ALICE",
        now=now,
        expires_at=now + TTL,
        channel=channel,
    )


async def test_created_request_is_pending_and_reads_back_in_utc(store: SqlStore) -> None:
    """create_approval stores a PENDING request whose times come back as aware UTC."""
    created = await store.create_approval(
        fmc="fmc-east",
        action="vdb-update",
        requested_by="system:scan",
        now=NOW.astimezone(PARIS_WINTER),
        expires_at=(NOW + TTL).astimezone(PARIS_WINTER),
    )

    assert created == ApprovalRequest(
        id=created.id,
        fmc="fmc-east",
        action="vdb-update",
        requested_by="system:scan",
        created_at=NOW,
        expires_at=NOW + TTL,
        status=ApprovalStatus.PENDING,
    )
    assert created.created_at.tzinfo is UTC
    assert created.expires_at.tzinfo is UTC
    assert await store.approval(created.id) == created
    assert await store.approval(created.id + 1000) is None


async def test_set_approval_message_records_where_the_buttons_are(store: SqlStore) -> None:
    """set_approval_message stores channel, message and thread, and nothing else changes."""
    request = await _request(store, channel=None)

    await store.set_approval_message(
        request.id, channel="C0FMCCERT", message_ts="1764235800.000100", thread_ts="1764235800.0"
    )

    stored = await store.approval(request.id)
    assert stored is not None
    assert (stored.channel, stored.message_ts, stored.thread_ts) == (
        "C0FMCCERT",
        "1764235800.000100",
        "1764235800.0",
    )
    assert stored.status is ApprovalStatus.PENDING
    with pytest.raises(StorageError, match="no such approval request"):
        await store.set_approval_message(
            request.id + 1000, channel="C0FMCCERT", message_ts="1.0", thread_ts="1.0"
        )


@pytest.mark.parametrize(
    "status", [ApprovalStatus.APPROVED, ApprovalStatus.DENIED, ApprovalStatus.EXPIRED]
)
async def test_decision_is_stored_with_who_and_when(
    store: SqlStore, status: ApprovalStatus
) -> None:
    """Every final status can be stored, and the returned request is the stored one."""
    request = await _request(store)

    decided = await store.decide_approval(
        request.id, status=status, by="U0BOSS", now=NOW + timedelta(minutes=5)
    )

    assert decided is not None
    assert (decided.status, decided.decided_by) == (status, "U0BOSS")
    assert decided.decided_at == NOW + timedelta(minutes=5)
    assert decided.decided_at.tzinfo is UTC
    assert await store.approval(request.id) == decided


async def test_twenty_concurrent_decisions_from_two_stores_let_exactly_one_win(
    db_url: str,
) -> None:
    """20 clicks at once through two stores (two processes' pools): one wins, 19 get None."""
    first, second = await open_store(db_url), await open_store(db_url)
    try:
        request = await _request(first)
        clicks = [
            (first if i % 2 else second).decide_approval(
                request.id,
                status=ApprovalStatus.APPROVED if i % 3 else ApprovalStatus.DENIED,
                by=f"U0CLICK{i:02d}",
                now=NOW + timedelta(seconds=i),
            )
            for i in range(20)
        ]
        results = await asyncio.gather(*clicks)

        winners = [(i, r) for i, r in enumerate(results) if r is not None]
        assert len(winners) == 1, results
        i, winner = winners[0]
        assert winner.decided_by == f"U0CLICK{i:02d}"
        assert winner.status is (ApprovalStatus.APPROVED if i % 3 else ApprovalStatus.DENIED)
        assert winner.decided_at == NOW + timedelta(seconds=i)
        assert await first.approval(request.id) == winner
        assert await second.approval(request.id) == winner
    finally:
        await first.close()
        await second.close()


async def test_deciding_a_decided_or_unknown_request_returns_none(store: SqlStore) -> None:
    """A second decision (a double click) returns None and leaves the first one in place."""
    request = await _request(store)
    approved = await store.decide_approval(
        request.id, status=ApprovalStatus.APPROVED, by="U0BOSS", now=NOW
    )

    again = await store.decide_approval(
        request.id, status=ApprovalStatus.DENIED, by="U0OTHER", now=NOW + timedelta(minutes=1)
    )

    assert approved is not None
    assert again is None
    assert await store.approval(request.id) == approved
    unknown = await store.decide_approval(
        request.id + 1000, status=ApprovalStatus.DENIED, by="U0BOSS", now=NOW
    )
    assert unknown is None


async def test_pending_is_not_a_decision(store: SqlStore) -> None:
    """decide_approval with PENDING is a caller bug: ValueError, and the request is unchanged."""
    request = await _request(store)

    with pytest.raises(ValueError, match="PENDING"):
        await store.decide_approval(request.id, status=ApprovalStatus.PENDING, by="U0BOSS", now=NOW)

    assert await store.approval(request.id) == request


async def test_attach_run_links_the_run_an_approval_started(store: SqlStore) -> None:
    """attach_run stores the run id; unknown requests and unknown runs are refused."""
    request = await _request(store)
    await store.decide_approval(request.id, status=ApprovalStatus.APPROVED, by="U0BOSS", now=NOW)
    run = await store.begin_run(
        fmc="fmc-east",
        action="vdb-update",
        requested_by="slack:U0ALICE",
        approved_by="slack:U0BOSS",
        owner="bot-1:4242",
        plan={},
        now=NOW,
    )

    await store.attach_run(request.id, run.id)

    stored = await store.approval(request.id)
    assert stored is not None
    assert (stored.run_id, stored.status, stored.decided_by) == (
        run.id,
        ApprovalStatus.APPROVED,
        "U0BOSS",
    )
    with pytest.raises(StorageError, match="no such approval request"):
        await store.attach_run(request.id + 1000, run.id)
    with pytest.raises(StorageError, match=f"attaching run {run.id + 1000}"):
        await store.attach_run(request.id, run.id + 1000)  # the foreign key holds
    assert await store.approval(request.id) == stored


async def test_pending_approvals_lists_undecided_requests_oldest_first(store: SqlStore) -> None:
    """pending_approvals() leaves out decided requests and orders the rest by creation time."""
    newest = await _request(store, "fmc-east", now=NOW + timedelta(hours=2))
    oldest = await _request(store, "fmc-west", now=NOW)
    decided = await _request(store, "fmc-north", now=NOW + timedelta(hours=1))
    middle = await _request(store, "fmc-south", now=NOW + timedelta(hours=1))
    await store.decide_approval(decided.id, status=ApprovalStatus.EXPIRED, by="system", now=NOW)

    assert await store.pending_approvals() == [oldest, middle, newest]


async def test_naive_datetimes_are_refused(store: SqlStore) -> None:
    """A naive datetime is a StorageError on create and on decide; nothing is changed."""
    naive = datetime(2026, 11, 27, 9, 30)
    with pytest.raises(StorageError, match="naive datetime"):
        await store.create_approval(
            fmc="fmc-east", action="vdb-update", requested_by="U0ALICE", now=naive, expires_at=NOW
        )
    request = await _request(store)

    with pytest.raises(StorageError, match="naive datetime"):
        await store.decide_approval(request.id, status=ApprovalStatus.DENIED, by="U0B", now=naive)

    assert await store.pending_approvals() == [request]


async def test_database_refuses_an_unknown_status(store: SqlStore) -> None:
    """The CHECK constraint keeps a status outside ApprovalStatus out, even from raw SQL."""
    request = await _request(store)

    with pytest.raises(IntegrityError):
        async with store.engine.begin() as conn:
            await conn.execute(
                text("UPDATE approval_requests SET status = 'maybe' WHERE id = :id"),
                {"id": request.id},
            )

    assert await store.approval(request.id) == request


async def test_a_new_request_supersedes_the_pending_one_of_the_same_fmc_and_action(
    store: SqlStore,
) -> None:
    """open_approval closes the older pending copy (reason names the new one); others stay."""
    old = await _request(store, "fmc-east")
    other_fmc = await _request(store, "fmc-west")
    other_action = await store.create_approval(
        fmc="fmc-east", action="restart", requested_by="U0ALICE", now=NOW, expires_at=NOW + TTL
    )

    new, superseded = await store.open_approval(
        fmc="fmc-east",
        action="vdb-update",
        requested_by="system:scan",
        now=NOW + timedelta(minutes=5),
        expires_at=NOW + TTL,
    )

    assert [r.id for r in superseded] == [old.id]
    assert superseded[0].status is ApprovalStatus.CLOSED
    assert superseded[0].closed_reason == f"superseded by request #{new.id}"
    assert superseded[0].decided_at == NOW + timedelta(minutes=5)
    assert await store.approval(old.id) == superseded[0]
    pending = {r.id for r in await store.pending_approvals()}
    assert pending == {new.id, other_fmc.id, other_action.id}


async def test_the_database_refuses_two_pending_requests_for_one_fmc_and_action(
    store: SqlStore,
) -> None:
    """The partial unique index keeps a second PENDING copy out, even from raw SQL."""
    request = await _request(store)

    with pytest.raises(IntegrityError):
        async with store.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO approval_requests (fmc, action, requested_by, created_at, "
                    "expires_at, status) SELECT fmc, action, requested_by, created_at, "
                    "expires_at, status FROM approval_requests WHERE id = :id"
                ),
                {"id": request.id},
            )

    assert await store.pending_approvals() == [request]


async def test_concurrent_requests_leave_exactly_one_pending(store: SqlStore) -> None:
    """Five alerts for one FMC at once: one request stays pending, four are superseded."""
    results = await asyncio.gather(
        *(
            store.open_approval(
                fmc="fmc-east",
                action="vdb-update",
                requested_by="system:scan",
                now=NOW + timedelta(seconds=i),
                expires_at=NOW + TTL,
            )
            for i in range(5)
        )
    )

    pending = await store.pending_approvals()
    assert len(pending) == 1
    superseded = [old.id for _, olds in results for old in olds]
    assert len(superseded) == len(set(superseded)) == 4
    assert pending[0].id not in superseded


async def test_close_approvals_closes_only_pending_requests_of_that_fmc(store: SqlStore) -> None:
    """close_approvals is a compare-and-set: decided requests and other FMCs are untouched."""
    east = await _request(store, "fmc-east")
    east_restart = await store.create_approval(
        fmc="fmc-east", action="restart", requested_by="U0ALICE", now=NOW, expires_at=NOW + TTL
    )
    west = await _request(store, "fmc-west")
    approved = await store.decide_approval(
        east_restart.id, status=ApprovalStatus.APPROVED, by="U0BOB", now=NOW
    )
    assert approved is not None

    closed = await store.close_approvals(fmc="fmc-east", reason="renewed", now=NOW)

    assert [(r.id, r.status, r.closed_reason) for r in closed] == [
        (east.id, ApprovalStatus.CLOSED, "renewed")
    ]
    assert await store.approval(east_restart.id) == approved
    assert await store.pending_approvals() == [west]
    assert await store.close_approvals(fmc="fmc-east", reason="again", now=NOW) == []
    assert await store.close_approvals(fmc="fmc-west", reason="x", now=NOW, ids=[east.id]) == []
    assert await store.pending_approvals() == [west]


async def test_set_approval_message_keeps_what_the_message_says(store: SqlStore) -> None:
    """The message carrying the buttons is stored, so it can be edited when the request closes."""
    request = await _request(store)
    message = {"text": "fmc-east: warning", "blocks": [{"type": "section", "block_id": "b"}]}

    await store.set_approval_message(
        request.id, channel="C1", message_ts="1.2", thread_ts="1.0", message=message
    )

    stored = await store.approval(request.id)
    assert stored is not None
    assert stored.message == message
