"""TaskTracker: queued command jobs wait while Slack deliveries keep arriving."""

from __future__ import annotations

import asyncio

from bot.slack.tasks import TaskTracker


async def test_queued_jobs_start_only_once_deliveries_stop_arriving() -> None:
    """A burst of deliveries holds queued jobs back; unqueued work is never held."""
    tasks = TaskTracker()
    started: list[str] = []

    async def job(name: str) -> None:
        started.append(name)

    tasks.delivery_arrived(hold=0.3)
    tasks.spawn(job("queued"), name="queued", queued=True)
    tasks.spawn(job("background"), name="background")
    await asyncio.sleep(0.15)
    tasks.delivery_arrived(hold=0.3)  # the burst goes on: the hold moves with it
    await asyncio.sleep(0.2)
    assert started == ["background"]
    assert await tasks.wait_idle(2.0)
    assert started == ["background", "queued"]


async def test_queued_jobs_run_at_once_when_no_delivery_is_arriving() -> None:
    """Without a burst a queued job starts on the next turn of the loop."""
    tasks = TaskTracker()
    done = asyncio.Event()

    async def job() -> None:
        done.set()

    tasks.spawn(job(), name="job", queued=True)
    await asyncio.wait_for(done.wait(), 2.0)
