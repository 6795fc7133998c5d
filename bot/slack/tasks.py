"""Background work the bot started: kept referenced, logged when it fails, cancelled at exit.

Bolt returns the acknowledgement as soon as ``ack()`` is set and leaves the listener as an
untracked task; slow work (SSH, remediation) goes here instead so nothing is lost silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("bot.slack.tasks")


class TaskTracker:
    """Starts named tasks, holds them until done, and logs any that fail."""

    def __init__(self, max_jobs: int = 8) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._job_slots = asyncio.Semaphore(max_jobs)
        self._quiet_at = 0.0  # loop time before which queued jobs wait: deliveries first

    def delivery_arrived(self, hold: float = 0.005) -> None:
        """A Slack delivery came in: queued jobs wait ``hold`` seconds more to start.

        Acknowledgements have a deadline and command jobs do not; during a burst the jobs
        start once deliveries stop arriving, so each ack costs one dispatch, not jobs too.
        """
        self._quiet_at = asyncio.get_running_loop().time() + hold

    async def _in_turn(self, work: Coroutine[Any, Any, Any]) -> Any:
        loop = asyncio.get_running_loop()
        while True:  # a deadline that moves while waiting: an Event would not say when
            wait = self._quiet_at - loop.time()
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        async with self._job_slots:
            return await work

    def spawn(
        self, work: Coroutine[Any, Any, Any], *, name: str, queued: bool = False
    ) -> asyncio.Task[Any]:
        """Run ``work`` in the background; its failure is logged with a traceback.

        ``queued`` work (command jobs) runs at most ``max_jobs`` at a time, so a burst of
        commands cannot crowd the event loop and delay the acknowledgements still due.
        """
        coroutine = self._in_turn(work) if queued else work
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("background task %s failed", task.get_name(), exc_info=error)

    @property
    def running(self) -> int:
        """How many tracked tasks have not finished."""
        return len(self._tasks)

    async def wait_idle(self, seconds: float) -> bool:
        """Wait until every tracked task is done (tests, shutdown); False on timeout."""
        try:
            async with asyncio.timeout(seconds):
                while self._tasks:
                    await asyncio.wait(set(self._tasks))
        except TimeoutError:
            return False
        return True

    async def close(self, grace: float = 5.0) -> None:
        """Give running work ``grace`` seconds, then cancel what is left and wait for it."""
        if not await self.wait_idle(grace):
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
